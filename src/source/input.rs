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
            let mut decoded = decoder(&file, encoding, Box::new(counted), Some(compressed))?;
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
                let mut w = io::BufWriter::with_capacity(READ_BUFFER, tmp.as_file_mut());
                let copied = w
                    .write_all(&head_bytes)
                    .and_then(|()| io::copy(&mut decoded, &mut w).map(|_| ()))
                    .and_then(|()| w.flush());
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
        let mut decoded = decoder(file, encoding, Box::new(member), None)?;
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
    let mut decoded = decoder(file, file.encoding, Box::new(counted), Some(compressed))?;
    f(&mut decoded)
}

/// A decoder for `encoding` over `raw`, bounded against bombs.
fn decoder<'a>(
    file: &InputFile,
    encoding: Encoding,
    raw: Box<dyn BufRead + 'a>,
    compressed: Option<Rc<Cell<u64>>>,
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
        compressed: compressed.map_or(Compressed::Known(0), Compressed::Counted),
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
