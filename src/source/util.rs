//! Parsing helpers shared by the adapters: the quirks every export has (BOMs, numbers as strings,
//! naive timestamps, `\N` and empty strings for NULL).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

pub const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(BOM).unwrap_or(b)
}

/// True for the ways exports write NULL: empty, `\N` (psql COPY text), `null`, `NULL`, `None`.
/// `str::trim`, with a fast path for the usual field that has no surrounding whitespace:
/// Unicode trimming was a tenth of a month-sized run.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        // Printable ASCII (above the space) is never whitespace.
        (Some(&a), Some(&b)) if (0x21..0x80).contains(&a) && (0x21..0x80).contains(&b) => s,
        (None, _) | (_, None) => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
#[test]
fn fast_trim_is_str_trim() {
    for s in [
        "",
        " ",
        "a",
        " a ",
        "\u{b}a",
        "a\u{3000}",
        "\u{a0}x",
        "x\t",
        "\u{7f}",
        "é ",
    ] {
        assert_eq!(trim(s), s.trim(), "{s:?}");
    }
}

pub fn is_null(s: &str) -> bool {
    let t = trim(s);
    t.is_empty() || t == "\\N" || t.eq_ignore_ascii_case("null") || t == "None"
}

/// The trimmed field, or `None` for a NULL spelling.
pub fn opt_str(s: &str) -> Option<&str> {
    if is_null(s) { None } else { Some(trim(s)) }
}

/// A decimal written plainly or in scientific notation (`1e-06`, as Python's JSON writes small
/// floats).
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    let t = trim(s);
    if t.is_empty() {
        return None;
    }
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(t).ok())
}

/// A non-negative integer count written as `12`, `"12"`, or `12.0`.
pub fn parse_count(s: &str) -> Option<i64> {
    let t = trim(s);
    if let Ok(n) = t.parse::<i64>() {
        return (n >= 0).then_some(n);
    }
    let d = parse_decimal(t)?;
    (d.fract().is_zero() && d >= Decimal::ZERO)
        .then(|| i64::try_from(d.mantissa() / 10i128.pow(d.scale())).ok())
        .flatten()
}

/// A decimal from a JSON value that may be a number or a string (Dify streams decimals as
/// strings and blocking responses as numbers). Numbers are read from their JSON text, never via
/// `f64` arithmetic.
pub fn json_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => parse_decimal(s),
        Value::Number(n) => parse_decimal(&n.to_string()),
        _ => None,
    }
}

/// A count from a JSON number or numeric string; `None` for null/absent/negative/fractional.
pub fn json_count(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|&x| x >= 0)
            .or_else(|| parse_count(&n.to_string())),
        Value::String(s) => parse_count(s),
        _ => None,
    }
}

/// A JSON object field that may itself be a JSON-encoded string (Dify stores JSON in text
/// columns; CSV exports carry JSON objects as strings).
pub fn json_object(v: &Value) -> Option<serde_json::Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) if !is_null(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        },
        _ => None,
    }
}

/// Parses a timestamp as exports write them and returns UTC:
/// RFC 3339 with `Z` or an offset; naive `YYYY-MM-DD HH:MM:SS[.f…]` or `YYYY-MM-DDTHH:MM:SS[.f…]`
/// taken as UTC (callers only use this for sources documented as naive UTC); a bare date as
/// midnight UTC.
/// Whether a time as written names its offset (`Z`, `+08:00`, `-0500`, `+00`); a time without
/// one is read in the zone its adapter states.
pub fn names_offset(s: &str) -> bool {
    let tail = trim(s).get(10..).unwrap_or("");
    tail.ends_with(['Z', 'z'])
        || tail.rfind(['+', '-']).is_some_and(|i| {
            i > 0
                && tail[i + 1..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b':')
        })
}

pub fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let t = trim(s);
    if let Some(dt) = parse_utc_fast(t.as_bytes()) {
        return Some(dt);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    // psql writes `2026-10-01 08:00:00+00` for timestamptz.
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
}

/// The common spellings (`YYYY-MM-DD HH:MM:SS[.f…]`, `T` separator, suffix `Z`, `+00` or
/// `+00:00`) without chrono's format machinery: timestamps are parsed once per row of a month of
/// exports, and the general parser dominated the profile. Anything else returns `None` and goes
/// the general way.
fn parse_utc_fast(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..9 {
            nanos *= 10;
        }
    }
    match &b[i..] {
        b"" | b"Z" | b"z" | b"+00" | b"+00:00" | b"+0000" => {}
        _ => return None,
    }
    let date = NaiveDate::from_ymd_opt(y as i32, mo, d)?;
    let naive = date.and_hms_nano_opt(h, mi, sec, nanos)?;
    Some(Utc.from_utc_datetime(&naive))
}

/// 1-based line numbers of byte positions in one text, counted from the last position asked
/// for: a reader walking a whole-file JSON array forward pays one pass over the text, not one
/// per element (a 4,000-page file spent minutes recounting from the start).
pub struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// The line of byte `pos` (clamped to the text's end).
    pub fn line_at(&mut self, pos: usize) -> u64 {
        let pos = pos.min(self.text.len());
        if pos < self.pos {
            // Backwards (never on the forward walk): count again from the start.
            self.pos = 0;
            self.line = 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.text[self.pos..pos]).count() as u64;
        self.pos = pos;
        self.line
    }
}

/// A JSON object's field, with null treated as absent.
pub fn json_field<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// A grouping value or name in a bill page: a string (trimmed, empty = absent) or a number.
pub fn json_dim(m: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match json_field(m, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(opt_str(s).map(str::to_string)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(v) => Err(format!("{key}: expected a string, got {}", shown(v))),
    }
}

/// A JSON value quoted for a reject reason, shortened to 60 characters.
pub fn shown(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    };
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// Unix seconds (integer, or a numeric string) to UTC.
pub fn unix_seconds(v: &Value) -> Option<DateTime<Utc>> {
    let secs = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    DateTime::from_timestamp(secs, 0)
}

/// One input row's field values by column index, whichever container it came from: a CSV
/// record, or a Parquet row rendered as text (`parquet_file`). Bill adapters map rows through
/// this, so a CSV and a Parquet delivery of the same bill go through one mapping.
pub trait Fields {
    fn get(&self, i: usize) -> Option<&str>;
}

impl Fields for csv::StringRecord {
    fn get(&self, i: usize) -> Option<&str> {
        csv::StringRecord::get(self, i)
    }
}

impl Fields for [String] {
    fn get(&self, i: usize) -> Option<&str> {
        <[String]>::get(self, i).map(String::as_str)
    }
}

/// A CSV row the reader could not take: an I/O failure stops the file (`InputError`); a row with
/// the wrong number of fields, bad UTF-8 or broken quoting is rejected with its line and the run
/// goes on.
pub fn csv_row_error(
    e: &csv::Error,
    file: &super::InputFile,
    sink: &mut dyn super::RecordSink,
) -> Result<(), super::InputError> {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.kind() {
        csv::ErrorKind::Io(_) => {
            return Err(super::InputError::new(
                file,
                Some(line),
                format!("cannot read: {e}"),
            ));
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => sink.reject(
            line,
            format!("expected {expected_len} fields like the header, got {len}"),
        ),
        csv::ErrorKind::Utf8 { .. } => sink.reject(line, "not UTF-8 text".to_string()),
        _ => sink.reject(line, format!("malformed CSV row: {e}")),
    }
    Ok(())
}

/// Reads every row of a CSV export, handing each record with the line it starts on (quoted fields
/// may span lines) to `each`; a row the reader cannot take goes to `csv_row_error`.
pub fn each_csv_record<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    file: &super::InputFile,
    sink: &mut dyn super::RecordSink,
    mut each: impl FnMut(&csv::StringRecord, u64, &mut dyn super::RecordSink),
) -> Result<(), super::InputError> {
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                each(&rec, line, sink);
            }
            Err(e) => csv_row_error(&e, file, sink)?,
        }
    }
}

/// The CSV reader every adapter uses: a header row, and rows with exactly its field count (a
/// ragged row is rejected by `csv_row_error`). CRLF files reach it with their line ends already
/// normalized (`CrlfToLf`), so record line numbers are right without a special terminator.
pub fn csv_reader(reader: &mut dyn std::io::BufRead) -> csv::Reader<&mut dyn std::io::BufRead> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader)
}

/// The header row, or an error naming the file: without it nothing can be read.
pub fn csv_headers<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    file: &super::InputFile,
) -> Result<csv::StringRecord, super::InputError> {
    rdr.headers().cloned().map_err(|e| {
        super::InputError::new(file, Some(1), format!("cannot read the CSV header: {e}"))
    })
}

/// Streams `(line, text)` of a JSONL file to `f`; a line that is not UTF-8 is rejected here, a
/// read error stops the file.
pub fn each_jsonl_line(
    file: &super::InputFile,
    reader: &mut dyn std::io::BufRead,
    sink: &mut dyn super::RecordSink,
    mut f: impl FnMut(u64, &str, &mut dyn super::RecordSink),
) -> Result<(), super::InputError> {
    for (line, text) in jsonl_lines(reader) {
        match text {
            Ok(t) => f(line, &t, sink),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                sink.reject(line, "not UTF-8 text".to_string());
            }
            Err(e) => {
                return Err(super::InputError::new(
                    file,
                    Some(line),
                    format!("cannot read: {e}"),
                ));
            }
        }
    }
    Ok(())
}

/// Streams each line of a JSONL file that is a JSON object to `f`; any other line is rejected
/// (`expected a JSON object (WHAT)`, or the parse error).
pub fn each_jsonl_object(
    file: &super::InputFile,
    reader: &mut dyn std::io::BufRead,
    sink: &mut dyn super::RecordSink,
    what: &str,
    mut f: impl FnMut(&serde_json::Map<String, Value>, u64, &mut dyn super::RecordSink),
) -> Result<(), super::InputError> {
    each_jsonl_line(
        file,
        reader,
        sink,
        |line, text, sink| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(row)) => f(&row, line, sink),
            Ok(_) => sink.reject(line, format!("expected a JSON object ({what})")),
            Err(e) => sink.reject(line, format!("invalid JSON: {e}")),
        },
    )
}

/// Line number (1-based) of each JSONL line while streaming: yields `(line_no, line)` for
/// non-blank lines, with `\r` removed.
pub fn jsonl_lines(
    reader: &mut dyn std::io::BufRead,
) -> impl Iterator<Item = (u64, std::io::Result<String>)> + '_ {
    std::io::BufRead::lines(reader)
        .enumerate()
        .map(|(i, l)| {
            (
                i as u64 + 1,
                l.map(|s| s.trim_end_matches('\r').to_string()),
            )
        })
        .filter(|(_, l)| l.as_ref().map(|s| !s.trim().is_empty()).unwrap_or(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn line_counter_forward_and_back() {
        let text = "a\nbb\n\nccc";
        let mut lines = LineCounter::new(text);
        // Bytes: a=0 \n=1 b=2 b=3 \n=4 \n=5 c=6..8.
        assert_eq!(lines.line_at(0), 1);
        assert_eq!(lines.line_at(2), 2);
        assert_eq!(lines.line_at(6), 4);
        assert_eq!(lines.line_at(1), 1);
        assert_eq!(lines.line_at(100), 4);
    }

    #[test]
    fn decimals_from_strings_numbers_and_scientific() {
        assert_eq!(parse_decimal("0.0013030"), Some(dec!(0.0013030)));
        assert_eq!(json_decimal(&json!("0.0010330")), Some(dec!(0.0010330)));
        assert_eq!(json_decimal(&json!(1e-06)), Some(dec!(0.000001)));
        assert_eq!(json_decimal(&json!(0.06)), Some(dec!(0.06)));
        assert_eq!(json_decimal(&json!(null)), None);
    }

    #[test]
    fn counts_accept_strings_and_integral_floats_only() {
        assert_eq!(json_count(&json!(1033)), Some(1033));
        assert_eq!(json_count(&json!("1033")), Some(1033));
        assert_eq!(json_count(&json!(12.0)), Some(12));
        assert_eq!(json_count(&json!(12.5)), None);
        assert_eq!(json_count(&json!(-1)), None);
        assert_eq!(parse_count("7.000"), Some(7));
    }

    #[test]
    fn timestamps_in_export_spellings() {
        let want = Utc.with_ymd_and_hms(2026, 10, 1, 8, 30, 0).unwrap();
        assert_eq!(parse_utc("2026-10-01 08:30:00"), Some(want));
        assert_eq!(parse_utc("2026-10-01 08:30:00.000000"), Some(want));
        assert_eq!(parse_utc("2026-10-01T08:30:00Z"), Some(want));
        assert_eq!(parse_utc("2026-10-01T16:30:00+08:00"), Some(want));
        assert_eq!(parse_utc("2026-10-01 08:30:00+00"), Some(want));
        assert_eq!(parse_utc("2026-10-01T08:30:00.000Z"), Some(want));
        assert_eq!(parse_utc("10/01/2026"), None);
        // Fractions of any length, and invalid dates, agree with the general parser.
        let frac = Utc.with_ymd_and_hms(2026, 10, 1, 8, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        assert_eq!(parse_utc("2026-10-01 08:30:00.123456"), Some(frac));
        assert_eq!(parse_utc("2026-10-01 08:30:00.123456+00"), Some(frac));
        assert_eq!(
            parse_utc("2026-10-01T08:30:00.1234561Z"),
            Some(frac + chrono::Duration::nanoseconds(100))
        );
        assert_eq!(parse_utc("2026-02-30 08:30:00"), None);
        assert_eq!(parse_utc("2026-10-01 25:30:00"), None);
        assert_eq!(parse_utc("2026-10-01 08:30:00."), None);
        assert!(is_null("\\N") && is_null("") && is_null("NULL"));
    }
}

/// A buffered reader that turns CRLF line ends into LF as it reads.
///
/// Windows exports (Azure, DeepSeek, Excel-saved CSVs) end lines with CRLF; the CSV reader then
/// reports every record one line early. Normalizing once here keeps `file:line` right for every
/// adapter. A lone `\r` is kept. Whether a file uses CRLF is decided at its first line end: an
/// LF file is passed through without scanning (the month-sized exports are LF).
pub struct CrlfToLf<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    pending_cr: bool,
    /// `Some(true)` once the first line ended in CRLF, `Some(false)` in LF.
    crlf: Option<bool>,
}

impl<R: std::io::Read> CrlfToLf<R> {
    pub fn new(inner: R) -> Self {
        CrlfToLf {
            inner,
            buf: vec![0; 256 * 1024],
            pos: 0,
            len: 0,
            pending_cr: false,
            crlf: None,
        }
    }
}

impl<R: std::io::Read> std::io::Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        // An LF file with nothing buffered: read straight into the caller's buffer.
        if self.crlf == Some(false) && self.pos >= self.len && !self.pending_cr {
            return self.inner.read(out);
        }
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: std::io::Read> std::io::BufRead for CrlfToLf<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos >= self.len {
            // A `\r` that ended the previous chunk goes first; it is dropped if `\n` follows.
            let off = usize::from(self.pending_cr);
            let n = self.inner.read(&mut self.buf[off..])?;
            if n == 0 {
                self.pos = 0;
                self.len = off;
                if off == 1 {
                    self.buf[0] = b'\r';
                    self.pending_cr = false;
                }
                break;
            }
            if self.pending_cr {
                self.buf[0] = b'\r';
                self.pending_cr = false;
            }
            let total = off + n;
            if self.crlf.is_none()
                && let Some(i) = memchr::memchr(b'\n', &self.buf[..total])
            {
                self.crlf = Some(i > 0 && self.buf[i - 1] == b'\r');
            }
            let mut w = total;
            if self.crlf != Some(false) {
                // Move the runs between `\r\n` pairs down in bulk: a byte loop here cost a
                // quarter of a month-sized run.
                let mut src = 0;
                w = 0;
                let drop_cr = |at: usize, w: &mut usize, src: &mut usize, buf: &mut [u8]| {
                    buf.copy_within(*src..at, *w);
                    *w += at - *src;
                    *src = at + 1;
                };
                let crs: Vec<usize> = memchr::memchr_iter(b'\r', &self.buf[..total]).collect();
                for i in crs {
                    if i + 1 == total {
                        // Decided by the next chunk's first byte.
                        drop_cr(i, &mut w, &mut src, &mut self.buf);
                        self.pending_cr = true;
                    } else if self.buf[i + 1] == b'\n' {
                        drop_cr(i, &mut w, &mut src, &mut self.buf);
                    }
                }
                self.buf.copy_within(src..total, w);
                w += total - src;
            }
            self.pos = 0;
            self.len = w;
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.len);
    }
}

#[cfg(test)]
mod crlf_tests {
    use super::CrlfToLf;
    use std::io::Read;

    /// A reader that hands out at most `k` bytes per call, to cut CRLF pairs across reads.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn crlf_becomes_lf_across_read_boundaries_and_lone_cr_stays() {
        let input = b"a,b\r\n1,\"x\ry\"\r\n2,z\r\n\r";
        for k in 1..8 {
            let mut s = String::new();
            CrlfToLf::new(Trickle(input, k))
                .read_to_string(&mut s)
                .unwrap();
            assert_eq!(s, "a,b\n1,\"x\ry\"\n2,z\n\r", "chunk size {k}");
        }
        // A file whose first line ends in LF is passed through as is.
        let mut s = String::new();
        CrlfToLf::new(&b"a\nb\r\nc"[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "a\nb\r\nc");
    }
}
