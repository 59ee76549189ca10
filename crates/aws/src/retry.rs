//! Retrying what is safe to send again. The SDK retries transient failures a few times; on a flaky link, or
//! under AWS's throttling, that is not always enough for an upload of thousands of parts or a job followed for an
//! hour. Every idempotent call Lakedrop makes goes through [`with_retries`] on top of the SDK's own retries.

use std::time::Duration;

use crate::AwsError;

/// Tries per call on top of the SDK's own retries (throttling, 5xx, dropped connections).
const ATTEMPTS: u32 = 5;

/// Whether a failed call is worth sending again as it was.
pub fn retryable(e: &AwsError) -> bool {
    match e {
        AwsError::Throttled { .. } | AwsError::Network { .. } | AwsError::Unavailable { .. } => true,
        AwsError::Service { code, .. } => code == "SlowDown" || code.starts_with('5'),
        _ => false,
    }
}

/// Runs an idempotent call, retrying with backoff (0.4, 0.8, 1.6, 3.2 s) what is worth retrying, on top of the
/// SDK's own retries: a slow or flaky link should cost time, not the work. Only for calls that are safe to send
/// twice (reads, parts, PUTs of the same bytes, and calls that carry a client token).
pub async fn with_retries<T, E, F, Fut>(
    operation: &'static str,
    what: &str,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
        >,
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await.map_err(|e| AwsError::from_sdk(operation, e)) {
            Ok(out) => return Ok(out),
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::debug!(attempt, error = %e, "retrying {what}");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}
