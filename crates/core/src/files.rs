//! Local files: expanding what the analyst dropped (files and folders) into NDJSON files, validating them, and
//! hashing them, all streaming and cancellable.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use lakedrop_validate::{Options, open_lines, validate_batch};
use sha2::{Digest, Sha256};

use crate::CancellationToken;
use crate::progress::{ValidateProgress, ValidationReport};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A path could not be read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Nothing importable was found in what was given.
    #[error("no .ndjson files in {0}; drop .ndjson or .ndjson.gz files, or folders holding them")]
    NothingFound(String),
    /// The work was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Whether a file name looks like NDJSON that Lakedrop reads.
pub fn is_ndjson_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".ndjson") || lower.ends_with(".ndjson.gz")
}

/// Expands files and folders (recursively, in name order) into the NDJSON files they hold. A file named
/// explicitly is kept whatever its extension, because the analyst chose it.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FilesError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| FilesError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    out.dedup();
    if out.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(FilesError::NothingFound(shown.join(", ")));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FilesError> {
    let io = |source| FilesError::Io { path: dir.to_path_buf(), source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if is_ndjson_name(&entry.file_name().to_string_lossy()) {
            out.push(path);
        }
    }
    Ok(())
}

/// Validates the files of one import batch, one after the other (each with all cores), reporting progress over
/// all of them.
pub fn validate_files(
    files: &[PathBuf],
    options: &Options,
    progress: &mut dyn FnMut(ValidateProgress),
    cancel: &CancellationToken,
) -> Result<ValidationReport, FilesError> {
    let sizes: Vec<u64> = files.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).collect();
    let bytes_total: u64 = sizes.iter().sum();
    let mut current: Option<usize> = None;
    let mut bytes_before = 0u64;
    let result = validate_batch(files, options, &mut |p| {
        if current != Some(p.file) {
            if let Some(done) = current {
                progress(ValidateProgress::FileDone { path: files[done].display().to_string() });
                bytes_before += sizes[done];
            }
            current = Some(p.file);
            progress(ValidateProgress::FileStarted { path: files[p.file].display().to_string() });
        }
        progress(ValidateProgress::Progress {
            bytes_done: bytes_before + p.progress.bytes_done,
            bytes_total,
            lines_done: p.progress.lines_done,
        });
        !cancel.is_cancelled()
    });
    let batch = match result {
        Ok(batch) => batch,
        Err(e) if e.source.kind() == std::io::ErrorKind::Interrupted => return Err(FilesError::Cancelled),
        Err(e) => return Err(FilesError::Io { path: e.path, source: e.source }),
    };
    if let Some(done) = current {
        progress(ValidateProgress::FileDone { path: files[done].display().to_string() });
    }
    Ok(ValidationReport {
        valid: batch.files.iter().map(|f| f.valid).sum(),
        invalid: batch.files.iter().map(|f| f.invalid).sum(),
        files: batch.files,
        issues: batch.issues,
    })
}

/// The text of one line (1-based) of a file, `.gz` or not, cut at `max_chars` characters; `None` past the end.
/// For showing an issue beside its line: the text goes to the window, never to a log.
pub fn read_line(path: &Path, line: u64, max_chars: usize) -> Result<Option<String>, FilesError> {
    let io = |source| FilesError::Io { path: path.to_path_buf(), source };
    let mut reader = open_lines(path).map_err(io)?;
    let mut buf = Vec::new();
    for n in 1..=line {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            return Ok(None);
        }
        if n == line {
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            return Ok(Some(text.chars().take(max_chars).collect()));
        }
    }
    Ok(None)
}

/// Copies the lines HealthLake would reject at `options.level` from `path` to `out`, unchanged, so that the
/// analyst can fix them apart; returns how many were copied. The file is checked again line by line.
pub fn export_rejected(path: &Path, options: &Options, out: &Path) -> Result<u64, FilesError> {
    let read_err = |source| FilesError::Io { path: path.to_path_buf(), source };
    let write_err = |source| FilesError::Io { path: out.to_path_buf(), source };
    let mut reader = open_lines(path).map_err(read_err)?;
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out).map_err(write_err)?);
    let (mut buf, mut line_no, mut copied) = (Vec::new(), 0u64, 0u64);
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(read_err)? == 0 {
            break;
        }
        line_no += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let verdict = lakedrop_validate::check_line(line_no, line, options);
        if verdict.rejected {
            writer.write_all(line).and_then(|()| writer.write_all(b"\n")).map_err(write_err)?;
            copied += 1;
        }
    }
    writer.flush().map_err(write_err)?;
    Ok(copied)
}

/// Hex SHA-256 of a file, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String, FilesError> {
    let io = |source| FilesError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex::encode(hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_expand_to_their_ndjson_files_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        for name in ["b.ndjson", "a.NDJSON", "notes.txt", "sub/c.ndjson.gz"] {
            std::fs::write(dir.path().join(name), b"{}\n").expect("write");
        }
        let files = expand_paths(&[dir.path().to_path_buf()]).expect("expand");
        let names: Vec<String> =
            files.iter().map(|p| p.strip_prefix(dir.path()).expect("inside").display().to_string()).collect();
        assert_eq!(names, ["a.NDJSON", "b.ndjson", "sub/c.ndjson.gz"]);
    }

    #[test]
    fn an_empty_folder_says_what_to_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = expand_paths(&[dir.path().to_path_buf()]).expect_err("nothing");
        assert!(err.to_string().contains("no .ndjson files"), "{err}");
    }

    #[test]
    fn a_missing_path_names_the_path() {
        let err = expand_paths(&[PathBuf::from("/nonexistent/x.ndjson")]).expect_err("missing");
        assert!(err.to_string().starts_with("/nonexistent/x.ndjson: "), "{err}");
    }

    #[test]
    fn rejected_lines_are_exported_unchanged_and_any_line_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Basic.ndjson");
        let good = r#"{"resourceType":"Basic","id":"a","code":{"text":"x"}}"#;
        let bad = r#"{"resourceType":"Basic","id":"b","code":{"text":"x"},"colour":"red"}"#;
        std::fs::write(&path, format!("{good}\r\n{bad}\n{good}\n")).expect("write");
        let out = dir.path().join("rejected.ndjson");
        assert_eq!(export_rejected(&path, &Options::default(), &out).expect("export"), 1);
        assert_eq!(std::fs::read_to_string(&out).expect("read"), format!("{bad}\n"));
        assert_eq!(read_line(&path, 1, 1000).expect("read").as_deref(), Some(good));
        assert_eq!(read_line(&path, 2, 20).expect("read").map(|l| l.len()), Some(20));
        assert_eq!(read_line(&path, 4, 1000).expect("read"), None);
    }

    #[test]
    fn progress_starts_each_file_once_and_ends_at_the_total() {
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/synthea-10-patients");
        let files = expand_paths(&[sample]).expect("sample");
        let mut started = Vec::new();
        let mut last = (0, 0);
        validate_files(
            &files,
            &Options::default(),
            &mut |p| match p {
                ValidateProgress::FileStarted { path } => started.push(path),
                ValidateProgress::Progress { bytes_done, bytes_total, .. } => {
                    assert!(
                        bytes_done <= bytes_total && bytes_done >= last.0,
                        "{bytes_done} after {}",
                        last.0
                    );
                    last = (bytes_done, bytes_total);
                }
                ValidateProgress::FileDone { .. } => {}
            },
            &CancellationToken::new(),
        )
        .expect("validates");
        assert_eq!(started.len(), files.len());
        assert_eq!(last.0, last.1);
    }

    #[test]
    fn validation_cancels_between_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.ndjson");
        std::fs::write(&path, b"{\"resourceType\":\"Basic\",\"id\":\"a\"}\n").expect("write");
        let cancel = CancellationToken::new();
        cancel.cancel();
        let err = validate_files(&[path], &Options::default(), &mut |_| {}, &cancel).expect_err("cancelled");
        assert!(matches!(err, FilesError::Cancelled));
    }
}
