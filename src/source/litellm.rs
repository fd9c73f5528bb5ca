//! LiteLLM proxy spend logs: the gateway between the app and the providers.
//!
//! One row per request the proxy handled (`LiteLLM_SpendLogs`, LiteLLM's `schema.prisma`):
//! `request_id`, `call_type`, `api_key` (the hashed virtual key of the client), `spend` (USD, the
//! proxy's own price), `prompt_tokens`, `completion_tokens`, `startTime` (Prisma `DateTime`,
//! stored as UTC without an offset), `model`, `custom_llm_provider` (who served it), `cache_hit`
//! (`True` when the proxy answered from its own cache and no provider was called), `status`
//! (`success` / `failure`), `team_id`, `end_user`, and `metadata` (JSON: `usage_object` with the
//! provider's usage in OpenAI form, the key's alias and team).
//!
//! Read as a CSV (`\copy (select * from "LiteLLM_SpendLogs" …) to … csv header`, JSON columns as
//! text) or as JSON: the `/spend/logs` answer (an array of rows), a `/spend/logs/v2` page
//! (`{"data": [...], "total": …, "page": …, "page_size": …, "total_pages": …}`), or JSONL of rows.
//!
//! Usage classes are made disjoint here. LiteLLM reports usage in OpenAI's form:
//! `prompt_tokens` includes cache reads (`prompt_tokens_details.cached_tokens`, also
//! `cache_read_input_tokens`) and, since LiteLLM counts Anthropic's cache writes into the prompt,
//! `cache_creation_input_tokens`; `completion_tokens` includes
//! `completion_tokens_details.reasoning_tokens`. Older LiteLLM versions left cache writes out of
//! `prompt_tokens`: where the prompt is smaller than its reads and writes together, the writes are
//! read as outside it, and the report says so.

use super::json_scan::{ScanError, Scanner};
use super::util::{self, json_count, json_decimal, json_object, parse_utc};
use super::{Format, Head, InputError, InputFile, RecordSink, Row};
use crate::record::{Money, Operation, Status, Usage, UsageClass, UsageRecord};
use serde_json::{Map, Value};
use std::io::{self, BufRead, Read};

/// Columns without which a row cannot be read.
const REQUIRED: [&str; 7] = [
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
];

/// Every column read (the others — `messages`, `response`, `proxy_server_request` — can be large
/// and are not copied).
const READ: [&str; 16] = [
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "startTime",
    "model",
    "model_group",
    "custom_llm_provider",
    "metadata",
    "cache_hit",
    "status",
    "team_id",
    "end_user",
];

fn is_spend_log(keys: &[String]) -> bool {
    let has = |k: &str| keys.iter().any(|x| x == k);
    has("request_id") && has("call_type") && has("spend") && has("startTime")
}

pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return sniff_json(&head.text);
    }
    is_spend_log(&head.csv_columns()).then_some(Format::LitellmSpendLogsCsv)
}

/// The first row's keys: of an array's first element, a page's first `data` element, or the
/// first JSONL line.
fn sniff_json(text: &str) -> Option<Format> {
    let mut bytes = text.as_bytes();
    let mut sc = Scanner::new(&mut bytes);
    let keys = match sc.skip_ws().ok()? {
        Some(b'[') => {
            sc.bump().ok()?;
            first_object_keys(&mut sc)?
        }
        Some(b'{') => {
            let mut keys = Vec::new();
            sc.bump().ok()?;
            while matches!(sc.skip_ws(), Ok(Some(b'"'))) {
                let key = sc.key().ok()?;
                if key == "data" && matches!(sc.skip_ws(), Ok(Some(b'['))) {
                    sc.bump().ok()?;
                    return first_object_keys(&mut sc)
                        .filter(|k| is_spend_log(k))
                        .map(|_| Format::LitellmSpendLogsJson);
                }
                keys.push(key);
                if sc.value(None).is_err()
                    || !matches!(sc.skip_ws(), Ok(Some(b',')))
                    || sc.bump().is_err()
                {
                    break;
                }
            }
            keys
        }
        _ => return None,
    };
    is_spend_log(&keys).then_some(Format::LitellmSpendLogsJson)
}

fn first_object_keys(sc: &mut Scanner<'_>) -> Option<Vec<String>> {
    if sc.skip_ws().ok()? != Some(b'{') {
        return None;
    }
    sc.bump().ok()?;
    let mut keys = Vec::new();
    while matches!(sc.skip_ws(), Ok(Some(b'"'))) {
        let Ok(key) = sc.key() else { break };
        keys.push(key);
        if sc.value(None).is_err() || !matches!(sc.skip_ws(), Ok(Some(b','))) || sc.bump().is_err()
        {
            break;
        }
    }
    Some(keys)
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
        Format::LitellmSpendLogsCsv => read_csv(file, reader, sink),
        Format::LitellmSpendLogsJson => read_json(file, reader, sink),
        other => Err(InputError::new(
            file,
            None,
            format!("{other} is not a LiteLLM format"),
        )),
    }
}

const WHAT: &str = "expected LiteLLM spend logs (the LiteLLM_SpendLogs table)";

fn read_csv(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    for req in REQUIRED {
        if !headers.iter().any(|h| h.trim() == req) {
            return Err(InputError::new(
                file,
                Some(1),
                format!("missing column '{req}'; {WHAT}"),
            ));
        }
    }
    let index: Vec<(usize, &'static str)> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| READ.iter().find(|&&r| r == h.trim()).map(|&r| (i, r)))
        .collect();
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        let mut row = Map::new();
        for &(i, name) in &index {
            if let Some(v) = rec.get(i) {
                row.insert(name.to_string(), Value::String(v.to_string()));
            }
        }
        emit(&row, file, line, sink, "");
    })
}

/// An array of rows, a `/spend/logs/v2` page, or JSONL of rows; elements are streamed.
fn read_json(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let scan_err = |e: ScanError| match e {
        ScanError::Io(e) => InputError::new(file, None, format!("cannot read: {e}")),
        ScanError::Syntax { line, msg } => InputError::new(file, Some(line), msg),
    };
    let first = reader
        .fill_buf()
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if first == Some(b'[') {
        let mut sc = Scanner::new(reader);
        sc.skip_ws().map_err(scan_err)?;
        sc.array(&mut |line, index, raw| element(file, line, index, raw, sink))
            .map_err(scan_err)?;
        return trailing(&mut sc, file).map_err(scan_err)?;
    }
    // An object: a v2 page (its rows under `data`), or the first line of JSONL (a row's keys at
    // the top). The head is read once and the reader continues after it.
    let mut buf = Vec::new();
    (&mut *reader)
        .take(1 << 16)
        .read_to_end(&mut buf)
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    let is_page = {
        let mut b = buf.as_slice();
        let mut sc = Scanner::new(&mut b);
        sc.skip_ws().ok().flatten() == Some(b'{') && sc.bump().is_ok() && page_has_data(&mut sc)
    };
    let mut chained = io::Cursor::new(buf).chain(reader);
    if is_page {
        let mut sc = Scanner::new(&mut chained);
        sc.skip_ws().map_err(scan_err)?;
        let found = sc
            .page("data", &mut |line, index, raw| {
                element(file, line, index, raw, sink)
            })
            .map_err(scan_err)?;
        if !found {
            return Err(InputError::new(file, Some(1), WHAT));
        }
        return trailing(&mut sc, file).map_err(scan_err)?;
    }
    util::each_jsonl_object(
        file,
        &mut chained,
        sink,
        "one spend log row",
        |row, line, sink| emit(row, file, line, sink, ""),
    )
}

/// Whether the object the scanner is in (after `{`) has a top-level `data` key before the head
/// ends.
fn page_has_data(sc: &mut Scanner<'_>) -> bool {
    while matches!(sc.skip_ws(), Ok(Some(b'"'))) {
        let Ok(key) = sc.key() else { return false };
        if key == "data" {
            return true;
        }
        if sc.value(None).is_err() || !matches!(sc.skip_ws(), Ok(Some(b','))) || sc.bump().is_err()
        {
            return false;
        }
    }
    false
}

fn trailing(sc: &mut Scanner<'_>, file: &InputFile) -> Result<Result<(), InputError>, ScanError> {
    Ok(if sc.skip_ws()?.is_some() {
        Err(InputError::new(
            file,
            Some(sc.line),
            "unexpected content after the JSON document",
        ))
    } else {
        Ok(())
    })
}

fn element(file: &InputFile, line: u64, index: usize, raw: &[u8], sink: &mut dyn RecordSink) {
    let prefix = format!("element {index}: ");
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(row)) => emit(&row, file, line, sink, &prefix),
        Ok(_) => sink.reject(
            line,
            format!("{prefix}expected a JSON object (one spend log row)"),
        ),
        Err(e) => sink.reject(line, format!("{prefix}invalid JSON: {e}")),
    }
}

fn emit(
    row: &Map<String, Value>,
    file: &InputFile,
    line: u64,
    sink: &mut dyn RecordSink,
    prefix: &str,
) {
    let result = spend_log(row, file, line).map(|(row, notes)| {
        for n in notes {
            sink.note(line, n);
        }
        row
    });
    Row::emit(result, line, prefix, sink);
}

// ---------------------------------------------------------------------------------------------
// One row

/// What the report says of a row whose cache writes lie outside its `prompt_tokens`.
pub const WRITES_OUTSIDE_PROMPT_NOTE: &str = "cache_creation_input_tokens lie outside prompt_tokens (an older LiteLLM): counted as cache writes beside the prompt";
/// What the report says of a row whose `total_tokens` is not prompt + completion.
pub const TOTAL_MISMATCH_NOTE: &str =
    "total_tokens differs from prompt_tokens + completion_tokens: the parts are counted";
/// Naive `startTime`: LiteLLM's Prisma schema stores UTC in a column without a zone.
pub const NAIVE_TIME_NOTE: &str = "startTime has no UTC offset: read as UTC (Prisma stores DateTime in UTC in a timestamp column without a zone)";

fn get<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match row.get(key)? {
        Value::Null => None,
        Value::String(s) if util::is_null(s) => None,
        v => Some(v),
    }
}

fn get_str(row: &Map<String, Value>, key: &str) -> Option<String> {
    match get(row, key)? {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn count(row: &Map<String, Value>, key: &str) -> Result<i64, String> {
    match get(row, key) {
        None => Ok(0),
        Some(v) => json_count(v).ok_or_else(|| {
            format!(
                "{key}: expected a whole token count, got '{}'",
                util::shown(v)
            )
        }),
    }
}

/// A count inside the usage object (absent or null: 0).
fn inner(obj: Option<&Map<String, Value>>, path: &[&str]) -> Result<i64, String> {
    let mut cur = match obj {
        Some(o) => o,
        None => return Ok(0),
    };
    for (i, key) in path.iter().enumerate() {
        let Some(v) = cur.get(*key).filter(|v| !v.is_null()) else {
            return Ok(0);
        };
        if i + 1 == path.len() {
            return json_count(v).ok_or_else(|| {
                format!(
                    "metadata.usage_object.{}: expected a whole token count, got '{}'",
                    path.join("."),
                    util::shown(v)
                )
            });
        }
        match v {
            Value::Object(m) => cur = m,
            _ => return Ok(0),
        }
    }
    Ok(0)
}

fn operation(call_type: &str) -> Operation {
    // Async variants are the same calls (`acompletion`, `aembedding`, …).
    let t = call_type.trim().strip_prefix('a').filter(|rest| {
        [
            "completion",
            "embedding",
            "rerank",
            "moderation",
            "image_generation",
            "transcription",
            "speech",
            "text_completion",
            "responses",
            "anthropic_messages",
        ]
        .contains(rest)
    });
    match t.unwrap_or(call_type.trim()) {
        "completion" | "responses" | "anthropic_messages" | "generate_content" => Operation::Chat,
        "text_completion" => Operation::Completion,
        "embedding" => Operation::Embedding,
        "rerank" => Operation::Rerank,
        "moderation" => Operation::Moderation,
        "image_generation" => Operation::Image,
        "transcription" | "speech" => Operation::Audio,
        "call_mcp_tool" => Operation::ToolCall,
        _ => Operation::Other,
    }
}

type Noted = (Row, Vec<&'static str>);

fn spend_log(row: &Map<String, Value>, file: &InputFile, line: u64) -> Result<Noted, String> {
    let mut notes = Vec::new();
    let id = get_str(row, "request_id")
        .ok_or_else(|| "request_id: expected the request's id, got nothing".to_string())?;
    let raw_time = get_str(row, "startTime").ok_or_else(|| {
        "startTime: expected a time like 2026-10-01 08:00:00.123, got nothing".to_string()
    })?;
    let at = parse_utc(&raw_time).ok_or_else(|| {
        format!("startTime: expected a time like 2026-10-01 08:00:00.123, got '{raw_time}'")
    })?;
    if !util::names_offset(&raw_time) {
        notes.push(NAIVE_TIME_NOTE);
    }
    let call_type = get_str(row, "call_type").unwrap_or_default();
    let prompt = count(row, "prompt_tokens")?;
    let completion = count(row, "completion_tokens")?;
    let spend = match get(row, "spend") {
        None => None,
        Some(v) => Some(
            json_decimal(v)
                .ok_or_else(|| format!("spend: expected a USD amount, got '{}'", util::shown(v)))?,
        ),
    };
    if prompt == 0 && completion == 0 && spend.is_none_or(|s| s.is_zero()) {
        return Ok((
            Row::NoUsage(
                "spend log row without tokens or spend (a failed request, a tool call, a health check)",
            ),
            notes,
        ));
    }
    let metadata = get(row, "metadata").and_then(json_object);
    let usage_object = metadata
        .as_ref()
        .and_then(|m| {
            m.get("usage_object")
                .or_else(|| m.get("additional_usage_values"))
        })
        .and_then(json_object);
    let uo = usage_object.as_ref();
    let read_tokens = match inner(uo, &["cache_read_input_tokens"])? {
        0 => inner(uo, &["prompt_tokens_details", "cached_tokens"])?,
        n => n,
    };
    let writes = inner(uo, &["cache_creation_input_tokens"])?;
    let writes_1h = inner(
        uo,
        &[
            "prompt_tokens_details",
            "cache_creation_token_details",
            "ephemeral_1h_input_tokens",
        ],
    )?
    .min(writes);
    let audio_in = inner(uo, &["prompt_tokens_details", "audio_tokens"])?;
    let image_in = inner(uo, &["prompt_tokens_details", "image_tokens"])?;
    let reasoning = inner(uo, &["completion_tokens_details", "reasoning_tokens"])?;
    let audio_out = inner(uo, &["completion_tokens_details", "audio_tokens"])?;

    let inside = read_tokens + writes + audio_in + image_in;
    let input = if prompt >= inside {
        prompt - inside
    } else if prompt >= inside - writes {
        notes.push(WRITES_OUTSIDE_PROMPT_NOTE);
        prompt - (inside - writes)
    } else {
        return Err(format!(
            "prompt_tokens {prompt} is smaller than its cached, audio and image parts ({})",
            inside - writes
        ));
    };
    let output = completion - reasoning - audio_out;
    if output < 0 {
        return Err(format!(
            "completion_tokens {completion} is smaller than its reasoning and audio parts ({})",
            reasoning + audio_out
        ));
    }
    if let Some(total) = get(row, "total_tokens").and_then(json_count)
        && total != 0
        && total != prompt + completion
    {
        notes.push(TOTAL_MISMATCH_NOTE);
    }

    let mut rec = UsageRecord::call(id, file.origin(line), at);
    let provider = get_str(row, "custom_llm_provider");
    let model = get_str(row, "model")
        .filter(|m| !m.is_empty())
        .or_else(|| get_str(row, "model_group"))
        .unwrap_or_default();
    rec.set_model(provider.as_deref(), &model);
    rec.operation = operation(&call_type);
    rec.usage = Usage::of(&[
        (UsageClass::Input, input),
        (UsageClass::InputCacheRead, read_tokens),
        (UsageClass::InputCacheWrite5m, writes - writes_1h),
        (UsageClass::InputCacheWrite1h, writes_1h),
        (UsageClass::InputAudio, audio_in),
        (UsageClass::InputImage, image_in),
        (UsageClass::Output, output),
        (UsageClass::OutputReasoning, reasoning),
        (UsageClass::OutputAudio, audio_out),
    ]);
    rec.reported_cost = spend.map(Money::usd);
    rec.scope.api_key = get_str(row, "api_key").filter(|k| !k.is_empty());
    rec.scope.user = get_str(row, "end_user").filter(|u| !u.is_empty());
    let cache_hit = get_str(row, "cache_hit").is_some_and(|c| c.eq_ignore_ascii_case("true"));
    let failed = get_str(row, "status").is_some_and(|s| s.eq_ignore_ascii_case("failure"));
    rec.link.status = if cache_hit {
        Status::CacheHit
    } else if failed {
        Status::Error
    } else {
        Status::Ok
    };
    Ok((Row::Record(Box::new(rec)), notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::read_all;
    use rust_decimal_macros::dec;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/litellm")
            .join(name)
    }

    #[test]
    fn the_csv_copy_and_the_v2_page_read_alike() {
        let (f1, csv) = read_all(&fixture("spend_logs.csv")).unwrap();
        let (f2, page) = read_all(&fixture("spend_logs_v2_page.json")).unwrap();
        assert_eq!(f1, Format::LitellmSpendLogsCsv);
        assert_eq!(f2, Format::LitellmSpendLogsJson);
        assert!(csv.rejected.is_empty(), "{:?}", csv.rejected);
        assert!(page.rejected.is_empty(), "{:?}", page.rejected);
        let ids = |s: &crate::source::CollectSink| {
            s.records
                .iter()
                .map(|r| (r.id.clone(), r.usage))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&csv), ids(&page));
    }

    #[test]
    fn classes_are_disjoint_parts_of_the_openai_form() {
        let (_, s) = read_all(&fixture("spend_logs.csv")).unwrap();
        // req-claude-1: prompt_tokens 1,300 = input_tokens 100 + cache read 1,000 + cache
        // write 200 (LiteLLM adds both into the prompt); completion 80.
        let r = s.records.iter().find(|r| r.id == "req-claude-1").unwrap();
        assert_eq!(r.usage[UsageClass::Input], 100);
        assert_eq!(r.usage[UsageClass::InputCacheRead], 1_000);
        assert_eq!(r.usage[UsageClass::InputCacheWrite5m], 200);
        assert_eq!(r.usage[UsageClass::Output], 80);
        assert_eq!(r.usage.total(), 1_380);
        assert_eq!(r.serving, "anthropic");
        // req-o4-1: completion 900 of which reasoning 640; prompt 500 of which cached 128.
        let r = s.records.iter().find(|r| r.id == "req-o4-1").unwrap();
        assert_eq!(r.usage[UsageClass::Input], 372);
        assert_eq!(r.usage[UsageClass::InputCacheRead], 128);
        assert_eq!(r.usage[UsageClass::Output], 260);
        assert_eq!(r.usage[UsageClass::OutputReasoning], 640);
        assert_eq!(r.reported_cost.unwrap().amount, dec!(0.0044044));
        assert_eq!(r.serving, "openai");
    }

    #[test]
    fn cache_hits_failures_and_empty_rows() {
        let (_, s) = read_all(&fixture("spend_logs.csv")).unwrap();
        let hit = s.records.iter().find(|r| r.id == "req-cached-1").unwrap();
        assert_eq!(hit.link.status, Status::CacheHit);
        assert_eq!(hit.reported_cost.unwrap().amount, dec!(0));
        // The failed request without tokens is understood and not counted.
        assert_eq!(s.no_usage.len(), 1);
        assert!(s.records.iter().all(|r| r.id != "req-failed-1"));
    }

    #[test]
    fn sniffs_neither_other_formats_nor_is_sniffed_by_them() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() || dir.ends_with("litellm") {
                continue;
            }
            for f in std::fs::read_dir(&dir).unwrap() {
                let p = f.unwrap().path();
                if !p.is_file() {
                    continue;
                }
                let Ok(head) = crate::source::read_head(&InputFile::new(0, &p)) else {
                    continue;
                };
                assert_eq!(sniff(&head), None, "{}", p.display());
            }
        }
    }

    #[test]
    fn bad_rows_are_rejected_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(
            &p,
            concat!(
                r#"{"request_id":"a","call_type":"acompletion","api_key":"k","spend":0.1,"prompt_tokens":"x","completion_tokens":1,"startTime":"2026-10-01 00:00:00"}"#,
                "\n",
                r#"{"request_id":"b","call_type":"acompletion","api_key":"k","spend":0.1,"prompt_tokens":10,"completion_tokens":5,"startTime":"2026-10-01 00:00:00","metadata":{"usage_object":{"completion_tokens_details":{"reasoning_tokens":9}}}}"#,
                "\n"
            ),
        )
        .unwrap();
        let (f, s) = read_all(&p).unwrap();
        assert_eq!(f, Format::LitellmSpendLogsJson);
        assert_eq!(s.rejected.len(), 2, "{:?}", s.rejected);
        assert!(s.rejected[0].1.contains("prompt_tokens"));
        assert!(s.rejected[1].1.contains("reasoning"));
    }
}
