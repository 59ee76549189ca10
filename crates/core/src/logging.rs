//! The log filter every Lakedrop process uses. Whatever level the user asks for (`LAKEDROP_LOG=trace`), the
//! crates that see request and response bodies (the AWS SDK's runtime, HTTP, S3 protocol, TLS) are capped at
//! INFO, because at DEBUG and TRACE they print body bytes, and bodies here are patient records.

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
}
