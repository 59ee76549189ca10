//! The log filter every Lakedrop process uses. Whatever level the user asks for (`LAKEDROP_LOG=trace`), the
//! crates that see request and response bodies (the AWS SDK's runtime, HTTP, S3 protocol, TLS) are capped at
//! INFO, because at DEBUG and TRACE they print body bytes, and bodies here are patient records.
//!
//! The cap is a filter of its own, joined to the user's with AND ([`init`]): rewriting the user's filter string
//! alone could be got round (a span-field directive such as `[{rpc.service}]=trace` enables every event inside
//! such spans, whatever its target), while a filter that refuses those targets' DEBUG and TRACE events holds for
//! any string.

/// Crates whose debug or trace output may contain request or response bodies.
const BODY_SEEING_CRATES: [&str; 12] = [
    "aws_runtime",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_sigv4",
    "hyper",
    "hyper_util",
    "h2",
    "s3s",
    "rustls",
];

/// Whether a target belongs to a crate that may log bodies.
fn body_seeing(target: &str) -> bool {
    BODY_SEEING_CRATES
        .iter()
        .any(|c| target == *c || target.strip_prefix(c).is_some_and(|rest| rest.starts_with("::")))
}

/// The cap: DEBUG and TRACE events and spans of body-seeing crates never pass, whatever else is enabled.
pub fn body_cap() -> tracing_subscriber::filter::FilterFn {
    tracing_subscriber::filter::filter_fn(|meta| {
        !(body_seeing(meta.target())
            && matches!(*meta.level(), tracing::Level::DEBUG | tracing::Level::TRACE))
    })
}

/// Installs the process's logger: formatted to `writer`, filtered by the user's `LAKEDROP_LOG` (or `default`)
/// AND the body cap.
pub fn init<W>(writer: W, ansi: bool, user: Option<&str>, default: &str)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry().with(layer(writer, ansi, user, default)).init();
}

/// The formatted, filtered and capped layer [`init`] installs.
fn layer<W, S>(writer: W, ansi: bool, user: Option<&str>, default: &str) -> impl tracing_subscriber::Layer<S>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::new(log_filter(user, default));
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_filter(filter)
        .with_filter(body_cap())
}

/// An `EnvFilter` spec: the user's (from `LAKEDROP_LOG`) or `default`, with body-seeing crates capped at INFO.
pub fn log_filter(user: Option<&str>, default: &str) -> String {
    let spec = user.filter(|s| !s.trim().is_empty()).unwrap_or(default);
    let mut directives: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .filter(|d| {
            let target = d.split(['=', '[']).next().unwrap_or("");
            !BODY_SEEING_CRATES.iter().any(|c| target == *c || target.starts_with(&format!("{c}::")))
        })
        .map(str::to_string)
        .collect();
    directives.extend(BODY_SEEING_CRATES.iter().map(|c| format!("{c}=info")));
    directives.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_seeing_crates_stay_at_info_whatever_is_asked() {
        let spec = log_filter(
            Some("trace,aws_runtime=trace,aws_runtime::content_encoding=trace,lakedrop_aws=debug"),
            "warn",
        );
        assert!(spec.starts_with("trace,lakedrop_aws=debug,"), "{spec}");
        assert!(!spec.contains("aws_runtime=trace") && !spec.contains("content_encoding"), "{spec}");
        assert!(spec.contains("aws_runtime=info") && spec.contains("s3s=info"), "{spec}");
        assert!(log_filter(None, "warn").starts_with("warn,"));
        assert!(log_filter(Some("  "), "info").starts_with("info,"));
    }

    /// A writer that keeps what was logged, for the test to read.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    // Regression (issue 16): `LAKEDROP_LOG='trace,[{rpc.service}]=trace'` got past the cap, and full HealthLake
    // responses reached the log.
    #[test]
    fn no_filter_string_lets_a_body_seeing_crate_log_below_info() {
        use tracing_subscriber::prelude::*;
        let hostile = [
            "trace",
            "trace,[{rpc.service}]=trace",
            "[{rpc.service}]=trace",
            "[request]=trace",
            "aws_smithy_runtime=trace",
            "aws_smithy_runtime::client::orchestrator=trace",
            "aws_smithy=trace,aws=trace,hyper=trace,s3s=trace",
            "off,[{rpc.service=HealthLake}]=trace",
            "trace,aws_smithy_runtime[request]=trace",
        ];
        for filter in hostile {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::registry().with(layer(
                move || writer.clone(),
                false,
                Some(filter),
                "warn",
            ));
            tracing::subscriber::with_default(subscriber, || {
                let span = tracing::info_span!(target: "aws_smithy_runtime::client", "request", rpc.service = "HealthLake");
                let _entered = span.enter();
                tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "BODY-TRACE");
                tracing::debug!(target: "hyper::proto", "BODY-DEBUG");
                tracing::info!(target: "aws_smithy_runtime::client", "INFO-LINE");
                tracing::trace!(target: "lakedrop_aws", "OURS-TRACE");
            });
            let text = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
            assert!(!text.contains("BODY-"), "{filter}: {text}");
            if filter.starts_with("trace") {
                assert!(text.contains("OURS-TRACE"), "{filter}: our own trace still logs: {text}");
            }
        }
    }
}
