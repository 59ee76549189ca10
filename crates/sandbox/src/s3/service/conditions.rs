//! HTTP conditional requests as S3 applies them (RFC 9110 section 13.2.2), written once for GET and HEAD, for
//! PUT's `If-Match`/`If-None-Match`, and for CopyObject's `x-amz-copy-source-if-*`.

use s3s::dto;
use s3s::{S3Result, s3_error};
use time::OffsetDateTime;

use super::super::store::ObjectInfo;

/// A request's four conditional headers.
#[derive(Default)]
pub(super) struct Conditions<'a> {
    pub if_match: Option<&'a dto::ETagCondition>,
    pub if_none_match: Option<&'a dto::ETagCondition>,
    pub if_modified_since: Option<&'a dto::Timestamp>,
    pub if_unmodified_since: Option<&'a dto::Timestamp>,
}

/// What a failed `If-None-Match` or `If-Modified-Since` answers: 304 for reads, 412 for writes and copies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum OnUnchanged {
    NotModified,
    PreconditionFailed,
}

fn failed() -> s3s::S3Error {
    s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
}

impl Conditions<'_> {
    /// Checks the conditions against the current object (`None`: there is none). As S3 does, a true `If-Match`
    /// overrides a false `If-Unmodified-Since`, and a present `If-None-Match` decides alone over
    /// `If-Modified-Since`; `*` matches any existing object.
    pub fn check(&self, current: Option<&ObjectInfo>, on_unchanged: OnUnchanged) -> S3Result<()> {
        let ours = current.map(|i| i.etag.trim_matches('"'));
        let matches = |c: &dto::ETagCondition| match c {
            dto::ETagCondition::Any => ours.is_some(),
            dto::ETagCondition::ETag(t) => ours == Some(t.value()),
        };
        // HTTP dates have whole seconds.
        let modified = current.map(|i| i.last_modified.replace_nanosecond(0).unwrap_or(i.last_modified));
        let since = |t: &dto::Timestamp| OffsetDateTime::from(t.clone());
        if let Some(c) = self.if_match {
            if !matches(c) {
                return Err(failed());
            }
        } else if let (Some(t), Some(modified)) = (self.if_unmodified_since, modified)
            && modified > since(t)
        {
            return Err(failed());
        }
        let unchanged = match self.if_none_match {
            Some(c) => matches(c),
            None => matches!((self.if_modified_since, modified), (Some(t), Some(m)) if m <= since(t)),
        };
        match (unchanged, on_unchanged) {
            (false, _) => Ok(()),
            (true, OnUnchanged::NotModified) => Err(s3_error!(NotModified)),
            (true, OnUnchanged::PreconditionFailed) => Err(failed()),
        }
    }
}
