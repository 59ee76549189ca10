//! Local files: expanding what the analyst dropped (files and folders) into NDJSON files, validating them, and
//! hashing them, all streaming and cancellable.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use std::cell::RefCell;

use lakedrop_validate::{Options, open_lines, validate_batch_with};
use sha2::{Digest, Sha256};

use crate::CancellationToken;
use crate::progress::{ValidateProgress, ValidationReport};
use crate::source::{Input, Tally, open_ndjson, sniff};

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// A path could not be read.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A path names something that is not a regular file (a named pipe, a device, a socket): reading it could
    /// block forever or never end, so it is refused before it is opened.
    #[error("{}: {what}, not a regular file; Lakedrop reads only regular files: remove it, or copy what it holds into a file and choose that", path.display())]
    NotRegular { path: PathBuf, what: &'static str },
    /// Nothing importable was found in what was given.
    #[error(
        "no .ndjson files or Bundles in {0}; drop .ndjson or .ndjson.gz files, Bundle .json or .json.gz files, or folders holding them"
    )]
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

/// What a path is, when it is neither a regular file nor a folder.
fn not_regular(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    let _ = meta;
    "not a file"
}

/// Checks that a path is a regular file (following symbolic links), without opening it: opening a named pipe
/// blocks until something writes to it, and a device such as `/dev/zero` never ends.
pub fn regular_file(path: &Path) -> Result<std::fs::Metadata, FilesError> {
    let meta =
        std::fs::metadata(path).map_err(|source| FilesError::Io { path: path.to_path_buf(), source })?;
    if meta.is_file() {
        Ok(meta)
    } else {
        Err(FilesError::NotRegular { path: path.to_path_buf(), what: not_regular(&meta) })
    }
}

/// Expands files and folders (recursively, in name order) into the NDJSON files they hold. A file named
/// explicitly is kept whatever its extension, because the analyst chose it. Anything that is not a regular file
/// (a named pipe, a device, a socket, or a link to one), named or found in a folder under an NDJSON name, is
/// refused with its path.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FilesError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| FilesError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            regular_file(path)?;
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
            regular_file(&path)?;
            out.push(path);
        } else if crate::source::is_json_name(&entry.file_name().to_string_lossy()) {
            // Other JSON in a folder (a `package.json`, a settings file) is not the analyst's data: only Bundles
            // are taken.
            regular_file(&path)?;
            if crate::source::sniff(&path)
                .is_ok_and(|input| input.content == lakedrop_validate::Content::Bundle)
            {
                out.push(path);
            }
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
    let inputs: Vec<Input> = files
        .iter()
        .map(|path| {
            sniff(path)
                .map(|input| input.keeping_bundles(options.keep_bundles))
                .map_err(|source| FilesError::Io { path: path.clone(), source })
        })
        .collect::<Result<_, _>>()?;
    // Plain NDJSON is read by the validator itself; everything else through the NDJSON it is imported as.
    let derived: Vec<bool> = inputs.iter().map(|i| !i.as_is()).collect();
    let tallies: RefCell<Vec<Option<Tally>>> = RefCell::new(vec![None; files.len()]);
    let sizes: Vec<u64> = files.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).collect();
    let bytes_total: u64 = sizes.iter().sum();
    let mut current: Option<usize> = None;
    let mut bytes_before = 0u64;
    let mut open_derived = |i: usize| -> std::io::Result<Box<dyn BufRead + Send>> {
        let (reader, tally) = open_ndjson(&inputs[i])?;
        tallies.borrow_mut()[i] = Some(tally);
        Ok(reader)
    };
    let result = validate_batch_with(files, options, &derived, &mut open_derived, &mut |p| {
        if current != Some(p.file) {
            if let Some(done) = current {
                progress(ValidateProgress::FileDone { path: files[done].display().to_string() });
                bytes_before += sizes[done];
            }
            current = Some(p.file);
            progress(ValidateProgress::FileStarted { path: files[p.file].display().to_string() });
        }
        // A derived file's progress is how far into the file itself the reading has come.
        let done = match &tallies.borrow()[p.file] {
            Some(tally) => tally.raw_bytes(),
            None => p.progress.bytes_done,
        };
        progress(ValidateProgress::Progress {
            bytes_done: bytes_before + done.min(sizes[p.file]),
            bytes_total,
            lines_done: p.progress.lines_done,
        });
        !cancel.is_cancelled()
    });
    let mut batch = match result {
        Ok(batch) => batch,
        Err(e) if e.source.kind() == std::io::ErrorKind::Interrupted => return Err(FilesError::Cancelled),
        Err(e) => return Err(FilesError::Io { path: e.path, source: e.source }),
    };
    if let Some(done) = current {
        progress(ValidateProgress::FileDone { path: files[done].display().to_string() });
    }
    for ((report, input), tally) in batch.files.iter_mut().zip(&inputs).zip(tallies.into_inner()) {
        if let Some(tally) = tally {
            tally.complete_report(input, report);
        }
    }
    Ok(ValidationReport {
        valid: batch.files.iter().map(|f| f.valid).sum(),
        invalid: batch.files.iter().map(|f| f.invalid).sum(),
        files: batch.files,
        issues: batch.issues,
    })
}

/// The text of one line (1-based) of a file, `.gz` or not, cut at `max_chars` characters; `None` past the end;
/// for a Bundle, of an entry, or with `keep_bundles` the Bundle on its one line. For showing an issue beside its
/// line: the text goes to the window, never to a log.
pub fn read_line(
    path: &Path,
    line: u64,
    max_chars: usize,
    keep_bundles: bool,
) -> Result<Option<String>, FilesError> {
    let io = |source| FilesError::Io { path: path.to_path_buf(), source };
    let input = sniff(path).map_err(io)?.keeping_bundles(keep_bundles);
    if matches!(input.content, lakedrop_validate::Content::Bundle | lakedrop_validate::Content::BundleKept) {
        // A Bundle's issues point at entries (or, kept whole, at its one line): the NDJSON line it is imported as.
        let (mut reader, tally) = open_ndjson(&input).map_err(io)?;
        let mut buf = Vec::new();
        for k in 0.. {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
                return Ok(None);
            }
            if tally.origin(k) == Some(line) {
                let text = String::from_utf8_lossy(&buf);
                return Ok(Some(text.trim_end_matches(['\n', '\r']).chars().take(max_chars).collect()));
            }
        }
    }
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
    let mut reader = open_lines(path).map_err(read_err)?;
    let mut copied = 0u64;
    let mut read_failure = None;
    write_private(out, |writer| {
        let (mut buf, mut line_no) = (Vec::new(), 0u64);
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    read_failure = Some(e);
                    return Err(std::io::Error::other("the source could not be read"));
                }
            }
            line_no += 1;
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            if lakedrop_validate::check_line(line_no, line, options).rejected {
                writer.write_all(line)?;
                writer.write_all(b"\n")?;
                copied += 1;
            }
        }
        Ok(())
    })
    .map_err(|e| match read_failure.take() {
        Some(source) => read_err(source),
        None => e,
    })?;
    Ok(copied)
}

/// Writes a file that holds patient data for the person: readable by its owner only (0600 on Unix), and
/// whole or not at all (written beside its destination, then renamed over it), so a failed export never leaves
/// half a file or a copy others can read.
pub fn write_private(
    out: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), FilesError> {
    let write_err = |source| FilesError::Io { path: out.to_path_buf(), source };
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // tempfile creates the file with mode 0600 on Unix.
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(write_err)?;
    let mut writer = std::io::BufWriter::new(tmp);
    write(&mut writer).map_err(write_err)?;
    let tmp = writer.into_inner().map_err(|e| write_err(e.into_error()))?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(out).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// Hex SHA-256 of a file, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String, FilesError> {
    fingerprint_file(path).map(|f| f.sha256)
}

/// What a file's bytes are, in two forms: SHA-256 (what identifies it in a batch) and CRC32C (what S3 checks, so
/// an upload can prove it sent exactly these bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hex SHA-256.
    pub sha256: String,
    pub crc32c: u32,
}

/// Reads a file once for its [`Fingerprint`].
pub fn fingerprint_file(path: &Path) -> Result<Fingerprint, FilesError> {
    let io = |source| FilesError::Io { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hash = Sha256::new();
    let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        crc.update(&buf[..n]);
    }
    Ok(Fingerprint { sha256: hex::encode(hash.finalize()), crc32c: crc.finalize() as u32 })
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
    fn every_rejected_line_is_exported_however_many_warnings_come_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Basic.ndjson");
        let mut text = String::new();
        for i in 0..1500 {
            // A conditional reference: a warning, not a rejection.
            text.push_str(&format!(
                r#"{{"resourceType":"Basic","id":"w{i}","code":{{"text":"x"}},"subject":{{"reference":"Patient?identifier=a|{i}"}}}}"#
            ));
            text.push('\n');
        }
        for i in 0..9 {
            text.push_str(&format!(
                r#"{{"resourceType":"Basic","id":"e{i}","code":{{"text":"x"}},"colour":"red"}}"#
            ));
            text.push('\n');
        }
        std::fs::write(&path, text).expect("write");
        // As the app validates: no issue lists, every count.
        let options = Options { list_errors: false, max_warnings_per_file: 0, ..Options::default() };
        let report =
            validate_files(std::slice::from_ref(&path), &options, &mut |_| {}, &CancellationToken::new())
                .expect("report");
        assert_eq!((report.files[0].invalid, report.files[0].issues.len()), (9, 0));
        let out = dir.path().join("rejected.ndjson");
        assert_eq!(export_rejected(&path, &Options::default(), &out).expect("export"), 9);
        let exported = std::fs::read_to_string(&out).expect("read");
        assert!(
            exported.lines().all(|l| l.contains("colour")) && exported.lines().count() == 9,
            "{exported}"
        );
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
        assert_eq!(read_line(&path, 1, 1000, false).expect("read").as_deref(), Some(good));
        assert_eq!(read_line(&path, 2, 20, false).expect("read").map(|l| l.len()), Some(20));
        assert_eq!(read_line(&path, 4, 1000, false).expect("read"), None);
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

    // Regression (issue 16): a named pipe or a link to /dev/zero under an NDJSON name made validation block
    // forever or spin; it is refused by name before it is opened.
    #[cfg(unix)]
    #[test]
    fn pipes_and_devices_are_refused_by_name_without_being_opened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe.ndjson");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        let err = expand_paths(std::slice::from_ref(&dir.path().to_path_buf())).expect_err("a fifo");
        assert!(err.to_string().contains("pipe.ndjson: a named pipe (FIFO), not a regular file"), "{err}");
        std::fs::remove_file(&fifo).expect("rm");

        let zero = dir.path().join("zero.ndjson");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let err = expand_paths(std::slice::from_ref(&zero)).expect_err("a device");
        assert!(err.to_string().contains("a character device"), "{err}");
        let err = expand_paths(&[dir.path().to_path_buf()]).expect_err("in a folder too");
        assert!(err.to_string().contains("zero.ndjson"), "{err}");
        std::fs::remove_file(&zero).expect("rm");

        std::fs::write(dir.path().join("ok.ndjson"), b"{}\n").expect("write");
        let real = dir.path().join("link.ndjson");
        std::os::unix::fs::symlink(dir.path().join("ok.ndjson"), &real).expect("symlink");
        assert_eq!(expand_paths(&[dir.path().to_path_buf()]).expect("regular files").len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_the_owners_alone_and_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("failed.ndjson");
        std::fs::write(&out, b"older export\n").expect("an older file");
        write_private(&out, |w| w.write_all(b"line\n")).expect("write");
        assert_eq!(std::fs::read(&out).expect("read"), b"line\n");
        let mode = std::fs::metadata(&out).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
        let failed = write_private(&out, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read(&out).expect("read"),
            b"line\n",
            "a failed write leaves the last whole file"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
