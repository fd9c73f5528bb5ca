//! OpenAI organization usage and costs, the bill view.
//!
//! Three inputs (fact sheet `billing-formats.md`, section OpenAI; shapes from
//! openai/openai-openapi `openapi.yaml`):
//! - Usage API pages `GET /v1/organization/usage/{completions,embeddings,moderations,…}`:
//!   `{"object": "page", "data": [{"object": "bucket", "start_time", "end_time", "results":
//!   [...]}], "has_more", "next_page"}`. One page per file, a JSON array of pages, or pages one
//!   after another (JSONL). One bucket-line record per result.
//! - Costs API pages `GET /v1/organization/costs`, same envelope, results
//!   `organization.costs.result` with `amount {value, currency}` and `line_item`. One
//!   money-only record per result.
//! - The dashboard's cost CSV export (header unconfirmed, see `fixtures/openai/README.md`),
//!   mapped like the cost pages.
//!
//! Record ids are built from the bucket and every grouping value, so the same page read twice
//! yields the same ids and the reconcile stage counts it once.

use super::util::{self, json_count, json_decimal, unix_seconds};
use super::{Format, Head, InputError, InputFile, RecordSink, Row};
use crate::catalog;
use crate::record::{Currency, Money, Operation, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::io::{self, BufRead, Read};
use std::str::FromStr;

/// 2026-07-15T00:00:00Z. From this date `input_tokens` of completions usage counts text, audio
/// and image tokens, cached and cache-written ones included; before it, text only (cached
/// included). Fact sheet: "SEMANTICS CHANGE 2026-07-15".
const NEW_INPUT_SEMANTICS_FROM: i64 = 1_784_073_600;

/// Fields only the post-2026-07-15 schema carries: a result that has them was exported under
/// the new semantics whatever its bucket date (the fact sheet says to branch on the export
/// date, which a file does not state; these fields are its trace).
const NEW_SCHEMA_FIELDS: [&str; 4] = [
    "input_uncached_tokens",
    "input_cache_write_tokens",
    "input_cache_write_12h_tokens",
    "input_text_tokens",
];

/// Decimal places a CSV amount is rounded to before parsing: the dashboard writes about 30,
/// more than `Decimal` holds (28 significant digits).
const CSV_AMOUNT_PLACES: usize = 20;

// ---------------------------------------------------------------------------------------------
// Sniffing

pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return sniff_json(&head.text);
    }
    let cols = head.csv_columns();
    let has = |name: &str| cols.iter().any(|c| c == name);
    (has("amount_value") && has("line_item")).then_some(Format::OpenaiCostCsv)
}

/// Looks at the values of `"object"` keys in the head: a page envelope plus at least one
/// usage or costs result. A page with no results says neither and is left unrecognized.
fn sniff_json(text: &str) -> Option<Format> {
    let values = object_values(text);
    if !values.contains(&"page") {
        return None;
    }
    if values.iter().any(|v| v.starts_with("organization.usage.")) {
        Some(Format::OpenaiUsageJson)
    } else if values.contains(&"organization.costs.result") {
        Some(Format::OpenaiCostsJson)
    } else {
        None
    }
}

/// The string values of every `"object": "…"` pair in `text` (as far as the text goes).
fn object_values(text: &str) -> Vec<&str> {
    const KEY: &str = "\"object\"";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find(KEY) {
        rest = &rest[pos + KEY.len()..];
        let Some(after_colon) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let Some(value) = after_colon.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some(end) = value.find('"') {
            out.push(&value[..end]);
        }
    }
    out
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
        Format::OpenaiUsageJson | Format::OpenaiCostsJson => read_pages(format, file, reader, sink),
        Format::OpenaiCostCsv => read_cost_csv(file, reader, sink),
        other => Err(InputError::new(
            file,
            None,
            format!("{other} is not an OpenAI format"),
        )),
    }
}

/// A reader that counts the newlines it hands out, so each page's starting line is known while
/// serde_json parses one page at a time (it reads byte by byte and never past a closing `}`).
struct LineReader<'a> {
    r: &'a mut dyn BufRead,
    /// 1-based line of the next byte.
    line: u64,
}

impl Read for LineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.line += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

impl LineReader<'_> {
    /// Skips whitespace and returns the next byte without consuming it.
    fn peek_non_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = self.r.fill_buf()?;
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            if !b.is_ascii_whitespace() {
                return Ok(Some(b));
            }
            if b == b'\n' {
                self.line += 1;
            }
            self.r.consume(1);
        }
    }

    fn consume(&mut self) {
        self.r.consume(1);
    }
}

const PAGES_SHAPE: &str = "expected an OpenAI usage or costs page {\"object\": \"page\", \"data\": [...]}, a JSON array of pages, or one page per line";

/// Streams the pages of a file one at a time: a single page, pages one after another (JSONL or
/// concatenated), or a JSON array of pages. A JSON syntax error stops the file: past it, page
/// boundaries cannot be trusted.
fn read_pages(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut lr = LineReader { r: reader, line: 1 };
    let io_err =
        |e: io::Error, line: u64| InputError::new(file, Some(line), format!("cannot read: {e}"));
    let first = lr.peek_non_ws().map_err(|e| io_err(e, 1))?;
    match first {
        Some(b'{') => loop {
            match lr.peek_non_ws().map_err(|e| io_err(e, lr.line))? {
                None => return Ok(()),
                Some(b'{') => {
                    let line = lr.line;
                    let page = parse_value(&mut lr, file)?;
                    read_page(format, file, &page, line, sink);
                }
                Some(_) => {
                    return Err(InputError::new(file, Some(lr.line), PAGES_SHAPE));
                }
            }
        },
        Some(b'[') => {
            lr.consume();
            if lr.peek_non_ws().map_err(|e| io_err(e, lr.line))? == Some(b']') {
                lr.consume();
            } else {
                loop {
                    // Skip to the page's first byte so its line is where it starts.
                    lr.peek_non_ws().map_err(|e| io_err(e, lr.line))?;
                    let line = lr.line;
                    let page = parse_value(&mut lr, file)?;
                    read_page(format, file, &page, line, sink);
                    match lr.peek_non_ws().map_err(|e| io_err(e, lr.line))? {
                        Some(b',') => lr.consume(),
                        Some(b']') => {
                            lr.consume();
                            break;
                        }
                        _ => {
                            return Err(InputError::new(
                                file,
                                Some(lr.line),
                                "expected ',' or ']' after a page in the JSON array",
                            ));
                        }
                    }
                }
            }
            match lr.peek_non_ws().map_err(|e| io_err(e, lr.line))? {
                None => Ok(()),
                Some(_) => Err(InputError::new(
                    file,
                    Some(lr.line),
                    "unexpected content after the JSON array of pages",
                )),
            }
        }
        _ => Err(InputError::new(file, Some(lr.line), PAGES_SHAPE)),
    }
}

/// Parses one JSON value at the reader's position.
fn parse_value(lr: &mut LineReader<'_>, file: &InputFile) -> Result<Value, InputError> {
    let start = lr.line;
    let mut de = serde_json::Deserializer::from_reader(&mut *lr);
    Value::deserialize(&mut de).map_err(|e| {
        // serde_json counts lines from where this value starts.
        let line = start + e.line().saturating_sub(1) as u64;
        if e.is_io() {
            InputError::new(file, Some(line), format!("cannot read: {e}"))
        } else if e.is_eof() {
            InputError::new(
                file,
                Some(line),
                format!("the file ends inside the page that starts at line {start}"),
            )
        } else {
            // serde_json's message ends with a position relative to the page: drop it.
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            InputError::new(
                file,
                Some(line),
                format!("invalid JSON at column {}: {msg}", e.column()),
            )
        }
    })
}

use super::util::{json_dim as get_str, json_field as get, shown};

/// One page: a non-page value is one rejected row; each result of each bucket is one row.
fn read_page(format: Format, file: &InputFile, page: &Value, line: u64, sink: &mut dyn RecordSink) {
    let Value::Object(p) = page else {
        sink.reject(line, format!("{PAGES_SHAPE}; got {}", shown(page)));
        return;
    };
    match get(p, "object") {
        Some(Value::String(s)) if s == "page" => {}
        None => {}
        Some(v) => {
            sink.reject(line, format!("object: expected \"page\", got {}", shown(v)));
            return;
        }
    }
    let Some(Value::Array(buckets)) = get(p, "data") else {
        sink.reject(
            line,
            "data: expected an array of buckets {\"object\": \"bucket\", \"start_time\", \"end_time\", \"results\": [...]}".to_string(),
        );
        return;
    };
    for (bi, bucket) in buckets.iter().enumerate() {
        read_bucket(format, file, bucket, bi + 1, line, sink);
    }
}

/// A bucket's times as unix seconds and instants.
#[derive(Clone, Copy)]
struct Bucket {
    start_s: i64,
    end_s: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn bucket_times(b: &Map<String, Value>) -> Result<Bucket, String> {
    let time = |key: &str| -> Result<(i64, DateTime<Utc>), String> {
        let v = get(b, key).ok_or_else(|| {
            format!("bucket {key}: expected unix seconds like 1790726400, got nothing")
        })?;
        let t = unix_seconds(v).ok_or_else(|| {
            format!(
                "bucket {key}: expected unix seconds like 1790726400, got {}",
                shown(v)
            )
        })?;
        Ok((t.timestamp(), t))
    };
    let (start_s, start) = time("start_time")?;
    let (end_s, end) = time("end_time")?;
    if end <= start {
        return Err(format!(
            "bucket end_time {end_s} is not after start_time {start_s}; expected [start_time, end_time)"
        ));
    }
    Ok(Bucket {
        start_s,
        end_s,
        start,
        end,
    })
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
    // The API returns `results`; the SDK models name the field `result`, accepted too.
    let results = match get(b, "results").or_else(|| get(b, "result")) {
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
    let start_label = get(b, "start_time")
        .map(|v| v.to_string())
        .unwrap_or_default();
    for (ri, r) in results.iter().enumerate() {
        let prefix = format!(
            "bucket {index} (start_time {start_label}), result {}: ",
            ri + 1
        );
        let row = times
            .clone()
            .and_then(|t| result(format, file, &t, r, line));
        Row::emit(row, line, &prefix, sink);
    }
}

fn result(
    format: Format,
    file: &InputFile,
    bucket: &Bucket,
    r: &Value,
    line: u64,
) -> Result<Row, String> {
    let Value::Object(r) = r else {
        return Err(format!("expected a result object, got {}", shown(r)));
    };
    let object = get_str(r, "object")?;
    const EXPECTED: &str = "organization.usage.<endpoint>.result or organization.costs.result";
    let kind = match object.as_deref() {
        Some("organization.costs.result") => return cost_result(file, bucket, r, line),
        None if format == Format::OpenaiCostsJson => return cost_result(file, bucket, r, line),
        None => return Err(format!("object: expected {EXPECTED}, got nothing")),
        Some(o) => o
            .strip_prefix("organization.usage.")
            .and_then(|k| k.strip_suffix(".result"))
            .ok_or_else(|| format!("object: expected {EXPECTED}, got '{o}'"))?,
    };
    let (operation, usage) = match kind {
        "completions" => (Operation::Chat, completions_usage(r, bucket.start_s)?),
        // Embeddings and moderations count input only (`input_tokens`).
        "embeddings" => (
            Operation::Embedding,
            Usage::of(&[(UsageClass::Input, required(r, "input_tokens")?)]),
        ),
        "moderations" => (
            Operation::Moderation,
            Usage::of(&[(UsageClass::Input, required(r, "input_tokens")?)]),
        ),
        "images" => {
            return Ok(Row::NoUsage(
                "OpenAI images usage: counted in images, not tokens (its cost is on the cost pages)",
            ));
        }
        "audio_speeches" => {
            return Ok(Row::NoUsage(
                "OpenAI audio speech usage: counted in characters, not tokens (its cost is on the cost pages)",
            ));
        }
        "audio_transcriptions" => {
            return Ok(Row::NoUsage(
                "OpenAI audio transcription usage: counted in seconds, not tokens (its cost is on the cost pages)",
            ));
        }
        "vector_stores" => {
            return Ok(Row::NoUsage(
                "OpenAI vector store usage: counted in bytes, not tokens (its cost is on the cost pages)",
            ));
        }
        "code_interpreter_sessions" => {
            return Ok(Row::NoUsage(
                "OpenAI code interpreter usage: counted in sessions, not tokens (its cost is on the cost pages)",
            ));
        }
        _ => {
            return Ok(Row::NoUsage(
                "OpenAI usage endpoint without token counts (tool calls, …): not counted (its cost is on the cost pages)",
            ));
        }
    };
    let requests = required(r, "num_model_requests")?;

    let model = get_str(r, "model")?;
    let project = get_str(r, "project_id")?;
    let user = get_str(r, "user_id")?;
    let api_key = get_str(r, "api_key_id")?;
    let batch = match get(r, "batch") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => {
            return Err(format!(
                "batch: expected true, false or null, got {}",
                shown(v)
            ));
        }
    };
    let tier = get_str(r, "service_tier")?;

    // Every grouping value goes into the id (null ones are left out: not grouped), so a page
    // saved twice yields the same ids and different groups never share one.
    let mut id = format!("openai:usage:{kind}:{}-{}", bucket.start_s, bucket.end_s);
    // `api_source` (`agents_api` / `unlabeled`) is a grouping of later API references; results
    // that differ only by it must keep distinct ids.
    let dims: [(&str, Option<String>); 7] = [
        ("model", model.clone()),
        ("project_id", project.clone()),
        ("user_id", user.clone()),
        ("api_key_id", api_key.clone()),
        ("batch", batch.map(|b| b.to_string())),
        ("service_tier", tier.clone()),
        ("api_source", get_str(r, "api_source")?),
    ];
    for (name, value) in &dims {
        if let Some(v) = value {
            id.push_str(&format!(":{name}={v}"));
        }
    }

    let mut rec = UsageRecord::bucket(id, file.origin(line), bucket.start, bucket.end);
    rec.set_model(Some("openai"), model.as_deref().unwrap_or(""));
    rec.operation = operation;
    rec.scope.project = project;
    rec.scope.api_key = api_key;
    rec.scope.user = user;
    rec.service_tier = if batch == Some(true) {
        Some("batch".to_string())
    } else {
        tier
    };
    rec.requests = requests as u64;
    rec.usage = usage;
    Ok(Row::Record(Box::new(rec)))
}

/// A count the schema requires.
fn required(r: &Map<String, Value>, key: &str) -> Result<i64, String> {
    let v = get(r, key)
        .ok_or_else(|| format!("{key}: expected a non-negative whole token count, got nothing"))?;
    json_count(v).ok_or_else(|| {
        format!(
            "{key}: expected a non-negative whole token count, got {}",
            shown(v)
        )
    })
}

/// An optional count: absent or null is 0.
fn optional(r: &Map<String, Value>, key: &str) -> Result<i64, String> {
    match get(r, key) {
        None => Ok(0),
        Some(v) => json_count(v).ok_or_else(|| {
            format!(
                "{key}: expected a non-negative whole token count, got {}",
                shown(v)
            )
        }),
    }
}

/// `a - b`, or a reason naming both numbers when the difference would be negative.
fn minus(a: (&str, i64), b: &[(&str, i64)]) -> Result<i64, String> {
    let sub: i64 = b.iter().map(|(_, n)| n).sum();
    let v = a.1 - sub;
    if v < 0 {
        let terms: String = b.iter().map(|(k, n)| format!(" - {k} {n}")).collect();
        return Err(format!(
            "{} {}{terms} = {v}; expected the parts to fit inside the total",
            a.0, a.1
        ));
    }
    Ok(v)
}

/// Disjoint classes from a completions result (fact sheet: OpenAI, "SEMANTICS CHANGE
/// 2026-07-15").
fn completions_usage(r: &Map<String, Value>, bucket_start: i64) -> Result<Usage, String> {
    use UsageClass::*;
    let input = required(r, "input_tokens")?;
    let output = required(r, "output_tokens")?;
    let cached = optional(r, "input_cached_tokens")?;
    let audio_in = optional(r, "input_audio_tokens")?;
    let audio_out = optional(r, "output_audio_tokens")?;
    let new_schema = NEW_SCHEMA_FIELDS.iter().any(|k| get(r, k).is_some());
    let mut u = Usage::ZERO;
    if bucket_start < NEW_INPUT_SEMANTICS_FROM && !new_schema {
        // Before 2026-07-15, `input_tokens` is text input with cached tokens included; audio
        // tokens are counted apart (`input_audio_tokens`, `output_audio_tokens`).
        u[Input] = minus(("input_tokens", input), &[("input_cached_tokens", cached)])?;
        u[InputCacheRead] = cached;
        u[InputAudio] = audio_in;
        u[Output] = output;
        u[OutputAudio] = audio_out;
        return Ok(u);
    }
    // From 2026-07-15, `input_tokens` is text + audio + image input, cached and cache-written
    // tokens included (fact sheet: "SEMANTICS CHANGE 2026-07-15"). The parts, as the spec
    // describes them (openai-openapi `UsageCompletionsResult` at f85dbe2, and its example:
    // 5000 = 1800 cached + 200 cache write + 3000 uncached; 3000 = 2500 text + 300 audio +
    // 200 image; 1800 = 1500 + 100 + 200 cached text/audio/image):
    // - `input_cached_tokens`: cached input of every modality -> cache read;
    // - `input_cache_write_tokens`: written to the cache -> cache write;
    // - `input_audio_tokens` / `input_image_tokens`: the UNCACHED audio / image input (their
    //   cached parts are `input_cached_audio_tokens` / `input_cached_image_tokens`, already
    //   inside `input_cached_tokens`), so they are taken as they are, not minus the cached ones;
    // - the rest is uncached text (`input_text_tokens` when stated).
    // Later API references add `input_cache_write_12h_tokens` (12-hour retention) and call
    // `input_cache_write_tokens` the 30-minute one. The record's write classes are 5m/1h: the
    // short write goes to the 5m class and the 12-hour write to the 1h class (the longer-lived,
    // higher-priced one), rather than into uncached input.
    let cache_write = optional(r, "input_cache_write_tokens")?;
    let cache_write_12h = optional(r, "input_cache_write_12h_tokens")?;
    let image_in = optional(r, "input_image_tokens")?;
    let image_out = optional(r, "output_image_tokens")?;
    u[InputCacheRead] = cached;
    u[InputCacheWrite5m] = cache_write;
    u[InputCacheWrite1h] = cache_write_12h;
    u[InputAudio] = audio_in;
    u[InputImage] = image_in;
    u[Input] = minus(
        ("input_tokens", input),
        &[
            ("input_cached_tokens", cached),
            ("input_cache_write_tokens", cache_write),
            ("input_cache_write_12h_tokens", cache_write_12h),
            ("input_audio_tokens", audio_in),
            ("input_image_tokens", image_in),
        ],
    )?;
    // `input_uncached_tokens` = input_tokens - cached - cache write (every uncached modality).
    if let Some(v) = get(r, "input_uncached_tokens") {
        let stated = json_count(v).ok_or_else(|| {
            format!(
                "input_uncached_tokens: expected a non-negative whole token count, got {}",
                shown(v)
            )
        })?;
        let derived = u[Input] + audio_in + image_in;
        if stated != derived {
            let w12 = if cache_write_12h > 0 {
                format!(" - input_cache_write_12h_tokens {cache_write_12h}")
            } else {
                String::new()
            };
            return Err(format!(
                "input_uncached_tokens {stated} disagrees with input_tokens {input} - input_cached_tokens {cached} - input_cache_write_tokens {cache_write}{w12} = {derived}"
            ));
        }
    }
    // `output_tokens` includes audio and image output.
    u[Output] = minus(
        ("output_tokens", output),
        &[
            ("output_audio_tokens", audio_out),
            ("output_image_tokens", image_out),
        ],
    )?;
    u[OutputAudio] = audio_out;
    u[OutputImage] = image_out;
    Ok(u)
}

// ---------------------------------------------------------------------------------------------
// Cost lines (pages and CSV)

/// The grouping of one cost line.
#[derive(Default)]
struct CostLine {
    line_item: Option<String>,
    project: Option<String>,
    api_key: Option<String>,
    /// CSV only.
    user: Option<String>,
}

/// Model named by a line item: `"gpt-4o-2024-08-06, cached input"` → `gpt-4o-2024-08-06`.
fn line_item_model(line_item: &str) -> &str {
    line_item
        .split_once(", ")
        .map(|(m, _)| m)
        .unwrap_or(line_item)
        .trim()
}

/// A money-only bucket record: the same bill's usage lines carry the tokens.
fn cost_record(
    id: String,
    origin: crate::record::Origin,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    cost: Money,
    g: CostLine,
) -> UsageRecord {
    let model = g.line_item.as_deref().map(line_item_model).unwrap_or("");
    let mut rec = UsageRecord::bucket(id, origin, start, end);
    rec.set_model(Some("openai"), model);
    rec.operation = if catalog::is_embedding_model(model) {
        Operation::Embedding
    } else if model.to_ascii_lowercase().contains("moderation") {
        Operation::Moderation
    } else {
        Operation::Chat
    };
    rec.scope.project = g.project;
    rec.scope.api_key = g.api_key;
    rec.scope.user = g.user;
    rec.cost_only = true;
    rec.requests = 0;
    rec.reported_cost = Some(cost);
    rec
}

/// Id of a cost line: the day and every grouping the costs API offers, so a page and the CSV
/// row of the same line share it.
fn cost_id(start_s: i64, g: &CostLine) -> String {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let mut id = format!(
        "openai:cost:{start_s}:line_item={}:project_id={}:api_key_id={}",
        s(&g.line_item),
        s(&g.project),
        s(&g.api_key)
    );
    if let Some(u) = &g.user {
        id.push_str(&format!(":user_id={u}"));
    }
    id
}

fn cost_result(
    file: &InputFile,
    bucket: &Bucket,
    r: &Map<String, Value>,
    line: u64,
) -> Result<Row, String> {
    const AMOUNT: &str = "amount: expected {\"value\": 0.06, \"currency\": \"usd\"}";
    let amount = match get(r, "amount") {
        Some(Value::Object(a)) => a,
        Some(v) => return Err(format!("{AMOUNT}, got {}", shown(v))),
        None => return Err(format!("{AMOUNT}, got nothing")),
    };
    let value = get(amount, "value").ok_or_else(|| format!("{AMOUNT}, value missing"))?;
    let value = json_decimal(value).ok_or_else(|| {
        format!(
            "amount.value: expected a decimal amount, got {}",
            shown(value)
        )
    })?;
    let currency = match get(amount, "currency") {
        Some(Value::String(c)) => Currency::parse(c).ok_or_else(|| {
            format!("amount.currency: expected a currency code like usd, got '{c}'")
        })?,
        other => {
            return Err(format!(
                "amount.currency: expected a currency code like usd, got {}",
                other.map(shown).unwrap_or_else(|| "nothing".to_string())
            ));
        }
    };
    let g = CostLine {
        line_item: get_str(r, "line_item")?,
        project: get_str(r, "project_id")?,
        api_key: get_str(r, "api_key_id")?,
        user: None,
    };
    let id = cost_id(bucket.start_s, &g);
    Ok(Row::Record(Box::new(cost_record(
        id,
        file.origin(line),
        bucket.start,
        bucket.end,
        Money::new(value, currency),
        g,
    ))))
}

/// Rounds a plain decimal text to `places` fractional digits, half away from zero, without
/// going through a number type (the text may hold more digits than `Decimal` does). `None` for
/// text that is not a plain decimal.
fn round_decimal_text(s: &str, places: usize) -> Option<String> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits_only = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    if frac.len() <= places {
        return Some(t.to_string());
    }
    let int = if int.is_empty() { "0" } else { int };
    let mut digits: Vec<u8> = int.bytes().chain(frac[..places].bytes()).collect();
    let mut int_len = int.len();
    if frac.as_bytes()[places] >= b'5' {
        let mut carry = true;
        for d in digits.iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            digits.insert(0, b'1');
            int_len += 1;
        }
    }
    let (i, f) = digits.split_at(int_len);
    let mut out = String::with_capacity(digits.len() + 2);
    if neg {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(i).ok()?);
    if !f.is_empty() {
        out.push('.');
        out.push_str(std::str::from_utf8(f).ok()?);
    }
    Some(out)
}

/// A CSV amount: plain decimals rounded to `CSV_AMOUNT_PLACES` places first; scientific
/// notation as written.
fn parse_csv_amount(s: &str) -> Option<Decimal> {
    let t = s.trim();
    if t.contains(['e', 'E']) {
        return util::parse_decimal(t);
    }
    Decimal::from_str(&round_decimal_text(t, CSV_AMOUNT_PLACES)?).ok()
}

/// A CSV time: unix seconds, or an ISO 8601 / `YYYY-MM-DD HH:MM:SS` UTC timestamp.
fn parse_csv_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .ok()
            .and_then(|n| DateTime::from_timestamp(n, 0));
    }
    util::parse_utc(t)
}

fn read_cost_csv(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    for req in ["amount_value", "line_item"] {
        if col(req).is_none() {
            return Err(InputError::new(
                file,
                Some(1),
                format!("missing column '{req}'; expected the OpenAI dashboard cost export"),
            ));
        }
    }
    let start_cols = [col("start_time"), col("start_time_iso")];
    let end_cols = [col("end_time"), col("end_time_iso")];
    if start_cols.iter().all(Option::is_none) || end_cols.iter().all(Option::is_none) {
        return Err(InputError::new(
            file,
            Some(1),
            "missing columns start_time/end_time (or start_time_iso/end_time_iso); expected the OpenAI dashboard cost export",
        ));
    }
    let cols = CsvCols {
        start: start_cols,
        end: end_cols,
        amount: col("amount_value"),
        currency: col("amount_currency"),
        line_item: col("line_item"),
        project: col("project_id"),
        api_key: col("api_key_id"),
        user: col("user_id"),
    };
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        let row = cost_csv_row(file, &cols, rec, line);
        // The dashboard export's zone is not documented: a time without an offset is read as
        // UTC (like the APIs' buckets), and the report says so.
        if matches!(row, Ok(Row::Record(_))) && naive_csv_time(&cols, rec) {
            sink.note(line, NAIVE_COST_CSV_TIME_NOTE);
        }
        Row::emit(row, line, "", sink)
    })
}

/// What the report says of a cost line whose start is written without an offset.
pub const NAIVE_COST_CSV_TIME_NOTE: &str = "start_time has no UTC offset: read as UTC (the zone of OpenAI's dashboard cost export is not documented)";

/// Whether the row's start time (the field `cost_csv_row` reads) is a timestamp without an
/// offset; unix seconds name an instant.
fn naive_csv_time(cols: &CsvCols, rec: &csv::StringRecord) -> bool {
    let field = |i: Option<usize>| i.and_then(|i| rec.get(i)).and_then(util::opt_str);
    field(cols.start[0])
        .or_else(|| field(cols.start[1]))
        .is_some_and(|t| !t.bytes().all(|b| b.is_ascii_digit()) && !util::names_offset(t))
}

struct CsvCols {
    /// `start_time`, then `start_time_iso` if the first is empty.
    start: [Option<usize>; 2],
    end: [Option<usize>; 2],
    amount: Option<usize>,
    currency: Option<usize>,
    line_item: Option<usize>,
    project: Option<usize>,
    api_key: Option<usize>,
    user: Option<usize>,
}

fn cost_csv_row(
    file: &InputFile,
    cols: &CsvCols,
    rec: &csv::StringRecord,
    line: u64,
) -> Result<Row, String> {
    let field = |i: Option<usize>| i.and_then(|i| rec.get(i)).and_then(util::opt_str);
    let time = |pair: &[Option<usize>; 2], name: &str| -> Result<DateTime<Utc>, String> {
        let raw = field(pair[0]).or_else(|| field(pair[1])).ok_or_else(|| {
            format!("{name}: expected unix seconds or a timestamp like 2026-10-01T00:00:00Z, got nothing")
        })?;
        parse_csv_time(raw).ok_or_else(|| {
            format!("{name}: expected unix seconds or a timestamp like 2026-10-01T00:00:00Z, got '{raw}'")
        })
    };
    let start = time(&cols.start, "start_time")?;
    let end = time(&cols.end, "end_time")?;
    if end <= start {
        return Err(format!(
            "end_time {end} is not after start_time {start}; expected [start_time, end_time)"
        ));
    }
    // The dashboard leaves the amount empty on lines it has no cost for (e.g. usage not yet
    // priced): a line without cost, not a broken row.
    let Some(raw) = field(cols.amount) else {
        return Ok(Row::NoUsage("cost line with an empty amount: no cost"));
    };
    let amount = parse_csv_amount(raw).ok_or_else(|| {
        format!("amount_value: expected a decimal amount like 0.0125, got '{raw}'")
    })?;
    let cur_raw = field(cols.currency).unwrap_or("");
    let currency = Currency::parse(cur_raw).ok_or_else(|| {
        format!("amount_currency: expected a currency code like usd, got '{cur_raw}'")
    })?;
    let g = CostLine {
        line_item: field(cols.line_item).map(str::to_string),
        project: field(cols.project).map(str::to_string),
        api_key: field(cols.api_key).map(str::to_string),
        user: field(cols.user).map(str::to_string),
    };
    let id = cost_id(start.timestamp(), &g);
    Ok(Row::Record(Box::new(cost_record(
        id,
        file.origin(line),
        start,
        end,
        Money::new(amount, currency),
        g,
    ))))
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

    const KA: &str = "key_Vb3dE8mQ2xLpR7tN";
    const PA: &str = "proj_Hn4kWq8ZtR2mYc6VbX1sJd9F";
    const KB: &str = "key_T6uJ9sKe4WaYb2Hc";
    const PB: &str = "proj_Qe7pLm3XvN5aBt8KcY2wRg4D";

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/openai")
            .join(name)
    }

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("openai/{name}"))
    }

    /// Results per page, counted independently of the adapter (for accounting).
    fn results_in_json(text: &str) -> usize {
        let count_page = |p: &Value| -> usize {
            p["data"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .map(|b| b["results"].as_array().map_or(0, Vec::len))
                        .sum()
                })
                .unwrap_or(0)
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(pages)) => pages.iter().map(count_page).sum(),
            Ok(page) => count_page(&page),
            Err(_) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| count_page(&serde_json::from_str(l).unwrap()))
                .sum(),
        }
    }

    fn sniff_text(text: &str) -> Option<Format> {
        sniff(&Head {
            text: text.to_string(),
        })
    }

    #[test]
    fn old_era_classes_grouped_by_model_key_project_batch() {
        let (format, s) = read_fixture("usage_completions_1d.json");
        assert_eq!(format, Format::OpenaiUsageJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 4);
        let r = &s.records[0];
        // Before 2026-07-15 input_tokens is text incl. cached: 120000 - 40960 = 79040 uncached.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 79_040), (InputCacheRead, 40_960), (Output, 18_000)])
        );
        assert_eq!(r.model_raw, "gpt-4o-2024-08-06");
        assert_eq!(r.model, "gpt-4o");
        assert_eq!(r.provider, "openai");
        assert_eq!(r.operation, Operation::Chat);
        assert_eq!(r.requests, 300);
        assert_eq!(r.scope.project.as_deref(), Some(PA));
        assert_eq!(r.scope.api_key.as_deref(), Some(KA));
        assert_eq!(r.scope.user, None);
        assert_eq!(r.service_tier, None, "batch=false is not a tier");
        assert_eq!(r.start.timestamp(), 1_740_787_200);
        assert_eq!(r.end.timestamp(), 1_740_873_600);
        assert!(!r.cost_only);
        // Batch group: batch=true becomes the tier.
        let b = &s.records[1];
        assert_eq!(b.service_tier.as_deref(), Some("batch"));
        assert_eq!(b.usage, Usage::of(&[(Input, 500_000), (Output, 90_000)]));
        assert_eq!(b.scope.api_key.as_deref(), Some(KB));
        assert_eq!(b.scope.project.as_deref(), Some(PB));
        // Old era: audio counted apart from input_tokens (2000 text, 15000 audio in).
        assert_eq!(
            s.records[2].usage,
            Usage::of(&[
                (Input, 2_000),
                (InputAudio, 15_000),
                (Output, 800),
                (OutputAudio, 9_000)
            ])
        );
        // Second bucket: 98000 - 51200 = 46800.
        let d2 = &s.records[3];
        assert_eq!(d2.start.timestamp(), 1_740_873_600);
        assert_eq!(
            d2.usage,
            Usage::of(&[(Input, 46_800), (InputCacheRead, 51_200), (Output, 15_500)])
        );
        // Ids: distinct, and name every grouping value.
        assert_eq!(
            r.id,
            format!(
                "openai:usage:completions:1740787200-1740873600:model=gpt-4o-2024-08-06:project_id={PA}:api_key_id={KA}:batch=false"
            )
        );
        let ids: HashSet<_> = s.records.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), 4);
    }

    #[test]
    fn ids_are_deterministic_across_reads() {
        let (_, a) = read_fixture("usage_completions_1d.json");
        let (_, b) = read_fixture("usage_completions_1d.json");
        let ids = |s: &CollectSink| s.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        // A page saved twice in one JSONL file repeats its ids (the reconcile stage dedupes).
        let text = std::fs::read_to_string(fixture("usage_completions_pages.jsonl")).unwrap();
        let first = text.lines().next().unwrap();
        let (_d, path) = temp("twice.jsonl", &format!("{first}\n{first}\n"));
        let s = read_as(Format::OpenaiUsageJson, &path).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[0].id, s.records[1].id);
        // Usage and cost ids never meet.
        let (_, c) = read_fixture("costs_1d.json");
        assert!(c.records.iter().all(|r| r.id.starts_with("openai:cost:")));
        assert!(a.records.iter().all(|r| r.id.starts_with("openai:usage:")));

        // Two results that differ only by `api_source` keep distinct ids.
        let page = r#"{"object": "page", "data": [{"object": "bucket", "start_time": 1791158400,
            "end_time": 1791244800, "results": [
            {"object": "organization.usage.completions.result", "input_tokens": 10,
             "output_tokens": 1, "num_model_requests": 1, "model": "gpt-4o", "api_source": "agents_api"},
            {"object": "organization.usage.completions.result", "input_tokens": 20,
             "output_tokens": 2, "num_model_requests": 1, "model": "gpt-4o", "api_source": "unlabeled"}]}],
            "has_more": false, "next_page": null}"#;
        let (_d, path) = temp("api_source.json", page);
        let s = read_as(Format::OpenaiUsageJson, &path).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(
            s.records[0].id,
            "openai:usage:completions:1791158400-1791244800:model=gpt-4o:api_source=agents_api"
        );
        assert_ne!(s.records[0].id, s.records[1].id);
    }

    #[test]
    fn new_era_audio_image_cache_write() {
        let (format, s) = read_fixture("usage_completions_2026-08.json");
        assert_eq!(format, Format::OpenaiUsageJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 3);
        // Text only: 50000 - 20480 cached = 29520.
        assert_eq!(
            s.records[0].usage,
            Usage::of(&[(Input, 29_520), (InputCacheRead, 20_480), (Output, 6_000)])
        );
        assert_eq!(s.records[0].service_tier.as_deref(), Some("default"));
        assert_eq!(
            s.records[0].scope.user.as_deref(),
            Some("user-8fLq2WbN5cR1xYt7")
        );
        // input_tokens 30000 = cached 8000 (5000 text + 3000 audio) + cache write 1000 +
        // uncached 21000 (4000 text + 15000 audio + 2000 image). Audio and image fields are the
        // uncached ones: audio 15000, image 2000; text 30000 - 8000 - 1000 - 15000 - 2000 = 4000
        // (= input_text_tokens). Output 12000 - 8000 audio - 0 image = 4000.
        let rt = &s.records[1];
        assert_eq!(
            rt.usage,
            Usage::of(&[
                (Input, 4_000),
                (InputCacheRead, 8_000),
                (InputCacheWrite5m, 1_000),
                (InputAudio, 15_000),
                (InputImage, 2_000),
                (Output, 4_000),
                (OutputAudio, 8_000),
            ])
        );
        // Nothing lost: 30000 in + 12000 out.
        assert_eq!(rt.usage.total(), 42_000);
        // Image input: 9000 - 6000 image = 3000 text; flex tier.
        assert_eq!(
            s.records[2].usage,
            Usage::of(&[(Input, 3_000), (InputImage, 6_000), (Output, 700)])
        );
        assert_eq!(s.records[2].service_tier.as_deref(), Some("flex"));
    }

    /// The API reference's examples, before and after the 2026-07-15 change.
    #[test]
    fn official_samples_both_eras() {
        let dir = Path::new("/work/shared/samples");
        let old = dir.join("openai_usage_completions_2024-12.json");
        let new = dir.join("openai_usage_completions.json");
        if !old.exists() || !new.exists() {
            println!("note: /work/shared/samples not present, official sample test skipped");
            return;
        }
        let (f, s) = read_all(&old).unwrap();
        assert_eq!(f, Format::OpenaiUsageJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        // Old: input_tokens 1000 incl. 800 cached → 200 uncached.
        assert_eq!(
            s.records[0].usage,
            Usage::of(&[(Input, 200), (InputCacheRead, 800), (Output, 500)])
        );
        assert_eq!(s.records[0].requests, 5);
        assert_eq!(s.records[0].model_raw, "");
        assert_eq!(
            s.records[0].id,
            "openai:usage:completions:1730419200-1730505600"
        );

        // New schema (its bucket date is the doc's illustrative 2024-11-01, but the fields are
        // the post-change ones): cached 400 (300 text + 50 audio + 50 image), cache write 100,
        // uncached audio 50 and image 50 as stated, text 1000 - 400 - 100 - 50 - 50 = 400
        // (= input_text_tokens; 400 + 50 + 50 = 500 = input_uncached_tokens);
        // output 500 - 50 audio - 50 image = 400 (= output_text_tokens).
        let (_, s) = read_all(&new).unwrap();
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        let u = s.records[0].usage;
        assert_eq!(
            u,
            Usage::of(&[
                (Input, 400),
                (InputCacheRead, 400),
                (InputCacheWrite5m, 100),
                (InputAudio, 50),
                (InputImage, 50),
                (Output, 400),
                (OutputAudio, 50),
                (OutputImage, 50),
            ])
        );
        assert_eq!(u.total(), 1_000 + 500);
    }

    /// The spec's own `UsageCompletionsResult` example (openai-openapi f85dbe2): the audio and
    /// image fields are uncached counts, so cached audio larger than uncached audio is valid.
    #[test]
    fn new_schema_audio_and_image_fields_are_uncached() {
        let r: Map<String, Value> = serde_json::from_str(
            r#"{"input_tokens": 5000, "input_cached_tokens": 1800,
                "input_cache_write_tokens": 200, "input_uncached_tokens": 3000,
                "output_tokens": 1000, "input_text_tokens": 2500, "output_text_tokens": 800,
                "input_cached_text_tokens": 1500, "input_audio_tokens": 300,
                "input_cached_audio_tokens": 100, "output_audio_tokens": 100,
                "input_image_tokens": 200, "input_cached_image_tokens": 200,
                "output_image_tokens": 100, "num_model_requests": 5}"#,
        )
        .unwrap();
        let u = completions_usage(&r, NEW_INPUT_SEMANTICS_FROM).unwrap();
        // Text 5000 - 1800 - 200 - 300 - 200 = 2500 (= input_text_tokens); output
        // 1000 - 100 - 100 = 800 (= output_text_tokens). Totals kept: 5000 + 1000.
        assert_eq!(
            u,
            Usage::of(&[
                (Input, 2_500),
                (InputCacheRead, 1_800),
                (InputCacheWrite5m, 200),
                (InputAudio, 300),
                (InputImage, 200),
                (Output, 800),
                (OutputAudio, 100),
                (OutputImage, 100),
            ])
        );
        assert_eq!(u.total(), 6_000);

        // All audio served from the cache: 0 uncached audio, 600 cached (inside the 1000
        // cached). Text 4000 - 1000 - 0 - 0 - 0 = 3000.
        let r: Map<String, Value> = serde_json::from_str(
            r#"{"input_tokens": 4000, "input_cached_tokens": 1000,
                "input_cache_write_tokens": 0, "input_uncached_tokens": 3000,
                "input_audio_tokens": 0, "input_cached_audio_tokens": 600,
                "output_tokens": 10, "num_model_requests": 1}"#,
        )
        .unwrap();
        assert_eq!(
            completions_usage(&r, NEW_INPUT_SEMANTICS_FROM).unwrap(),
            Usage::of(&[(Input, 3_000), (InputCacheRead, 1_000), (Output, 10)])
        );

        // 30-minute and 12-hour cache writes: 10000 = 2000 cached + 500 + 1500 writes + 6000
        // uncached; text 10000 - 2000 - 500 - 1500 = 6000. Without the 12h field the check
        // would see 7500 uncached and reject the row.
        let r: Map<String, Value> = serde_json::from_str(
            r#"{"input_tokens": 10000, "input_cached_tokens": 2000,
                "input_cache_write_tokens": 500, "input_cache_write_12h_tokens": 1500,
                "input_uncached_tokens": 6000, "output_tokens": 300, "num_model_requests": 4}"#,
        )
        .unwrap();
        assert_eq!(
            completions_usage(&r, NEW_INPUT_SEMANTICS_FROM).unwrap(),
            Usage::of(&[
                (Input, 6_000),
                (InputCacheRead, 2_000),
                (InputCacheWrite5m, 500),
                (InputCacheWrite1h, 1_500),
                (Output, 300)
            ])
        );
    }

    #[test]
    fn era_is_chosen_by_bucket_date_when_the_schema_does_not_say() {
        // Same counts, old fields only: audio is apart from input_tokens before 2026-07-15 and
        // inside it from then on.
        let r: Map<String, Value> = serde_json::from_str(
            r#"{"input_tokens": 1000, "input_cached_tokens": 200, "input_audio_tokens": 300,
                "output_tokens": 400, "output_audio_tokens": 100}"#,
        )
        .unwrap();
        let before = completions_usage(&r, NEW_INPUT_SEMANTICS_FROM - 1).unwrap();
        // 1000 - 200 = 800 text; audio 300 on top.
        assert_eq!(
            before,
            Usage::of(&[
                (Input, 800),
                (InputCacheRead, 200),
                (InputAudio, 300),
                (Output, 400),
                (OutputAudio, 100)
            ])
        );
        let after = completions_usage(&r, NEW_INPUT_SEMANTICS_FROM).unwrap();
        // 1000 - 200 - 0 - 300 = 500; output 400 - 100 = 300.
        assert_eq!(
            after,
            Usage::of(&[
                (Input, 500),
                (InputCacheRead, 200),
                (InputAudio, 300),
                (Output, 300),
                (OutputAudio, 100)
            ])
        );
        assert_eq!(
            chrono::DateTime::from_timestamp(NEW_INPUT_SEMANTICS_FROM, 0)
                .unwrap()
                .to_rfc3339(),
            "2026-07-15T00:00:00+00:00"
        );
    }

    #[test]
    fn jsonl_pages_and_json_array_of_pages() {
        let (format, s) = read_fixture("usage_completions_pages.jsonl");
        assert_eq!(format, Format::OpenaiUsageJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 2);
        // 64000 - 25600 = 38400.
        assert_eq!(
            s.records[0].usage,
            Usage::of(&[(Input, 38_400), (InputCacheRead, 25_600), (Output, 7_000)])
        );
        assert_eq!(
            s.records[1].usage,
            Usage::of(&[(Input, 41_000), (Output, 5_200)])
        );
        assert_eq!((s.records[0].origin.line, s.records[1].origin.line), (1, 2));
        // One-hour buckets are kept as they are.
        assert_eq!((s.records[0].end - s.records[0].start).num_seconds(), 3_600);
        assert_eq!(s.records[0].scope, crate::record::Scope::default());

        // The same two pages as a pretty JSON array: element start lines 2 and 4.
        let text = std::fs::read_to_string(fixture("usage_completions_pages.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (_d, path) = temp(
            "pages.json",
            &format!("[\n{},\n\n{}\n]\n", lines[0], lines[1]),
        );
        let (format, a) = read_all(&path).unwrap();
        assert_eq!(format, Format::OpenaiUsageJson);
        assert_eq!(a.records.len(), 2);
        assert_eq!((a.records[0].origin.line, a.records[1].origin.line), (2, 4));
        assert_eq!(a.records[1].usage, s.records[1].usage);
        assert_eq!(a.records[0].id, s.records[0].id);
    }

    #[test]
    fn embeddings_and_empty_buckets() {
        let (format, s) = read_fixture("usage_embeddings.json");
        assert_eq!(format, Format::OpenaiUsageJson);
        // Two results; the empty second bucket adds nothing.
        assert_eq!(s.records.len(), 2);
        assert!(s.no_usage.is_empty() && s.rejected.is_empty());
        let e = &s.records[0];
        assert_eq!(e.operation, Operation::Embedding);
        assert_eq!(e.usage, Usage::of(&[(Input, 60_000)]));
        assert_eq!(e.model, "text-embedding-3-small");
        assert_eq!(e.requests, 150);
        assert_eq!(s.records[1].usage, Usage::of(&[(Input, 12_000)]));
        assert!(s.records[0].id.starts_with("openai:usage:embeddings:"));
        assert_ne!(s.records[0].id, s.records[1].id);
    }

    #[test]
    fn other_endpoints_are_rows_without_usage() {
        let page = r#"{"object": "page", "data": [{"object": "bucket", "start_time": 1791158400,
            "end_time": 1791244800, "results": [
              {"object": "organization.usage.images.result", "images": 4, "num_model_requests": 2,
               "size": null, "source": null, "project_id": null, "user_id": null,
               "api_key_id": null, "model": null},
              {"object": "organization.usage.moderations.result", "input_tokens": 321,
               "num_model_requests": 3, "project_id": null, "user_id": null,
               "api_key_id": null, "model": "omni-moderation-latest"}]}],
            "has_more": false, "next_page": null}"#;
        let (_d, path) = temp("images.json", page);
        let (_, s) = read_all(&path).unwrap();
        assert_eq!(s.no_usage.len(), 1);
        assert!(s.no_usage[0].1.contains("images"));
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].operation, Operation::Moderation);
        assert_eq!(s.records[0].usage, Usage::of(&[(Input, 321)]));
    }

    #[test]
    fn bad_results_are_rejected_with_the_numbers() {
        let (_, s) = read_fixture("usage_bad_result.json");
        assert_eq!(s.records.len(), 1);
        // 10000 - 4096 = 5904.
        assert_eq!(
            s.records[0].usage,
            Usage::of(&[(Input, 5_904), (InputCacheRead, 4_096), (Output, 900)])
        );
        assert_eq!(s.rejected.len(), 3, "{:?}", s.rejected);
        let reasons: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        // 8000 - 2048 - 0 = 5952, not the stated 6000.
        assert!(
            reasons[0].starts_with("bucket 1 (start_time 1791158400), result 2: ")
                && reasons[0].contains("input_uncached_tokens 6000")
                && reasons[0].contains("= 5952"),
            "{}",
            reasons[0]
        );
        assert!(
            reasons[1].contains("result 3")
                && reasons[1].contains("input_tokens")
                && reasons[1].contains("'lots'"),
            "{}",
            reasons[1]
        );
        assert!(
            reasons[2].contains("result 4")
                && reasons[2].contains("output_tokens")
                && reasons[2].contains("-100"),
            "{}",
            reasons[2]
        );
        assert!(s.rejected.iter().all(|(line, _)| *line == 1));
    }

    #[test]
    fn negative_parts_and_bad_buckets_are_rejected() {
        let r: Map<String, Value> = serde_json::from_str(
            r#"{"input_tokens": 100, "input_cached_tokens": 150, "output_tokens": 1}"#,
        )
        .unwrap();
        let e = completions_usage(&r, 0).unwrap_err();
        assert!(
            e.contains("input_tokens 100 - input_cached_tokens 150 = -50"),
            "{e}"
        );
        let page = r#"{"object": "page", "data": [
            {"object": "bucket", "start_time": "yesterday", "end_time": 1791244800,
             "results": [{"object": "organization.usage.embeddings.result", "input_tokens": 5,
                          "num_model_requests": 1}]},
            {"object": "bucket", "start_time": 1791158400, "end_time": 1791244800}],
            "has_more": false, "next_page": null}"#;
        let (_d, path) = temp("bad_bucket.json", page);
        let s = read_as(Format::OpenaiUsageJson, &path).unwrap();
        assert_eq!(s.rejected.len(), 2, "{:?}", s.rejected);
        assert!(
            s.rejected[0]
                .1
                .contains("start_time: expected unix seconds")
        );
        assert!(s.rejected[0].1.contains("'yesterday'"));
        assert!(s.rejected[1].1.contains("results: expected an array"));
    }

    #[test]
    fn cost_pages_money_only_lines() {
        let (format, s) = read_fixture("costs_1d.json");
        assert_eq!(format, Format::OpenaiCostsJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 6);
        assert!(s.records.iter().all(|r| r.cost_only
            && r.usage.is_zero()
            && r.requests == 0
            && r.provider == "openai"));
        let total: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        // 0.1976 + 0.0512 + 0.18 + 0.0012 + 0.2450 + 0.000000123456789012
        assert_eq!(total, dec!(0.675000123456789012));
        let cached = &s.records[1];
        assert_eq!(cached.model, "gpt-4o");
        assert_eq!(cached.model_raw, "gpt-4o-2024-08-06");
        assert_eq!(cached.operation, Operation::Chat);
        assert_eq!(cached.reported_cost, Some(Money::usd(dec!(0.0512))));
        assert_eq!(cached.scope.project.as_deref(), Some(PA));
        assert_eq!(cached.scope.api_key.as_deref(), Some(KA));
        assert_eq!(
            cached.id,
            format!(
                "openai:cost:1791158400:line_item=gpt-4o-2024-08-06, cached input:project_id={PA}:api_key_id={KA}"
            )
        );
        let emb = &s.records[3];
        assert_eq!(emb.operation, Operation::Embedding);
        assert_eq!(emb.model, "text-embedding-3-small");
        // The same line item on two days: two ids.
        assert_ne!(s.records[0].id, s.records[4].id);
        let ids: HashSet<_> = s.records.iter().map(|r| &r.id).collect();
        assert_eq!(ids.len(), 6);
    }

    #[test]
    fn official_cost_sample_with_null_line_item() {
        let path = Path::new("/work/shared/samples/openai_costs.json");
        if !path.exists() {
            println!("note: /work/shared/samples not present, official cost sample test skipped");
            return;
        }
        let (format, s) = read_all(path).unwrap();
        assert_eq!(format, Format::OpenaiCostsJson);
        assert_eq!(s.records.len(), 1);
        let r = &s.records[0];
        assert_eq!(r.reported_cost, Some(Money::usd(dec!(0.06))));
        assert_eq!(r.model_raw, "");
        assert_eq!(r.operation, Operation::Chat);
        assert_eq!(r.scope.project, None);
    }

    #[test]
    fn cost_csv_rounds_long_amounts_and_rejects_a_bad_row() {
        let (format, s) = read_fixture("cost_export.csv");
        assert_eq!(format, Format::OpenaiCostCsv);
        assert_eq!(s.records.len(), 3);
        // 0.197600000000000001998401444325: the 21st decimal is 8, so the 20th (9) rounds up
        // with a carry: 0.19760000000000000200.
        assert_eq!(
            s.records[0].reported_cost,
            Some(Money::usd(dec!(0.19760000000000000200)))
        );
        assert!(s.records.iter().all(|r| r.cost_only && r.usage.is_zero()));
        assert_eq!(s.records[2].operation, Operation::Embedding);
        assert_eq!(s.records[0].start.timestamp(), 1_791_158_400);
        assert_eq!(s.records[0].end.timestamp(), 1_791_244_800);
        assert_eq!(s.records[0].scope.user, None);
        assert_eq!(s.rejected.len(), 1);
        let (line, reason) = &s.rejected[0];
        assert_eq!(*line, 5);
        // Line 6: an empty amount is a line without cost, not a rejection.
        assert_eq!(
            s.no_usage,
            vec![(6, "cost line with an empty amount: no cost")]
        );
        assert!(
            reason.contains("amount_value") && reason.contains("'n/a'"),
            "{reason}"
        );
        // The CSV line and the cost page line of the same day share an id.
        let (_, pages) = read_fixture("costs_1d.json");
        assert_eq!(s.records[1].id, pages.records[1].id);
    }

    #[test]
    fn decimal_text_rounding() {
        let thirty = "0.123456789012345678901234567890";
        assert_eq!(thirty.len() - 2, 30);
        // 21st decimal is 9: round the 20th (0) up.
        assert_eq!(
            round_decimal_text(thirty, 20).as_deref(),
            Some("0.12345678901234567890")
        );
        assert_eq!(parse_csv_amount(thirty), Some(dec!(0.12345678901234567890)));
        assert_eq!(
            round_decimal_text("-0.999999999999999999995", 20).as_deref(),
            Some("-1.00000000000000000000")
        );
        assert_eq!(
            round_decimal_text(".000000000000000000004", 20).as_deref(),
            Some("0.00000000000000000000")
        );
        assert_eq!(round_decimal_text("12.5", 20).as_deref(), Some("12.5"));
        assert_eq!(round_decimal_text("1.2.3", 20), None);
        assert_eq!(round_decimal_text("", 20), None);
        assert_eq!(parse_csv_amount("1.5e-05"), Some(dec!(0.000015)));
        assert_eq!(parse_csv_amount("n/a"), None);
    }

    #[test]
    fn sniffing() {
        for (name, want) in [
            ("usage_completions_1d.json", Format::OpenaiUsageJson),
            ("usage_completions_pages.jsonl", Format::OpenaiUsageJson),
            ("usage_embeddings.json", Format::OpenaiUsageJson),
            ("usage_completions_2026-08.json", Format::OpenaiUsageJson),
            ("usage_bad_result.json", Format::OpenaiUsageJson),
            ("costs_1d.json", Format::OpenaiCostsJson),
            ("cost_export.csv", Format::OpenaiCostCsv),
        ] {
            let head = crate::source::read_head(&InputFile::new(0, &fixture(name))).unwrap();
            assert_eq!(sniff(&head), Some(want), "{name}");
            assert_eq!(crate::source::sniff(&head), Some(want), "{name}");
        }
        // Other systems' files are not claimed.
        let langfuse = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/langfuse");
        for entry in std::fs::read_dir(&langfuse).unwrap() {
            let path = entry.unwrap().path();
            let head = crate::source::read_head(&InputFile::new(0, &path)).unwrap();
            assert_eq!(sniff(&head), None, "{}", path.display());
        }
        for name in [
            "anthropic_usage_report_messages.json",
            "anthropic_cost_report.json",
            "dify_workflow_run_detail.json",
        ] {
            let path = Path::new("/work/shared/samples").join(name);
            if let Ok(head) = crate::source::read_head(&InputFile::new(0, &path)) {
                assert_eq!(sniff(&head), None, "{name}");
            }
        }
        // A page of another OpenAI list, an empty usage page, a plain CSV.
        assert_eq!(
            sniff_text(r#"{"object": "list", "data": [{"object": "model", "id": "gpt-4o"}]}"#),
            None
        );
        assert_eq!(
            sniff_text(r#"{"object": "page", "data": [], "has_more": false}"#),
            None
        );
        assert_eq!(
            sniff_text("date,amount,model\n2026-10-01,1.0,gpt-4o\n"),
            None
        );
        // Key spacing as pretty printers write it.
        assert_eq!(
            sniff_text(
                "{\"object\" : \"page\",\"data\":[{\"results\":[{\"object\":\n \"organization.costs.result\""
            ),
            Some(Format::OpenaiCostsJson)
        );
    }

    #[test]
    fn unrecognizable_and_unreadable_files() {
        let (_d, path) = temp(
            "models.json",
            r#"{"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"}]}"#,
        );
        let e = read_all(&path).unwrap_err();
        assert!(e.message.contains("unrecognized format"), "{e}");
        // Forced formats on files that are not pages or not the cost CSV.
        let (_d2, text) = temp("notes.txt", "hello\n");
        let e = read_as(Format::OpenaiUsageJson, &text).unwrap_err();
        assert!(
            e.message.contains("expected an OpenAI usage or costs page"),
            "{e}"
        );
        let e = read_as(Format::OpenaiCostCsv, &text).unwrap_err();
        assert!(e.message.contains("missing column 'amount_value'"), "{e}");
        // A page cut short: the file cannot be read past it.
        let (_d3, cut) = temp(
            "cut.json",
            "{\"object\": \"page\",\n \"data\": [{\"object\": \"bucket\",\n",
        );
        let e = read_as(Format::OpenaiUsageJson, &cut).unwrap_err();
        assert!(e.message.contains("ends inside the page"), "{e}");
        // Invalid JSON names its line.
        let (_d4, bad) = temp("bad.json", "{\"object\": \"page\",\n \"data\": [}\n");
        let e = read_as(Format::OpenaiUsageJson, &bad).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(!e.message.contains(" at line "), "{e}");
        // In a later page the line is counted from the start of the file.
        let (_d6, later) = temp(
            "later.jsonl",
            "{\"object\": \"page\", \"data\": []}\n{\"object\": \"page\",\n \"data\": [}\n",
        );
        let e = read_as(Format::OpenaiUsageJson, &later).unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        // A value that is not a page is one rejected row.
        let (_d5, arr) = temp("arr.json", "[{\"object\": \"list\", \"data\": []}]");
        let s = read_as(Format::OpenaiUsageJson, &arr).unwrap();
        assert_eq!(s.rejected.len(), 1);
        assert!(s.rejected[0].1.contains("expected \"page\""));
    }

    /// Every result (or CSV row) ends in exactly one of record / no_usage / reject.
    #[test]
    fn accounting_every_row_once() {
        for name in [
            "usage_completions_1d.json",
            "usage_completions_pages.jsonl",
            "usage_embeddings.json",
            "usage_completions_2026-08.json",
            "usage_bad_result.json",
            "costs_1d.json",
        ] {
            let text = std::fs::read_to_string(fixture(name)).unwrap();
            let (_, s) = read_fixture(name);
            let out = s.records.len() + s.no_usage.len() + s.rejected.len();
            assert_eq!(out, results_in_json(&text), "{name}");
        }
        let csv_rows = std::fs::read_to_string(fixture("cost_export.csv"))
            .unwrap()
            .lines()
            .count()
            - 1;
        let (_, s) = read_fixture("cost_export.csv");
        assert_eq!(
            s.records.len() + s.no_usage.len() + s.rejected.len(),
            csv_rows
        );
    }

    /// The bundled demo bill reads with no rejected row and adds up to the planted reference
    /// totals of the dify → openai comparison.
    #[test]
    fn demo_bill_matches_truth() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(demo.join("truth.json")).unwrap())
                .unwrap();
        let reference = truth["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["baseline"] == "dify" && c["reference"] == "openai")
            .unwrap()["reference_totals"]
            .clone();
        let mut usage = Usage::ZERO;
        let mut cost = Decimal::ZERO;
        let mut ids = HashSet::new();
        for name in [
            "openai_usage_completions_p1.json",
            "openai_usage_completions_p2.json",
            "openai_usage_embeddings_p1.json",
            "openai_usage_embeddings_p2.json",
            "openai_costs_p1.json",
            "openai_costs_p2.json",
        ] {
            let (_, s) = read_all(&demo.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(s.rejected.is_empty(), "{name}: {:?}", &s.rejected[..1]);
            assert!(s.no_usage.is_empty(), "{name}");
            for r in &s.records {
                assert!(ids.insert(r.id.clone()), "duplicate id {}", r.id);
                if r.cost_only {
                    cost += r.reported_cost.unwrap().amount;
                } else {
                    usage += r.usage;
                }
            }
        }
        let tok = |k: &str| reference["tokens"][k].as_i64().unwrap();
        assert_eq!(usage[Input], tok("input"));
        assert_eq!(usage[InputCacheRead], tok("input_cache_read"));
        assert_eq!(usage[Output], tok("output"));
        assert_eq!(usage.total(), tok("total"));
        let want = Decimal::from_str(reference["cost"].as_str().unwrap()).unwrap();
        assert_eq!(cost, want);
    }
}
