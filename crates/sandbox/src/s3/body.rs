//! Moving object bytes between HTTP bodies and the store's files without holding them in memory.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::StatusCode;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, S3Result, StdError, s3_error};

use super::at_rest::ObjectReader;
use super::checksum::ChecksumAlgorithm;
use super::store::{Blob, ObjectStore, Sse};

/// Chunks in flight between the network and the disk writer: bounds memory per request.
const IN_FLIGHT_CHUNKS: usize = 8;
/// Read size when streaming a file out.
const READ_CHUNK: usize = 256 * 1024;

/// Streams a request body into a new blob sealed for `sse`, computing MD5 and `algorithms` on the way. File writes and hashing
/// run on a blocking thread fed through a bounded channel, so a 1 GB part never sits in memory and never
/// stalls the async runtime.
pub(super) async fn receive(
    store: &ObjectStore,
    body: Option<StreamingBlob>,
    algorithms: &[ChecksumAlgorithm],
    sse: &Sse,
) -> S3Result<Blob> {
    let mut writer = store.blob_writer(algorithms, sse).map_err(S3Error::internal_error)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(IN_FLIGHT_CHUNKS);
    let task = tokio::task::spawn_blocking(move || -> io::Result<Blob> {
        while let Some(chunk) = rx.blocking_recv() {
            writer.write_all(&chunk)?;
        }
        writer.finish()
    });
    let mut failure = None;
    if let Some(mut body) = body {
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        // The writer stopped on an I/O error, reported below.
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    drop(tx);
    let written = task.await.map_err(S3Error::internal_error)?;
    if let Some(e) = failure {
        // The partial blob is dropped here, which deletes its file.
        return Err(body_error(&e));
    }
    written.map_err(S3Error::internal_error)
}

/// Maps a failure while reading the request body. `s3s`'s body decoders (aws-chunked, signed payload) keep
/// their error types private, so their messages are all there is to tell a bad chunk signature from a
/// truncated body.
fn body_error(e: &StdError) -> S3Error {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided."
        )
    } else if text.contains("Sha256Mismatch") {
        let mut err = S3Error::with_message(
            S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
        err.set_status_code(StatusCode::BAD_REQUEST);
        err
    } else {
        s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        )
    }
}

/// A response body reading `range` of an object's bytes. A blocking thread reads (and decrypts) them into a
/// bounded channel, so memory stays at a few chunks per response and a client that stops reading stops the
/// thread.
pub(super) fn reader_body(mut reader: ObjectReader, range: Range<u64>) -> S3Result<StreamingBlob> {
    reader.seek(SeekFrom::Start(range.start)).map_err(S3Error::internal_error)?;
    let length = range.end - range.start;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(IN_FLIGHT_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut remaining = length;
        while remaining > 0 {
            let mut buf = vec![0; usize::try_from(remaining).unwrap_or(usize::MAX).min(READ_CHUNK)];
            let item = match reader.read(&mut buf) {
                // The bytes are shorter than their metadata says: end the response with an error rather than
                // let the client wait for bytes that will never come.
                Ok(0) => {
                    Err(io::Error::new(io::ErrorKind::UnexpectedEof, "object data is shorter than recorded"))
                }
                Ok(n) => {
                    buf.truncate(n);
                    remaining -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                // The client went away (the receiver is gone), or the error has been sent.
                return;
            }
        }
    });
    Ok(StreamingBlob::new(ChannelStream { rx, remaining: length }))
}

/// Chunks from the reading thread, with the exact length still to come (S3 responses carry Content-Length).
struct ChannelStream {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, io::Error>>,
    remaining: u64,
}

impl Stream for ChannelStream {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        match this.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.remaining = 0;
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, "object reader stopped early");
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(Some(Err(e))) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(Some(Ok(bytes))) => {
                this.remaining = this.remaining.saturating_sub(bytes.len() as u64);
                Poll::Ready(Some(Ok(bytes)))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

impl ByteStream for ChannelStream {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(usize::try_from(self.remaining).unwrap_or(usize::MAX))
    }
}

/// Runs blocking store work (copying bytes) off the async runtime.
pub(super) async fn blocking<T: Send + 'static>(
    store: &Arc<ObjectStore>,
    work: impl FnOnce(&ObjectStore) -> S3Result<T> + Send + 'static,
) -> S3Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || work(&store)).await.map_err(S3Error::internal_error)?
}
