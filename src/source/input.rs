//! The one place inputs are opened: a path, or `-` for stdin; a regular file, a FIFO or a pipe
//! (`<(…)`); plain, gzip, zstd or a zip of several exports.
//!
//! - The compression is found from the first bytes (magic numbers), never from the name: AWS
//!   delivers CUR as `.csv.gz` or `.zip`, Azure exports as `.csv.gz`, DeepSeek its usage export
//!   as a zip of `amount-*.csv` and `cost-*.csv`. Each zip member is an input of its own, named
//!   `archive.zip!member.csv` in messages and rejected rows.
//! - The format is sniffed from a head of the decoded bytes that grows (64 KiB, doubling, at most
//!   [`MAX_HEAD_BYTES`]) until a sniffer decides, so a large page is recognized however much of
//!   it fits in the first read.
//! - A stream can be read only once, but a run reads its inputs more than once (identities, then
//!   the counting read): a stream's head and the rest that follows it are decoded once into a
//!   temporary file (removed at the end of the run), which is then read like any file. A zip or
//!   Parquet stream, which needs random access, is copied as it is (at most
//!   [`MAX_SPOOLED_ARCHIVE_BYTES`]).
//! - Decompression is bounded ([`MAX_DECOMPRESSED_BYTES`], [`MAX_RATIO`]): a bomb is an error
//!   naming the file, never memory or disk without end.

use super::{Format, Head, InputError, InputFile, parquet_file, util};
use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// The first look at a file for sniffing.
pub const HEAD_BYTES: usize = 64 * 1024;
/// How far the head may grow while no sniffer has decided.
pub const MAX_HEAD_BYTES: usize = 16 << 20;
/// Decompressed bytes one compressed file or zip member may expand to.
pub const MAX_DECOMPRESSED_BYTES: u64 = 64 << 30;
/// Past [`RATIO_FREE_BYTES`], a compressed input may expand at most this many times its
/// compressed size (real CSV exports compress 5–30×; a bomb of zeros, 1000× and more).
pub const MAX_RATIO: u64 = 250;
/// Decompressed bytes allowed before the ratio is checked (a small, very regular file is fine).
pub const RATIO_FREE_BYTES: u64 = 64 << 20;
/// A zip or Parquet file read from a pipe is copied to a temporary file first, up to this size.
pub const MAX_SPOOLED_ARCHIVE_BYTES: u64 = 4 << 30;

const READ_BUFFER: usize = 256 * 1024;

/// How a file's bytes are compressed, from their magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Gzip,
    Zstd,
}

/// What the first bytes say a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Magic {
    Parquet,
    Zip,
    Compressed(Encoding),
}

fn magic(b: &[u8]) -> Magic {
    if b.starts_with(parquet_file::MAGIC) {
        Magic::Parquet
    } else if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        // A local file header, or the end record of an empty archive.
        Magic::Zip
    } else if b.starts_with(&[0x1f, 0x8b]) {
        Magic::Compressed(Encoding::Gzip)
    } else if b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Magic::Compressed(Encoding::Zstd)
    } else {
        Magic::Compressed(Encoding::Plain)
    }
}

/// A kept temporary copy of a stream; removed when the last `InputFile` naming it is dropped.
#[derive(Clone, Debug)]
pub struct Spool(#[allow(dead_code)] Arc<tempfile::TempPath>);

/// Opens one argument of the command line: the inputs it delivers (one, or one per zip member),
/// each with its format, sniffed unless `given` (`--input-format`, a pull manifest).
pub fn open_argument(
    index: u32,
    path: &Path,
    given: Option<Format>,
) -> Result<Vec<(InputFile, Format)>, InputError> {
    open_argument_or_unknown(index, path, given)?
        .into_iter()
        .map(|(file, format)| match format {
            Some(f) => Ok((file, f)),
            None => Err(unrecognized(&file)),
        })
        .collect()
}

/// As [`open_argument`], but a regular file no sniffer recognizes comes back with no format
/// instead of an error, so the caller may still take it for something else (an AWS manifest).
/// A stream or a zip member is refused at once: it cannot be read a second time by name.
pub fn open_argument_or_unknown(
    index: u32,
    path: &Path,
    given: Option<Format>,
) -> Result<Vec<(InputFile, Option<Format>)>, InputError> {
    let mut file = InputFile::new(index, path);
    let is_stdin = path.as_os_str() == "-";
    if is_stdin {
        file.display = "stdin".to_string();
        let stdin = io::stdin();
        return open_stream(file, Box::new(stdin), given).map(known);
    }
    let f =
        File::open(path).map_err(|e| InputError::new(&file, None, format!("cannot open: {e}")))?;
    let regular = f.metadata().is_ok_and(|m| m.is_file());
    if !regular {
        // A FIFO, a pipe from `<(…)`, a character device.
        return open_stream(file, Box::new(f), given).map(known);
    }
    open_regular(file, f, given)
}

fn known(inputs: Vec<(InputFile, Format)>) -> Vec<(InputFile, Option<Format>)> {
    inputs.into_iter().map(|(f, x)| (f, Some(x))).collect()
}

fn unrecognized(file: &InputFile) -> InputError {
    InputError::new(
        file,
        None,
        format!(
            "unrecognized format: expected one of {} (see README, Input formats)",
            Format::known_list()
        ),
    )
}

/// The format given, or the one sniffed from the head `head` reads (only then).
fn format_of(
    file: &InputFile,
    given: Option<Format>,
    head: impl FnOnce() -> Result<Head, InputError>,
) -> Result<Format, InputError> {
    format_or_unknown(given, head)?.ok_or_else(|| unrecognized(file))
}

fn format_or_unknown(
    given: Option<Format>,
    head: impl FnOnce() -> Result<Head, InputError>,
) -> Result<Option<Format>, InputError> {
    match given {
        Some(f) => Ok(Some(f)),
        None => Ok(super::sniff(&head()?)),
    }
}

fn open_regular(
    mut file: InputFile,
    mut f: File,
    given: Option<Format>,
) -> Result<Vec<(InputFile, Option<Format>)>, InputError> {
    let mut first = [0u8; 4];
    let n = read_up_to(&mut f, &mut first).map_err(|e| cannot_read(&file, &e))?;
    drop(f);
    match magic(&first[..n]) {
        Magic::Parquet => {
            let format = format_or_unknown(given, || parquet_file::head(&file))?;
            Ok(vec![(file, format)])
        }
        Magic::Zip => open_zip(&file, given).map(known),
        Magic::Compressed(encoding) => {
            file.encoding = encoding;
            let format = format_or_unknown(given, || read_head(&file))?;
            Ok(vec![(file, format)])
        }
    }
}

/// Every member of a zip (directories aside), each sniffed on its own.
fn open_zip(
    archive: &InputFile,
    given: Option<Format>,
) -> Result<Vec<(InputFile, Format)>, InputError> {
    let mut zip = open_archive(archive)?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let (name, is_dir) = {
            let entry = zip.by_index(i).map_err(|e| bad_zip(archive, &e))?;
            let name = entry
                .name()
                .map_or_else(|_| format!("#{}", i + 1), |n| n.into_owned());
            (name, entry.is_dir())
        };
        if is_dir {
            continue;
        }
        let mut member = archive.clone();
        member.display = format!("{}!{name}", archive.display);
        member.member = Some(i);
        let format = format_of(&member, given, || read_head(&member))?;
        if format.is_parquet() {
            return Err(InputError::new(
                &member,
                None,
                "a Parquet file inside a zip cannot be read in place; unzip it and give the .parquet file",
            ));
        }
        out.push((member, format));
    }
    if out.is_empty() {
        return Err(InputError::new(
            archive,
            None,
            "the zip archive holds no files",
        ));
    }
    Ok(out)
}

fn open_archive(file: &InputFile) -> Result<zip::ZipArchive<BufReader<File>>, InputError> {
    let f = File::open(&file.path)
        .map_err(|e| InputError::new(file, None, format!("cannot open: {e}")))?;
    zip::ZipArchive::new(BufReader::new(f)).map_err(|e| bad_zip(file, &e))
}

fn bad_zip(file: &InputFile, e: &dyn std::fmt::Display) -> InputError {
    InputError::new(
        file,
        None,
        format!("not a readable zip archive (truncated or corrupt?): {e}"),
    )
}

/// A stream: a zip or Parquet is copied as it is, anything else decoded once into a temporary
/// file after its head has been sniffed.
fn open_stream(
    mut file: InputFile,
    stream: Box<dyn Read>,
    given: Option<Format>,
) -> Result<Vec<(InputFile, Format)>, InputError> {
    let (m, stream) = peek_magic(Box::new(crate::progress::Counted(stream)))
        .map_err(|e| cannot_read(&file, &e))?;
    let mut raw = BufReader::with_capacity(READ_BUFFER, stream);
    match m {
        Magic::Parquet | Magic::Zip => {
            let (spool, path) = spool_raw(&file, &mut raw)?;
            file.path = path;
            file.spool = Some(spool);
            let f = File::open(&file.path).map_err(|e| cannot_read(&file, &e))?;
            open_regular(file, f, given)?
                .into_iter()
                .map(|(file, format)| match format {
                    Some(f) => Ok((file, f)),
                    None => Err(unrecognized(&file)),
                })
                .collect()
        }
        Magic::Compressed(encoding) => {
            let compressed = Rc::new(Cell::new(0u64));
            let counted = CountIn {
                inner: raw,
                count: compressed.clone(),
            };
            let mut decoded = decoder(
                &file,
                encoding,
                Box::new(counted),
                Compressed::Counted(compressed),
            )?;
            let mut head_bytes = Vec::new();
            let format = format_of(&file, given, || {
                let (head, bytes) = sniff_head(&file, &mut decoded)?;
                head_bytes = bytes;
                Ok(head)
            })?;
            let mut tmp = tempfile::NamedTempFile::new().map_err(|e| {
                InputError::new(&file, None, format!("cannot make a temporary copy: {e}"))
            })?;
            {
                // An endless stream (`/dev/zero`, `yes`) stops at the line limit, not the disk's.
                let limit = if is_line_format(format) {
                    MAX_RUNAWAY_LINE_BYTES
                } else {
                    MAX_DOCUMENT_LINE_BYTES
                };
                let mut rest =
                    DocumentGuard::with_limit(io::Cursor::new(head_bytes).chain(decoded), limit);
                let mut w = io::BufWriter::with_capacity(READ_BUFFER, tmp.as_file_mut());
                let copied = io::copy(&mut rest, &mut w).and_then(|_| w.flush());
                copied.map_err(|e| cannot_read(&file, &e))?;
            }
            let path = tmp.into_temp_path();
            file.path = path.to_path_buf();
            file.spool = Some(Spool(Arc::new(path)));
            Ok(vec![(file, format)])
        }
    }
}

fn spool_raw(
    file: &InputFile,
    raw: &mut dyn Read,
) -> Result<(Spool, std::path::PathBuf), InputError> {
    let mut tmp = tempfile::NamedTempFile::new()
        .map_err(|e| InputError::new(file, None, format!("cannot make a temporary copy: {e}")))?;
    let n = io::copy(
        &mut raw.take(MAX_SPOOLED_ARCHIVE_BYTES + 1),
        &mut io::BufWriter::new(tmp.as_file_mut()),
    )
    .map_err(|e| cannot_read(file, &e))?;
    if n > MAX_SPOOLED_ARCHIVE_BYTES {
        return Err(InputError::new(
            file,
            None,
            format!(
                "a zip or Parquet file from a pipe is copied to a temporary file first, and this one is over {} GiB; give it as a file",
                MAX_SPOOLED_ARCHIVE_BYTES >> 30
            ),
        ));
    }
    let path = tmp.into_temp_path();
    let p = path.to_path_buf();
    Ok((Spool(Arc::new(path)), p))
}

/// Reads the head of an input (regular file, spooled stream or zip member) for sniffing.
pub fn read_head(file: &InputFile) -> Result<Head, InputError> {
    if file.member.is_none() && file.encoding == Encoding::Plain {
        let mut f = File::open(&file.path)
            .map_err(|e| InputError::new(file, None, format!("cannot open: {e}")))?;
        let mut first = [0u8; 4];
        let n = read_up_to(&mut f, &mut first).map_err(|e| cannot_read(file, &e))?;
        if magic(&first[..n]) == Magic::Parquet {
            return parquet_file::head(file);
        }
    }
    let mut head = None;
    with_decoded(file, &mut |r| {
        head = Some(sniff_head(file, r)?.0);
        Ok(())
    })?;
    head.ok_or_else(|| InputError::new(file, None, "cannot read"))
}

/// Grows a head of the decoded bytes until a sniffer decides, the input ends or the head
/// reaches [`MAX_HEAD_BYTES`]; returns it and the bytes it was made of.
fn sniff_head(file: &InputFile, r: &mut dyn Read) -> Result<(Head, Vec<u8>), InputError> {
    let mut buf = Vec::with_capacity(HEAD_BYTES);
    let mut want = HEAD_BYTES;
    loop {
        let before = buf.len();
        r.take((want - before) as u64)
            .read_to_end(&mut buf)
            .map_err(|e| cannot_read(file, &e))?;
        let ended = buf.len() < want;
        let head = head_text(file, &buf)?;
        if ended || want >= MAX_HEAD_BYTES || super::sniff(&head).is_some() {
            return Ok((head, buf));
        }
        want = (want * 2).min(MAX_HEAD_BYTES);
    }
}

/// The head as text: BOM removed, a character cut at the end dropped.
fn head_text(file: &InputFile, buf: &[u8]) -> Result<Head, InputError> {
    let body = util::strip_bom(buf);
    let text = match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&body[..e.valid_up_to()]).into_owned()
        }
        Err(_) => {
            return Err(InputError::new(
                file,
                None,
                "not UTF-8 text; expected a CSV, JSON, JSONL or Parquet export (plain, gzip, zstd or zip)",
            ));
        }
    };
    Ok(Head { text })
}

/// Runs `f` on the decoded bytes of `file` (a zip member's, a compressed file's, or the plain
/// file's), counted towards the progress bar as they are read from disk.
pub fn with_decoded(
    file: &InputFile,
    f: &mut dyn FnMut(&mut dyn Read) -> Result<(), InputError>,
) -> Result<(), InputError> {
    if let Some(i) = file.member {
        let mut zip = open_archive(file)?;
        let entry = zip.by_index(i).map_err(|e| bad_zip(file, &e))?;
        let compressed = entry.compressed_size();
        let bounded = Bounded {
            inner: entry,
            out: 0,
            compressed: Compressed::Known(compressed),
        };
        // A member may itself be gzip or zstd (a `.csv.gz` zipped again).
        let (m, member) = peek_magic(Box::new(bounded)).map_err(|e| cannot_read(file, &e))?;
        let encoding = match m {
            Magic::Compressed(e) => e,
            _ => Encoding::Plain,
        };
        let member = BufReader::with_capacity(READ_BUFFER, member);
        // Its ratio is measured against the member's bytes in the archive, as the outer one.
        let mut decoded = decoder(
            file,
            encoding,
            Box::new(member),
            Compressed::Known(compressed),
        )?;
        return f(&mut decoded);
    }
    let raw = File::open(&file.path)
        .map_err(|e| InputError::new(file, None, format!("cannot open: {e}")))?;
    let counted = crate::progress::Counted(raw);
    if file.encoding == Encoding::Plain {
        return f(&mut BufReader::with_capacity(READ_BUFFER, counted));
    }
    let compressed = Rc::new(Cell::new(0u64));
    let counted = CountIn {
        inner: BufReader::with_capacity(READ_BUFFER, counted),
        count: compressed.clone(),
    };
    let mut decoded = decoder(
        file,
        file.encoding,
        Box::new(counted),
        Compressed::Counted(compressed),
    )?;
    f(&mut decoded)
}

/// A decoder for `encoding` over `raw`, bounded against bombs.
fn decoder<'a>(
    file: &InputFile,
    encoding: Encoding,
    raw: Box<dyn BufRead + 'a>,
    compressed: Compressed,
) -> Result<Box<dyn Read + 'a>, InputError> {
    let inner: Box<dyn Read + 'a> = match encoding {
        Encoding::Plain => return Ok(Box::new(raw)),
        // Multi-member: `cat a.gz b.gz` and concatenated deliveries are one stream.
        Encoding::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Encoding::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| {
            InputError::new(file, None, format!("cannot start the zstd decoder: {e}"))
        })?),
    };
    Ok(Box::new(Bounded {
        inner,
        out: 0,
        compressed,
    }))
}

/// How much compressed input a decoder has taken.
enum Compressed {
    Known(u64),
    Counted(Rc<Cell<u64>>),
}

/// Decoded bytes, stopped with an error past [`MAX_DECOMPRESSED_BYTES`] or [`MAX_RATIO`].
struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Compressed,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        let compressed = match &self.compressed {
            Compressed::Known(n) => *n,
            Compressed::Counted(c) => c.get(),
        };
        if self.out > MAX_DECOMPRESSED_BYTES
            || (self.out > RATIO_FREE_BYTES && self.out > compressed.saturating_mul(MAX_RATIO))
        {
            return Err(io::Error::other(format!(
                "decompresses to more than {} MiB from {compressed} compressed bytes (limits: {MAX_RATIO}× the compressed size past {} MiB, {} GiB in all); refusing a possible decompression bomb",
                self.out >> 20,
                RATIO_FREE_BYTES >> 20,
                MAX_DECOMPRESSED_BYTES >> 30,
            )));
        }
        Ok(n)
    }
}

/// Counts the compressed bytes a decoder takes.
struct CountIn<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountIn<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountIn<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt);
    }
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The magic number of a stream, and the stream again from its first byte (a pipe cannot seek
/// back, so the bytes read are chained in front of the rest).
fn peek_magic<'a>(mut r: Box<dyn Read + 'a>) -> io::Result<(Magic, Box<dyn Read + 'a>)> {
    let mut first = [0u8; 4];
    let n = read_up_to(&mut r, &mut first)?;
    let m = magic(&first[..n]);
    Ok((m, Box::new(io::Cursor::new(first[..n].to_vec()).chain(r))))
}

fn cannot_read(file: &InputFile, e: &io::Error) -> InputError {
    InputError::new(file, None, format!("cannot read: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Bounded lines

/// In a CSV or JSONL export, a line longer than this is a rejected row (the run goes on).
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// A line still running after this many bytes is an error: the input never ends a record (a
/// CSV or JSONL export, or `/dev/zero`).
pub const MAX_RUNAWAY_LINE_BYTES: u64 = 256 << 20;
/// The same for a JSON document format, whose pages may be written on one line.
pub const MAX_DOCUMENT_LINE_BYTES: u64 = 1 << 30;

/// Formats read a line at a time (CSV, JSONL), where one line is at most one row. No wildcard:
/// a new format must say which it is.
pub fn is_line_format(format: Format) -> bool {
    use Format as F;
    match format {
        F::DifyMessagesCsv
        | F::DifyMessagesJsonl
        | F::DifyNodeExecutionsCsv
        | F::DifyNodeExecutionsJsonl
        | F::DifyApiLog
        | F::LangfuseUiCsv
        | F::LangfuseUiJsonl
        | F::LangfuseBlobCsv
        | F::LangfuseBlobJsonl
        | F::LangsmithRunsJsonl
        | F::OpenaiCostCsv
        | F::DeepseekAmountCsv
        | F::DeepseekCostCsv
        | F::AlibabaBillCsv
        | F::TencentBillCsv
        | F::AzureEaCsv
        | F::AzureMcaCsv
        | F::AzurePaygCsv
        | F::FocusCsv
        | F::AwsCurCsv
        | F::AwsCur2Csv
        | F::GcpBillingCsv
        | F::LitellmSpendLogsCsv => true,
        // JSON pages or arrays, which may be written on one line (some of these also take
        // JSONL), and Parquet, which is not read as text.
        F::DifyTokenCostsJson
        | F::LangfuseUiJson
        | F::LangfuseApiJson
        | F::LangsmithRunsJson
        | F::OpenaiUsageJson
        | F::OpenaiCostsJson
        | F::AnthropicUsageJson
        | F::AnthropicCostJson
        | F::GcpBillingJson
        | F::AwsCurParquet
        | F::FocusParquet
        | F::LangfuseBlobParquet
        | F::LangsmithRunsParquet
        | F::LitellmSpendLogsJson => false,
    }
}

/// The reason an over-long line is rejected with.
pub fn overlong_reason() -> String {
    format!(
        "a line longer than {} MiB (the limit for one row); skipped",
        MAX_LINE_BYTES >> 20
    )
}

fn runaway(line: u64, limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "line {line} runs on for more than {} MiB without ending: the input never ends a record",
            limit >> 20
        ),
    )
}

/// Hands out whole lines only, each at most [`MAX_LINE_BYTES`]: a longer line is dropped as it
/// streams (memory stays bounded), its line ending kept so later lines keep their numbers, and
/// its number is listed in `overlong`; a line running past [`MAX_RUNAWAY_LINE_BYTES`] is an
/// error.
pub struct LineGuard<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..ready]` is handed out (whole lines), `buf[ready..end]` the line being read.
    start: usize,
    ready: usize,
    end: usize,
    eof: bool,
    /// 1-based line number of `buf[ready]`.
    line: u64,
    /// Lines dropped for their length.
    pub overlong: Vec<u64>,
}

impl<R: Read> LineGuard<R> {
    pub fn new(inner: R) -> Self {
        LineGuard {
            inner,
            buf: vec![0; READ_BUFFER],
            start: 0,
            ready: 0,
            end: 0,
            eof: false,
            line: 1,
            overlong: Vec::new(),
        }
    }

    fn release(&mut self, to: usize) {
        self.line += memchr::memchr_iter(b'\n', &self.buf[self.ready..to]).count() as u64;
        self.ready = to;
    }

    /// Reads into `buf[from..]`, at most [`READ_BUFFER`] bytes: a line that starts and ends
    /// within one read is then short, so only the line being carried over needs measuring.
    fn read_inner(&mut self, from: usize) -> io::Result<usize> {
        let to = (from + READ_BUFFER).min(self.buf.len());
        loop {
            match self.inner.read(&mut self.buf[from..to]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// Reads until at least one whole line (or the end) is ready.
    fn refill(&mut self) -> io::Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        self.ready = 0;
        loop {
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2).min(MAX_LINE_BYTES + READ_BUFFER);
                self.buf.resize(grown, 0);
            }
            let scan = self.end;
            let n = self.read_inner(scan)?;
            if n == 0 {
                self.eof = true;
                self.release(self.end);
                return Ok(());
            }
            self.end += n;
            if let Some(first) = memchr::memchr(b'\n', &self.buf[scan..self.end]) {
                let first = scan + first;
                if first > MAX_LINE_BYTES {
                    // The carried-over line ended just past the limit: drop it, keep its end.
                    self.overlong.push(self.line);
                    self.start = first;
                    self.ready = first;
                }
                let last =
                    memchr::memrchr(b'\n', &self.buf[first..self.end]).map_or(first, |j| first + j);
                self.release(last + 1);
                return Ok(());
            }
            if self.end > MAX_LINE_BYTES {
                return self.skip_overlong();
            }
        }
    }

    /// Drops the rest of an over-long line, up to its line ending.
    fn skip_overlong(&mut self) -> io::Result<()> {
        let line = self.line;
        let mut skipped = self.end as u64;
        self.start = 0;
        self.ready = 0;
        self.end = 0;
        loop {
            let n = self.read_inner(0)?;
            if n == 0 {
                self.eof = true;
                self.overlong.push(line);
                return Ok(());
            }
            if let Some(i) = memchr::memchr(b'\n', &self.buf[..n]) {
                self.overlong.push(line);
                // Its line ending is handed out as an empty line.
                self.start = i;
                self.ready = i;
                self.end = n;
                let last = memchr::memrchr(b'\n', &self.buf[i..n]).map_or(i, |j| i + j);
                self.release(last + 1);
                return Ok(());
            }
            skipped += n as u64;
            if skipped > MAX_RUNAWAY_LINE_BYTES {
                return Err(runaway(line, MAX_RUNAWAY_LINE_BYTES));
            }
        }
    }
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for LineGuard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.start == self.ready && !self.eof {
            self.refill()?;
        }
        Ok(&self.buf[self.start..self.ready])
    }

    fn consume(&mut self, amt: usize) {
        self.start = (self.start + amt).min(self.ready);
    }
}

/// Passes a JSON document through, stopping with an error when a line runs past
/// [`MAX_DOCUMENT_LINE_BYTES`] (or the limit given).
pub struct DocumentGuard<R> {
    inner: R,
    since_newline: u64,
    line: u64,
    limit: u64,
}

impl<R> DocumentGuard<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_DOCUMENT_LINE_BYTES)
    }

    pub fn with_limit(inner: R, limit: u64) -> Self {
        DocumentGuard {
            inner,
            since_newline: 0,
            line: 1,
            limit,
        }
    }
}

impl<R: Read> Read for DocumentGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        let chunk = &out[..n];
        match memchr::memrchr(b'\n', chunk) {
            Some(i) => {
                self.line += memchr::memchr_iter(b'\n', chunk).count() as u64;
                self.since_newline = (n - i - 1) as u64;
            }
            None => self.since_newline += n as u64,
        }
        if self.since_newline > self.limit {
            return Err(runaway(self.line, self.limit));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `k` bytes per call.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A zip holding `member` stored as it is, written to `dir`; the archive's first member.
    fn zip_member(dir: &Path, member: &[u8]) -> InputFile {
        let path = dir.join("delivery.zip");
        let mut w = zip::ZipWriter::new(File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        w.start_file("cur.csv.gz", opts).unwrap();
        w.write_all(member).unwrap();
        w.finish().unwrap();
        let mut file = InputFile::new(1, &path);
        file.member = Some(0);
        file
    }

    fn gzip(bytes: &[u8], level: flate2::Compression) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn decoded_len(file: &InputFile) -> Result<u64, InputError> {
        let mut n = 0;
        with_decoded(file, &mut |r| {
            n = io::copy(r, &mut io::sink()).map_err(|e| cannot_read(file, &e))?;
            Ok(())
        })?;
        Ok(n)
    }

    /// A `.csv.gz` zipped again is held to the ratio against its own bytes in the archive: one
    /// that expands past 64 MiB at a few times its size is read in full, a bomb is refused.
    #[test]
    fn a_gzip_inside_a_zip_is_bounded_by_its_size_in_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        // 72 MiB in stored (uncompressed) deflate blocks: past 64 MiB, at about 1x its size.
        let text = vec![b'7'; 72 << 20];
        let member = gzip(&text, flate2::Compression::none());
        assert!(member.len() as u64 * MAX_RATIO > text.len() as u64);
        let file = zip_member(dir.path(), &member);
        assert_eq!(decoded_len(&file).unwrap(), text.len() as u64);
        drop((text, member));

        let zeros = gzip(&vec![b'\n'; 100 << 20], flate2::Compression::default());
        assert!(zeros.len() as u64 * MAX_RATIO < 100 << 20);
        let file = zip_member(dir.path(), &zeros);
        let e = decoded_len(&file).unwrap_err();
        assert!(e.to_string().contains("decompression bomb"), "{e}");
    }

    #[test]
    fn whole_lines_pass_and_an_overlong_one_becomes_empty() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let mut input = b"a,b\n1,2\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\n3,4\nlast");
        for k in [1 << 20, 7 << 20, usize::MAX] {
            let mut g = LineGuard::new(Trickle(&input, k));
            let mut out = Vec::new();
            g.read_to_end(&mut out).unwrap();
            // Line 3 is dropped, its line ending kept: "3,4" stays line 4.
            assert_eq!(out, b"a,b\n1,2\n\n3,4\nlast", "chunk {k}");
            assert_eq!(g.overlong, [3]);
        }
        // At the limit a line passes; one byte more and it is dropped.
        for (len, dropped) in [(MAX_LINE_BYTES, false), (MAX_LINE_BYTES + 1, true)] {
            let mut input = vec![b'y'; len];
            input.extend_from_slice(b"\nz\n");
            let mut g = LineGuard::new(Trickle(&input, 3 << 20));
            let mut out = Vec::new();
            g.read_to_end(&mut out).unwrap();
            assert_eq!(g.overlong.len(), usize::from(dropped), "{len}");
            assert_eq!(out.len(), if dropped { 3 } else { len + 3 });
        }
        // Short lines in tiny reads come out as they went in.
        let input = b"h\r\n\"q\nq\",1\r\n\r\nend\n";
        let mut g = LineGuard::new(Trickle(input, 1));
        let mut out = Vec::new();
        g.read_to_end(&mut out).unwrap();
        assert_eq!(out, input);
        assert!(g.overlong.is_empty());
    }
}
