//! `normalize --format parquet`: the normalized records as a Parquet file, for engines that
//! already run where the exports live (DuckDB, Spark, Trino, BigQuery, polars).
//!
//! Column names follow FOCUS where FOCUS has the concept (`ChargePeriodStart`, `ProviderName`,
//! `SubAccountId`, `ConsumedQuantity`, `BilledCost`, …); everything FOCUS does not define is
//! `x_`-prefixed, as the FOCUS specification asks of provider-specific columns. The schema is
//! [`COLUMNS`] (the README lists it). Written with Parquet's own column writers (no Arrow), Snappy,
//! one row group per [`ROW_GROUP`] records, so memory holds one row group whatever the input size.

use super::{RecordWriter, Row};
use crate::record::UsageClass;
use chrono::{DateTime, Utc};
use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rust_decimal::Decimal;
use std::io::{self, Write};
use std::sync::Arc;

/// Records per row group: large enough for column statistics and compression to pay, small
/// enough (tens of MB) to keep the writer's memory flat.
pub const ROW_GROUP: usize = 128 * 1024;

/// Scale of every money column, `DECIMAL(38, 18)`: amounts are exact to 10⁻¹⁸ (per-token prices
/// are 10⁻⁸–10⁻¹², converted amounts are rounded to 10 places); a value that needs more places is
/// an error, never rounded.
pub const MONEY_SCALE: u32 = 18;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 string, always present.
    Text,
    /// UTF-8 string or null.
    OptText,
    /// UTC instant, microseconds.
    Time,
    Int,
    /// `DECIMAL(38, 18)` or null.
    Money,
    Bool,
}

/// The schema, in column order: name, kind and what it holds.
pub const COLUMNS: &[(&str, Kind, &str)] = &[
    (
        "x_source",
        Kind::Text,
        "source name: dify, langfuse, openai, …",
    ),
    ("x_role", Kind::Text, "app, trace or bill"),
    ("x_origin", Kind::Text, "file:line the record comes from"),
    (
        "x_record_id",
        Kind::Text,
        "the source's id of the call or bill line",
    ),
    (
        "ChargePeriodStart",
        Kind::Time,
        "call time, or bill bucket start (UTC)",
    ),
    (
        "ChargePeriodEnd",
        Kind::Time,
        "bill bucket end, exclusive (= start for a call)",
    ),
    (
        "ProviderName",
        Kind::Text,
        "canonical provider (openai, anthropic, …)",
    ),
    (
        "x_model_raw",
        Kind::Text,
        "model name as the source wrote it",
    ),
    ("x_model", Kind::Text, "canonical model"),
    ("x_operation", Kind::Text, "chat, embedding, …"),
    ("x_status", Kind::Text, "ok, error, interrupted, cache_hit"),
    ("x_service_tier", Kind::OptText, "batch, flex, priority, …"),
    ("x_app", Kind::OptText, "app id"),
    ("x_workflow", Kind::OptText, "workflow id"),
    ("x_node", Kind::OptText, "node id"),
    ("SubAccountId", Kind::OptText, "project or workspace id"),
    ("x_api_key", Kind::OptText, "API key id (or IAM principal)"),
    ("x_user", Kind::OptText, "end user"),
    (
        "x_trace_id",
        Kind::OptText,
        "trace id linking app, trace and bill calls",
    ),
    (
        "x_repeats",
        Kind::OptText,
        "why the row repeats usage other rows count (container, second export)",
    ),
    (
        "x_requests",
        Kind::Int,
        "requests (1 for a call, the bill's count for a bucket)",
    ),
    ("x_tokens_input", Kind::Int, "uncached input tokens"),
    (
        "x_tokens_input_cache_read",
        Kind::Int,
        "cache-read input tokens",
    ),
    (
        "x_tokens_input_cache_write_5m",
        Kind::Int,
        "5-minute cache-write tokens",
    ),
    (
        "x_tokens_input_cache_write_1h",
        Kind::Int,
        "1-hour cache-write tokens",
    ),
    ("x_tokens_input_audio", Kind::Int, "audio input tokens"),
    ("x_tokens_input_image", Kind::Int, "image input tokens"),
    ("x_tokens_output", Kind::Int, "visible output tokens"),
    (
        "x_tokens_output_reasoning",
        Kind::Int,
        "reasoning output tokens",
    ),
    ("x_tokens_output_audio", Kind::Int, "audio output tokens"),
    ("x_tokens_output_image", Kind::Int, "image output tokens"),
    (
        "x_tokens_other",
        Kind::Int,
        "tokens of a kind the source names that no other class fits",
    ),
    (
        "ConsumedQuantity",
        Kind::Int,
        "all tokens (the sum of the x_tokens_ columns)",
    ),
    ("ConsumedUnit", Kind::Text, "Tokens"),
    (
        "BilledCost",
        Kind::Money,
        "a bill line's own amount; null for app and trace rows",
    ),
    ("BillingCurrency", Kind::OptText, "currency of BilledCost"),
    (
        "x_reported_cost",
        Kind::Money,
        "the cost the source recorded, in its currency",
    ),
    (
        "x_reported_currency",
        Kind::OptText,
        "currency of x_reported_cost",
    ),
    (
        "x_computed_cost",
        Kind::Money,
        "table cost at the record's time (null: unpriced)",
    ),
    (
        "x_computed_currency",
        Kind::OptText,
        "currency of x_computed_cost",
    ),
    ("x_price_entry", Kind::OptText, "the price entry used"),
    (
        "x_source_cost",
        Kind::Money,
        "the money reconcile adds up for the source, in USD (null: unpriced)",
    ),
    ("x_cost_only", Kind::Bool, "a money line without usage"),
    (
        "x_adjustment",
        Kind::OptText,
        "on a money line: credit, promotion, commitment or discount (null: usage)",
    ),
];

/// The Parquet message type of [`COLUMNS`].
pub fn message_type() -> String {
    let mut s = String::from("message llm_recon_normalized_record {\n");
    for (name, kind, _) in COLUMNS {
        let t = match kind {
            Kind::Text => "required binary {} (STRING)",
            Kind::OptText => "optional binary {} (STRING)",
            Kind::Time => "required int64 {} (TIMESTAMP(MICROS,true))",
            Kind::Int => "required int64 {}",
            Kind::Money => "optional fixed_len_byte_array(16) {} (DECIMAL(38,18))",
            Kind::Bool => "required boolean {}",
        };
        s.push_str("  ");
        s.push_str(&t.replace("{}", name));
        s.push_str(";\n");
    }
    s.push('}');
    s
}

/// One column's values of the current row group (null = definition level 0).
enum Buffer {
    Text(Vec<ByteArray>, Vec<i16>),
    Int(Vec<i64>),
    Money(Vec<FixedLenByteArray>, Vec<i16>),
    Bool(Vec<bool>),
}

pub struct ParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    columns: Vec<Buffer>,
    rows: usize,
}

impl<W: Write + Send> ParquetWriter<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let schema = parse_message_type(&message_type()).map_err(io_error)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("llm-recon {}", env!("CARGO_PKG_VERSION")))
            .build();
        let file =
            SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props)).map_err(io_error)?;
        Ok(ParquetWriter {
            file,
            columns: COLUMNS.iter().map(|c| empty(c.1)).collect(),
            rows: 0,
        })
    }

    fn flush_row_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let err = io_error;
        let mut group = self.file.next_row_group().map_err(err)?;
        let mut i = 0;
        while let Some(mut col) = group.next_column().map_err(err)? {
            let Some(buf) = self.columns.get_mut(i) else {
                return Err(io::Error::other(
                    "Parquet schema has more columns than the writer",
                ));
            };
            match buf {
                Buffer::Text(v, d) => col.typed::<ByteArrayType>().write_batch(v, Some(d), None),
                Buffer::Int(v) => col.typed::<Int64Type>().write_batch(v, None, None),
                Buffer::Money(v, d) => {
                    col.typed::<FixedLenByteArrayType>()
                        .write_batch(v, Some(d), None)
                }
                Buffer::Bool(v) => col.typed::<BoolType>().write_batch(v, None, None),
            }
            .map_err(err)?;
            col.close().map_err(err)?;
            *buf = empty(COLUMNS[i].1);
            i += 1;
        }
        group.close().map_err(err)?;
        self.rows = 0;
        Ok(())
    }
}

/// Parquet's errors as I/O errors; the underlying I/O error itself when there is one.
fn io_error(e: parquet::errors::ParquetError) -> io::Error {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => io::Error::other(other.to_string()),
        },
        other => io::Error::other(other.to_string()),
    }
}

fn empty(kind: Kind) -> Buffer {
    match kind {
        Kind::Text | Kind::OptText => Buffer::Text(Vec::new(), Vec::new()),
        Kind::Time | Kind::Int => Buffer::Int(Vec::new()),
        Kind::Money => Buffer::Money(Vec::new(), Vec::new()),
        Kind::Bool => Buffer::Bool(Vec::new()),
    }
}

fn micros(t: DateTime<Utc>) -> Result<i64, String> {
    if !t.timestamp_subsec_nanos().is_multiple_of(1000) {
        return Err(format!(
            "{t}: finer than a microsecond, which the Parquet timestamp column cannot hold exactly"
        ));
    }
    Ok(t.timestamp_micros())
}

/// The 16-byte big-endian two's-complement unscaled value of `d` at [`MONEY_SCALE`].
fn money_bytes(d: Decimal) -> Result<FixedLenByteArray, String> {
    let n = d.normalize();
    if n.scale() > MONEY_SCALE {
        return Err(format!(
            "{d}: more than {MONEY_SCALE} decimal places, which DECIMAL(38,{MONEY_SCALE}) cannot hold exactly"
        ));
    }
    let unscaled = n
        .mantissa()
        .checked_mul(10i128.pow(MONEY_SCALE - n.scale()))
        .ok_or_else(|| format!("{d}: too large for DECIMAL(38,{MONEY_SCALE})"))?;
    Ok(FixedLenByteArray::from(unscaled.to_be_bytes().to_vec()))
}

impl<W: Write + Send> RecordWriter for ParquetWriter<W> {
    fn write(&mut self, row: &Row) -> io::Result<()> {
        let r = row.record;
        let role = row.role.name();
        let optional: [Option<&str>; 9] = [
            r.service_tier.as_deref(),
            r.scope.app.as_deref(),
            r.scope.workflow.as_deref(),
            r.scope.node.as_deref(),
            r.scope.project.as_deref(),
            r.scope.api_key.as_deref(),
            r.scope.user.as_deref(),
            r.link.trace_id.as_deref(),
            r.link.repeats,
        ];
        let is_bill = row.role == crate::record::Role::Bill;
        let billed = r.reported_cost.filter(|_| is_bill);
        let currency = |m: Option<crate::record::Money>| m.map(|m| m.currency.to_string());
        let texts: Vec<Option<String>> = vec![
            Some(row.source.to_string()),
            Some(role.to_string()),
            Some(row.origin.clone()),
            Some(r.id.clone()),
        ];
        let mut values: Vec<Value> = texts.into_iter().map(Value::Text).collect();
        let exact =
            |e: String| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", row.origin));
        values.push(Value::Int(micros(r.start).map_err(exact)?));
        values.push(Value::Int(micros(r.end).map_err(exact)?));
        for s in [
            r.provider.as_str(),
            r.model_raw.as_str(),
            r.model.as_str(),
            r.operation.name(),
            r.link.status.name(),
        ] {
            values.push(Value::Text(Some(s.to_string())));
        }
        values.extend(optional.iter().map(|t| Value::Text(t.map(str::to_string))));
        values.push(Value::Int(r.requests as i64));
        values.extend(UsageClass::ALL.iter().map(|&c| Value::Int(r.usage[c])));
        values.push(Value::Int(r.usage.total()));
        values.push(Value::Text(Some("Tokens".into())));
        values.push(Value::Money(billed.map(|m| m.amount)));
        values.push(Value::Text(currency(billed)));
        values.push(Value::Money(r.reported_cost.map(|m| m.amount)));
        values.push(Value::Text(currency(r.reported_cost)));
        let computed = r.computed_cost.as_ref();
        values.push(Value::Money(computed.map(|c| c.cost.amount)));
        values.push(Value::Text(currency(computed.map(|c| c.cost))));
        values.push(Value::Text(computed.map(|c| c.entry.clone())));
        values.push(Value::Money(row.valuation.money));
        values.push(Value::Bool(r.cost_only));
        values.push(Value::Text(r.adjustment.map(|a| a.name().to_string())));
        if values.len() != COLUMNS.len() {
            return Err(io::Error::other(format!(
                "internal: {} values for {} Parquet columns",
                values.len(),
                COLUMNS.len()
            )));
        }
        for (buf, v) in self.columns.iter_mut().zip(values) {
            match (buf, v) {
                (Buffer::Text(vals, defs), Value::Text(t)) => {
                    defs.push(t.is_some() as i16);
                    if let Some(t) = t {
                        vals.push(ByteArray::from(t.into_bytes()));
                    }
                }
                (Buffer::Int(vals), Value::Int(n)) => vals.push(n),
                (Buffer::Money(vals, defs), Value::Money(m)) => {
                    defs.push(m.is_some() as i16);
                    if let Some(m) = m {
                        vals.push(money_bytes(m).map_err(exact)?);
                    }
                }
                (Buffer::Bool(vals), Value::Bool(b)) => vals.push(b),
                _ => {
                    return Err(io::Error::other(
                        "internal: Parquet value of the wrong kind",
                    ));
                }
            }
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush_row_group()?;
        self.file.close().map_err(io_error)?;
        Ok(())
    }
}

enum Value {
    Text(Option<String>),
    Int(i64),
    Money(Option<Decimal>),
    Bool(bool),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn schema_parses_and_names_every_column_once() {
        let schema = parse_message_type(&message_type()).unwrap();
        assert_eq!(schema.get_fields().len(), COLUMNS.len());
        for (i, (name, _, _)) in COLUMNS.iter().enumerate() {
            assert_eq!(
                COLUMNS.iter().position(|c| c.0 == *name),
                Some(i),
                "{name} twice"
            );
        }
        // One column per usage class, in the classes' order.
        let token_columns: Vec<&str> = COLUMNS
            .iter()
            .map(|c| c.0)
            .filter(|n| n.starts_with("x_tokens_"))
            .collect();
        let classes: Vec<String> = UsageClass::ALL
            .iter()
            .map(|c| format!("x_tokens_{}", c.name()))
            .collect();
        assert_eq!(token_columns, classes);
        // FOCUS names are PascalCase, ours are x_-prefixed: nothing else.
        assert!(
            COLUMNS
                .iter()
                .all(|c| c.0.starts_with("x_") || c.0.chars().next().unwrap().is_ascii_uppercase())
        );
    }

    #[test]
    fn money_is_the_exact_unscaled_value_at_scale_18() {
        // 0.15 → 150000000000000000 (0.15 × 10^18), big-endian i128.
        let b = money_bytes(dec!(0.15)).unwrap();
        assert_eq!(
            i128::from_be_bytes(b.data().try_into().unwrap()),
            150_000_000_000_000_000
        );
        let b = money_bytes(dec!(-2.5000)).unwrap();
        assert_eq!(
            i128::from_be_bytes(b.data().try_into().unwrap()),
            -2_500_000_000_000_000_000
        );
        // 19 places cannot be held exactly: an error, not a rounding.
        assert!(money_bytes(dec!(0.0000000000000000001)).is_err());
    }
}
