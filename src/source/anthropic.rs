//! Anthropic Admin API usage and cost reports, the bill view.
//!
//! Two inputs (fact sheet `billing-formats.md`, section Anthropic; shapes from the official API
//! reference examples in `shared/samples/anthropic_*`):
//! - `GET /v1/organizations/usage_report/messages` pages: `{"data": [{"starting_at",
//!   "ending_at", "results": [...]}], "has_more", "next_page"}`. One bucket-line record per
//!   result.
//! - `GET /v1/organizations/cost_report` pages, same envelope; each result's `amount` is a
//!   decimal STRING in cents (`"123.45"` USD is $1.2345). One money-only record per result.
//!
//! A file holds one page, a JSON array of pages, or pages one after another (JSONL). Record ids
//! are built from the bucket and every grouping value, so the same page read twice yields the
//! same ids and the reconcile stage counts it once.
//!
//! Scope mapping: `api_key_id` is the record's API key; `workspace_id` is its project (a
//! workspace is the Anthropic console's unit of keys, limits and spend, the nearest thing to a
//! project). A null `workspace_id` is the default workspace, or a report not grouped by it.

use super::util::{json_count, json_decimal};
use super::{Format, Head, InputError, InputFile, RecordSink};
use crate::record::{Currency, Money, Operation, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::io::BufRead;

// ---------------------------------------------------------------------------------------------
// Sniffing

/// Usage pages name `uncached_input_tokens` as a key; cost pages name `cost_type` (or an
/// `amount` with a `token_type`), where `uncached_input_tokens` appears only as a `token_type`
/// value, so cost is tested first. Both carry RFC 3339 `starting_at` buckets, which the OpenAI,
/// Langfuse and Dify formats do not.
pub fn sniff(head: &Head) -> Option<Format> {
    if !head.starts_json() {
        return None;
    }
    let t = head.text.as_str();
    if !has_key(t, "starting_at") {
        return None;
    }
    if has_key(t, "cost_type") || (has_key(t, "amount") && has_key(t, "token_type")) {
        Some(Format::AnthropicCostJson)
    } else if has_key(t, "uncached_input_tokens") {
        Some(Format::AnthropicUsageJson)
    } else {
        None
    }
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
// Reading

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    if !matches!(
        format,
        Format::AnthropicUsageJson | Format::AnthropicCostJson
    ) {
        return Err(InputError::new(
            file,
            None,
            format!("{format} is not an Anthropic format"),
        ));
    }
    // Admin API pages are small (at most 31 daily buckets each), so a file is read whole.
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        InputError::new(
            file,
            None,
            "not UTF-8 text; expected Anthropic Admin API JSON pages",
        )
    })?;
    for (line, page) in pages(file, text)? {
        read_page(format, file, &page, line, sink);
    }
    Ok(())
}

const PAGES_SHAPE: &str = "expected an Anthropic Admin API page {\"data\": [...], \"has_more\", \"next_page\"}, a JSON array of pages, or one page per line";

fn skip_ws(text: &str, mut pos: usize) -> usize {
    let b = text.as_bytes();
    while pos < b.len() && b[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

/// Parses one JSON value starting at `pos`; returns it and the position after it.
fn value_at(
    file: &InputFile,
    text: &str,
    lines: &mut LineCounter,
    pos: usize,
) -> Result<(Value, usize), InputError> {
    let start_line = lines.line_at(pos);
    let mut it = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Value>();
    match it.next() {
        Some(Ok(v)) => Ok((v, pos + it.byte_offset())),
        Some(Err(e)) => {
            // serde_json counts lines from where this value starts.
            let line = start_line + e.line().saturating_sub(1) as u64;
            if e.is_eof() {
                return Err(InputError::new(
                    file,
                    Some(line),
                    format!("the file ends inside the page that starts at line {start_line}"),
                ));
            }
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            Err(InputError::new(
                file,
                Some(line),
                format!("invalid JSON at column {}: {msg}", e.column()),
            ))
        }
        None => Err(InputError::new(file, Some(start_line), PAGES_SHAPE)),
    }
}

/// The pages of a file with the line each starts on. A JSON syntax error stops the file: past
/// it, page boundaries cannot be trusted.
fn pages(file: &InputFile, text: &str) -> Result<Vec<(u64, Value)>, InputError> {
    let b = text.as_bytes();
    let mut lines = LineCounter::new(text);
    let mut out = Vec::new();
    let mut pos = skip_ws(text, 0);
    match b.get(pos) {
        Some(b'{') => {
            // One page, or pages one after another (JSONL).
            while pos < b.len() {
                if b[pos] != b'{' {
                    return Err(InputError::new(file, Some(lines.line_at(pos)), PAGES_SHAPE));
                }
                let line = lines.line_at(pos);
                let (v, next) = value_at(file, text, &mut lines, pos)?;
                out.push((line, v));
                pos = skip_ws(text, next);
            }
        }
        Some(b'[') => {
            pos = skip_ws(text, pos + 1);
            if b.get(pos) == Some(&b']') {
                pos += 1;
            } else {
                loop {
                    let line = lines.line_at(pos);
                    let (v, next) = value_at(file, text, &mut lines, pos)?;
                    out.push((line, v));
                    pos = skip_ws(text, next);
                    match b.get(pos) {
                        Some(b',') => pos = skip_ws(text, pos + 1),
                        Some(b']') => {
                            pos += 1;
                            break;
                        }
                        _ => {
                            return Err(InputError::new(
                                file,
                                Some(lines.line_at(pos)),
                                "expected ',' or ']' after a page in the JSON array",
                            ));
                        }
                    }
                }
            }
            let pos = skip_ws(text, pos);
            if pos < b.len() {
                return Err(InputError::new(
                    file,
                    Some(lines.line_at(pos)),
                    "unexpected content after the JSON array of pages",
                ));
            }
        }
        _ => return Err(InputError::new(file, Some(1), PAGES_SHAPE)),
    }
    Ok(out)
}

use super::util::{LineCounter, json_dim as get_str, json_field as get, shown};

fn read_page(format: Format, file: &InputFile, page: &Value, line: u64, sink: &mut dyn RecordSink) {
    let Value::Object(p) = page else {
        sink.reject(line, format!("{PAGES_SHAPE}; got {}", shown(page)));
        return;
    };
    let Some(Value::Array(buckets)) = get(p, "data") else {
        sink.reject(
            line,
            "data: expected an array of buckets {\"starting_at\", \"ending_at\", \"results\": [...]}"
                .to_string(),
        );
        return;
    };
    for (bi, bucket) in buckets.iter().enumerate() {
        read_bucket(format, file, bucket, bi + 1, line, sink);
    }
}

/// A bucket `[starting_at, ending_at)`.
struct Bucket {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn bucket_times(b: &Map<String, Value>) -> Result<Bucket, String> {
    let time = |key: &str| -> Result<DateTime<Utc>, String> {
        const LIKE: &str = "expected an RFC 3339 time like 2026-10-01T00:00:00Z";
        match get(b, key) {
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("bucket {key}: {LIKE}, got '{s}'")),
            Some(v) => Err(format!("bucket {key}: {LIKE}, got {}", shown(v))),
            None => Err(format!("bucket {key}: {LIKE}, got nothing")),
        }
    };
    let start = time("starting_at")?;
    let end = time("ending_at")?;
    if end <= start {
        return Err(format!(
            "bucket ending_at {} is not after starting_at {}; expected [starting_at, ending_at)",
            rfc3339(end),
            rfc3339(start)
        ));
    }
    Ok(Bucket { start, end })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn read_bucket(
    format: Format,
    file: &InputFile,
    bucket: &Value,
    index: usize,
    line: u64,
    sink: &mut dyn RecordSink,
) {
    let Value::Object(b) = bucket else {
        sink.reject(
            line,
            format!(
                "bucket {index}: expected a bucket object, got {}",
                shown(bucket)
            ),
        );
        return;
    };
    let results = match get(b, "results") {
        Some(Value::Array(r)) => r,
        other => {
            sink.reject(
                line,
                format!(
                    "bucket {index}: results: expected an array of results, got {}",
                    other.map(shown).unwrap_or_else(|| "nothing".to_string())
                ),
            );
            return;
        }
    };
    // An empty bucket is a window without usage, not a row.
    if results.is_empty() {
        return;
    }
    let times = bucket_times(b);
    let label = match get(b, "starting_at") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    for (ri, r) in results.iter().enumerate() {
        let prefix = format!("bucket {index} (starting_at {label}), result {}: ", ri + 1);
        let row = match (&times, r) {
            (Err(e), _) => Err(e.clone()),
            (Ok(t), Value::Object(r)) => match format {
                Format::AnthropicCostJson => cost_result(file, t, r, line),
                _ => usage_result(file, t, r, line),
            },
            (Ok(_), other) => Err(format!("expected a result object, got {}", shown(other))),
        };
        match row {
            Ok(rec) => sink.record(rec),
            Err(reason) => sink.reject(line, format!("{prefix}{reason}")),
        }
    }
}

/// Token-count fields of a usage result; every other scalar field is a grouping value.
const USAGE_FIELDS: [&str; 5] = [
    "uncached_input_tokens",
    "cache_creation",
    "cache_read_input_tokens",
    "output_tokens",
    "server_tool_use",
];

/// `prefix:start-end:name=value:…` over every scalar field of `r` not in `skip`, in key order
/// (null fields are left out: not grouped by them).
fn bucket_id(prefix: &str, bucket: &Bucket, r: &Map<String, Value>, skip: &[&str]) -> String {
    let mut id = format!("{prefix}:{}-{}", rfc3339(bucket.start), rfc3339(bucket.end));
    let mut keys: Vec<&String> = r.keys().collect();
    keys.sort();
    for k in keys {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match &r[k] {
            Value::String(s) => id.push_str(&format!(":{k}={}", s.trim())),
            Value::Number(n) => id.push_str(&format!(":{k}={n}")),
            Value::Bool(b) => id.push_str(&format!(":{k}={b}")),
            _ => {}
        }
    }
    id
}

/// A count: absent or null is 0 unless `required`.
fn count(r: &Map<String, Value>, key: &str, name: &str, required: bool) -> Result<i64, String> {
    match get(r, key) {
        None if !required => Ok(0),
        None => Err(format!(
            "{name}: expected a non-negative whole token count, got nothing"
        )),
        Some(v) => json_count(v).ok_or_else(|| {
            format!(
                "{name}: expected a non-negative whole token count, got {}",
                shown(v)
            )
        }),
    }
}

/// An optional nested object (`cache_creation`, `server_tool_use`).
fn nested<'a>(
    r: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match get(r, key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(format!("{key}: expected an object, got {}", shown(v))),
    }
}

fn usage_result(
    file: &InputFile,
    bucket: &Bucket,
    r: &Map<String, Value>,
    line: u64,
) -> Result<UsageRecord, String> {
    use UsageClass::*;
    // The report's classes are already disjoint: `uncached_input_tokens` excludes the cache
    // reads and writes.
    let mut u = Usage::ZERO;
    u[Input] = count(r, "uncached_input_tokens", "uncached_input_tokens", true)?;
    u[InputCacheRead] = count(
        r,
        "cache_read_input_tokens",
        "cache_read_input_tokens",
        false,
    )?;
    if let Some(cc) = nested(r, "cache_creation")? {
        u[InputCacheWrite5m] = count(
            cc,
            "ephemeral_5m_input_tokens",
            "cache_creation.ephemeral_5m_input_tokens",
            false,
        )?;
        u[InputCacheWrite1h] = count(
            cc,
            "ephemeral_1h_input_tokens",
            "cache_creation.ephemeral_1h_input_tokens",
            false,
        )?;
    }
    u[Output] = count(r, "output_tokens", "output_tokens", true)?;
    // `server_tool_use.web_search_requests` counts searches, not tokens, and no usage class
    // holds it yet: it is checked but not represented (its money is on the cost report).
    if let Some(st) = nested(r, "server_tool_use")? {
        count(
            st,
            "web_search_requests",
            "server_tool_use.web_search_requests",
            false,
        )?;
    }

    let model = get_str(r, "model")?;
    let api_key = get_str(r, "api_key_id")?;
    let workspace = get_str(r, "workspace_id")?;
    let tier = get_str(r, "service_tier")?;
    let id = bucket_id("anthropic:usage", bucket, r, &USAGE_FIELDS);

    let mut rec = UsageRecord::bucket(id, file.origin(line), bucket.start, bucket.end);
    rec.set_model(Some("anthropic"), model.as_deref().unwrap_or(""));
    rec.operation = Operation::Chat;
    rec.scope.api_key = api_key;
    rec.scope.project = workspace;
    rec.service_tier = tier;
    // The usage report has no request count.
    rec.requests = 0;
    rec.usage = u;
    Ok(rec)
}

/// Model id from a cost description: `"Claude Sonnet 4 Usage - Input Tokens"` →
/// `claude-sonnet-4`, `"Claude 3.5 Haiku Usage - …"` → `claude-3-5-haiku`. Empty when the
/// description does not name a Claude model.
fn description_model(description: &str) -> String {
    let name = description
        .split_once(" Usage")
        .map(|(m, _)| m)
        .unwrap_or("")
        .trim();
    if !name.to_ascii_lowercase().starts_with("claude") {
        return String::new();
    }
    name.split_whitespace()
        .map(|w| w.to_ascii_lowercase().replace('.', "-"))
        .collect::<Vec<_>>()
        .join("-")
}

/// Cents to the currency's unit, exactly: `"123.78912"` → 1.2378912.
fn cents_to_units(cents: Decimal) -> Option<Decimal> {
    let mut d = cents;
    // Shifting the scale by two divides by 100 without rounding while the scale fits.
    if d.scale() + 2 <= 28 {
        d.set_scale(d.scale() + 2).ok()?;
        Some(d.normalize())
    } else {
        cents.checked_div(Decimal::ONE_HUNDRED)
    }
}

fn cost_result(
    file: &InputFile,
    bucket: &Bucket,
    r: &Map<String, Value>,
    line: u64,
) -> Result<UsageRecord, String> {
    const AMOUNT: &str = "amount: expected a decimal string in cents like \"123.45\"";
    let raw = get(r, "amount").ok_or_else(|| format!("{AMOUNT}, got nothing"))?;
    let cents = json_decimal(raw).ok_or_else(|| format!("{AMOUNT}, got {}", shown(raw)))?;
    let amount = cents_to_units(cents).ok_or_else(|| format!("{AMOUNT}, got {}", shown(raw)))?;
    let currency = match get(r, "currency") {
        Some(Value::String(c)) => Currency::parse(c)
            .ok_or_else(|| format!("currency: expected a currency code like USD, got '{c}'"))?,
        other => {
            return Err(format!(
                "currency: expected a currency code like USD, got {}",
                other.map(shown).unwrap_or_else(|| "nothing".to_string())
            ));
        }
    };
    let model = match get_str(r, "model")? {
        Some(m) => m,
        None => description_model(&get_str(r, "description")?.unwrap_or_default()),
    };
    let id = bucket_id("anthropic:cost", bucket, r, &["amount"]);
    let mut rec = UsageRecord::bucket(id, file.origin(line), bucket.start, bucket.end);
    rec.set_model(Some("anthropic"), &model);
    rec.operation = Operation::Chat;
    rec.scope.project = get_str(r, "workspace_id")?;
    rec.service_tier = get_str(r, "service_tier")?;
    rec.cost_only = true;
    rec.requests = 0;
    rec.reported_cost = Some(Money::new(amount, currency));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testutil::{read_as, temp};
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    const KA: &str = "apikey_01Hq7TbV3mXw9LcR2sKdNf5Y";
    const KB: &str = "apikey_01Zp4WnJ8eQy6RtB1vCxMg3H";
    const W1: &str = "wrkspc_01Gd5KmP2xRt8VbN7cQwLz4J";
    const W2: &str = "wrkspc_01Lx9NqS3bTf6WcM4dRyHk2P";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/anthropic")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("anthropic/{name}"))
    }

    fn sniff_text(text: &str) -> Option<Format> {
        sniff(&Head {
            text: text.to_string(),
        })
    }

    /// Results per file, counted independently of the adapter (for accounting).
    fn results_in_json(text: &str) -> usize {
        let count_page = |p: &Value| -> usize {
            p["data"].as_array().map_or(0, |d| {
                d.iter()
                    .map(|b| b["results"].as_array().map_or(0, Vec::len))
                    .sum()
            })
        };
        match serde_json::from_str::<Value>(text).unwrap() {
            Value::Array(pages) => pages.iter().map(count_page).sum(),
            page => count_page(&page),
        }
    }

    #[test]
    fn usage_classes_scope_and_times() {
        let (format, s) = read_fixture("usage_1d_pages.json");
        assert_eq!(format, Format::AnthropicUsageJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 5);
        // Key A, day 1: uncached input and output only.
        let a = &s.records[0];
        assert_eq!(a.usage, Usage::of(&[(Input, 4_000), (Output, 1_000)]));
        assert_eq!(a.provider, "anthropic");
        assert_eq!(a.model_raw, "claude-sonnet-4-5-20250929");
        assert_eq!(a.model, "claude-sonnet-4-5");
        assert_eq!(a.operation, Operation::Chat);
        assert_eq!(a.scope.api_key.as_deref(), Some(KA));
        assert_eq!(a.scope.project.as_deref(), Some(W1));
        assert_eq!(a.service_tier.as_deref(), Some("standard"));
        assert_eq!(a.requests, 0, "the usage report has no request count");
        assert!(!a.cost_only && a.reported_cost.is_none());
        // 2026-10-01T00:00:00Z = 1790812800, one day later 1790899200.
        assert_eq!(a.start.timestamp(), 1_790_812_800);
        assert_eq!(a.end.timestamp(), 1_790_899_200);
        // Key B, day 1: every class, each from its own field; the 2 web searches are not
        // represented as tokens.
        let b = &s.records[1];
        assert_eq!(
            b.usage,
            Usage::of(&[
                (Input, 10_000),
                (InputCacheWrite5m, 2_000),
                (InputCacheWrite1h, 1_000),
                (InputCacheRead, 8_000),
                (Output, 3_000),
            ])
        );
        // 10000 + 2000 + 1000 + 8000 + 3000 = 24000.
        assert_eq!(b.usage.total(), 24_000);
        assert_eq!(b.scope.api_key.as_deref(), Some(KB));
        assert_eq!(b.scope.project.as_deref(), Some(W2));
        // Page 2 (day 2): 1h write without 5m write; a Haiku group.
        assert_eq!(
            s.records[3].usage,
            Usage::of(&[
                (Input, 6_000),
                (InputCacheWrite1h, 4_000),
                (InputCacheRead, 12_000),
                (Output, 2_500)
            ])
        );
        assert_eq!(s.records[4].model, "claude-haiku-4-5");
        assert_eq!(s.records[4].start.timestamp(), 1_790_899_200);
        // Totals over the file: input 4000+10000+5000+6000+20000 = 45000; output
        // 1000+3000+1000+2500+4000 = 11500.
        let total = s.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        assert_eq!(total[Input], 45_000);
        assert_eq!(total[Output], 11_500);
        assert_eq!(total[InputCacheWrite5m], 3_000);
        assert_eq!(total[InputCacheWrite1h], 5_000);
        assert_eq!(total[InputCacheRead], 20_000);
    }

    #[test]
    fn ids_name_the_bucket_and_every_dimension() {
        let (_, s) = read_fixture("usage_1d_pages.json");
        assert_eq!(
            s.records[0].id,
            format!(
                "anthropic:usage:2026-10-01T00:00:00Z-2026-10-02T00:00:00Z:api_key_id={KA}:context_window=0-200k:model=claude-sonnet-4-5-20250929:service_tier=standard:workspace_id={W1}"
            )
        );
        let ids: HashSet<_> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 5);
        // Read again: same ids. The same pages as JSONL: same ids, too.
        let (_, again) = read_fixture("usage_1d_pages.json");
        let list = |s: &CollectSink| s.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(list(&s), list(&again));
        let pages: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(fixture("usage_1d_pages.json")).unwrap())
                .unwrap();
        let jsonl: String = pages.iter().map(|p| format!("{p}\n")).collect();
        let (_d, path) = temp("pages.jsonl", &jsonl);
        let head = crate::source::read_head(&InputFile::new(0, &path)).unwrap();
        assert_eq!(sniff(&head), Some(Format::AnthropicUsageJson));
        let j = read_as(Format::AnthropicUsageJson, &path).unwrap();
        assert_eq!(list(&j), list(&s));
        // The second page starts on line 2 of the JSONL file.
        assert_eq!(j.records[2].origin.line, 2);
        // A result differing only by a dimension this adapter does not map keeps its own id.
        let page = r#"{"data": [{"starting_at": "2026-10-01T00:00:00Z", "ending_at": "2026-10-02T00:00:00Z",
            "results": [{"uncached_input_tokens": 1, "output_tokens": 1, "inference_geo": "global"},
                        {"uncached_input_tokens": 1, "output_tokens": 1, "inference_geo": "us"}]}],
            "has_more": false, "next_page": null}"#;
        let (_d2, path) = temp("geo.json", page);
        let g = read_as(Format::AnthropicUsageJson, &path).unwrap();
        assert_eq!(g.records.len(), 2);
        assert_ne!(g.records[0].id, g.records[1].id);
        assert_eq!(g.records[0].model_raw, "");
        // Cost and usage ids never meet.
        let (_, c) = read_fixture("cost_1d.json");
        assert!(
            c.records
                .iter()
                .all(|r| r.id.starts_with("anthropic:cost:"))
        );
        let cids: HashSet<_> = c.records.iter().map(|r| &r.id).collect();
        assert_eq!(cids.len(), c.records.len());
    }

    #[test]
    fn cost_amounts_are_cents() {
        let (format, s) = read_fixture("cost_1d.json");
        assert_eq!(format, Format::AnthropicCostJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 16);
        assert!(s.records.iter().all(|r| r.cost_only
            && r.usage.is_zero()
            && r.requests == 0
            && r.provider == "anthropic"
            && r.operation == Operation::Chat));
        // "1.2" cents = $0.012 (4000 input tokens at $3/M).
        let first = &s.records[0];
        assert_eq!(first.reported_cost, Some(Money::usd(dec!(0.012))));
        assert_eq!(first.scope.project.as_deref(), Some(W1));
        assert_eq!(first.scope.api_key, None);
        assert_eq!(first.model, "claude-sonnet-4-5");
        // "0.125" cents = $0.00125.
        assert_eq!(s.records[14].reported_cost, Some(Money::usd(dec!(0.00125))));
        // Null `model`: taken from "Claude Haiku 4.5 Usage - Output Tokens".
        let last = &s.records[15];
        assert_eq!(last.model_raw, "claude-haiku-4-5");
        assert_eq!(last.model, "claude-haiku-4-5");
        assert_eq!(last.reported_cost, Some(Money::usd(dec!(0.02))));
        // Day 1: 1.2+1.5+3+0.75+0.6+0.24+4.5 = 11.79 cents; day 2:
        // 1.5+1.5+1.8+2.4+0.36+3.75+2+0.125+2 = 15.435 cents; 27.225 cents = $0.27225.
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(total, dec!(0.27225));
    }

    #[test]
    fn cents_conversion_by_hand() {
        // 123.78912 cents / 100 = 1.2378912 units.
        assert_eq!(cents_to_units(dec!(123.78912)), Some(dec!(1.2378912)));
        assert_eq!(cents_to_units(dec!(123.45)), Some(dec!(1.2345)));
        assert_eq!(cents_to_units(dec!(250)), Some(dec!(2.5)));
        assert_eq!(cents_to_units(dec!(-7)), Some(dec!(-0.07)));
        // 26 decimals: scale 28 still exact.
        let tiny = dec!(0.00000000000000000000000001);
        assert_eq!(
            cents_to_units(tiny),
            Some(dec!(0.0000000000000000000000000001))
        );
        assert_eq!(
            description_model("Claude Sonnet 4 Usage - Input Tokens"),
            "claude-sonnet-4"
        );
        assert_eq!(
            description_model("Claude 3.5 Haiku Usage - Output Tokens"),
            "claude-3-5-haiku"
        );
        assert_eq!(description_model("Web Search Usage"), "");
        assert_eq!(description_model(""), "");
    }

    #[test]
    fn official_samples_read() {
        let dir = Path::new("/work/shared/samples");
        if !dir.exists() {
            println!("note: /work/shared/samples not present, official sample test skipped");
            return;
        }
        let (format, s) = read_all(&dir.join("anthropic_cost_report.json")).unwrap();
        assert_eq!(format, Format::AnthropicCostJson);
        assert_eq!(s.records.len(), 1);
        // "123.78912" cents = $1.2378912.
        assert_eq!(
            s.records[0].reported_cost,
            Some(Money::usd(dec!(1.2378912)))
        );
        assert_eq!(s.records[0].model, "claude-opus-4-6");
        let (format, s) = read_all(&dir.join("anthropic_usage_report_messages.json")).unwrap();
        assert_eq!(format, Format::AnthropicUsageJson);
        assert_eq!(s.records.len(), 1);
        assert_eq!(
            s.records[0].usage,
            Usage::of(&[
                (Input, 1_500),
                (InputCacheWrite5m, 500),
                (InputCacheWrite1h, 1_000),
                (InputCacheRead, 200),
                (Output, 500)
            ])
        );
        assert_eq!(
            s.records[0].scope.project.as_deref(),
            Some("wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ")
        );
    }

    #[test]
    fn bad_results_are_rejected_with_the_value() {
        let (format, s) = read_fixture("usage_bad_result.json");
        assert_eq!(format, Format::AnthropicUsageJson);
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 100), (Output, 10)]));
        let reasons: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons[0].starts_with("bucket 1 (starting_at 2026-10-01T00:00:00Z), result 2: ")
                && reasons[0].contains("output_tokens")
                && reasons[0].contains("-5"),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[1].contains("uncached_input_tokens") && reasons[1].contains("'lots'"),
            "{}",
            reasons[1]
        );
        assert!(
            reasons[2].starts_with("bucket 2 (starting_at yesterday), result 1: ")
                && reasons[2].contains("expected an RFC 3339 time"),
            "{}",
            reasons[2]
        );

        let (format, c) = read_fixture("cost_bad_result.json");
        assert_eq!(format, Format::AnthropicCostJson);
        assert_eq!(c.records.len(), 1);
        // "250" cents = $2.50.
        assert_eq!(c.records[0].reported_cost, Some(Money::usd(dec!(2.5))));
        assert_eq!(c.rejected.len(), 2);
        assert!(
            c.rejected[0]
                .1
                .contains("amount: expected a decimal string in cents")
                && c.rejected[0].1.contains("'n/a'"),
            "{}",
            c.rejected[0].1
        );
        assert!(c.rejected[1].1.contains("currency"), "{}", c.rejected[1].1);
    }

    #[test]
    fn sniffing() {
        for (name, want) in [
            ("usage_1d_pages.json", Format::AnthropicUsageJson),
            ("usage_bad_result.json", Format::AnthropicUsageJson),
            ("cost_1d.json", Format::AnthropicCostJson),
            ("cost_bad_result.json", Format::AnthropicCostJson),
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(sniff(&head), Some(want), "{name}");
            assert_eq!(crate::source::sniff(&head), Some(want), "{name}");
        }
        // The Dify CSV beside them stays Dify's.
        let head =
            crate::source::read_head(&InputFile::new(0, &fixture("dify_messages_claude.csv")))
                .unwrap();
        assert_eq!(sniff(&head), None);
        assert_eq!(crate::source::sniff(&head), Some(Format::DifyMessagesCsv));
        // Other systems' fixtures and samples are not claimed.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for sys in ["openai", "langfuse", "dify", "demo"] {
            for entry in std::fs::read_dir(root.join(sys)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                let head = crate::source::read_head(&InputFile::new(0, &path)).unwrap();
                assert_eq!(sniff(&head), None, "{}", path.display());
            }
        }
        if let Ok(dir) = std::fs::read_dir("/work/shared/samples") {
            for entry in dir {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("anthropic") || !name.ends_with(".json") {
                    continue;
                }
                let head = crate::source::read_head(&InputFile::new(0, &path)).unwrap();
                assert_eq!(sniff(&head), None, "{name}");
            }
        }
        // A key spelled as a value is not a key; an empty usage page says nothing.
        assert_eq!(
            sniff_text(r#"{"note": "starting_at", "x": "uncached_input_tokens"}"#),
            None
        );
        assert_eq!(
            sniff_text(r#"{"data": [], "has_more": false, "next_page": null}"#),
            None
        );
        assert_eq!(
            sniff_text(
                r#"{"data": [{"starting_at" : "2026-10-01T00:00:00Z", "results": [{"amount": "1", "token_type": "output_tokens"}]}]}"#
            ),
            Some(Format::AnthropicCostJson)
        );
    }

    #[test]
    fn unrecognizable_and_unreadable_files() {
        let (_d, path) = temp(
            "models.json",
            r#"{"data": [{"type": "model", "id": "claude-sonnet-4-5-20250929", "created_at": "2025-09-29T00:00:00Z"}], "has_more": false}"#,
        );
        let e = read_all(&path).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        let (_d2, text) = temp("notes.txt", "hello\n");
        let e = read_as(Format::AnthropicUsageJson, &text).unwrap_err();
        assert!(
            e.message.contains("expected an Anthropic Admin API page"),
            "{e}"
        );
        let (_d3, cut) = temp(
            "cut.json",
            "{\"data\": [{\"starting_at\": \"2026-10-01T00:00:00Z\",\n",
        );
        let e = read_as(Format::AnthropicCostJson, &cut).unwrap_err();
        assert!(e.message.contains("ends inside the page"), "{e}");
        let (_d4, bad) = temp("bad.json", "[{\"data\": []},\n {\"data\": [}]\n");
        let e = read_as(Format::AnthropicUsageJson, &bad).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(!e.message.contains(" at line "), "{e}");
        let (_d5, bin) = temp("bin.json", "");
        std::fs::write(&bin, b"{\"data\": [\xff]}").unwrap();
        let e = read_as(Format::AnthropicUsageJson, &bin).unwrap_err();
        assert!(e.message.contains("not UTF-8"), "{e}");
        // A value that is not a page is one rejected row.
        let (_d6, arr) = temp("arr.json", "[{\"object\": \"list\"}]");
        let s = read_as(Format::AnthropicUsageJson, &arr).unwrap();
        assert_eq!(s.rejected.len(), 1);
        assert!(
            s.rejected[0]
                .1
                .contains("data: expected an array of buckets")
        );
        // Forced on a format of another system.
        let e = read_as(Format::AnthropicCostJson, &text);
        assert!(e.is_err());
        let file = InputFile::new(0, &text);
        let mut sink = CollectSink::default();
        let mut r: &[u8] = b"{}";
        let e = read(Format::OpenaiUsageJson, &file, &mut r, &mut sink).unwrap_err();
        assert!(e.message.contains("not an Anthropic format"), "{e}");
    }

    /// Every result ends in exactly one of record / no_usage / reject.
    #[test]
    fn accounting_every_result_once() {
        for name in [
            "usage_1d_pages.json",
            "usage_bad_result.json",
            "cost_1d.json",
            "cost_bad_result.json",
        ] {
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            let (_, s) = read_fixture(name);
            let out = s.records.len() + s.no_usage.len() + s.rejected.len();
            assert_eq!(out, results_in_json(&text), "{name}");
        }
    }

    /// A JSON array of thousands of pages is read in one pass: each page's line is counted on
    /// from the previous page's (recounting from the file's start took minutes at 4,000 pages),
    /// and still names the right line at the end of the file.
    #[test]
    fn many_pages_in_one_array_keep_their_lines() {
        let text = std::fs::read_to_string(fixture("usage_1d_pages.json")).unwrap();
        let Value::Array(pages) = serde_json::from_str::<Value>(&text).unwrap() else {
            panic!("usage_1d_pages.json is an array of pages");
        };
        let page = serde_json::to_string(&pages[0]).unwrap();
        let per_page = results_in_json(&page);
        let n = 1_500;
        // Line 1 is `[`; page i (from 0) is on line i + 2; the broken page after them on n + 2.
        let mut body = String::from("[\n");
        for _ in 0..n {
            body.push_str(&page);
            body.push_str(",\n");
        }
        body.push_str("{\"data\": 5}\n]\n");
        let (_dir, path) = crate::source::testutil::temp("pages.json", &body);
        let s = crate::source::testutil::read_as(Format::AnthropicUsageJson, &path).unwrap();
        assert_eq!(s.records.len() + s.no_usage.len(), n * per_page);
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, n as u64 + 2);
        assert_eq!(s.records.last().unwrap().origin.line, n as u64 + 1);
    }
}
