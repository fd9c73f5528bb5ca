//! LangSmith runs, a trace view.
//!
//! Three shapes carry the same run objects (langsmith-sdk `schemas.Run`): a page of the API's
//! `POST /api/v1/runs/query` (`{"runs": [...], "cursors": {...}}`; a JSON array of such pages
//! or of runs is read too), JSONL, one run per line (`list_runs` written out), and the bulk
//! export's Parquet (one column per run field, `extra` as JSON text). Times (`start_time`) are
//! naive ISO 8601 in UTC in JSON, TIMESTAMP columns in Parquet.
//!
//! `run_type` `llm` (and `embedding`) runs are the model calls: `prompt_tokens` is the input,
//! `completion_tokens` the output, split by `prompt_token_details` (`cache_read`,
//! `cache_creation`/`cache_write`, `audio`) and `completion_token_details` (`reasoning`,
//! `audio`); `total_cost` (else `prompt_cost + completion_cost`) is the cost LangSmith estimated,
//! in USD. Chain, tool, retriever, prompt and parser runs are rows without usage: LangSmith
//! rolls its children's tokens up into them, so counting them would count a call twice. An
//! `llm` run with an `error` keeps its usage with `Status::Error`: a failed attempt the provider
//! billed is the `retries` evidence.
//!
//! Dify's LangSmith integration: a message's `chain` run has the message id as its id, its
//! `llm` child points to it with `parent_run_id`; a workflow node's `llm` run has the node
//! execution id as its id. Both put the model in `extra.metadata` (`ls_model_name`,
//! `ls_provider` = Dify's plugin id, which routes the call to its bill). The record's id is the
//! run id and its trace id the message id (`extra.metadata.message_id`, else the parent run,
//! else `trace_id`). Runs named `generate_conversation_name` / `suggested_question` are the
//! app's housekeeping calls (`auxiliary_calls`); Dify sends them as tool runs without usage,
//! which are counted as such.

use super::json_scan::{ScanError, Scanner};
use super::util::{self, json_count, json_decimal, parse_utc};
use super::{Format, Head, InputError, InputFile, RecordSink, Row, parquet_file};
use crate::record::{Money, Operation, Status, Usage, UsageClass, UsageRecord};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::io::BufRead;

/// The run names of Dify's housekeeping trace tasks (`TraceTaskName`), current and older.
const DIFY_AUXILIARY_TASKS: [&str; 4] = [
    "generate_conversation_name",
    "suggested_question",
    "generate_name_trace",
    "suggested_question_trace",
];

/// A `/runs/query` page (its first key `runs`) or JSONL of run objects.
pub fn sniff(head: &Head) -> Option<Format> {
    let text = head.text.trim_start();
    if !text.starts_with(['{', '[']) || !text.contains("\"run_type\"") {
        return None;
    }
    let after = text[1..].trim_start();
    if text.starts_with('[') || after.starts_with("\"runs\"") {
        return Some(Format::LangsmithRunsJson);
    }
    let first_line = text.lines().next().unwrap_or("");
    (first_line.contains("\"run_type\"") && first_line.contains("\"start_time\""))
        .then_some(Format::LangsmithRunsJsonl)
}

pub fn read(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    match format {
        Format::LangsmithRunsJsonl => read_jsonl(file, reader, sink),
        Format::LangsmithRunsJson => read_json(file, reader, sink),
        Format::LangsmithRunsParquet => read_parquet(file, sink),
        other => Err(InputError::new(
            file,
            None,
            format!("{other} is not a LangSmith format"),
        )),
    }
}

fn emit(
    row: &Map<String, Value>,
    file: &InputFile,
    line: u64,
    sink: &mut dyn RecordSink,
    prefix: &str,
) {
    Row::emit(run(row, file, line), line, prefix, sink);
}

fn read_jsonl(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    util::each_jsonl_object(file, reader, sink, "one run per line", |row, line, sink| {
        emit(row, file, line, sink, "")
    })
}

/// A page, or an array of pages or of runs; runs are parsed one at a time.
fn read_json(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut sc = Scanner::new(reader);
    let scan_err = |e: ScanError| match e {
        ScanError::Io(e) => InputError::new(file, None, format!("cannot read: {e}")),
        ScanError::Syntax { line, msg } => InputError::new(file, Some(line), msg),
    };
    const SHAPE: &str = "expected LangSmith runs: a /runs/query page {\"runs\": [...], \"cursors\": {...}}, or a JSON array of pages or runs";
    let mut pages_without_runs = 0usize;
    let mut on_run = |line: u64, index: usize, raw: &[u8]| {
        let prefix = format!("run {index}: ");
        match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(row)) => emit(&row, file, line, sink, &prefix),
            Ok(_) => sink.reject(line, format!("{prefix}expected a JSON object (one run)")),
            Err(e) => sink.reject(line, format!("{prefix}invalid JSON: {e}")),
        }
    };
    match sc.skip_ws().map_err(scan_err)? {
        Some(b'{') => {
            if !sc.page("runs", &mut on_run).map_err(scan_err)? {
                return Err(InputError::new(file, Some(1), SHAPE));
            }
        }
        Some(b'[') => {
            // Elements are runs, or pages (objects with `runs`).
            let mut on_element = |line: u64, index: usize, raw: &[u8]| match serde_json::from_slice::<
                Value,
            >(raw)
            {
                Ok(Value::Object(obj)) if obj.contains_key("runs") => match obj.get("runs") {
                    Some(Value::Array(runs)) => {
                        for (i, r) in runs.iter().enumerate() {
                            let prefix = format!("page {index}, run {}: ", i + 1);
                            match r {
                                Value::Object(row) => emit(row, file, line, sink, &prefix),
                                _ => sink.reject(
                                    line,
                                    format!("{prefix}expected a JSON object (one run)"),
                                ),
                            }
                        }
                    }
                    _ => pages_without_runs += 1,
                },
                Ok(Value::Object(row)) => emit(&row, file, line, sink, &format!("run {index}: ")),
                Ok(_) => sink.reject(
                    line,
                    format!("element {index}: expected a run or a page of runs"),
                ),
                Err(e) => sink.reject(line, format!("element {index}: invalid JSON: {e}")),
            };
            sc.array(&mut on_element).map_err(scan_err)?;
        }
        _ => return Err(InputError::new(file, Some(sc.line), SHAPE)),
    }
    if pages_without_runs > 0 {
        return Err(InputError::new(
            file,
            None,
            format!("{pages_without_runs} page(s) whose `runs` is not an array; {SHAPE}"),
        ));
    }
    if sc.skip_ws().map_err(scan_err)?.is_some() {
        return Err(InputError::new(
            file,
            Some(sc.line),
            "unexpected content after the JSON document",
        ));
    }
    Ok(())
}

/// The run fields `run` reads; the bulk export's other columns (`inputs`, `outputs`, `events`,
/// `tags`, …) are not opened.
const PARQUET_COLUMNS: [&str; 17] = [
    "id",
    "name",
    "run_type",
    "start_time",
    "status",
    "error",
    "extra",
    "parent_run_id",
    "trace_id",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_token_details",
    "completion_token_details",
    "total_cost",
    "prompt_cost",
    "completion_cost",
];

/// Columns whose Parquet value is JSON: text holding JSON, or a struct/map column, which
/// `parquet_file` hands over as JSON text too.
const PARQUET_JSON_COLUMNS: [&str; 3] =
    ["extra", "prompt_token_details", "completion_token_details"];

/// Without these a row is no run; a bulk export limited by `export_fields` may leave out the rest.
const PARQUET_REQUIRED: [&str; 3] = ["id", "run_type", "start_time"];

/// A bulk export file: the run fields as columns (`id`, `run_type` and `start_time` at least).
pub fn sniff_parquet(columns: &[String]) -> Option<Format> {
    PARQUET_REQUIRED
        .iter()
        .all(|req| columns.iter().any(|c| c == req))
        .then_some(Format::LangsmithRunsParquet)
}

/// The bulk export's Parquet: each row's values as the text `parquet_file` gives (timestamps as
/// RFC 3339 UTC, decimals exact, NULL empty), JSON columns parsed, then the same `run` as JSON.
fn read_parquet(file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), InputError> {
    let table = parquet_file::open(file, &|name| PARQUET_COLUMNS.contains(&name))?;
    table.require(file, &PARQUET_REQUIRED, "a LangSmith bulk export of runs")?;
    let names = table.columns().to_vec();
    table.for_each_row(file, &mut |n, values| {
        let prefix = format!("row {n}: ");
        let row = values.and_then(|values| parquet_row(&names, values));
        match row {
            Ok(row) => emit(&row, file, n, sink, &prefix),
            Err(why) => sink.reject(n, format!("{prefix}{why}")),
        }
    })
}

fn parquet_row(names: &[String], values: &[String]) -> Result<Map<String, Value>, String> {
    let mut row = Map::new();
    for (name, text) in names.iter().zip(values) {
        // NULL arrives as the empty text: the field is absent, as `null` is in JSON.
        if text.is_empty() {
            continue;
        }
        let value = if PARQUET_JSON_COLUMNS.contains(&name.as_str()) {
            serde_json::from_str(text).map_err(|e| {
                format!(
                    "{name}: expected JSON, got {} ({e})",
                    util::shown(&Value::String(text.clone()))
                )
            })?
        } else {
            Value::String(text.clone())
        };
        row.insert(name.clone(), value);
    }
    Ok(row)
}

fn get_str(row: &Map<String, Value>, key: &str) -> Option<String> {
    match row.get(key)? {
        Value::String(s) if !util::is_null(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

const CHAIN: &str =
    "chain/tool/retriever/prompt/parser run: its tokens are its children's, not counted";
const AUXILIARY_WITHOUT_USAGE: &str = "Dify housekeeping run (conversation naming / suggested questions) without usage: Dify's LangSmith integration sends none";

/// A count field: absent or null is 0; anything else must be a whole non-negative number.
fn count(row: &Map<String, Value>, key: &str) -> Result<i64, String> {
    match row.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => json_count(v).ok_or_else(|| {
            format!(
                "{key}: expected a whole number of tokens, got '{}'",
                util::shown(v)
            )
        }),
    }
}

/// `prompt_token_details` / `completion_token_details`: a map of counts, or absent.
fn details(row: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, String> {
    match row.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(v) => Err(format!(
            "{key}: expected an object of counts, got '{}'",
            util::shown(v)
        )),
    }
}

fn detail(m: &Map<String, Value>, keys: &[&str], what: &str) -> Result<i64, String> {
    let mut n = 0i64;
    for k in keys {
        if let Some(v) = m.get(*k).filter(|v| !v.is_null()) {
            let c = json_count(v).ok_or_else(|| {
                format!(
                    "{what}.{k}: expected a whole number, got '{}'",
                    util::shown(v)
                )
            })?;
            n = n
                .checked_add(c)
                .ok_or_else(|| format!("{what}: count too large"))?;
        }
    }
    Ok(n)
}

/// Disjoint usage from a run's counts: cache reads and writes, audio and reasoning are parts of
/// `prompt_tokens` / `completion_tokens` and are moved out of the plain classes.
fn usage(row: &Map<String, Value>) -> Result<Usage, String> {
    let prompt = count(row, "prompt_tokens")?;
    let completion = count(row, "completion_tokens")?;
    let pd = details(row, "prompt_token_details")?;
    let cd = details(row, "completion_token_details")?;
    let cache_read = detail(&pd, &["cache_read"], "prompt_token_details")?;
    let cache_write = detail(
        &pd,
        &["cache_creation", "cache_write"],
        "prompt_token_details",
    )?;
    let audio_in = detail(&pd, &["audio"], "prompt_token_details")?;
    let reasoning = detail(&cd, &["reasoning"], "completion_token_details")?;
    let audio_out = detail(&cd, &["audio"], "completion_token_details")?;
    let too_large = || {
        format!(
            "token details larger than their totals: prompt_tokens {prompt}, completion_tokens {completion}"
        )
    };
    let input = [cache_read, cache_write, audio_in]
        .iter()
        .try_fold(prompt, |left, &part| {
            left.checked_sub(part).filter(|n| *n >= 0)
        })
        .ok_or_else(too_large)?;
    let output = [reasoning, audio_out]
        .iter()
        .try_fold(completion, |left, &part| {
            left.checked_sub(part).filter(|n| *n >= 0)
        })
        .ok_or_else(too_large)?;
    let mut u = Usage::ZERO;
    u[UsageClass::Input] = input;
    u[UsageClass::InputCacheRead] = cache_read;
    u[UsageClass::InputCacheWrite5m] = cache_write;
    u[UsageClass::InputAudio] = audio_in;
    u[UsageClass::Output] = output;
    u[UsageClass::OutputReasoning] = reasoning;
    u[UsageClass::OutputAudio] = audio_out;
    Ok(u)
}

fn cost(row: &Map<String, Value>) -> Result<Option<Decimal>, String> {
    let field = |k: &str| -> Result<Option<Decimal>, String> {
        match row.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => json_decimal(v)
                .map(Some)
                .ok_or_else(|| format!("{k}: expected a USD amount, got '{}'", util::shown(v))),
        }
    };
    if let Some(t) = field("total_cost")? {
        return Ok(Some(t));
    }
    match (field("prompt_cost")?, field("completion_cost")?) {
        (None, None) => Ok(None),
        (p, c) => p
            .unwrap_or_default()
            .checked_add(c.unwrap_or_default())
            .map(Some)
            .ok_or_else(|| "prompt_cost + completion_cost: amount too large".to_string()),
    }
}

fn run(row: &Map<String, Value>, file: &InputFile, line: u64) -> Result<Row, String> {
    let id = get_str(row, "id").ok_or("id: expected a run id, got nothing")?;
    let run_type = get_str(row, "run_type")
        .ok_or("run_type: expected llm, chain, tool, retriever, embedding, prompt or parser, got nothing")?
        .to_ascii_lowercase();
    let name = get_str(row, "name").unwrap_or_default();
    let auxiliary = DIFY_AUXILIARY_TASKS.contains(&name.as_str());
    let operation = match run_type.as_str() {
        "llm" => Operation::Chat,
        "embedding" => Operation::Embedding,
        "chain" | "tool" | "retriever" | "prompt" | "parser" => {
            // Dify's housekeeping runs are leaves: with usage they are the call itself.
            if auxiliary && count(row, "total_tokens")?.max(count(row, "prompt_tokens")?) > 0 {
                Operation::Chat
            } else if auxiliary {
                return Ok(Row::NoUsage(AUXILIARY_WITHOUT_USAGE));
            } else {
                return Ok(Row::NoUsage(CHAIN));
            }
        }
        other => {
            return Err(format!(
                "run_type: expected llm, chain, tool, retriever, embedding, prompt or parser, got '{other}'"
            ));
        }
    };
    let start_raw = get_str(row, "start_time")
        .ok_or("start_time: expected a time like 2026-10-01T09:15:00.123000, got nothing")?;
    let start = parse_utc(&start_raw).ok_or_else(|| {
        format!("start_time: expected a time like 2026-10-01T09:15:00.123000, got '{start_raw}'")
    })?;
    let metadata = row
        .get("extra")
        .and_then(Value::as_object)
        .and_then(|e| e.get("metadata"))
        .and_then(Value::as_object);
    let meta = |k: &str| {
        metadata
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let invocation = row
        .get("extra")
        .and_then(Value::as_object)
        .and_then(|e| e.get("invocation_params"))
        .and_then(Value::as_object);
    let model = meta("ls_model_name")
        .map(str::to_string)
        .or_else(|| {
            invocation.and_then(|p| {
                ["model", "model_name"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_str).map(str::to_string))
            })
        })
        .unwrap_or_default();
    let provider = meta("ls_provider").or_else(|| meta("model_provider"));

    let mut rec = UsageRecord::call(id, file.origin(line), start);
    rec.operation = operation;
    rec.set_model(provider, &model);
    rec.usage = usage(row)?;
    rec.reported_cost = cost(row)?.map(Money::usd);
    let parent = get_str(row, "parent_run_id");
    rec.link.trace_id = meta("message_id")
        .map(str::to_string)
        .or_else(|| parent.clone())
        .or_else(|| get_str(row, "trace_id"));
    rec.scope.workflow = meta("workflow_run_id").map(str::to_string).or(parent);
    rec.scope.node = meta("node_execution_id").map(str::to_string);
    let failed = get_str(row, "error").is_some()
        || get_str(row, "status").is_some_and(|s| s.eq_ignore_ascii_case("error"));
    if failed {
        rec.link.status = Status::Error;
    }
    rec.link.auxiliary = auxiliary;
    Ok(Row::Record(Box::new(rec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::testutil::temp;
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use rust_decimal_macros::dec;

    fn read_fixture(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("langsmith/{name}"))
    }

    const M1: &str = "c4e2b9a0-7d1f-4c3e-9a52-1b0e6f3d2a05";

    #[test]
    fn a_runs_query_page() {
        let (format, s) = read_fixture("runs_query_page.json");
        assert_eq!(format, Format::LangsmithRunsJson);
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        // 3 llm runs (two answers, one failed attempt); the two message chain runs and the
        // suggested-question tool run are rows without usage.
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.no_usage.len(), 3);
        assert_eq!(s.no_usage.iter().filter(|(_, r)| *r == CHAIN).count(), 2);
        assert!(
            s.no_usage
                .iter()
                .any(|(_, r)| *r == AUXILIARY_WITHOUT_USAGE)
        );
        let answer = s
            .records
            .iter()
            .find(|r| r.link.trace_id.as_deref() == Some(M1) && r.link.status == Status::Ok)
            .unwrap();
        assert_eq!(answer.usage, Usage::of(&[(Input, 2_000), (Output, 500)]));
        assert_eq!(answer.model, "gpt-4o-mini");
        assert_eq!(answer.serving, "openai");
        // 2000 × $0.15/1M + 500 × $0.60/1M = 0.0003 + 0.0003.
        assert_eq!(answer.reported_cost, Some(Money::usd(dec!(0.0006))));
        assert_eq!(answer.start.to_rfc3339(), "2026-10-01T09:15:00.412+00:00");
        let failed = s
            .records
            .iter()
            .find(|r| r.link.status == Status::Error)
            .unwrap();
        assert_eq!(failed.usage, Usage::of(&[(Input, 1_000)]));
        assert_eq!(failed.link.trace_id.as_deref(), Some(M1));
    }

    #[test]
    fn jsonl_reads_the_same_runs() {
        let (format, s) = read_fixture("runs_export.jsonl");
        assert_eq!(format, Format::LangsmithRunsJsonl);
        let (_, page) = read_fixture("runs_query_page.json");
        let key = |s: &CollectSink| {
            let mut v: Vec<_> = s
                .records
                .iter()
                .map(|r| (r.id.clone(), r.usage, r.reported_cost, r.link.status))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        assert_eq!(key(&s), key(&page));
        assert_eq!(s.no_usage.len(), page.no_usage.len());
    }

    #[test]
    fn the_bulk_export_parquet_is_the_jsonl_export() {
        let (format, pq) = read_fixture("runs_export.parquet");
        assert_eq!(format, Format::LangsmithRunsParquet);
        assert!(pq.rejected.is_empty(), "{:?}", pq.rejected);
        let (_, jsonl) = read_fixture("runs_export.jsonl");
        // Every field a record carries, and its row: row N of the Parquet is line N of the JSONL
        // (both oldest first).
        let key = |s: &CollectSink| -> Vec<_> {
            s.records
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.origin.line,
                        r.start,
                        r.operation,
                        r.model.clone(),
                        r.serving,
                        r.usage,
                        r.reported_cost,
                        r.link.clone(),
                        r.scope.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(key(&pq), key(&jsonl));
        assert_eq!(pq.no_usage, jsonl.no_usage);
        // By hand: the failed attempt is row 2, 1000 prompt tokens, $0.00015 from a
        // DECIMAL(18,12) of 150,000,000; 09:15:00.05 UTC from a TIMESTAMP in µs.
        let failed = &pq.records[0];
        assert_eq!(failed.origin.line, 2);
        assert_eq!(failed.link.status, Status::Error);
        assert_eq!(failed.usage, Usage::of(&[(Input, 1_000)]));
        assert_eq!(failed.reported_cost, Some(Money::usd(dec!(0.00015))));
        assert_eq!(failed.start.to_rfc3339(), "2026-10-01T09:15:00.050+00:00");
        assert_eq!(failed.link.trace_id.as_deref(), Some(M1));
    }

    #[test]
    fn a_bad_extra_in_parquet_is_a_rejected_row() {
        let names: Vec<String> = ["id", "run_type", "start_time", "extra"]
            .map(String::from)
            .to_vec();
        let values: Vec<String> = ["r1", "llm", "2026-10-01T09:15:00Z", "{not json"]
            .map(String::from)
            .to_vec();
        let e = parquet_row(&names, &values).unwrap_err();
        assert!(e.starts_with("extra: expected JSON"), "{e}");
        // NULL (empty text) is an absent field.
        let values: Vec<String> = ["r1", "llm", "2026-10-01T09:15:00Z", ""]
            .map(String::from)
            .to_vec();
        assert!(!parquet_row(&names, &values).unwrap().contains_key("extra"));
        assert_eq!(sniff_parquet(&names), Some(Format::LangsmithRunsParquet));
        assert_eq!(sniff_parquet(&names[1..]), None);
    }

    #[test]
    fn token_details_are_moved_out_of_the_plain_classes() {
        let text = r#"{"runs": [{"id": "r1", "name": "ChatAnthropic", "run_type": "llm", "start_time": "2026-10-01T08:00:00.000000", "trace_id": "t1", "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500, "prompt_token_details": {"cache_read": 800, "cache_creation": 100}, "completion_token_details": {"reasoning": 120}, "prompt_cost": "0.001", "completion_cost": 0.002, "extra": {"invocation_params": {"model": "claude-sonnet-4-5-20250929"}}}], "cursors": {"next": null}}"#;
        let (_d, p) = temp("page.json", text);
        let (_, s) = read_all(&p).unwrap();
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        let r = &s.records[0];
        // 1200 − 800 − 100 = 300 plain input; 300 − 120 = 180 visible output.
        assert_eq!(
            r.usage,
            Usage::of(&[
                (Input, 300),
                (InputCacheRead, 800),
                (InputCacheWrite5m, 100),
                (Output, 180),
                (OutputReasoning, 120)
            ])
        );
        assert_eq!(r.model, "claude-sonnet-4-5");
        // No total_cost: 0.001 + 0.002.
        assert_eq!(r.reported_cost, Some(Money::usd(dec!(0.003))));
        assert_eq!(r.link.trace_id.as_deref(), Some("t1"));
    }

    #[test]
    fn a_housekeeping_run_with_usage_is_an_auxiliary_call() {
        let text = "{\"id\": \"n1\", \"name\": \"generate_conversation_name\", \"run_type\": \"llm\", \"start_time\": \"2026-10-01T08:00:01\", \"trace_id\": \"n1\", \"prompt_tokens\": 90, \"completion_tokens\": 12, \"extra\": {\"metadata\": {\"ls_model_name\": \"gpt-4o-mini\"}}}\n\
            {\"id\": \"n2\", \"name\": \"suggested_question\", \"run_type\": \"tool\", \"start_time\": \"2026-10-01T08:00:02\", \"trace_id\": \"m\", \"prompt_tokens\": 80, \"completion_tokens\": 20}\n";
        let (_d, p) = temp("runs.jsonl", text);
        let (format, s) = read_all(&p).unwrap();
        assert_eq!(format, Format::LangsmithRunsJsonl);
        assert_eq!(s.records.len(), 2, "{:?} {:?}", s.rejected, s.no_usage);
        assert!(s.records.iter().all(|r| r.link.auxiliary));
        assert_eq!(s.records[1].usage, Usage::of(&[(Input, 80), (Output, 20)]));
    }

    #[test]
    fn bad_runs_are_rejected_with_the_reason() {
        let text = "{\"id\": \"a\", \"run_type\": \"llm\", \"start_time\": \"yesterday\"}\n\
            {\"id\": \"b\", \"run_type\": \"agent\", \"start_time\": \"2026-10-01T08:00:00\"}\n\
            {\"id\": \"c\", \"run_type\": \"llm\", \"start_time\": \"2026-10-01T08:00:00\", \"prompt_tokens\": 1.5}\n\
            {\"id\": \"d\", \"run_type\": \"llm\", \"start_time\": \"2026-10-01T08:00:00\", \"prompt_tokens\": 10, \"prompt_token_details\": {\"cache_read\": 20}}\n\
            not json\n";
        let (_d, p) = temp("runs.jsonl", text);
        let file = InputFile::new(0, &p);
        let mut s = CollectSink::default();
        crate::source::read(Format::LangsmithRunsJsonl, &file, &mut s).unwrap();
        let r: Vec<(u64, &str)> = s.rejected.iter().map(|(l, r)| (*l, r.as_str())).collect();
        assert_eq!(r.len(), 5, "{r:?}");
        assert!(r[0].1.contains("'yesterday'"), "{}", r[0].1);
        assert!(r[1].1.contains("'agent'"), "{}", r[1].1);
        assert!(r[2].1.contains("prompt_tokens"), "{}", r[2].1);
        assert!(r[3].1.contains("larger than their totals"), "{}", r[3].1);
        assert_eq!(r[4].0, 5);
        // A page without `runs` is not a LangSmith page.
        let (_d2, p2) = temp("page.json", "{\"cursors\": {}, \"run_type\": 1}");
        let mut s2 = CollectSink::default();
        let e = crate::source::read(Format::LangsmithRunsJson, &InputFile::new(0, &p2), &mut s2)
            .unwrap_err();
        assert!(e.message.contains("/runs/query page"), "{e}");
    }

    #[test]
    fn every_row_is_accounted_for_and_nothing_else_sniffs_as_langsmith() {
        let (_, s) = read_fixture("runs_export.jsonl");
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/langsmith/runs_export.jsonl"),
        )
        .unwrap();
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        assert_eq!(s.records.len() + s.no_usage.len() + s.rejected.len(), lines);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("langsmith") {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let path = f.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                if let Ok(head) = crate::source::read_head(&InputFile::new(0, &path)) {
                    assert_eq!(sniff(&head), None, "{}", path.display());
                    if let Some(columns) = parquet_file::columns(&head) {
                        assert_eq!(sniff_parquet(&columns), None, "{}", path.display());
                    }
                }
            }
        }
    }
}
