//! What a local file holds and the NDJSON it is imported as (issue 20): plain NDJSON as it is; `.gz` decompressed
//! on the fly; a Bundle (`.json`, `.json.gz`) unbundled into the NDJSON lines of its entries; NDJSON whose lines
//! hold Bundles, each such line replaced by its entries. The NDJSON is produced as it is read, never written to
//! disk, so a check and an upload read the same bytes in one streaming pass, and no temporary copy of patient data
//! is ever made.
//!
//! Reading keeps a [`Tally`] of the file's own bytes (SHA-256 and CRC32C, as they were read: what a later check
//! proves the file unchanged by) and of what unbundling did.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use lakedrop_validate::{BundleSummary, Content, FileReport, UnresolvedReference};
use sha2::{Digest, Sha256};

use crate::bundle::{self, BundleError};

/// Unresolved references kept as examples per file; the rest are counted.
const UNRESOLVED_EXAMPLES: usize = 20;
/// NDJSON made from a Bundle is handed to the reader in chunks of about this size.
const CHUNK: usize = 256 * 1024;
/// How far a file's first bytes are read to tell what it holds.
const HEAD: usize = 64 * 1024;

/// A file and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    /// gzip, by its first bytes (not its name).
    pub compressed: bool,
    pub content: Content,
}

impl Input {
    /// Whether the NDJSON differs from the file's (decompressed) bytes: a Bundle, or lines holding Bundles.
    pub fn unbundles(&self) -> bool {
        self.content != Content::Ndjson
    }

    /// The input as imported when Bundles are to stay Bundles (`keep_bundles`): a Bundle file becomes one Bundle
    /// resource on one line, and lines holding Bundles go as they are; anything else is unchanged.
    pub fn keeping_bundles(self, keep_bundles: bool) -> Input {
        let content = match (keep_bundles, self.content) {
            (true, Content::Bundle) => Content::BundleKept,
            (true, Content::BundleLines) => Content::Ndjson,
            (_, content) => content,
        };
        Input { content, ..self }
    }

    /// Whether the file is uploaded byte for byte (plain NDJSON, not compressed).
    pub fn as_is(&self) -> bool {
        !self.compressed && self.content == Content::Ndjson
    }
}

/// Whether a name is one Lakedrop reads as a Bundle when it holds one (`.json`, `.json.gz`).
pub fn is_json_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".json") || lower.ends_with(".json.gz")
}

/// Tells what a file holds from its name and its first bytes. A `.json` file (or any file not named `.ndjson`)
/// that starts as a Bundle is a Bundle; an `.ndjson` file whose first line is a Bundle holds Bundle lines; the rest
/// is NDJSON, judged line by line as it always was.
pub fn sniff(path: &Path) -> io::Result<Input> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let compressed = read_up_to(&mut file, &mut magic)? == 2 && magic == [0x1f, 0x8b];
    let file = File::open(path)?;
    let mut head = vec![0u8; HEAD];
    let n = if compressed {
        read_up_to(&mut flate2::read::MultiGzDecoder::new(file), &mut head).unwrap_or(0)
    } else {
        read_up_to(&mut { file }, &mut head)?
    };
    head.truncate(n);
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&head);
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let ndjson_name = name.ends_with(".ndjson") || name.ends_with(".ndjson.gz");
    let content = if ndjson_name {
        let mut first_line = Vec::new();
        BufReader::new(open_raw(path, compressed, None)?.take(MAX_SNIFFED_LINE))
            .read_until(b'\n', &mut first_line)?;
        if is_bundle_line(&first_line) { Content::BundleLines } else { Content::Ndjson }
    } else if bundle::looks_like_bundle(body) {
        Content::Bundle
    } else if is_json_name(&name) && body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        // The first bytes do not say (members in another order): read the object's members, skipping values.
        let found = bundle::resource_type_of(without_bom(open_raw(path, compressed, None)?)?);
        if found.as_deref() == Some("Bundle") { Content::Bundle } else { Content::Ndjson }
    } else {
        Content::Ndjson
    };
    Ok(Input { path: path.to_path_buf(), compressed, content })
}

/// The longest first line read to tell whether an NDJSON file holds Bundle lines.
const MAX_SNIFFED_LINE: u64 = 256 * 1024 * 1024;

/// Whether one NDJSON line is a Bundle: a quick look for `"Bundle"`, then its top-level `resourceType` read
/// (members may come in any order, a long `entry` first).
fn is_bundle_line(line: &[u8]) -> bool {
    memchr::memmem::find(line, b"\"Bundle\"").is_some()
        && (bundle::looks_like_bundle(&line[..line.len().min(512)])
            || bundle::resource_type_of(line).as_deref() == Some("Bundle"))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What reading a file found out, shared between the reader and whoever reads the NDJSON.
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<TallyInner>);

#[derive(Debug, Default)]
struct TallyInner {
    /// The file's own bytes read so far (compressed bytes for `.gz`), for progress.
    raw_bytes: AtomicU64,
    seen: Mutex<Seen>,
}

#[derive(Debug)]
struct Seen {
    sha256: Sha256,
    crc32c: crc_fast::Digest,
    summary: Option<BundleSummary>,
    /// For each NDJSON line made by unbundling, the entry (Bundle file) or line (Bundle lines) it came from.
    origins: Vec<u64>,
    /// Why unbundling stopped, if it broke off: the origin where it did, and what was wrong.
    broken: Option<(u64, String)>,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            sha256: Sha256::new(),
            crc32c: crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi),
            summary: None,
            origins: Vec::new(),
            broken: None,
        }
    }
}

/// The file's own bytes as they were read, start to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPrint {
    pub bytes: u64,
    /// Hex SHA-256.
    pub sha256: String,
    pub crc32c: u32,
}

impl Tally {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.0.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The file's bytes read so far (compressed bytes for `.gz`).
    pub fn raw_bytes(&self) -> u64 {
        self.0.raw_bytes.load(Ordering::Relaxed)
    }

    /// The entry (Bundle file) or line (Bundle lines) the NDJSON line `index` (0-based) was made from, once the
    /// line has been read.
    pub fn origin(&self, index: u64) -> Option<u64> {
        self.seen().origins.get(index as usize).copied()
    }

    /// The file's bytes as read, when the reader has read it to its end.
    pub fn raw_print(&self) -> RawPrint {
        let seen = self.seen();
        RawPrint {
            bytes: self.raw_bytes(),
            sha256: hex::encode(seen.sha256.clone().finalize()),
            crc32c: seen.crc32c.clone().finalize() as u32,
        }
    }

    /// Fills in what a check of the NDJSON cannot know: the file's own size and checksum, what it holds, what
    /// unbundling did, and for unbundled files each issue's entry (or line) instead of the NDJSON line. A Bundle
    /// that broke off refuses the whole file: importing a part of it would lose the rest in silence.
    pub fn complete_report(&self, input: &Input, report: &mut FileReport) {
        let print = self.raw_print();
        report.bytes = print.bytes;
        report.compressed = input.compressed;
        report.content = input.content;
        report.crc32c = Some(print.crc32c);
        let seen = self.seen();
        if input.unbundles() {
            let origin = |line: u64| seen.origins.get(line as usize - 1).copied().unwrap_or(line);
            for issue in &mut report.issues {
                if issue.line > 0 {
                    issue.line = origin(issue.line);
                }
            }
            for group in &mut report.groups {
                for example in &mut group.examples {
                    if example.line > 0 {
                        example.line = origin(example.line);
                    }
                }
            }
            report.unbundled = seen.summary.clone();
        }
        if let Some((at, why)) = &seen.broken {
            let noun = if input.content == Content::Bundle { "entry" } else { "line" };
            let place = if *at > 0 { format!(" (at {noun} {at})") } else { String::new() };
            report.refuse(
                (*at).max(1),
                format!(
                    "{why}{place}; nothing of this file is imported: fix or replace it, then check it again"
                ),
            );
        }
    }
}

/// Counts and hashes the file's bytes as they are read.
struct Hashed {
    inner: File,
    tally: Tally,
}

impl Read for Hashed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.tally.seen();
        seen.sha256.update(&buf[..n]);
        seen.crc32c.update(&buf[..n]);
        drop(seen);
        self.tally.0.raw_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The file opened (decompressed if it is gzip), hashed into `tally` when `tally` is given.
fn open_raw(path: &Path, compressed: bool, tally: Option<&Tally>) -> io::Result<Box<dyn Read + Send>> {
    let file = File::open(path)?;
    let inner: Box<dyn Read + Send> = match tally {
        Some(tally) => Box::new(Hashed { inner: file, tally: tally.clone() }),
        None => Box::new(file),
    };
    Ok(if compressed {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(CHUNK, inner)))
    } else {
        inner
    })
}

/// The reader past a UTF-8 byte order mark, if the file starts with one (Windows tools write them; JSON
/// parsers refuse them).
fn without_bom(mut reader: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut head = [0u8; 3];
    let n = read_up_to(&mut reader, &mut head)?;
    Ok(if head[..n] == *b"\xef\xbb\xbf" {
        reader
    } else {
        Box::new(io::Cursor::new(head[..n].to_vec()).chain(reader))
    })
}

/// Opens the NDJSON a file is imported as. Reading it to its end fills the returned [`Tally`].
pub fn open_ndjson(input: &Input) -> io::Result<(Box<dyn BufRead + Send>, Tally)> {
    let tally = Tally::default();
    let reader: Box<dyn BufRead + Send> = match input.content {
        Content::Ndjson => {
            Box::new(BufReader::with_capacity(CHUNK, open_raw(&input.path, input.compressed, Some(&tally))?))
        }
        Content::Bundle => Box::new(BufReader::with_capacity(CHUNK, unbundle_file(input, &tally)?)),
        Content::BundleLines => Box::new(BufReader::with_capacity(CHUNK, unbundle_lines(input, &tally)?)),
        Content::BundleKept => Box::new(BufReader::with_capacity(CHUNK, keep_whole(input, &tally)?)),
    };
    Ok((reader, tally))
}

/// A Bundle kept whole: the file's JSON on one line, made as it is read. Only whitespace outside strings is
/// dropped (JSON allows none inside them unescaped), so numbers, strings and member order are the file's own;
/// whether the line is a valid Bundle is the check's to say.
fn keep_whole(input: &Input, tally: &Tally) -> io::Result<Chunks> {
    let mut reader = without_bom(open_raw(&input.path, input.compressed, Some(tally))?)?;
    let (mut sink, chunks) = sink(tally);
    let tally = tally.clone();
    std::thread::Builder::new().name("bundle-line".into()).spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        let (mut in_string, mut escaped) = (false, false);
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tally.seen().broken = Some((1, format!("cannot read the file: {e}")));
                    return;
                }
            };
            for &b in &buf[..n] {
                if in_string {
                    sink.buf.push(b);
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    in_string = b == b'"';
                    sink.buf.push(b);
                }
            }
            if sink.buf.len() >= CHUNK && sink.flush().is_err() {
                return;
            }
        }
        sink.buf.push(b'\n');
        tally.seen().origins.push(1);
        let _ = sink.flush();
    })?;
    Ok(chunks)
}

/// NDJSON chunks made on another thread, read as one stream. Dropping the reader stops the thread.
struct Chunks {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Where unbundled lines go: buffered into chunks for the reader, each line's origin noted.
struct Sink {
    tx: mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    tally: Tally,
}

impl Sink {
    fn line(&mut self, origin: u64, line: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        self.tally.seen().origins.push(origin);
        if self.buf.len() >= CHUNK { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        // The reader went away (a check cancelled): stop.
        self.tx
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the NDJSON's reader stopped"))
    }
}

fn sink(tally: &Tally) -> (Sink, Chunks) {
    let (tx, rx) = mpsc::sync_channel(8);
    (
        Sink { tx, buf: Vec::with_capacity(CHUNK), tally: tally.clone() },
        Chunks { rx, chunk: Vec::new(), at: 0 },
    )
}

/// Adds one Bundle's report to the file's summary; `origin` maps an entry index to what issues point at.
fn summarize(tally: &Tally, report: &bundle::UnbundleReport, origin: impl Fn(u64) -> u64) {
    let mut seen = tally.seen();
    let summary = seen.summary.get_or_insert_with(BundleSummary::default);
    summary.bundles += 1;
    if summary.bundle_type.is_none() {
        summary.bundle_type.clone_from(&report.bundle_type);
    }
    summary.entries += report.entries;
    summary.resources += report.resources;
    summary.rewritten += report.rewritten;
    summary.unresolved += report.unresolved.len() as u64;
    for u in &report.unresolved {
        if summary.unresolved_examples.len() < UNRESOLVED_EXAMPLES {
            summary.unresolved_examples.push(UnresolvedReference {
                line: origin(u.entry),
                path: u.path.clone(),
                reference: u.reference.clone(),
            });
        }
    }
}

fn unbundle_file(input: &Input, tally: &Tally) -> io::Result<Chunks> {
    // Fail here, not on the thread, when the file cannot be opened at all.
    File::open(&input.path)?;
    let (mut sink, chunks) = sink(tally);
    let (path, compressed, tally) = (input.path.clone(), input.compressed, tally.clone());
    std::thread::Builder::new().name("unbundle".into()).spawn(move || {
        // The first pass learns the entries' ids; the second, whose bytes are hashed, writes.
        let mut passes = 0;
        let open = || {
            passes += 1;
            without_bom(open_raw(&path, compressed, (passes == 2).then_some(&tally))?)
        };
        let result = bundle::unbundle(open, |u| sink.line(u.entry + 1, u.line.as_bytes()));
        let flushed = sink.flush();
        match result {
            Ok(report) => summarize(&tally, &report, |entry| entry + 1),
            Err(BundleError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                // Where it broke: after the last entry written, or (0) while the entries were first read.
                let at = tally.seen().origins.last().map_or(0, |last| last + 1);
                tally.seen().broken = Some((at, e.to_string()));
            }
        }
        drop(flushed);
    })?;
    Ok(chunks)
}

fn unbundle_lines(input: &Input, tally: &Tally) -> io::Result<Chunks> {
    let mut reader = BufReader::with_capacity(CHUNK, open_raw(&input.path, input.compressed, Some(tally))?);
    let (mut sink, chunks) = sink(tally);
    let tally = tally.clone();
    std::thread::Builder::new().name("unbundle".into()).spawn(move || {
        let mut line = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tally.seen().broken = Some((number + 1, format!("cannot read the file: {e}")));
                    break;
                }
            }
            number += 1;
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let sent = if is_bundle_line(text) {
                match bundle::unbundle(|| Ok(text), |u| sink.line(number, u.line.as_bytes())) {
                    Ok(report) => {
                        summarize(&tally, &report, |_| number);
                        Ok(())
                    }
                    Err(BundleError::Io(e)) => Err(e),
                    // A Bundle line that cannot be unbundled goes as it is: the check then says what is wrong
                    // with it, on its own line.
                    Err(BundleError::Invalid(_)) => sink.line(number, text),
                }
            } else {
                sink.line(number, text)
            };
            if sent.is_err() {
                return;
            }
        }
        let _ = sink.flush();
    })?;
    Ok(chunks)
}
