use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::{Code, FileReport, Issue, LineVerdict, Options, Severity, check_line};

/// How far a file's validation has come; passed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file read so far (compressed bytes for `.gz`).
    pub bytes_done: u64,
    pub lines_done: u64,
}

/// HealthLake imports at most this many files in one job.
pub const MAX_FILES_PER_IMPORT: usize = 10_000;

/// Lines are handed to the worker threads in blocks of about this many bytes.
const BLOCK_BYTES: usize = 256 * 1024;
/// Blocks read ahead per worker thread: memory is bounded by threads × this × `BLOCK_BYTES`.
const BLOCKS_PER_THREAD: usize = 4;

/// Everything validation found in a set of files imported together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub files: Vec<FileReport>,
    /// Problems of the batch as a whole (too many files), with line 0.
    pub issues: Vec<Issue>,
}

/// Where a batch's validation has come: the file (index into the paths) and how far into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchProgress {
    pub file: usize,
    pub progress: Progress,
}

/// A file that could not be read; validation of the batch stops there.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Validates the files of one import batch, in order, each with all cores. Beyond what each file's report says,
/// the same `resourceType/id` appearing twice anywhere in the batch is flagged (`duplicate-id`: HealthLake keeps
/// the later one). `progress` is called as each file starts (with zeros) and as it goes; returning `false`
/// cancels (an `Interrupted` read error).
pub fn validate_batch(
    paths: &[PathBuf],
    options: &Options,
    progress: &mut dyn FnMut(BatchProgress) -> bool,
) -> Result<BatchReport, ReadError> {
    validate_batch_with(paths, options, &[], &mut |_| Err(io::Error::other("no derived input")), progress)
}

/// [`validate_batch`] where some files are read through a reader the caller opens: `derived[i]` says file `i`
/// is (a Bundle unbundled into NDJSON, say), and `open_derived(i)` opens its NDJSON. Such a file is checked from
/// that reader, its name is not taken for a resource type, and its `bytes` are the NDJSON's (the caller knows
/// the file's own size).
pub fn validate_batch_with(
    paths: &[PathBuf],
    options: &Options,
    derived: &[bool],
    open_derived: &mut dyn FnMut(usize) -> io::Result<Box<dyn BufRead + Send>>,
    progress: &mut dyn FnMut(BatchProgress) -> bool,
) -> Result<BatchReport, ReadError> {
    let is_derived = |i: usize| derived.get(i).copied().unwrap_or(false);
    let mut report = BatchReport::default();
    if paths.len() > MAX_FILES_PER_IMPORT {
        report.issues.push(Issue {
            line: 0,
            code: Code::TooManyFiles,
            severity: Severity::Warning,
            path: None,
            message: format!(
                "{} files in one import; HealthLake takes at most {MAX_FILES_PER_IMPORT} a job, so Lakedrop imports them as {} jobs, one after the other",
                paths.len(),
                paths.len().div_ceil(MAX_FILES_PER_IMPORT)
            ),
        });
    }
    let mut ids = IdIndex::default();
    let small = |path: &PathBuf| std::fs::metadata(path).is_ok_and(|m| m.len() <= SMALL_FILE_BYTES);
    let run_length = rayon::current_num_threads().max(1) * BLOCKS_PER_THREAD;
    let mut index = 0;
    while index < paths.len() {
        // A run of small files is read and checked in parallel, one file per task, then merged in order, so a
        // folder of many small files uses every core too; a larger file uses every core by itself.
        let run = paths[index..]
            .iter()
            .enumerate()
            .take(run_length)
            .take_while(|(i, p)| !is_derived(index + i) && small(p))
            .count();
        if !progress(BatchProgress { file: index, progress: Progress { bytes_done: 0, lines_done: 0 } }) {
            return Err(ReadError { path: paths[index].clone(), source: cancelled() });
        }
        if run > 1 {
            let checked: Vec<io::Result<SmallFile>> =
                paths[index..index + run].par_iter().map(|path| check_small_file(path, options)).collect();
            for (i, result) in checked.into_iter().enumerate() {
                let path = &paths[index + i];
                let (bytes, crc32c, ndjson_bytes, verdicts) =
                    result.map_err(|source| ReadError { path: path.clone(), source })?;
                let mut file = FileState::new(&path.display().to_string(), &mut ids, (index + i) as u32);
                let lines = verdicts.len() as u64;
                for (n, verdict) in verdicts.into_iter().enumerate() {
                    file.absorb(n as u64 + 1, verdict, options, &mut ids, (index + i) as u32);
                }
                let mut file = file.finish();
                file.ndjson_bytes = ndjson_bytes;
                file.bytes = bytes;
                file.compressed = crc32c.is_none();
                file.crc32c = crc32c;
                progress(BatchProgress {
                    file: index + i,
                    progress: Progress { bytes_done: bytes, lines_done: lines },
                });
                report.files.push(file);
            }
            index += run;
            continue;
        }
        let path = &paths[index];
        let mut on_progress = |p| progress(BatchProgress { file: index, progress: p });
        let file = if is_derived(index) {
            open_derived(index).and_then(|mut reader| {
                let mut file = FileState::new(&path.display().to_string(), &mut ids, index as u32);
                file.expected_type = None;
                check_reader(file, &mut *reader, options, &mut ids, index as u32, &mut on_progress)
            })
        } else {
            open(path, options, &mut ids, index as u32, &mut on_progress)
        }
        .map_err(|source| ReadError { path: path.clone(), source })?;
        report.files.push(file);
        index += 1;
    }
    Ok(report)
}

/// What a progress callback's `false` turns into.
fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "validation cancelled")
}

/// Files up to this size are read whole and checked as one task (see `validate_batch`).
const SMALL_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a small file whole (decompressing it if it is gzip) and checks every line; returns its size on disk and
/// whether it is compressed.
/// A small file read whole and checked: its size, the CRC32C of its bytes (plain files only), the bytes of its
/// lines (decompressed), each line's verdict.
type SmallFile = (u64, Option<u32>, u64, Vec<LineVerdict>);

fn check_small_file(path: &Path, options: &Options) -> io::Result<SmallFile> {
    let whole = std::fs::read(path)?;
    let bytes = whole.len() as u64;
    let compressed = whole.starts_with(&[0x1f, 0x8b]);
    let crc = (!compressed).then(|| crc_fast::crc32_iscsi(&whole));
    let mut reader: Box<dyn BufRead + Send> = if compressed {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(io::Cursor::new(whole))))
    } else {
        Box::new(io::Cursor::new(whole))
    };
    let mut block = Block { first_line: 1, ..Block::default() };
    loop {
        let start = block.data.len();
        let (consumed, overflowed) = read_capped_line(&mut reader, &mut block.data, options.max_line_bytes)?;
        if consumed == 0 {
            break;
        }
        let end = block.data.len() - usize::from(block.data[start..].ends_with(b"\n"));
        block.lines.push(LineSpan { start, end, consumed, overflowed });
    }
    let verdicts = block
        .lines
        .iter()
        .enumerate()
        .map(|(i, span)| check_span(&block, span, i as u64 + 1, options))
        .collect();
    let ndjson_bytes = block.lines.iter().map(|l| l.consumed as u64).sum();
    Ok((bytes, crc, ndjson_bytes, verdicts))
}

/// Validates one file (`.ndjson`, or gzip-compressed `.ndjson.gz`). `progress` is called now and then;
/// returning `false` stops early with an `io::ErrorKind::Interrupted` error (cancellation).
pub fn validate_path(
    path: &Path,
    options: &Options,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    open(path, options, &mut IdIndex::default(), 0, progress)
}

fn open(
    path: &Path,
    options: &Options,
    ids: &mut IdIndex,
    file_index: u32,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    let mut file = File::open(path)?;
    let bytes = file.metadata()?.len();
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    let file = {
        use std::io::Seek;
        let mut file = file;
        file.seek(io::SeekFrom::Start(0))?;
        file
    };
    let name = path.display().to_string();
    let mut report = if gzip {
        let read = Arc::new(AtomicU64::new(0));
        let counted = Counted { inner: file, read: Arc::clone(&read) };
        let mut reader = BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(counted));
        let mut progress = |p: Progress| progress(Progress { bytes_done: read.load(Ordering::Relaxed), ..p });
        validate(&name, &mut reader, options, ids, file_index, &mut progress)?
    } else {
        let summed = Summed { inner: file, crc: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi) };
        let mut reader = BufReader::with_capacity(256 * 1024, summed);
        let mut report = validate(&name, &mut reader, options, ids, file_index, progress)?;
        // Whatever the checker stopped short of (a cancelled check) is not summed: such a report is never
        // uploaded.
        report.crc32c = Some(reader.into_inner().crc.finalize() as u32);
        report
    };
    report.bytes = bytes;
    report.compressed = gzip;
    Ok(report)
}

/// Opens a file for reading its lines, decompressing it when it is gzip (by content, not by name).
pub fn open_lines(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    use std::io::Seek;
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    file.seek(io::SeekFrom::Start(0))?;
    Ok(if gzip {
        Box::new(BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::with_capacity(256 * 1024, file))
    })
}

/// Counts the (compressed) bytes read, for progress through a `.gz` file.
struct Counted {
    inner: File,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Sums the CRC32C of every byte read, so a report can say exactly which bytes it judged.
struct Summed {
    inner: File,
    crc: crc_fast::Digest,
}

impl Read for Summed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// Validates NDJSON from any reader; `path` names it in the report.
pub fn validate_reader(
    path: &str,
    reader: &mut (dyn BufRead + Send),
    options: &Options,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    validate(path, reader, options, &mut IdIndex::default(), 0, progress)
}

/// Where each `resourceType/id` of a batch was first seen, keyed by a 64-bit hash of the pair: 16 bytes per
/// resource (about 20 MB per million with the table's slack), the only memory that grows with the input. A
/// collision could only cost a spurious warning, never a rejected line.
#[derive(Default)]
struct IdIndex {
    /// Hash of `type/id` → file index (high 24 bits) and line (low 40 bits).
    first_seen: HashMap<u64, u64>,
    paths: Vec<String>,
}

impl IdIndex {
    /// Records the pair; returns where it was seen before, if it was.
    fn insert(&mut self, resource_type: &str, id: &str, file: u32, line: u64) -> Option<(u32, u64)> {
        let mut hasher =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .build_hasher();
        hasher.write(resource_type.as_bytes());
        hasher.write_u8(b'/');
        hasher.write(id.as_bytes());
        let place = (u64::from(file) << 40) | (line & ((1 << 40) - 1));
        match self.first_seen.entry(hasher.finish()) {
            std::collections::hash_map::Entry::Occupied(first) => {
                let first = *first.get();
                Some(((first >> 40) as u32, first & ((1 << 40) - 1)))
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(place);
                None
            }
        }
    }
}

/// A run of whole lines read from the file, validated by one worker.
#[derive(Default)]
struct Block {
    data: Vec<u8>,
    lines: Vec<LineSpan>,
    first_line: u64,
}

struct LineSpan {
    start: usize,
    end: usize,
    /// Bytes the line took in the file, with its line ending.
    consumed: usize,
    /// The line was longer than the limit and only its head is in `data`.
    overflowed: bool,
}

fn validate(
    path: &str,
    reader: &mut (dyn BufRead + Send),
    options: &Options,
    ids: &mut IdIndex,
    file_index: u32,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    let file = FileState::new(path, ids, file_index);
    check_reader(file, reader, options, ids, file_index, progress)
}

fn check_reader(
    mut file: FileState,
    reader: &mut (dyn BufRead + Send),
    options: &Options,
    ids: &mut IdIndex,
    file_index: u32,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> io::Result<FileReport> {
    let pool = match options.threads {
        0 => None,
        n => Some(rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(io::Error::other)?),
    };
    let threads =
        pool.as_ref().map_or_else(rayon::current_num_threads, rayon::ThreadPool::current_num_threads);
    let window = threads.max(1) * BLOCKS_PER_THREAD;
    let max_line = options.max_line_bytes;
    let mut bytes_done = 0u64;
    let mut current = read_window(reader, 1, window, max_line)?;
    // Each round checks one window on the pool while this thread reads the next: reading overlaps checking.
    while !current.blocks.is_empty() {
        let check_all = || -> Vec<Vec<LineVerdict>> {
            let check = |block: &Block| -> Vec<LineVerdict> {
                let lines = block.lines.iter().enumerate();
                lines.map(|(i, span)| check_span(block, span, block.first_line + i as u64, options)).collect()
            };
            if current.blocks.len() == 1 {
                vec![check(&current.blocks[0])]
            } else {
                current.blocks.par_iter().map(check).collect()
            }
        };
        let next_line = current.next_line;
        let at_end = current.at_end;
        let read_next = || {
            if at_end {
                Ok(Window { next_line, at_end: true, ..Window::default() })
            } else {
                read_window(reader, next_line, window, max_line)
            }
        };
        let (verdicts, next) = match &pool {
            Some(pool) => pool.join(check_all, read_next),
            None => rayon::join(check_all, read_next),
        };
        for (block, verdicts) in current.blocks.iter().zip(verdicts) {
            for (i, verdict) in verdicts.into_iter().enumerate() {
                file.absorb(block.first_line + i as u64, verdict, options, ids, file_index);
            }
        }
        bytes_done += current.bytes;
        if !progress(Progress { bytes_done, lines_done: next_line - 1 }) {
            return Err(cancelled());
        }
        current = next?;
    }
    let mut report = file.finish();
    report.bytes = bytes_done;
    report.ndjson_bytes = bytes_done;
    Ok(report)
}

fn check_span(block: &Block, span: &LineSpan, line_no: u64, options: &Options) -> LineVerdict {
    if span.overflowed {
        // The line was cut at the limit; report its true length without holding it in memory.
        let mut verdict = LineVerdict { rejected: true, ..Default::default() };
        verdict.issues.push(Issue {
            line: line_no,
            code: Code::LineTooLong,
            severity: Severity::Error,
            path: None,
            message: format!(
                "line is {} bytes, over the {}-byte limit; split the resource or raise the limit",
                span.consumed, options.max_line_bytes
            ),
        });
        return verdict;
    }
    check_line(line_no, &block.data[span.start..span.end], options)
}

/// Up to `blocks` blocks of lines, read ahead of checking.
#[derive(Default)]
struct Window {
    blocks: Vec<Block>,
    /// The number of the line after the window.
    next_line: u64,
    /// Bytes the window's lines took in the input.
    bytes: u64,
    at_end: bool,
}

fn read_window(
    reader: &mut (dyn BufRead + Send),
    first_line: u64,
    blocks: usize,
    max_line: usize,
) -> io::Result<Window> {
    let mut window = Window { next_line: first_line, ..Window::default() };
    while window.blocks.len() < blocks && !window.at_end {
        let mut block = Block { first_line: window.next_line, ..Block::default() };
        window.at_end = read_block(reader, &mut block, max_line)?;
        window.next_line += block.lines.len() as u64;
        window.bytes += block.lines.iter().map(|l| l.consumed as u64).sum::<u64>();
        if !block.lines.is_empty() {
            window.blocks.push(block);
        }
    }
    Ok(window)
}

/// Reads whole lines into `block` until it holds about `BLOCK_BYTES`; returns whether the input ended.
fn read_block(reader: &mut (dyn BufRead + Send), block: &mut Block, cap: usize) -> io::Result<bool> {
    while block.data.len() < BLOCK_BYTES {
        let start = block.data.len();
        let (consumed, overflowed) = read_capped_line(reader, &mut block.data, cap)?;
        if consumed == 0 {
            return Ok(true);
        }
        let mut end = block.data.len();
        if block.data[start..end].ends_with(b"\n") {
            end -= 1;
        }
        block.lines.push(LineSpan { start, end, consumed, overflowed });
    }
    Ok(false)
}

/// One file's running totals while its verdicts come in, in line order.
struct FileState {
    expected_type: Option<String>,
    report: FileReport,
    untyped_objects: u64,
    resources: u64,
}

impl FileState {
    fn new(path: &str, ids: &mut IdIndex, file_index: u32) -> FileState {
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
        if ids.paths.len() <= file_index as usize {
            ids.paths.resize(file_index as usize + 1, String::new());
        }
        ids.paths[file_index as usize] = path.to_string();
        FileState {
            expected_type: type_from_file_name(&name),
            report: FileReport { path: path.to_string(), name, ..FileReport::default() },
            untyped_objects: 0,
            resources: 0,
        }
    }

    fn absorb(
        &mut self,
        line_no: u64,
        mut verdict: LineVerdict,
        options: &Options,
        ids: &mut IdIndex,
        file: u32,
    ) {
        let report = &mut self.report;
        if verdict.blank {
            for issue in verdict.issues.drain(..) {
                report.record(issue, None, options);
            }
            return;
        }
        report.lines += 1;
        if verdict.untyped_object {
            self.untyped_objects += 1;
        }
        if let (Some(expected), Some(actual)) = (&self.expected_type, &verdict.resource_type)
            && expected != actual
        {
            verdict.issues.push(Issue {
                line: line_no,
                code: Code::TypeMismatchInFile,
                severity: Severity::Warning,
                path: Some("resourceType".into()),
                message: format!(
                    "a {actual} in a file named for {expected}; HealthLake imports it, but check the file was not mixed up"
                ),
            });
        }
        if let (Some(rt), Some(id)) = (&verdict.resource_type, &verdict.id)
            && let Some((first_file, first_line)) = ids.insert(rt, id, file, line_no)
        {
            let place = if first_file == file {
                format!("line {first_line}")
            } else {
                format!("{}:{first_line}", ids.paths[first_file as usize])
            };
            verdict.issues.push(Issue {
                line: line_no,
                code: Code::DuplicateId,
                severity: Severity::Warning,
                path: Some(format!("{rt}.id")),
                message: format!(
                    "{rt}/{id} is also at {place}; HealthLake keeps only the one imported last, so drop one of them"
                ),
            });
        }
        if verdict.rejected {
            report.invalid += 1;
        } else {
            report.valid += 1;
            self.resources += 1;
        }
        let resource_type = verdict.resource_type.take();
        for issue in verdict.issues {
            report.record(issue, resource_type.as_deref(), options);
        }
        if !verdict.rejected
            && let Some(rt) = resource_type
        {
            *report.resource_types.entry(rt).or_default() += 1;
        }
    }

    fn finish(mut self) -> FileReport {
        let lines = self.report.lines;
        if self.resources == 0 && self.untyped_objects > 0 && self.untyped_objects * 2 >= lines {
            mark_not_fhir(&mut self.report, self.untyped_objects);
        }
        self.report.groups.sort_by_key(|g| std::cmp::Reverse(g.count));
        self.report
    }
}

/// A file of JSON objects none of which is a resource (a bulk-export log, say) gets one clear file-level issue
/// instead of a `missing-resource-type` per line.
fn mark_not_fhir(report: &mut FileReport, untyped_objects: u64) {
    report.not_fhir = true;
    // Per-line findings on a file that is not FHIR are noise: the one file-level issue replaces them.
    report.by_code.clear();
    report.issues.clear();
    report.groups.clear();
    report.issues_truncated = false;
    let issue = Issue {
        line: 1,
        code: Code::NotFhir,
        severity: Severity::Error,
        path: None,
        message: format!(
            "not FHIR: {untyped_objects} of {} lines are JSON objects without a resourceType (a bulk-export log?); leave this file out of the import",
            report.lines
        ),
    };
    report.record(issue, None, &Options::default());
}

/// Bulk exports name files after their type (`Patient.000.ndjson`, `Patient.ndjson`); other names say nothing.
fn type_from_file_name(name: &str) -> Option<String> {
    let stem = name.split('.').next()?;
    crate::is_r4_resource_type(stem).then(|| stem.to_string())
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Appends one line to `buf`, keeping at most `cap` bytes of content plus its line ending; the rest of an
/// over-long line is consumed and dropped. Returns the bytes consumed and whether the line was cut.
fn read_capped_line(
    reader: &mut (dyn BufRead + Send),
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<(usize, bool)> {
    let start = buf.len();
    let keep = cap.saturating_add(2); // room for "\r\n"
    let mut consumed = 0usize;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        let (n, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = keep.saturating_sub(buf.len() - start);
        buf.extend_from_slice(&available[..n.min(room)]);
        reader.consume(n);
        consumed += n;
        if done {
            break;
        }
    }
    let content = strip_newline(&buf[start..]);
    let content = content.strip_suffix(b"\r").unwrap_or(content);
    let overflowed = consumed > keep || content.len() > cap;
    if overflowed {
        buf.truncate(start);
    }
    Ok((consumed, overflowed))
}
