//! Progress for the window at a pace it can render. Every event costs the webview a render; a 2 GB file gives
//! thousands of them, and a window redrawing that often took CPU from the check itself (`make bench-app`).

use std::time::{Duration, Instant};

use lakedrop_core::progress::ValidateProgress;

/// At most this often, the window hears where a check has come.
pub const EVERY: Duration = Duration::from_millis(100);

/// Passes validation progress on at most once per [`EVERY`], always the latest: a file started since the last
/// event passed is passed just before the next progress, so the window always names the file being read.
pub struct Paced<F: FnMut(ValidateProgress)> {
    send: F,
    last: Option<Instant>,
    started: Option<ValidateProgress>,
}

impl<F: FnMut(ValidateProgress)> Paced<F> {
    pub fn new(send: F) -> Paced<F> {
        Paced { send, last: None, started: None }
    }

    pub fn push(&mut self, event: ValidateProgress, now: Instant) {
        if matches!(event, ValidateProgress::FileStarted { .. }) {
            self.started = Some(event);
            return;
        }
        if self.last.is_some_and(|last| now.duration_since(last) < EVERY) {
            return;
        }
        self.last = Some(now);
        if let Some(started) = self.started.take() {
            (self.send)(started);
        }
        (self.send)(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(bytes_done: u64) -> ValidateProgress {
        ValidateProgress::Progress { bytes_done, bytes_total: 100, lines_done: 0 }
    }

    #[test]
    fn the_window_hears_the_latest_file_and_progress_at_most_every_100_ms() {
        let mut sent = Vec::new();
        let t0 = Instant::now();
        let mut paced = Paced::new(|e| sent.push(e));
        paced.push(ValidateProgress::FileStarted { path: "a".into() }, t0);
        paced.push(progress(1), t0);
        for ms in 1..100 {
            paced.push(progress(ms), t0 + Duration::from_millis(ms));
        }
        paced.push(ValidateProgress::FileDone { path: "a".into() }, t0 + Duration::from_millis(99));
        paced.push(ValidateProgress::FileStarted { path: "b".into() }, t0 + Duration::from_millis(99));
        paced.push(progress(100), t0 + Duration::from_millis(100));
        drop(paced);
        assert_eq!(
            sent,
            [
                ValidateProgress::FileStarted { path: "a".into() },
                progress(1),
                ValidateProgress::FileStarted { path: "b".into() },
                progress(100),
            ]
        );
    }
}
