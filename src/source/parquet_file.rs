//! Parquet deliveries: AWS CUR / CUR 2.0 (Data Exports), FOCUS exports, Langfuse's blob
//! export and LangSmith's bulk export of runs.
//!
//! A Parquet row is turned into the text its CSV delivery would carry, column by column, so the
//! adapters map it with the same function as a CSV row (`util::Fields`). Text is exact for every
//! type real exports use:
//! - strings as they are; NULL as the empty field;
//! - DECIMAL (INT32/INT64/byte-array unscaled value + scale) as its exact decimal text;
//! - DOUBLE/FLOAT as their shortest round-trip text (`0.069`, never `0.06900000000000001`), so a
//!   cost goes into `rust_decimal` without any float arithmetic;
//! - timestamps (INT64 millis/micros/nanos with or without the UTC flag, legacy INT96) as
//!   RFC 3339 UTC (`2026-10-01T00:00:00Z`); a timestamp without the UTC flag is taken as UTC,
//!   as AWS and FOCUS define their times;
//! - map columns (`product`, `resource_tags`, `tags` of CUR 2.0) as a JSON object, the way the
//!   CSV delivery writes them.
//!
//! The file is streamed a row group at a time; only the footer and one row group's pages are in
//! memory. Rows are numbered from 1 within the file; that number is the record's line and the
//! reject reason says `row N`.

use super::{Head, InputError, InputFile};
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat};
use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, reader::RowIter};
use parquet::schema::types::{Type, TypePtr};
use serde_json::Value;
use std::fs::File;

/// The four bytes every Parquet file starts (and ends) with.
pub const MAGIC: &[u8; 4] = b"PAR1";

/// How a Parquet head is spelled in `Head::text`: this mark, then the top-level column names
/// as a JSON array. No text export starts with a NUL after `PAR1`.
const HEAD_MARK: &str = "PAR1\0";

/// The head of a Parquet file for sniffing: its top-level column names, read from the footer.
pub fn head(file: &InputFile) -> Result<Head, InputError> {
    let reader = open_reader(file)?;
    let names: Vec<&str> = reader
        .metadata()
        .file_metadata()
        .schema()
        .get_fields()
        .iter()
        .map(|f| f.name())
        .collect();
    let json = serde_json::to_string(&names).unwrap_or_default();
    Ok(Head {
        text: format!("{HEAD_MARK}{json}"),
    })
}

/// The column names of a Parquet head, or `None` when the head is text.
pub fn columns(head: &Head) -> Option<Vec<String>> {
    let json = head.text.strip_prefix(HEAD_MARK)?;
    serde_json::from_str(json).ok()
}

fn open_reader(file: &InputFile) -> Result<SerializedFileReader<File>, InputError> {
    let f = File::open(&file.path)
        .map_err(|e| InputError::new(file, None, format!("cannot open: {e}")))?;
    // The footer decoder panics on a few corrupt footers: that is the file's error too.
    let opened =
        crate::panic_guard::catch(|| SerializedFileReader::new(f).map_err(|e| e.to_string()));
    let reader = opened.and_then(|r| r).map_err(|e| {
        InputError::new(
            file,
            None,
            format!("not a readable Parquet file (truncated or corrupt?): {e}"),
        )
    })?;
    check_expansion(file, &reader)?;
    Ok(reader)
}

/// The bounds of compressed text inputs, applied to what the footer says each column chunk
/// decompresses to: the page buffers are allocated at those sizes, so a chunk that claims a
/// bomb's ratio is refused before any page is read. (A page header that claims more than its
/// chunk is not checked here.)
fn check_expansion(
    file: &InputFile,
    reader: &SerializedFileReader<File>,
) -> Result<(), InputError> {
    use super::input::{MAX_DECOMPRESSED_BYTES, MAX_RATIO, RATIO_FREE_BYTES};
    for (g, group) in reader.metadata().row_groups().iter().enumerate() {
        for col in group.columns() {
            let out = u64::try_from(col.uncompressed_size()).unwrap_or(u64::MAX);
            let compressed = u64::try_from(col.compressed_size()).unwrap_or(0);
            if out > MAX_DECOMPRESSED_BYTES
                || (out > RATIO_FREE_BYTES && out > compressed.saturating_mul(MAX_RATIO))
            {
                return Err(InputError::new(
                    file,
                    None,
                    format!(
                        "row group {}, column '{}': decompresses to {} MiB from {compressed} compressed bytes (limits: {MAX_RATIO}x the compressed size past {} MiB, {} GiB in all); refusing a possible decompression bomb",
                        g + 1,
                        col.column_path().string(),
                        out >> 20,
                        RATIO_FREE_BYTES >> 20,
                        MAX_DECOMPRESSED_BYTES >> 30,
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// How a column's values become text beyond what the row API says: INT64 timestamps whose
/// logical type has no legacy converted type (nanoseconds, or no UTC flag) arrive as plain
/// integers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Plain,
    Timestamp(Unit),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Millis,
    Micros,
    Nanos,
}

/// What `Table::for_each_row` calls with each row's number and values (or why not).
pub type OnRow<'a> = dyn FnMut(u64, Result<&[String], String>) + 'a;

/// An open Parquet bill: the columns kept (in file order) and the reader.
pub struct Table {
    reader: SerializedFileReader<File>,
    projection: Type,
    names: Vec<String>,
    kinds: Vec<Kind>,
}

/// Opens `file` keeping the top-level columns `keep` accepts.
pub fn open(file: &InputFile, keep: &dyn Fn(&str) -> bool) -> Result<Table, InputError> {
    let reader = open_reader(file)?;
    let schema = reader.metadata().file_metadata().schema();
    let fields: Vec<TypePtr> = schema
        .get_fields()
        .iter()
        .filter(|f| keep(f.name()))
        .cloned()
        .collect();
    let mut kinds = Vec::with_capacity(fields.len());
    for f in &fields {
        kinds.push(kind_of(f).map_err(|why| {
            InputError::new(
                file,
                None,
                format!(
                    "column '{}': {why}; expected a CUR, FOCUS, Langfuse or LangSmith export",
                    f.name()
                ),
            )
        })?);
    }
    let names = fields.iter().map(|f| f.name().to_string()).collect();
    let projection = Type::group_type_builder(schema.name())
        .with_fields(fields)
        .build()
        .map_err(|e| InputError::new(file, None, format!("cannot read the schema: {e}")))?;
    Ok(Table {
        reader,
        projection,
        names,
        kinds,
    })
}

/// Checks that the row API takes every leaf of a column (it panics on the few pairings of
/// physical and converted type it does not know), and finds timestamps it leaves as integers.
fn kind_of(t: &Type) -> Result<Kind, String> {
    if t.is_group() {
        for f in t.get_fields() {
            kind_of(f)?;
        }
        return Ok(Kind::Plain);
    }
    let info = t.get_basic_info();
    let conv = info.converted_type();
    let ok = match t.get_physical_type() {
        Physical::BOOLEAN | Physical::INT96 | Physical::FLOAT | Physical::DOUBLE => true,
        Physical::INT32 => matches!(
            conv,
            ConvertedType::NONE
                | ConvertedType::INT_8
                | ConvertedType::INT_16
                | ConvertedType::INT_32
                | ConvertedType::UINT_8
                | ConvertedType::UINT_16
                | ConvertedType::UINT_32
                | ConvertedType::DATE
                | ConvertedType::TIME_MILLIS
                | ConvertedType::DECIMAL
        ),
        Physical::INT64 => matches!(
            conv,
            ConvertedType::NONE
                | ConvertedType::INT_64
                | ConvertedType::UINT_64
                | ConvertedType::TIME_MICROS
                | ConvertedType::TIMESTAMP_MILLIS
                | ConvertedType::TIMESTAMP_MICROS
                | ConvertedType::DECIMAL
        ),
        Physical::BYTE_ARRAY => matches!(
            conv,
            ConvertedType::NONE
                | ConvertedType::UTF8
                | ConvertedType::ENUM
                | ConvertedType::JSON
                | ConvertedType::BSON
                | ConvertedType::DECIMAL
        ),
        Physical::FIXED_LEN_BYTE_ARRAY => {
            matches!(conv, ConvertedType::NONE | ConvertedType::DECIMAL)
        }
    };
    if !ok {
        return Err(format!(
            "Parquet type {} ({conv}) is not one this reader takes",
            t.get_physical_type()
        ));
    }
    Ok(match (t.get_physical_type(), info.logical_type_ref()) {
        (Physical::INT64, Some(LogicalType::Timestamp(ts))) => Kind::Timestamp(match ts.unit {
            TimeUnit::MILLIS => Unit::Millis,
            TimeUnit::MICROS => Unit::Micros,
            TimeUnit::NANOS => Unit::Nanos,
        }),
        _ => Kind::Plain,
    })
}

impl Table {
    /// The kept column names, in the order of the values `for_each_row` hands out.
    pub fn columns(&self) -> &[String] {
        &self.names
    }

    /// An error naming the first of `required` that the file does not have; `what` is the
    /// export the reader expected.
    pub fn require(
        &self,
        file: &InputFile,
        required: &[&str],
        what: &str,
    ) -> Result<(), InputError> {
        match required
            .iter()
            .find(|req| !self.names.iter().any(|c| c == *req))
        {
            Some(req) => Err(InputError::new(
                file,
                None,
                format!("missing column '{req}'; expected {what}"),
            )),
            None => Ok(()),
        }
    }

    /// Calls `f(row, values)` for every row, a row group at a time; `values` are the kept
    /// columns as text, or why a value could not be turned into text (the row is rejected).
    /// A page that cannot be read or decompressed stops the file with an `InputError`.
    pub fn for_each_row(&self, file: &InputFile, f: &mut OnRow<'_>) -> Result<(), InputError> {
        // The row API panics on a few malformed files; a panic becomes the file's error.
        crate::panic_guard::catch(|| self.rows(file, f)).unwrap_or_else(|_| {
            Err(InputError::new(
                file,
                None,
                "corrupt Parquet file: its pages do not match its schema",
            ))
        })
    }

    fn rows(&self, file: &InputFile, f: &mut OnRow<'_>) -> Result<(), InputError> {
        let mut values: Vec<String> = vec![String::new(); self.names.len()];
        let mut n: u64 = 0;
        let bad = |n: u64, e: &dyn std::fmt::Display| {
            InputError::new(
                file,
                Some(n),
                format!("cannot read Parquet row {n} (truncated or corrupt?): {e}"),
            )
        };
        for g in 0..self.reader.num_row_groups() {
            let group = self.reader.get_row_group(g).map_err(|e| bad(n + 1, &e))?;
            let rows = RowIter::from_row_group(Some(self.projection.clone()), &*group)
                .map_err(|e| bad(n + 1, &e))?;
            for row in rows {
                n += 1;
                let row = row.map_err(|e| bad(n, &e))?;
                let mut failed = None;
                for (i, (name, field)) in row.get_column_iter().enumerate() {
                    let kind = self.kinds.get(i).copied().unwrap_or(Kind::Plain);
                    match text(field, kind) {
                        Ok(t) => {
                            if let Some(v) = values.get_mut(i) {
                                *v = t;
                            }
                        }
                        Err(why) => {
                            failed = Some(format!("column '{name}': {why}"));
                            break;
                        }
                    }
                }
                match failed {
                    None => f(n, Ok(&values)),
                    Some(why) => f(n, Err(why)),
                }
            }
        }
        Ok(())
    }
}

/// A field as the text its CSV delivery would carry.
fn text(field: &Field, kind: Kind) -> Result<String, String> {
    Ok(match field {
        Field::Null => String::new(),
        Field::Bool(b) => b.to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => match kind {
            Kind::Timestamp(unit) => timestamp(*v, unit)?,
            Kind::Plain => v.to_string(),
        },
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        // Display is the shortest text that reads back as the same float: the number as the
        // export meant it, with no binary noise.
        Field::Float16(v) => f32::from(*v).to_string(),
        Field::Float(v) => v.to_string(),
        Field::Double(v) => v.to_string(),
        Field::Decimal(d) => decimal_text(d.data(), d.scale())?,
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => std::str::from_utf8(b.data())
            .map_err(|_| "a binary value that is not UTF-8 text".to_string())?
            .to_string(),
        Field::Date(days) => NaiveDate::from_num_days_from_ce_opt(719_163 + *days)
            .ok_or_else(|| format!("date {days} days from 1970 is out of range"))?
            .to_string(),
        Field::TimeMillis(ms) => time_of_day(i64::from(*ms) * 1_000_000)?,
        Field::TimeMicros(us) => time_of_day(us.saturating_mul(1_000))?,
        Field::TimestampMillis(ms) => timestamp(*ms, Unit::Millis)?,
        Field::TimestampMicros(us) => timestamp(*us, Unit::Micros)?,
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
            json(field)?.to_string()
        }
    })
}

/// Maps, lists and structs as JSON (a CSV delivery writes CUR 2.0 maps as JSON objects).
fn json(field: &Field) -> Result<Value, String> {
    Ok(match field {
        Field::Null => Value::Null,
        Field::MapInternal(m) => {
            let mut obj = serde_json::Map::new();
            for (k, v) in m.entries() {
                obj.insert(text(k, Kind::Plain)?, json(v)?);
            }
            Value::Object(obj)
        }
        Field::ListInternal(l) => {
            let items: Result<Vec<Value>, String> = l.elements().iter().map(json).collect();
            Value::Array(items?)
        }
        Field::Group(row) => {
            let mut obj = serde_json::Map::new();
            for (k, v) in row.get_column_iter() {
                obj.insert(k.clone(), json(v)?);
            }
            Value::Object(obj)
        }
        other => Value::String(text(other, Kind::Plain)?),
    })
}

fn timestamp(v: i64, unit: Unit) -> Result<String, String> {
    let t = match unit {
        Unit::Millis => DateTime::from_timestamp_millis(v),
        Unit::Micros => DateTime::from_timestamp_micros(v),
        Unit::Nanos => Some(DateTime::from_timestamp_nanos(v)),
    };
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .ok_or_else(|| format!("timestamp {v} is out of range"))
}

fn time_of_day(nanos: i64) -> Result<String, String> {
    let secs = u32::try_from(nanos.div_euclid(1_000_000_000)).map_err(|_| "bad time")?;
    let frac = u32::try_from(nanos.rem_euclid(1_000_000_000)).map_err(|_| "bad time")?;
    NaiveTime::from_num_seconds_from_midnight_opt(secs, frac)
        .map(|t| t.to_string())
        .ok_or_else(|| format!("time of day {nanos} ns is out of range"))
}

/// The exact decimal text of a Parquet DECIMAL: a big-endian two's-complement unscaled value
/// and a scale. Up to 16 bytes (precision 38), the widest real exports use.
fn decimal_text(bytes: &[u8], scale: i32) -> Result<String, String> {
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(format!(
            "a DECIMAL of {} bytes; expected 1 to 16",
            bytes.len()
        ));
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut buf = if negative { [0xFFu8; 16] } else { [0u8; 16] };
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    let unscaled = i128::from_be_bytes(buf);
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = usize::try_from(scale).map_err(|_| format!("a DECIMAL with scale {scale}"))?;
    if scale == 0 {
        return Ok(format!("{sign}{digits}"));
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    Ok(format!("{sign}{int}.{frac}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        // 3125 at scale 6 = 0.003125; -500 at scale 2 = -5.00; 7 at scale 0.
        assert_eq!(decimal_text(&3125i32.to_be_bytes(), 6).unwrap(), "0.003125");
        assert_eq!(decimal_text(&(-500i64).to_be_bytes(), 2).unwrap(), "-5.00");
        assert_eq!(decimal_text(&[7], 0).unwrap(), "7");
        // A 16-byte value: 10^30 + 1 at scale 10 = 100000000000000000000.0000000001.
        let v: i128 = 10i128.pow(30) + 1;
        assert_eq!(
            decimal_text(&v.to_be_bytes(), 10).unwrap(),
            "100000000000000000000.0000000001"
        );
        // Shorter than 16 bytes and negative: 0xFF85 = -123 at scale 1 = -12.3.
        assert_eq!(decimal_text(&[0xFF, 0x85], 1).unwrap(), "-12.3");
        assert!(decimal_text(&[0; 17], 0).is_err());
    }

    #[test]
    fn floats_and_times_as_text() {
        assert_eq!(text(&Field::Double(0.069), Kind::Plain).unwrap(), "0.069");
        assert_eq!(
            text(&Field::Double(0.21399), Kind::Plain).unwrap(),
            "0.21399"
        );
        assert_eq!(
            text(&Field::Double(1e-7), Kind::Plain).unwrap(),
            "0.0000001"
        );
        assert_eq!(text(&Field::Double(23000.0), Kind::Plain).unwrap(), "23000");
        assert_eq!(text(&Field::Double(f64::NAN), Kind::Plain).unwrap(), "NaN");
        // 2026-10-01T00:00:00Z = 1790812800 s.
        let want = "2026-10-01T00:00:00Z";
        let s = 1_790_812_800i64;
        assert_eq!(
            text(&Field::TimestampMillis(s * 1000), Kind::Plain).unwrap(),
            want
        );
        assert_eq!(
            text(&Field::TimestampMicros(s * 1_000_000), Kind::Plain).unwrap(),
            want
        );
        assert_eq!(
            text(
                &Field::Long(s * 1_000_000_000),
                Kind::Timestamp(Unit::Nanos)
            )
            .unwrap(),
            want
        );
        assert_eq!(
            text(&Field::Long(s * 1000 + 250), Kind::Timestamp(Unit::Millis)).unwrap(),
            "2026-10-01T00:00:00.250Z"
        );
        // Day 20727 after 1970-01-01 is 2026-10-01.
        assert_eq!(
            text(&Field::Date(20_727), Kind::Plain).unwrap(),
            "2026-10-01"
        );
        assert_eq!(text(&Field::Long(42), Kind::Plain).unwrap(), "42");
        assert_eq!(text(&Field::Null, Kind::Plain).unwrap(), "");
    }
}
