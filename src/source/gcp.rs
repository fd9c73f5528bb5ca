//! Google Cloud Billing export rows (the BigQuery `gcp_billing_export_v1_*` table), the bill view
//! for Vertex AI and the Gemini API, saved as CSV or as JSON/JSONL.
//!
//! JSON keeps the table's nesting (`service.description`, `sku.description`, `project.id`,
//! `usage.amount`, `usage.unit`, `usage.amount_in_pricing_units`, `usage.pricing_unit`,
//! `invoice.month`, repeated `labels` and `credits`). BigQuery cannot extract nested tables to
//! CSV, so a CSV is a query result: its columns are the dotted names (`sku.description`) or the
//! underscore aliases (`sku_description`), with `labels` and `credits` as JSON text.
//!
//! One record per Gemini token line, with its `cost` as the reported cost. Each entry of
//! `credits[]` is money the bill subtracts: it becomes its own cost-only line (operation other,
//! no model, its `type` as the record's adjustment), so credits are the `discounts_and_credits`
//! step and never change token counts. Tax,
//! adjustment and rounding rows and other services' rows are rows without usage. A Vertex AI /
//! Gemini API SKU this module does not understand is rejected with its description.
//!
//! Times: `usage_start_time` / `usage_end_time` are UTC instants (BigQuery writes
//! `2026-10-01 07:00:00 UTC`) and are kept as such; `invoice.month` (`202610`) is a US/Pacific
//! month and is kept only as a dimension of the record id.

use super::util;
use super::{Format, Head, InputError, InputFile, RecordSink};
use crate::record::{Adjustment, Currency, Money, Operation, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::io::BufRead;

// ---------------------------------------------------------------------------------------------
// Sniffing

pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        let t = head.text.as_str();
        return (has_key(t, "usage_start_time") && has_key(t, "sku") && has_key(t, "service"))
            .then_some(Format::GcpBillingJson);
    }
    let cols = head.csv_columns();
    let has = |n: &str| cols.iter().any(|c| c == n);
    ((has("sku.description") || has("sku_description")) && has("usage_start_time"))
        .then_some(Format::GcpBillingCsv)
}

/// True if `"name"` occurs in `text` as an object key (followed by a colon).
fn has_key(text: &str, name: &str) -> bool {
    let quoted = format!("\"{name}\"");
    let mut rest = text;
    while let Some(pos) = rest.find(&quoted) {
        rest = &rest[pos + quoted.len()..];
        if rest.trim_start().starts_with(':') {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// One export row, from either spelling

#[derive(Default)]
struct Credit {
    name: String,
    id: String,
    /// `type` (`PROMOTION`, `COMMITTED_USAGE_DISCOUNT`, …), empty when absent.
    kind: String,
    amount: Option<String>,
}

/// The kind of money a credit is, from its documented `type`; a type this tool does not know
/// (or none) is a plain credit: still money off, never usage.
fn adjustment_of(kind: &str) -> Adjustment {
    match kind.trim().to_ascii_uppercase().as_str() {
        "PROMOTION" | "FREE_TIER" => Adjustment::Promotion,
        "COMMITTED_USAGE_DISCOUNT"
        | "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE"
        | "FEE_UTILIZATION_OFFSET" => Adjustment::Commitment,
        "DISCOUNT" | "SUSTAINED_USAGE_DISCOUNT" | "SUBSCRIPTION_BENEFIT" | "RESELLER_MARGIN" => {
            Adjustment::Discount
        }
        _ => Adjustment::Credit,
    }
}

#[derive(Default)]
struct Raw {
    service: String,
    sku: String,
    sku_id: String,
    start: String,
    end: String,
    project: String,
    labels: Vec<(String, String)>,
    /// `labels` could not be read and are kept as one text.
    labels_as_text: bool,
    cost: String,
    currency: String,
    usage_amount: String,
    usage_unit: String,
    pricing_amount: String,
    pricing_unit: String,
    credits: Vec<Credit>,
    invoice_month: String,
    cost_type: String,
}

/// A scalar JSON value as text (numbers by their JSON text, null as empty).
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn nested<'a>(m: &'a Map<String, Value>, outer: &str, inner: &str) -> Option<&'a Value> {
    m.get(outer)?.as_object()?.get(inner)
}

fn labels_from(v: &Value) -> Result<Vec<(String, String)>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|l| match l {
                Value::Object(o) => Ok((text(o.get("key")), text(o.get("value")))),
                other => Err(format!(
                    "labels: expected [{{\"key\", \"value\"}}], got {other}"
                )),
            })
            .collect(),
        other => Err(format!(
            "labels: expected [{{\"key\", \"value\"}}], got {other}"
        )),
    }
}

fn credits_from(v: &Value) -> Result<Vec<Credit>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|c| match c {
                Value::Object(o) => Ok(Credit {
                    name: text(o.get("name")),
                    id: text(o.get("id")),
                    kind: text(o.get("type")),
                    amount: o
                        .get("amount")
                        .filter(|v| !v.is_null())
                        .map(|v| text(Some(v))),
                }),
                other => Err(format!(
                    "credits: expected [{{\"name\", \"amount\", ...}}], got {other}"
                )),
            })
            .collect(),
        other => Err(format!(
            "credits: expected [{{\"name\", \"amount\", ...}}], got {other}"
        )),
    }
}

fn raw_from_json(m: &Map<String, Value>) -> Result<Raw, String> {
    Ok(Raw {
        service: text(nested(m, "service", "description")),
        sku: text(nested(m, "sku", "description")),
        sku_id: text(nested(m, "sku", "id")),
        start: text(m.get("usage_start_time")),
        end: text(m.get("usage_end_time")),
        project: text(nested(m, "project", "id")),
        labels: labels_from(m.get("labels").unwrap_or(&Value::Null))?,
        labels_as_text: false,
        cost: text(m.get("cost")),
        currency: text(m.get("currency")),
        usage_amount: text(nested(m, "usage", "amount")),
        usage_unit: text(nested(m, "usage", "unit")),
        pricing_amount: text(nested(m, "usage", "amount_in_pricing_units")),
        pricing_unit: text(nested(m, "usage", "pricing_unit")),
        credits: credits_from(m.get("credits").unwrap_or(&Value::Null))?,
        invoice_month: text(nested(m, "invoice", "month")),
        cost_type: text(m.get("cost_type")),
    })
}

/// CSV column indexes; each field may be spelled dotted or with an underscore.
struct CsvCols {
    idx: Vec<Option<usize>>,
}

const CSV_FIELDS: [&str; 16] = [
    "service.description",
    "sku.description",
    "sku.id",
    "usage_start_time",
    "usage_end_time",
    "project.id",
    "labels",
    "cost",
    "currency",
    "usage.amount",
    "usage.unit",
    "usage.amount_in_pricing_units",
    "usage.pricing_unit",
    "credits",
    "invoice.month",
    "cost_type",
];

const CSV_REQUIRED: [&str; 6] = [
    "service.description",
    "sku.description",
    "usage_start_time",
    "usage_end_time",
    "cost",
    "currency",
];

/// Said of a line whose `labels` neither JSON nor a Python literal reads: they only tell lines
/// apart, so the text itself does that.
const LABELS_AS_TEXT_NOTE: &str =
    "labels are neither JSON nor a Python literal: kept as text, only to tell the line from others";

/// A repeated column of a query result: JSON text, or the Python literal a pandas round trip
/// writes (`[{'key': 'env', 'value': 'prod'}]`).
fn structured(t: &str) -> Result<Value, String> {
    if t.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(t).or_else(|_| super::pyliteral::parse(t))
}

fn raw_from_csv(cols: &CsvCols, rec: &csv::StringRecord) -> Result<Raw, String> {
    let f = |i: usize| -> String {
        cols.idx[i]
            .and_then(|c| rec.get(c))
            .and_then(util::opt_str)
            .unwrap_or("")
            .to_string()
    };
    let service = f(0);
    // The service decides first: another service's line is out of scope whatever its labels
    // and credits hold.
    if !SERVICES.contains(&service.as_str()) {
        return Ok(Raw {
            service,
            ..Raw::default()
        });
    }
    // Labels only tell lines apart: unreadable ones stay as text. Credits are money: exact.
    let labels_text = f(6);
    let (labels, labels_as_text) = match structured(&labels_text).and_then(|v| labels_from(&v)) {
        Ok(l) => (l, false),
        Err(_) => (vec![(String::new(), labels_text)], true),
    };
    let credits_text = f(13);
    let credits = structured(&credits_text)
        .map_err(|e| format!("credits: neither JSON nor a Python literal ({e}): '{credits_text}'"))
        .and_then(|v| credits_from(&v))?;
    Ok(Raw {
        service,
        sku: f(1),
        sku_id: f(2),
        start: f(3),
        end: f(4),
        project: f(5),
        labels,
        labels_as_text,
        cost: f(7),
        currency: f(8),
        usage_amount: f(9),
        usage_unit: f(10),
        pricing_amount: f(11),
        pricing_unit: f(12),
        credits,
        invoice_month: f(14),
        cost_type: f(15),
    })
}

// ---------------------------------------------------------------------------------------------
// Reading

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    match format {
        Format::GcpBillingCsv => read_csv(file, reader, sink),
        Format::GcpBillingJson => read_json(file, reader, sink),
        other => Err(InputError::new(
            file,
            None,
            format!("{other} is not a Google Cloud format"),
        )),
    }
}

fn read_csv(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    let find = |dotted: &str| {
        let under = dotted.replace('.', "_");
        headers
            .iter()
            .position(|h| h.trim() == dotted || h.trim() == under)
    };
    for req in CSV_REQUIRED {
        if find(req).is_none() {
            return Err(InputError::new(
                file,
                Some(1),
                format!(
                    "missing column '{req}' (or '{}'); expected a Google Cloud billing export CSV",
                    req.replace('.', "_")
                ),
            ));
        }
    }
    let cols = CsvCols {
        idx: CSV_FIELDS.iter().map(|f| find(f)).collect(),
    };
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        let row = raw_from_csv(&cols, rec).and_then(|r| {
            let row = row(file, &r, line);
            if r.labels_as_text && matches!(row, Ok(Row::Records(_))) {
                sink.note(line, LABELS_AS_TEXT_NOTE);
            }
            row
        });
        emit(row, line, sink)
    })
}

const JSON_SHAPE: &str =
    "expected billing export rows as JSONL (one object per line) or a JSON array of objects";

fn read_json(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    let body = std::str::from_utf8(&bytes)
        .map_err(|_| InputError::new(file, None, format!("not UTF-8 text; {JSON_SHAPE}")))?;
    let start = body.len() - body.trim_start().len();
    if body[start..].starts_with('[') {
        // A JSON array: each element's line is where it starts.
        let inner = &body[start + 1..];
        let base = start + 1;
        let mut lines = util::LineCounter::new(body);
        let mut pos = 0;
        loop {
            let rest = &inner[pos..];
            let skip = rest.len() - rest.trim_start().len();
            pos += skip;
            let rest = &inner[pos..];
            if let Some(after) = rest.strip_prefix(']') {
                if !after.trim().is_empty() {
                    return Err(InputError::new(
                        file,
                        Some(lines.line_at(base + pos)),
                        "unexpected content after the JSON array",
                    ));
                }
                return Ok(());
            }
            let line = lines.line_at(base + pos);
            let mut it = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            let v = match it.next() {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    return Err(InputError::new(
                        file,
                        Some(line + e.line().saturating_sub(1) as u64),
                        format!("invalid JSON: {e}"),
                    ));
                }
                None => return Err(InputError::new(file, Some(line), JSON_SHAPE)),
            };
            pos += it.byte_offset();
            json_row(file, &v, line, sink);
            let rest = &inner[pos..];
            let skip = rest.len() - rest.trim_start().len();
            pos += skip;
            if inner[pos..].starts_with(',') {
                pos += 1;
            } else if !inner[pos..].starts_with(']') {
                return Err(InputError::new(
                    file,
                    Some(lines.line_at(base + pos)),
                    "expected ',' or ']' after a row in the JSON array",
                ));
            }
        }
    }
    for (i, l) in body.lines().enumerate() {
        let line = i as u64 + 1;
        let l = l.trim();
        if l.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(l) {
            Ok(v) => json_row(file, &v, line, sink),
            Err(e) if line == 1 => {
                return Err(InputError::new(
                    file,
                    Some(1),
                    format!("invalid JSON ({e}); {JSON_SHAPE}"),
                ));
            }
            // One broken line of a JSONL file is one rejected row.
            Err(e) => sink.reject(line, format!("invalid JSON: {e}")),
        }
    }
    Ok(())
}

fn json_row(file: &InputFile, v: &Value, line: u64, sink: &mut dyn RecordSink) {
    let row = match v {
        Value::Object(m) => raw_from_json(m).and_then(|r| row(file, &r, line)),
        other => Err(format!("expected a billing export row object, got {other}")),
    };
    emit(row, line, sink);
}

enum Row {
    Records(Vec<UsageRecord>),
    NoUsage(&'static str),
}

fn emit(row: Result<Row, String>, line: u64, sink: &mut dyn RecordSink) {
    match row {
        Ok(Row::Records(rs)) => rs.into_iter().for_each(|r| sink.record(r)),
        Ok(Row::NoUsage(reason)) => sink.no_usage(line, reason),
        Err(reason) => sink.reject(line, reason),
    }
}

/// Services whose SKUs bill model tokens.
const SERVICES: [&str; 2] = ["Vertex AI", "Gemini API"];

fn row(file: &InputFile, r: &Raw, line: u64) -> Result<Row, String> {
    if !SERVICES.contains(&r.service.as_str()) {
        return Ok(Row::NoUsage(
            "Google Cloud line of a service other than Vertex AI / Gemini API",
        ));
    }
    match r.cost_type.as_str() {
        "" | "regular" => {}
        "tax" => return Ok(Row::NoUsage("Google Cloud tax line: a non-usage charge")),
        "adjustment" => {
            return Ok(Row::NoUsage(
                "Google Cloud adjustment line: a non-usage charge",
            ));
        }
        "rounding_error" => {
            return Ok(Row::NoUsage(
                "Google Cloud rounding_error line: a non-usage charge",
            ));
        }
        other => {
            return Err(format!(
                "cost_type: expected regular, tax, adjustment or rounding_error, got '{other}'"
            ));
        }
    }
    let (model, class, tier) = parse_sku(&r.sku)?;
    let start = time(&r.start, "usage_start_time")?;
    let end = time(&r.end, "usage_end_time")?;
    if end < start {
        return Err(format!(
            "usage_end_time {} is before usage_start_time {}",
            rfc3339(end),
            rfc3339(start)
        ));
    }
    let tokens = tokens(r)?;
    let currency = Currency::parse(&r.currency)
        .ok_or_else(|| format!("currency: expected a code like USD, got '{}'", r.currency))?;
    let cost = util::parse_decimal(&r.cost)
        .ok_or_else(|| format!("cost: expected a decimal amount, got '{}'", r.cost))?;
    let project = util::opt_str(&r.project).map(str::to_string);

    let mut labels = r.labels.clone();
    labels.sort();
    let mut id = format!(
        "gcp:{}-{}:{}:{}",
        rfc3339(start),
        rfc3339(end),
        r.service,
        if r.sku_id.is_empty() {
            &r.sku
        } else {
            &r.sku_id
        }
    );
    for (k, v) in [
        ("sku", r.sku.as_str()),
        ("project", r.project.as_str()),
        ("invoice_month", r.invoice_month.as_str()),
        ("cost_type", r.cost_type.as_str()),
    ] {
        if !v.is_empty() {
            id.push_str(&format!(":{k}={v}"));
        }
    }
    for (k, v) in &labels {
        id.push_str(&format!(":label.{k}={v}"));
    }

    let mut out = Vec::with_capacity(1 + r.credits.len());
    let mut rec = UsageRecord::bucket(id.clone(), file.origin(line), start, end);
    rec.set_model(Some("google"), &model);
    rec.operation = Operation::Chat;
    rec.scope.project = project.clone();
    rec.service_tier = tier;
    rec.usage = Usage::of(&[(class, tokens)]);
    rec.reported_cost = Some(Money::new(cost, currency));
    out.push(rec);

    for (i, c) in r.credits.iter().enumerate() {
        let raw = c.amount.clone().unwrap_or_default();
        let amount = util::parse_decimal(&raw).ok_or_else(|| {
            format!(
                "credits[{i}] ({}).amount: expected a decimal amount, got '{raw}'",
                c.name
            )
        })?;
        let key = if c.id.is_empty() { &c.name } else { &c.id };
        let mut cr = UsageRecord::bucket(
            format!("{id}:credit{i}={key}"),
            file.origin(line),
            start,
            end,
        );
        cr.set_model(None, "");
        cr.operation = Operation::Other;
        cr.scope.project = project.clone();
        cr.cost_only = true;
        cr.adjustment = Some(adjustment_of(&c.kind));
        cr.reported_cost = Some(Money::new(amount, currency));
        out.push(cr);
    }
    Ok(Row::Records(out))
}

/// BigQuery writes timestamps as `2026-10-01 07:00:00 UTC`; RFC 3339 is taken too.
fn time(raw: &str, name: &str) -> Result<DateTime<Utc>, String> {
    let t = raw.trim();
    let t = t.strip_suffix(" UTC").unwrap_or(t);
    util::parse_utc(t)
        .ok_or_else(|| format!("{name}: expected a time like 2026-10-01 07:00:00 UTC, got '{raw}'"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Tokens per unit of a usage unit: `tokens` 1, `1000 tokens` / `1K tokens` 1,000,
/// `1 million tokens` / `1M tokens` 1,000,000; `None` for anything else (characters, seconds,
/// images, …).
fn token_factor(unit: &str) -> Option<i64> {
    let u = unit.trim().to_ascii_lowercase().replace(',', "");
    match u.as_str() {
        "token" | "tokens" => Some(1),
        "1000 tokens" | "1k tokens" | "k tokens" | "thousand tokens" => Some(1_000),
        "1000000 tokens" | "1m tokens" | "m tokens" | "1 million tokens" | "million tokens" => {
            Some(1_000_000)
        }
        _ => None,
    }
}

/// The token count of a row: `usage.amount` in `usage.unit`, or, when that unit is not a token
/// unit, `usage.amount_in_pricing_units` in a token `usage.pricing_unit`. A row metered in
/// anything else (Gemini 1.x characters, for instance) is refused, never converted.
fn tokens(r: &Raw) -> Result<i64, String> {
    let (amount_raw, factor, what) = if let Some(f) = token_factor(&r.usage_unit) {
        (&r.usage_amount, f, "usage.amount")
    } else if let Some(f) = token_factor(&r.pricing_unit) {
        (&r.pricing_amount, f, "usage.amount_in_pricing_units")
    } else {
        return Err(format!(
            "usage.unit '{}' (pricing unit '{}') is not a token unit; only token-metered SKUs are read",
            r.usage_unit, r.pricing_unit
        ));
    };
    let amount = util::parse_decimal(amount_raw)
        .ok_or_else(|| format!("{what}: expected a number, got '{amount_raw}'"))?;
    let t = amount
        .checked_mul(Decimal::from(factor))
        .ok_or_else(|| format!("{what}: {amount} overflows"))?;
    if t.is_sign_negative() || !t.fract().is_zero() {
        return Err(format!(
            "{what}: expected a non-negative whole number of tokens, got {amount} × {factor}"
        ));
    }
    i64::try_from(t).map_err(|_| format!("{what}: {t} tokens is out of range"))
}

// ---------------------------------------------------------------------------------------------
// SKUs

/// Class phrases at the end of a Gemini SKU's main part, longest first.
const CLASSES: [(&str, UsageClass); 9] = [
    ("Input Text Caching", UsageClass::InputCacheRead),
    ("Text Input Caching", UsageClass::InputCacheRead),
    ("Thinking Text Output", UsageClass::OutputReasoning),
    ("Text Input", UsageClass::Input),
    ("Text Output", UsageClass::Output),
    ("Image Input", UsageClass::InputImage),
    ("Audio Input", UsageClass::InputAudio),
    ("Image Output", UsageClass::OutputImage),
    ("Audio Output", UsageClass::OutputAudio),
];

/// `Gemini 2.5 Flash GA Text Input - Predictions` → (`gemini-2.5-flash`, input, no tier);
/// `... - Batch Predictions` → tier `batch`.
fn parse_sku(sku: &str) -> Result<(String, UsageClass, Option<String>), String> {
    let unknown = |why: &str| format!("unknown Vertex AI / Gemini SKU '{sku}': {why}");
    let (main, mode) = match sku.split_once(" - ") {
        Some((m, mode)) => (m.trim(), Some(mode.trim())),
        None => (sku.trim(), None),
    };
    let tier = match mode {
        None | Some("Predictions") => None,
        Some("Batch Predictions") => Some("batch".to_string()),
        Some(other) => return Err(unknown(&format!("unknown mode '{other}'"))),
    };
    let Some((prefix, class)) = CLASSES
        .iter()
        .find_map(|(p, c)| main.strip_suffix(p).map(|m| (m.trim(), *c)))
    else {
        return Err(unknown(
            "expected it to end in Text Input, Text Output, Thinking Text Output, Input Text Caching, or an image/audio input/output",
        ));
    };
    let model =
        gemini_model(prefix).ok_or_else(|| unknown(&format!("unknown model '{prefix}'")))?;
    Ok((model, class, tier))
}

/// `Gemini 2.5 Flash GA` → `gemini-2.5-flash`; `Gemini 2.0 Flash Lite` → `gemini-2.0-flash-lite`.
/// Release words (GA, Preview) are dropped; any other word makes the name unknown.
fn gemini_model(prefix: &str) -> Option<String> {
    let mut words = prefix.split_whitespace();
    if words.next()? != "Gemini" {
        return None;
    }
    let version = words.next()?;
    if !version.chars().all(|c| c.is_ascii_digit() || c == '.')
        || !version.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let mut out = format!("gemini-{version}");
    let mut family = 0;
    for w in words {
        match w {
            "GA" | "Preview" => {}
            "Pro" | "Flash" | "Lite" | "Flash-Lite" | "Ultra" | "8B" => {
                out.push('-');
                out.push_str(&w.to_ascii_lowercase());
                family += 1;
            }
            _ => return None,
        }
    }
    (family > 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testutil::{read_as, temp};
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/gcp")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("gcp/{name}"))
    }

    #[test]
    fn skus_by_hand() {
        let p = |s: &str| parse_sku(s).unwrap();
        assert_eq!(
            p("Gemini 2.5 Flash GA Text Input - Predictions"),
            ("gemini-2.5-flash".to_string(), Input, None)
        );
        assert_eq!(
            p("Gemini 2.5 Flash GA Thinking Text Output - Predictions"),
            ("gemini-2.5-flash".to_string(), OutputReasoning, None)
        );
        assert_eq!(
            p("Gemini 2.5 Flash GA Input Text Caching"),
            ("gemini-2.5-flash".to_string(), InputCacheRead, None)
        );
        assert_eq!(
            p("Gemini 2.5 Pro Text Output - Batch Predictions"),
            (
                "gemini-2.5-pro".to_string(),
                Output,
                Some("batch".to_string())
            )
        );
        assert_eq!(
            p("Gemini 2.0 Flash Lite Image Input - Predictions").0,
            "gemini-2.0-flash-lite"
        );
        for bad in [
            "Gemini 2.5 Pro Long Text Input - Predictions",
            "Gemini 2.5 Flash Video Input - Predictions",
            "Gemini 2.5 Flash Text Input - Tuning",
            "Imagen 4 Image Output - Predictions",
            "Vertex AI: Online Prediction n1-standard-4",
        ] {
            let e = parse_sku(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn units_by_hand() {
        let raw = |amount: &str, unit: &str, pa: &str, pu: &str| Raw {
            usage_amount: amount.into(),
            usage_unit: unit.into(),
            pricing_amount: pa.into(),
            pricing_unit: pu.into(),
            ..Raw::default()
        };
        assert_eq!(
            tokens(&raw("1200", "tokens", "0.0012", "1 million tokens")),
            Ok(1200)
        );
        // Not in tokens, but the pricing unit is: 0.0034 × 1,000,000 = 3,400 tokens.
        assert_eq!(
            tokens(&raw("1", "requests", "0.0034", "1 million tokens")),
            Ok(3400)
        );
        // 2.5 × 1,000 = 2,500.
        assert_eq!(tokens(&raw("x", "", "2.5", "1000 tokens")), Ok(2500));
        let e = tokens(&raw("5000", "characters", "5", "1000 characters")).unwrap_err();
        assert!(
            e.contains("'characters'") && e.contains("not a token unit"),
            "{e}"
        );
        assert!(tokens(&raw("10.5", "tokens", "", "")).is_err());
    }

    #[test]
    fn json_rows_and_credits() {
        let (format, s) = read_fixture("billing_export.jsonl");
        assert_eq!(format, Format::GcpBillingJson);
        assert_eq!(s.rejected.len(), 1, "{:?}", s.rejected);
        // 4 usage lines + 2 credit lines.
        assert_eq!(s.records.len(), 6);
        let a = &s.records[0];
        assert_eq!(a.provider, "google");
        assert_eq!(a.model, "gemini-2.5-flash");
        assert_eq!(a.usage, Usage::of(&[(Input, 1_200_000)]));
        // 1,200,000 × $0.30/M = $0.36.
        assert_eq!(a.reported_cost, Some(Money::usd(dec!(0.36))));
        assert_eq!(a.scope.project.as_deref(), Some("chat-prod-4821"));
        // "2026-10-01 07:00:00 UTC" = 1790812800 + 7 × 3600 = 1790838000; one hour.
        assert_eq!(a.start.timestamp(), 1_790_838_000);
        assert_eq!(a.end.timestamp(), 1_790_841_600);
        assert!(a.id.contains("invoice_month=202610") && a.id.contains("label.env=prod"));
        // The free-tier credit of that row: its own money-only line.
        let c = &s.records[1];
        assert!(c.cost_only && c.usage.is_zero());
        assert_eq!(c.operation, Operation::Other);
        assert_eq!(c.model, "");
        assert_eq!(c.reported_cost, Some(Money::usd(dec!(-0.05))));
        assert_eq!(c.start, a.start);
        // Output 80,000 × $2.50/M = $0.20.
        assert_eq!(s.records[2].usage, Usage::of(&[(Output, 80_000)]));
        assert_eq!(s.records[3].usage, Usage::of(&[(OutputReasoning, 150_000)]));
        assert_eq!(s.records[4].usage, Usage::of(&[(InputCacheRead, 400_000)]));
        assert_eq!(s.records[5].reported_cost, Some(Money::usd(dec!(-0.02))));
        // Their `type`s: FREE_TIER a promotion, COMMITTED_USAGE_DISCOUNT a commitment; the usage
        // lines carry none.
        assert_eq!(c.adjustment, Some(Adjustment::Promotion));
        assert_eq!(s.records[5].adjustment, Some(Adjustment::Commitment));
        assert!(
            s.records
                .iter()
                .all(|r| r.cost_only == r.adjustment.is_some())
        );
        assert_eq!(
            adjustment_of("sustained_usage_discount"),
            Adjustment::Discount
        );
        assert_eq!(adjustment_of(""), Adjustment::Credit);
        // Money over lines: 0.36 − 0.05 + 0.20 + 0.375 + 0.012 − 0.02 = 0.877.
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(total, dec!(0.877));
        let reasons: Vec<&str> = s.no_usage.iter().map(|(_, r)| *r).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("tax line")));
        assert!(reasons.iter().any(|r| r.contains("other than Vertex AI")));
        assert!(
            s.rejected[0].1.contains("'characters'"),
            "{}",
            s.rejected[0].1
        );
        assert_eq!(s.rejected[0].0, 7);
    }

    #[test]
    fn csv_same_rows_same_records() {
        let (format, s) = read_fixture("billing_export.csv");
        assert_eq!(format, Format::GcpBillingCsv);
        let (_, j) = read_fixture("billing_export.jsonl");
        // The CSV holds the same rows as the JSONL: same ids, usage and money.
        let key = |c: &CollectSink| {
            c.records
                .iter()
                .map(|r| (r.id.clone(), r.usage, r.reported_cost))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&s), key(&j));
        assert_eq!(s.no_usage.len(), 2);
        assert_eq!(s.rejected.len(), 1);
        // The underscore aliases read the same.
        let text = std::fs::read_to_string(fixture("billing_export.csv")).unwrap();
        let (head, body) = text.split_once('\n').unwrap();
        let under = format!("{}\n{body}", head.replace('.', "_"));
        let (_d, path) = temp("aliases.csv", &under);
        let (f2, u) = read_all(&path).unwrap();
        assert_eq!(f2, Format::GcpBillingCsv);
        assert_eq!(key(&u), key(&s));
    }

    #[test]
    fn a_csv_through_pandas_reads_python_literals() {
        // project-koku/koku's GCP test-data layout: labels, credits, system_labels as Python
        // literals, times `+00:00`, amounts as floats.
        let (format, s) = read_fixture("billing_export_pandas.csv");
        assert_eq!(format, Format::GcpBillingCsv);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert!(s.notes.is_empty(), "{:?}", s.notes);
        // 2 usage lines + 1 + 2 credits; Cloud Logging, Security Command Center and Compute
        // Engine are out of scope whatever their labels and credits say.
        assert_eq!(s.records.len(), 5);
        assert_eq!(s.no_usage.len(), 3);
        let a = &s.records[0];
        assert_eq!(a.usage, Usage::of(&[(Input, 2_000_000)]));
        assert_eq!(a.reported_cost, Some(Money::usd(dec!(0.6))));
        assert!(
            a.id.contains("label.env=prod")
                && a.id.contains("label.goog-vertex-ai-app=support-bot")
        );
        // "2026-10-02 07:00:00+00:00" = 1790812800 + 86400 + 7 × 3600.
        assert_eq!(a.start.timestamp(), 1_790_924_400);
        assert_eq!(s.records[1].reported_cost, Some(Money::usd(dec!(-0.25))));
        assert_eq!(s.records[2].usage, Usage::of(&[(Output, 120_000)]));
        // A credit name with an apostrophe (repr's double quotes), one with an escaped one.
        assert_eq!(
            s.records[3].reported_cost,
            Some(Money::usd(dec!(-0.000005)))
        );
        assert!(s.records[3].id.ends_with("credit0=PartnerCredit-7781"));
        assert_eq!(s.records[4].reported_cost, Some(Money::usd(dec!(-0.1))));
        // 0.6 − 0.25 + 0.3 − 0.000005 − 0.1 = 0.549995.
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(total, dec!(0.549995));
    }

    #[test]
    fn credits_are_read_exactly_labels_leniently() {
        let text = std::fs::read_to_string(fixture("billing_export_pandas.csv")).unwrap();
        let (head, body) = text.split_once('\n').unwrap();
        let first = body.lines().next().unwrap();
        let labels = "\"[{'key': 'env', 'value': 'prod'}, {'key': 'goog-vertex-ai-app', 'value': 'support-bot'}]\"";
        let credits = "\"[{'name': 'FreeTrial:Credit-01A2B3-C4D5E6-F7A8B9', 'amount': -0.25, 'full_name': None, 'id': 'FreeTrial:Credit-01A2B3-C4D5E6-F7A8B9', 'type': 'PROMOTION'}]\"";
        assert!(first.contains(labels) && first.contains(credits));
        // Labels that neither JSON nor Python reads still tell the line apart; a credit cut off
        // is money that cannot be read: the line is rejected, naming the place.
        let odd_labels = first.replace(labels, "{'env': prod}");
        let cut_credit = first.replace(credits, "\"[{'name': 'x', 'amount': -0.25\"");
        let (_d, path) = temp(
            "pandas_bad.csv",
            &format!("{head}\n{odd_labels}\n{cut_credit}\n"),
        );
        let (_, s) = read_all(&path).unwrap();
        assert_eq!(s.records.len(), 2, "{:?}", s.rejected);
        assert!(s.records[0].id.contains("{'env': prod}"));
        assert_eq!(s.notes, vec![(2, LABELS_AS_TEXT_NOTE)]);
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 3);
        assert!(
            s.rejected[0].1.starts_with(
                "credits: neither JSON nor a Python literal (expected ',' or '}' at character 31)"
            ),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn json_array_and_bad_rows() {
        let rows = r#"[
  {"service": {"description": "Vertex AI"}, "sku": {"description": "Gemini 2.5 Flash GA Text Input - Predictions"},
   "usage_start_time": "2026-10-01T07:00:00Z", "usage_end_time": "2026-10-01T08:00:00Z",
   "cost": 0.003, "currency": "USD", "usage": {"amount": 10000, "unit": "tokens"}},
  {"service": {"description": "Vertex AI"}, "sku": {"description": "Gemini 2.5 Flash GA Text Input - Predictions"},
   "usage_start_time": "soon", "usage_end_time": "2026-10-01T08:00:00Z",
   "cost": 0.003, "currency": "USD", "usage": {"amount": 10000, "unit": "tokens"}},
  {"service": {"description": "Vertex AI"}, "sku": {"description": "Gemini 2.5 Flash GA Text Input - Predictions"},
   "usage_start_time": "2026-10-01T07:00:00Z", "usage_end_time": "2026-10-01T08:00:00Z",
   "cost": 0.003, "currency": "USD", "usage": {"amount": 10000, "unit": "tokens"},
   "credits": [{"name": "Promo", "amount": "n/a"}]},
  7
]"#;
        let (_d, path) = temp("rows.json", rows);
        let (format, s) = read_all(&path).unwrap();
        assert_eq!(format, Format::GcpBillingJson);
        assert_eq!(s.records.len(), 1);
        // 10,000 tokens, $0.003 (10,000 × $0.30/M).
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 10_000)]));
        assert_eq!(s.records[0].origin.line, 2);
        let r: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r[0].contains("usage_start_time") && r[0].contains("'soon'"));
        assert_eq!(s.rejected[0].0, 5);
        assert!(r[1].contains("credits[0] (Promo).amount") && r[1].contains("'n/a'"));
        assert!(r[2].contains("expected a billing export row object"));
    }

    #[test]
    fn unrecognizable_and_unreadable_files() {
        let (_d, path) = temp("x.json", r#"{"invoice": {"month": "202610"}, "total": 3}"#);
        let e = read_all(&path).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        let (_d2, csv) = temp("x.csv", "month,total\n202610,3\n");
        let e = read_as(Format::GcpBillingCsv, &csv).unwrap_err();
        assert!(
            e.message.contains("missing column 'service.description'"),
            "{e}"
        );
        let (_d3, broken) = temp("b.json", "{\"service\": \n");
        let e = read_as(Format::GcpBillingJson, &broken).unwrap_err();
        assert!(e.message.contains("invalid JSON"), "{e}");
        let file = InputFile::new(0, &csv);
        let mut sink = CollectSink::default();
        let mut r: &[u8] = b"x";
        let e = read(Format::AwsCurCsv, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not a Google Cloud format"), "{e}");
    }

    #[test]
    fn sniffing_claims_only_gcp() {
        for (name, want) in [
            ("billing_export.csv", Format::GcpBillingCsv),
            ("billing_export.jsonl", Format::GcpBillingJson),
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(sniff(&head), Some(want));
            assert_eq!(crate::source::sniff(&head), Some(want));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("gcp") {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let path = f.unwrap().path();
                // GCP exports beside the Dify apps they bill, for the reasoning and media steps.
                if path.is_dir()
                    || path.ends_with("reasoning_tokens/billing_export.jsonl")
                    || path.ends_with("multimodal_tokens/billing_export.jsonl")
                {
                    continue;
                }
                if let Ok(head) = crate::source::read_head(&InputFile::new(0, &path)) {
                    assert_eq!(sniff(&head), None, "{}", path.display());
                }
            }
        }
    }

    /// Every row ends in exactly one of record / no_usage / reject, plus one cost-only line per
    /// credit entry.
    #[test]
    fn accounting_every_row_once() {
        let (_, s) = read_fixture("billing_export.jsonl");
        let text = std::fs::read_to_string(fixture("billing_export.jsonl")).unwrap();
        let rows = text.lines().filter(|l| !l.trim().is_empty()).count();
        let credits = s.records.iter().filter(|r| r.cost_only).count();
        assert_eq!(credits, 2);
        assert_eq!(
            s.records.len() - credits + s.no_usage.len() + s.rejected.len(),
            rows
        );
        let (_, c) = read_fixture("billing_export.csv");
        let mut rdr = csv::Reader::from_path(fixture("billing_export.csv")).unwrap();
        let rows = rdr.records().count();
        let credits = c.records.iter().filter(|r| r.cost_only).count();
        assert_eq!(
            c.records.len() - credits + c.no_usage.len() + c.rejected.len(),
            rows
        );
    }
}
