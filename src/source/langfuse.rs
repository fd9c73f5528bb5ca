//! Langfuse observations, the trace view.
//!
//! Three exports carry the same observation rows:
//! - the UI batch export (CSV, JSON array, JSONL), camelCase keys (`traceId`, `startTime`,
//!   `usageDetails`, …), ISO 8601 UTC times; in CSV every object column is a JSON string;
//! - public API pages `{"data": [...], "meta": {...}}`: v1 `/api/public/observations` (`model`,
//!   `calculatedTotalCost`, deprecated `promptTokens`/`usage{…}`) and v2
//!   `/api/public/v2/observations` (`providedModelName`, costs and prices possibly strings);
//! - the blob-storage export (CSV, JSONL), snake_case keys (`trace_id`, `start_time`,
//!   `usage_details`, …), times `YYYY-MM-DD HH:MM:SS.fff[fff]` in UTC, numbers often strings
//!   (ClickHouse quotes 64-bit integers in JSON).
//!
//! GENERATION and EMBEDDING observations become one call record each; every other type is
//! counted as a row without usage. `level=ERROR` rows are kept with `Status::Error`: each failed
//! attempt is its own observation in Langfuse, and its usage is what the provider billed.
//! A GENERATION's `input` and `output` are kept as the call's text for recounting (a JSON value
//! as its JSON text, a string as is; CSV cells as written).

use super::json_scan::{ScanError, Scanner};
use super::util::{self, json_count, json_decimal, json_object, parse_utc};
use super::{Format, Head, InputError, InputFile, RecordSink, Row, parquet_file};
use crate::catalog;
use crate::record::{CallText, Money, Operation, Status, Usage, UsageClass, UsageRecord};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::io::BufRead;

/// Names Dify's Langfuse integration gives the traces and generations of its housekeeping
/// calls (conversation naming, suggested questions): current `TraceTaskName` values and the
/// older `*_trace` spellings.
const DIFY_AUXILIARY_TASKS: [&str; 4] = [
    "generate_conversation_name",
    "suggested_question",
    "generate_name_trace",
    "suggested_question_trace",
];

/// Key names of one export family.
struct Keys {
    id: &'static str,
    trace_id: &'static str,
    typ: &'static str,
    start_time: &'static str,
    level: &'static str,
    parent: &'static str,
    user: &'static str,
    /// The Langfuse project and (UI export only) the trace's tags: for `--teams` rules.
    project: &'static str,
    tags: Option<&'static str>,
    /// Observation name and (UI export only) its trace's name: they say which Dify trace task
    /// produced the call.
    name: &'static str,
    trace_name: Option<&'static str>,
    /// The call's prompt and answer text (kept for recounting).
    input: &'static str,
    output: &'static str,
    /// First non-empty wins: the model name the caller provided.
    models: &'static [&'static str],
    /// Observation metadata (a JSON object, or its text in CSV): Dify writes the serving
    /// provider there (`model_provider` on a workflow node's generation, `ls_provider` on a
    /// message's).
    metadata: &'static str,
    usage_details: &'static str,
    cost_details: &'static str,
    /// Cost columns used only when `cost_details` says nothing.
    total_cost: &'static [&'static str],
    /// (input, output) count columns used only when `usage_details` is absent (exports made
    /// before usage details existed, API v1 `usage{input,output}`). They lump cached tokens into
    /// input, so everything lands in `Input`/`Output`.
    legacy_counts: &'static [(&'static str, &'static str)],
    /// Example of the time spelling, for reject reasons.
    time_example: &'static str,
}

/// UI export and public API (v1 and v2).
const CAMEL: Keys = Keys {
    id: "id",
    trace_id: "traceId",
    typ: "type",
    start_time: "startTime",
    level: "level",
    parent: "parentObservationId",
    user: "userId",
    project: "projectId",
    tags: Some("traceTags"),
    name: "name",
    trace_name: Some("traceName"),
    input: "input",
    output: "output",
    models: &["model", "providedModelName"],
    metadata: "metadata",
    usage_details: "usageDetails",
    cost_details: "costDetails",
    total_cost: &["totalCost", "calculatedTotalCost"],
    legacy_counts: &[
        ("promptTokens", "completionTokens"),
        ("inputUsage", "outputUsage"),
    ],
    time_example: "2026-10-01T08:00:00.123Z",
};

/// Blob-storage export.
const SNAKE: Keys = Keys {
    id: "id",
    trace_id: "trace_id",
    typ: "type",
    start_time: "start_time",
    level: "level",
    parent: "parent_observation_id",
    user: "user_id",
    project: "project_id",
    tags: None,
    name: "name",
    trace_name: None,
    input: "input",
    output: "output",
    models: &["provided_model_name", "model"],
    metadata: "metadata",
    usage_details: "usage_details",
    cost_details: "cost_details",
    total_cost: &["total_cost"],
    legacy_counts: &[],
    time_example: "2026-10-01 08:00:00.123456",
};

impl Keys {
    /// Every column the adapter reads (CSV rows keep only these).
    fn columns(&self) -> Vec<&'static str> {
        let mut c = vec![
            self.id,
            self.trace_id,
            self.typ,
            self.start_time,
            self.level,
            self.parent,
            self.user,
            self.project,
            self.name,
            self.input,
            self.output,
            self.usage_details,
            self.cost_details,
            self.metadata,
        ];
        c.extend(self.trace_name);
        c.extend(self.tags);
        c.extend(self.models);
        c.extend(self.total_cost);
        for (i, o) in self.legacy_counts {
            c.push(i);
            c.push(o);
        }
        c
    }

    fn required(&self) -> [&'static str; 4] {
        [self.id, self.trace_id, self.typ, self.start_time]
    }
}

// ---------------------------------------------------------------------------------------------
// Sniffing

pub fn sniff(head: &Head) -> Option<Format> {
    if head.starts_json() {
        return sniff_json(&head.text);
    }
    let cols = head.csv_columns();
    let has = |name: &str| cols.iter().any(|c| c == name);
    if has("id") && has("traceId") && has("startTime") && has("type") {
        Some(Format::LangfuseUiCsv)
    } else if has("id") && has("trace_id") && has("start_time") && has("type") {
        Some(Format::LangfuseBlobCsv)
    } else {
        None
    }
}

/// Observation keys; a trace export has `timestamp` instead of `startTime`, a score export has
/// no `type`.
fn is_camel_observation(keys: &[String]) -> bool {
    let has = |k: &str| keys.iter().any(|x| x == k);
    has("traceId") && has("startTime") && has("type")
}

fn is_snake_observation(keys: &[String]) -> bool {
    let has = |k: &str| keys.iter().any(|x| x == k);
    has("trace_id") && has("start_time") && has("type")
}

/// Looks at key names only, so a head cut in the middle of a large `input` still sniffs.
fn sniff_json(text: &str) -> Option<Format> {
    let mut bytes = text.as_bytes();
    let mut sc = Scanner::new(&mut bytes);
    match sc.skip_ws().ok()? {
        Some(b'[') => {
            sc.bump().ok()?;
            if sc.skip_ws().ok()? != Some(b'{') {
                return None;
            }
            let keys = object_keys(&mut sc);
            is_camel_observation(&keys).then_some(Format::LangfuseUiJson)
        }
        Some(b'{') => {
            // One pass over the first object's keys; a `data` array is looked into.
            sc.bump().ok()?;
            let mut keys = Vec::new();
            let mut data_is_observations = false;
            loop {
                if !matches!(sc.skip_ws(), Ok(Some(b'"'))) {
                    break;
                }
                let Ok(key) = sc.key() else { break };
                if key == "data" && matches!(sc.skip_ws(), Ok(Some(b'['))) {
                    if sc.bump().is_err() {
                        break;
                    }
                    if matches!(sc.skip_ws(), Ok(Some(b'{'))) {
                        data_is_observations = is_camel_observation(&object_keys(&mut sc));
                    }
                    keys.push(key);
                    // The rest of the page is not needed: `meta` may lie past the head.
                    break;
                }
                keys.push(key);
                if sc.value(None).is_err() {
                    break;
                }
                if !matches!(sc.skip_ws(), Ok(Some(b','))) || sc.bump().is_err() {
                    break;
                }
            }
            if data_is_observations {
                return Some(Format::LangfuseApiJson);
            }
            if is_camel_observation(&keys) {
                Some(Format::LangfuseUiJsonl)
            } else if is_snake_observation(&keys) {
                Some(Format::LangfuseBlobJsonl)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Keys of the object the scanner is at (`{` next), as far as the text goes.
fn object_keys(sc: &mut Scanner<'_>) -> Vec<String> {
    let mut keys = Vec::new();
    if sc.bump().is_err() {
        return keys;
    }
    while matches!(sc.skip_ws(), Ok(Some(b'"'))) {
        let Ok(key) = sc.key() else { break };
        keys.push(key);
        if sc.value(None).is_err() || !matches!(sc.skip_ws(), Ok(Some(b','))) || sc.bump().is_err()
        {
            break;
        }
    }
    keys
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
        Format::LangfuseUiCsv => read_csv(&CAMEL, file, reader, sink),
        Format::LangfuseBlobCsv => read_csv(&SNAKE, file, reader, sink),
        Format::LangfuseUiJsonl => read_jsonl(&CAMEL, file, reader, sink),
        Format::LangfuseBlobJsonl => read_jsonl(&SNAKE, file, reader, sink),
        Format::LangfuseBlobParquet => read_parquet(&SNAKE, file, sink),
        // Both JSON formats accept either shape: the first byte tells them apart.
        Format::LangfuseUiJson | Format::LangfuseApiJson => read_json(&CAMEL, file, reader, sink),
        other => Err(InputError::new(
            file,
            None,
            format!("{other} is not a Langfuse format"),
        )),
    }
}

fn emit(
    keys: &Keys,
    row: &Map<String, Value>,
    file: &InputFile,
    line: u64,
    sink: &mut dyn RecordSink,
    prefix: &str,
) {
    let result = observation(keys, row, file, line).map(|(row, notes)| {
        for n in notes {
            sink.note(line, n);
        }
        row
    });
    Row::emit(result, line, prefix, sink);
}

fn read_csv(
    keys: &Keys,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut rdr = util::csv_reader(reader);
    let headers = util::csv_headers(&mut rdr, file)?;
    for req in keys.required() {
        if !headers.iter().any(|h| h.trim() == req) {
            return Err(InputError::new(
                file,
                Some(1),
                format!("missing column '{req}'; expected a Langfuse observations export"),
            ));
        }
    }
    // Only the columns we read are copied: `input`/`output` can be large.
    let wanted = keys.columns();
    let index: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| wanted.contains(&h.trim()))
        .map(|(i, h)| (i, h.trim().to_string()))
        .collect();

    // One row map for the whole file, its values overwritten in place: a row allocates nothing
    // for the names and values it shares with the row before.
    let mut row = Map::new();
    util::each_csv_record(&mut rdr, file, sink, |rec, line, sink| {
        for (i, name) in &index {
            match rec.get(*i) {
                Some(v) => match row.get_mut(name.as_str()) {
                    Some(Value::String(s)) => {
                        s.clear();
                        s.push_str(v);
                    }
                    _ => {
                        row.insert(name.clone(), Value::String(v.to_string()));
                    }
                },
                None => {
                    row.remove(name.as_str());
                }
            }
        }
        emit(keys, &row, file, line, sink, "");
    })
}

/// The blob export as Parquet: the same snake_case columns, typed (ClickHouse's `FORMAT
/// Parquet` of the observations table): timestamps as TIMESTAMP, `usage_details` /
/// `cost_details` / `metadata` as MAP columns (or JSON text), costs as DECIMAL. Each value is
/// read as the text its CSV export would carry, so rows go through the same mapping.
fn read_parquet(
    keys: &Keys,
    file: &InputFile,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let wanted = keys.columns();
    let table = parquet_file::open(file, &|name| wanted.contains(&name))?;
    table.require(file, &keys.required(), "a Langfuse observations export")?;
    let names = table.columns().to_vec();
    table.for_each_row(file, &mut |n, values| {
        let prefix = format!("row {n}: ");
        match values {
            Ok(values) => {
                let row: Map<String, Value> = names
                    .iter()
                    .zip(values)
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                emit(keys, &row, file, n, sink, &prefix);
            }
            Err(why) => sink.reject(n, format!("{prefix}{why}")),
        }
    })
}

/// A Parquet blob export: the snake_case observation columns.
pub fn sniff_parquet(columns: &[String]) -> Option<Format> {
    is_snake_observation(columns).then_some(Format::LangfuseBlobParquet)
}

fn read_jsonl(
    keys: &Keys,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    util::each_jsonl_object(
        file,
        reader,
        sink,
        "one observation per line",
        |row, line, sink| emit(keys, row, file, line, sink, ""),
    )
}

/// A JSON array of observations (UI export) or an API page. Elements are streamed one at a time,
/// so memory stays bounded by the largest observation.
///
/// Line numbers: the real line where each element starts. The UI export writes the whole array
/// on one line, so there every element is line 1; reject reasons therefore also name the
/// element's 1-based position (`element 3: …`).
fn read_json(
    keys: &Keys,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut sc = Scanner::new(reader);
    let mut on_element = |line: u64, index: usize, raw: &[u8]| {
        let prefix = format!("element {index}: ");
        match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(row)) => emit(keys, &row, file, line, sink, &prefix),
            Ok(_) => sink.reject(
                line,
                format!("{prefix}expected a JSON object (one observation)"),
            ),
            Err(e) => sink.reject(line, format!("{prefix}invalid JSON: {e}")),
        }
    };
    let scan_err = |e: ScanError| match e {
        ScanError::Io(e) => InputError::new(file, None, format!("cannot read: {e}")),
        ScanError::Syntax { line, msg } => InputError::new(file, Some(line), msg),
    };
    const SHAPE: &str = "expected a Langfuse observations export: a JSON array of observations or an API page {\"data\": [...], \"meta\": {...}}";
    match sc.skip_ws().map_err(scan_err)? {
        Some(b'[') => sc.array(&mut on_element).map_err(scan_err)?,
        Some(b'{') => {
            if !sc.page("data", &mut on_element).map_err(scan_err)? {
                return Err(InputError::new(file, Some(1), SHAPE));
            }
        }
        _ => return Err(InputError::new(file, Some(sc.line), SHAPE)),
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

// ---------------------------------------------------------------------------------------------
// One observation

/// A field, with JSON null and the CSV/SQL spellings of NULL treated as absent.
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
        _ => None,
    }
}

/// A trace's tags: a JSON array (or its text in CSV, `["a","b"]`); a bare string is one tag.
fn tags(v: &Value) -> Vec<String> {
    let parsed;
    let v = match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(a @ Value::Array(_)) => {
                parsed = a;
                &parsed
            }
            _ => {
                return vec![s.trim().to_string()]
                    .into_iter()
                    .filter(|t| !t.is_empty())
                    .collect();
            }
        },
        other => other,
    };
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// A value quoted for a reject reason, shortened.
fn shown(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// One observation's row, and what the report must say about it.
type Noted = (Row, Vec<&'static str>);

fn observation(
    keys: &Keys,
    row: &Map<String, Value>,
    file: &InputFile,
    line: u64,
) -> Result<Noted, String> {
    let id = get_str(row, keys.id)
        .ok_or_else(|| format!("{}: expected an observation id, got nothing", keys.id))?;
    let typ = get_str(row, keys.typ).ok_or_else(|| {
        format!(
            "{}: expected an observation type like GENERATION, got nothing",
            keys.typ
        )
    })?;
    let operation = match typ.to_ascii_uppercase().as_str() {
        "GENERATION" => Operation::Chat,
        "EMBEDDING" => Operation::Embedding,
        "SPAN" => return Ok((Row::NoUsage("SPAN observation: no model usage"), vec![])),
        "EVENT" => return Ok((Row::NoUsage("EVENT observation: no model usage"), vec![])),
        "AGENT" | "TOOL" | "CHAIN" | "RETRIEVER" | "EVALUATOR" | "GUARDRAIL" => {
            // Langfuse lets these "generation-like" types carry usage too, but instrumentations
            // often roll their children's usage up into them; only GENERATION and EMBEDDING
            // are counted, and the reason says when usage was left out.
            let reason = if carries_usage(keys, row) {
                "agent/tool/chain observation carrying usage or cost: not counted (only GENERATION and EMBEDDING are)"
            } else {
                "agent/tool/chain observation: no model usage"
            };
            return Ok((Row::NoUsage(reason), vec![]));
        }
        _ => {
            return Err(format!(
                "{}: expected GENERATION, EMBEDDING, SPAN, EVENT, AGENT, TOOL, CHAIN, RETRIEVER, EVALUATOR or GUARDRAIL, got '{typ}'",
                keys.typ
            ));
        }
    };
    let start_raw = get(row, keys.start_time).ok_or_else(|| {
        format!(
            "{}: expected a timestamp like {}, got nothing",
            keys.start_time, keys.time_example
        )
    })?;
    let start = match start_raw {
        Value::String(s) => parse_utc(s),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "{}: expected a timestamp like {}, got '{}'",
            keys.start_time,
            keys.time_example,
            shown(start_raw)
        )
    })?;
    let model = keys
        .models
        .iter()
        .find_map(|k| get_str(row, k))
        .unwrap_or_default();
    let (usage, notes) = usage_noted(keys, row, operation, &model)?;
    let cost = reported_cost(keys, row)?;

    let mut rec = UsageRecord::call(id, file.origin(line), start);
    rec.operation = operation;
    let provider = get(row, keys.metadata).and_then(json_object).and_then(|m| {
        ["model_provider", "ls_provider"]
            .iter()
            .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_string))
    });
    rec.set_model(provider.as_deref(), &model);
    rec.link.trace_id = get_str(row, keys.trace_id);
    rec.scope.workflow = get_str(row, keys.parent);
    rec.scope.user = get_str(row, keys.user);
    rec.scope.workspace = get_str(row, keys.project);
    rec.scope.tags = keys
        .tags
        .and_then(|k| get(row, k))
        .map(tags)
        .unwrap_or_default();
    if get_str(row, keys.level).is_some_and(|l| l.eq_ignore_ascii_case("ERROR")) {
        rec.link.status = Status::Error;
    }
    rec.link.auxiliary = [Some(keys.name), keys.trace_name]
        .into_iter()
        .flatten()
        .filter_map(|k| get_str(row, k))
        .any(|n| DIFY_AUXILIARY_TASKS.contains(&n.as_str()));
    rec.usage = usage;
    rec.reported_cost = cost.map(Money::usd);
    if operation == Operation::Chat {
        rec.text = call_text(get(row, keys.input), get(row, keys.output));
    }
    Ok((Row::Record(Box::new(rec)), notes))
}

/// A generation's input and output as text to recount; `None` when neither is there.
fn call_text(input: Option<&Value>, output: Option<&Value>) -> Option<Box<CallText>> {
    if input.is_none() && output.is_none() {
        return None;
    }
    let text = |v: Option<&Value>| match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Some(Box::new(CallText {
        input: text(input),
        output: text(output),
    }))
}

/// True when a row has any non-zero usage count or cost (for the reason of a skipped row).
fn carries_usage(keys: &Keys, row: &Map<String, Value>) -> bool {
    let nonzero_counts = get(row, keys.usage_details)
        .and_then(json_object)
        .is_some_and(|m| m.values().any(|v| json_count(v).is_some_and(|n| n > 0)));
    let nonzero_cost = matches!(reported_cost(keys, row), Ok(Some(c)) if !c.is_zero());
    nonzero_counts || nonzero_cost
}

/// What a usage-details key counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    /// `total`: not a class, only a check of the convention.
    Total,
    /// The plain input count (`input`): net of cached tokens in Langfuse's own normalization.
    BaseInput,
    /// The plain output count (`output`): net of reasoning in Langfuse's own normalization.
    BaseOutput,
    /// A detail key, a class of its own.
    Detail(UsageClass),
    /// A detail Langfuse leaves inside the plain count of its side: OpenInference's
    /// `prompt_details.audio` (its OTel mapping nets only cache tokens out of `input`), the AI
    /// SDK's unprefixed `accepted_prediction_tokens` / `rejected_prediction_tokens` (only
    /// reasoning is netted out of `output`).
    Within(UsageClass),
    /// A count that overlaps others and is no class: LangChain's priority-tier keys
    /// (`input_priority`, `output_priority_…`) repeat tokens of the classes beside them.
    Overlap,
}

/// Classifies a usage-details key. Langfuse stores whatever keys the SDK sent, normalizing
/// OpenAI's `*_tokens_details` to `input_<detail>` / `output_<detail>`, LangChain's
/// `input_token_details` to `input_<key>` and Vertex modality lists to
/// `input_modality_<m>` / `output_modality_<m>` / `cached_modality_<m>`; its OTel ingestion
/// keeps the suffix of `gen_ai.usage.*` and OpenInference `llm.token_count.*` attributes
/// (`prompt_details.audio`, `completion_details.reasoning`, …). `None`: a key of no known
/// kind (kept as `other`).
fn classify(key: &str) -> Option<KeyKind> {
    use UsageClass::*;
    let k = key.trim().to_ascii_lowercase();
    let input_side = k.starts_with("input") || k.starts_with("prompt") || k.starts_with("cache");
    let output_side = k.starts_with("output") || k.starts_with("completion");
    Some(match k.as_str() {
        "total" | "total_tokens" => KeyKind::Total,
        "input" | "input_tokens" | "prompt_tokens" => KeyKind::BaseInput,
        "output" | "output_tokens" | "completion_tokens" => KeyKind::BaseOutput,
        "prompt_details.audio" => KeyKind::Within(InputAudio),
        "accepted_prediction_tokens" | "rejected_prediction_tokens" => KeyKind::Within(Output),
        _ if k.contains("priority") => KeyKind::Overlap,
        _ if k.contains("cache_read") || k.contains("cached") => KeyKind::Detail(InputCacheRead),
        _ if k.contains("cache_creation")
            || k.contains("cache_write")
            || k.starts_with("ephemeral_") =>
        {
            if k.contains("1h") {
                KeyKind::Detail(InputCacheWrite1h)
            } else {
                KeyKind::Detail(InputCacheWrite5m)
            }
        }
        _ if k.contains("reasoning") || k.contains("thought") => KeyKind::Detail(OutputReasoning),
        _ if k.contains("audio") && input_side => KeyKind::Detail(InputAudio),
        _ if k.contains("audio") && output_side => KeyKind::Detail(OutputAudio),
        _ if k.contains("image") && input_side => KeyKind::Detail(InputImage),
        _ if k.contains("image") && output_side => KeyKind::Detail(OutputImage),
        // Other details (`output_accepted_prediction_tokens`, `input_modality_text`, a
        // provider's `input_text_tokens`, …) are billed as plain input/output; kept, by
        // prefix, rather than dropped.
        _ if k.starts_with("input") => KeyKind::Detail(Input),
        _ if k.starts_with("output") => KeyKind::Detail(Output),
        _ => return None,
    })
}

/// Disjoint usage from a row's usage details (or, without them, from the legacy count columns).
#[cfg(test)]
fn usage(keys: &Keys, row: &Map<String, Value>, operation: Operation) -> Result<Usage, String> {
    usage_noted(keys, row, operation, "").map(|(u, _)| u)
}

/// Disjoint usage from a row's usage details (or, without them, from the legacy count
/// columns), and what the report must say about it.
///
/// Langfuse normally stores `input` net of cached tokens and `output` net of reasoning (its
/// OpenAI normalization subtracts the details; Anthropic's `input_tokens` already excludes
/// them). Some SDKs send OpenAI-style inclusive counts as they are (issue #10592), which then
/// count cached tokens twice. `total` tells the two apart:
/// - `input + output + details == total`: disjoint as stored;
/// - `input + output == total` with non-zero details: both include their details, subtract;
/// - only one side inclusive: subtract on that side.
///
/// Without `total`, or with a `total` that fits none of these, the documented normalization
/// (disjoint) is assumed. Details Langfuse leaves inside their side (`KeyKind::Within`) are
/// always taken out of it. A key of no known kind is kept in `other` (and noted), unless
/// `total` shows it is already inside the other counts. A `total` larger than everything
/// keeps the difference: reasoning for a model that thinks (Gemini through Vertex reports
/// thinking only in the total), `other` otherwise, and says so. An aggregate cache-write
/// count beside its 5m/1h split that equals the split's sum is not counted twice. A `total`
/// alone is input for an embedding (all its tokens are input) and rejected for a generation,
/// whose split cannot be known.
fn usage_noted(
    keys: &Keys,
    row: &Map<String, Value>,
    operation: Operation,
    model: &str,
) -> Result<(Usage, Vec<&'static str>), String> {
    use UsageClass::*;
    let mut notes = Vec::new();
    let Some(raw) = get(row, keys.usage_details) else {
        return Ok((legacy_usage(keys, row)?.unwrap_or(Usage::ZERO), notes));
    };
    let label = keys.usage_details;
    let details_map = json_object(raw).ok_or_else(|| {
        format!(
            "{label}: expected a JSON object of token counts, got '{}'",
            shown(raw)
        )
    })?;
    let mut base_in: i64 = 0;
    let mut base_out: i64 = 0;
    let mut total: Option<i64> = None;
    let mut details = Usage::ZERO;
    let mut within = Usage::ZERO;
    let mut other: i64 = 0;
    let mut unknown: Vec<&str> = Vec::new();
    // Cache writes by key shape, to spot an aggregate repeated beside its split.
    let (mut write_aggregate, mut write_split) = (0i64, 0i64);
    let add = |a: i64, b: i64| {
        a.checked_add(b)
            .ok_or_else(|| format!("{label}: token counts too large"))
    };
    for (k, v) in &details_map {
        if v.is_null() {
            continue;
        }
        let n = json_count(v).ok_or_else(|| {
            format!(
                "{label}.{k}: expected a non-negative whole token count, got '{}'",
                shown(v)
            )
        })?;
        match classify(k) {
            // `total` wins over `total_tokens` if a row has both.
            Some(KeyKind::Total) => {
                if total.is_none() || k == "total" {
                    total = Some(n);
                }
            }
            Some(KeyKind::BaseInput) => base_in = add(base_in, n)?,
            Some(KeyKind::BaseOutput) => base_out = add(base_out, n)?,
            Some(KeyKind::Detail(c)) => {
                details[c] = add(details[c], n)?;
                if matches!(c, InputCacheWrite5m | InputCacheWrite1h) {
                    let lk = k.to_ascii_lowercase();
                    let split = lk.contains("5m") || lk.contains("1h");
                    if split {
                        write_split = add(write_split, n)?;
                    } else {
                        write_aggregate = add(write_aggregate, n)?;
                    }
                }
            }
            Some(KeyKind::Within(c)) => within[c] = add(within[c], n)?,
            Some(KeyKind::Overlap) => {
                if n > 0 {
                    notes.push(super::azure::static_reason(
                        "usage key repeating other counts (priority tier), not counted",
                        k,
                    ));
                }
            }
            None => {
                other = add(other, n)?;
                if n > 0 {
                    unknown.push(k);
                }
            }
        }
    }
    if write_aggregate > 0 && write_split > 0 && write_aggregate == write_split {
        // `cache_creation_input_tokens` beside `…ephemeral_5m/1h…` of the same sum.
        details[InputCacheWrite5m] -= write_aggregate;
    }
    let only_total = total.is_some_and(|t| t > 0)
        && base_in == 0
        && base_out == 0
        && details.is_zero()
        && within.is_zero()
        && other == 0;
    if only_total {
        let t = total.unwrap_or(0);
        return if operation == Operation::Embedding {
            Ok((Usage::of(&[(Input, t)]), notes))
        } else {
            Err(format!(
                "{label}: only 'total' ({t}) is given; expected input and output counts"
            ))
        };
    }
    // Details inside their side come out of it (when it holds them).
    for (c, n) in within.iter() {
        let base = if c.is_input() {
            &mut base_in
        } else {
            &mut base_out
        };
        if *base >= n {
            *base -= n;
        }
        details[c] = add(details[c], n)?;
    }
    let d_in = details.input_total() - within.input_total();
    let d_out = details.output_total() - within.output_total();
    let fixed = within.total();
    let sum = |xs: &[i64]| xs.iter().try_fold(0i64, |a, &b| a.checked_add(b));
    let fits =
        |x: Option<i64>, t: i64| x == Some(t) || x.and_then(|x| x.checked_add(other)) == Some(t);
    let (net_in, net_out) = match total {
        Some(t) if fits(sum(&[base_in, base_out, d_in, d_out, fixed]), t) => (base_in, base_out),
        Some(t)
            if d_in + d_out > 0
                && fits(sum(&[base_in, base_out, fixed]), t)
                && base_in >= d_in
                && base_out >= d_out =>
        {
            (base_in - d_in, base_out - d_out)
        }
        Some(t)
            if d_in > 0 && fits(sum(&[base_in, base_out, d_out, fixed]), t) && base_in >= d_in =>
        {
            (base_in - d_in, base_out)
        }
        Some(t)
            if d_out > 0
                && fits(sum(&[base_in, d_in, base_out, fixed]), t)
                && base_out >= d_out =>
        {
            (base_in, base_out - d_out)
        }
        _ => (base_in, base_out),
    };
    let mut u = details;
    u[Input] = add(u[Input], net_in)?;
    u[Output] = add(u[Output], net_out)?;
    let known = u.total();
    match total {
        Some(t) if other > 0 && known == t => {
            notes.push(
                "unknown usage key left out: the total shows its tokens are inside the other counts",
            );
            return Ok((u, notes));
        }
        Some(t) if t > add(known, other)? => {
            let rest = t - known - other;
            if catalog::thinks(model) {
                u[OutputReasoning] = add(u[OutputReasoning], rest)?;
                notes.push("total larger than its parts: the difference kept as output_reasoning (the model thinks)");
            } else {
                u[Other] = add(u[Other], rest)?;
                notes.push("total larger than its parts: the difference kept as other");
            }
        }
        _ => {}
    }
    if other > 0 {
        u[Other] = add(u[Other], other)?;
        for k in unknown {
            notes.push(super::azure::static_reason(
                "unknown usage key kept as other",
                k,
            ));
        }
    }
    Ok((u, notes))
}

fn legacy_usage(keys: &Keys, row: &Map<String, Value>) -> Result<Option<Usage>, String> {
    let count = |k: &str| -> Result<Option<i64>, String> {
        match get(row, k) {
            None => Ok(None),
            Some(v) => json_count(v).map(Some).ok_or_else(|| {
                format!(
                    "{k}: expected a non-negative whole token count, got '{}'",
                    shown(v)
                )
            }),
        }
    };
    for (ik, ok) in keys.legacy_counts {
        let (i, o) = (count(ik)?, count(ok)?);
        if i.is_some() || o.is_some() {
            return Ok(Some(Usage::of(&[
                (UsageClass::Input, i.unwrap_or(0)),
                (UsageClass::Output, o.unwrap_or(0)),
            ])));
        }
    }
    // API v1 `usage: {unit, input, output, total}`.
    if let Some(Value::Object(u)) = get(row, "usage") {
        let c = |k: &str| u.get(k).and_then(json_count);
        if c("input").is_some() || c("output").is_some() {
            return Ok(Some(Usage::of(&[
                (UsageClass::Input, c("input").unwrap_or(0)),
                (UsageClass::Output, c("output").unwrap_or(0)),
            ])));
        }
    }
    Ok(None)
}

/// Cost in USD as Langfuse computed (or the caller provided) it: `costDetails.total`, else the
/// sum of the other cost details, else the total-cost column; `None` when nothing is said.
fn reported_cost(keys: &Keys, row: &Map<String, Value>) -> Result<Option<Decimal>, String> {
    if let Some(raw) = get(row, keys.cost_details) {
        let label = keys.cost_details;
        let m = json_object(raw).ok_or_else(|| {
            format!(
                "{label}: expected a JSON object of USD amounts, got '{}'",
                shown(raw)
            )
        })?;
        let mut total = None;
        let mut sum = Decimal::ZERO;
        let mut any = false;
        for (k, v) in &m {
            if v.is_null() {
                continue;
            }
            let d = json_decimal(v)
                .ok_or_else(|| format!("{label}.{k}: expected a USD amount, got '{}'", shown(v)))?;
            if k == "total" {
                total = Some(d);
            } else {
                sum = sum
                    .checked_add(d)
                    .ok_or_else(|| format!("{label}: amounts too large"))?;
                any = true;
            }
        }
        if total.is_some() {
            return Ok(total);
        }
        if any {
            return Ok(Some(sum));
        }
    }
    for k in keys.total_cost {
        if let Some(v) = get(row, k) {
            return json_decimal(v)
                .map(Some)
                .ok_or_else(|| format!("{k}: expected a USD amount, got '{}'", shown(v)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{CollectSink, read_all};
    use UsageClass::*;
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;
    use serde_json::json;
    use std::path::Path;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/langfuse")
            .join(name)
    }

    use crate::source::testutil::rec;

    fn load(name: &str) -> (Format, CollectSink) {
        crate::source::testutil::load(&format!("langfuse/{name}"))
    }

    /// Reads text as `format` from memory.
    /// Dify's housekeeping calls are marked by their trace task name: on the generation
    /// (`name`) or, in the UI export, on its trace (`traceName`).
    #[test]
    fn dify_housekeeping_generations_are_marked_auxiliary() {
        let text = "\
id,traceId,type,startTime,name,level,model,usageDetails,traceName
g1,t1,GENERATION,2026-10-01T08:00:00.000Z,suggested_question,DEFAULT,gpt-4o-mini,\"{\"\"input\"\":90,\"\"output\"\":20}\",suggested_question
g2,t2,GENERATION,2026-10-01T08:00:01.000Z,llm,DEFAULT,gpt-4o-mini,\"{\"\"input\"\":80,\"\"output\"\":10}\",generate_conversation_name
g3,t3,GENERATION,2026-10-01T08:00:02.000Z,llm,DEFAULT,gpt-4o-mini,\"{\"\"input\"\":70,\"\"output\"\":5}\",message
";
        let s = read_str(Format::LangfuseUiCsv, text).unwrap();
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        let aux: Vec<(&str, bool)> = s
            .records
            .iter()
            .map(|r| (r.id.as_str(), r.link.auxiliary))
            .collect();
        assert_eq!(aux, vec![("g1", true), ("g2", true), ("g3", false)]);
    }

    fn read_str(format: Format, text: &str) -> Result<CollectSink, InputError> {
        let file = InputFile::new(0, Path::new("mem"));
        let mut r: &[u8] = text.as_bytes();
        let mut sink = CollectSink::default();
        read(format, &file, &mut r, &mut sink)?;
        Ok(sink)
    }

    fn row(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn usage_of(v: Value) -> Result<Usage, String> {
        usage(&CAMEL, &row(json!({ "usageDetails": v })), Operation::Chat)
    }

    fn usd(r: &UsageRecord) -> Option<Decimal> {
        r.reported_cost.map(|m| {
            assert_eq!(m.currency, crate::record::Currency::USD);
            m.amount
        })
    }

    fn assert_accounting(
        s: &CollectSink,
        rows: usize,
        records: usize,
        no_usage: usize,
        rejected: usize,
    ) {
        assert_eq!(s.records.len(), records, "records");
        assert_eq!(s.no_usage.len(), no_usage, "no_usage");
        assert_eq!(s.rejected.len(), rejected, "rejected: {:?}", s.rejected);
        assert_eq!(records + no_usage + rejected, rows);
    }

    /// Dify writes the serving provider into a generation's metadata: `model_provider` on a
    /// workflow node's generation, `ls_provider` on a message's (its Langfuse integration); the
    /// blob export keeps the metadata as JSON text.
    #[test]
    fn serving_bill_from_the_generations_metadata() {
        let text = concat!(
            r#"{"id":"n1","traceId":"t1","type":"GENERATION","startTime":"2026-10-01T08:00:00.000Z","model":"anthropic.claude-3-7-sonnet-20250219-v1:0","metadata":{"node_type":"llm","model_provider":"langgenius/bedrock/bedrock","model_name":"anthropic.claude-3-7-sonnet-20250219-v1:0"},"usageDetails":{"input":10,"output":2}}"#,
            "\n",
            r#"{"id":"m1","traceId":"t2","type":"GENERATION","startTime":"2026-10-01T08:00:00.000Z","model":"gpt-4o","metadata":"{\"ls_provider\": \"langgenius/azure_openai/azure_openai\"}","usageDetails":{"input":10,"output":2}}"#,
            "\n",
            r#"{"id":"g1","traceId":"t3","type":"GENERATION","startTime":"2026-10-01T08:00:00.000Z","model":"gpt-4o-mini","metadata":{},"usageDetails":{"input":10,"output":2}}"#,
            "\n",
        );
        let s = read_str(Format::LangfuseUiJsonl, text).unwrap();
        let got: Vec<_> = s
            .records
            .iter()
            .map(|r| (r.id.as_str(), r.serving, r.provider.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("n1", "aws", "anthropic"),
                ("m1", "azure", "openai"),
                ("g1", "openai", "openai")
            ]
        );
    }

    // ------------------------------------------------------------------ sniffing

    #[test]
    fn every_fixture_sniffs_to_its_format() {
        let cases = [
            ("ui_export.csv", Format::LangfuseUiCsv),
            ("ui_export.json", Format::LangfuseUiJson),
            ("ui_export.jsonl", Format::LangfuseUiJsonl),
            ("api_observations.json", Format::LangfuseApiJson),
            ("api_observations_v2.json", Format::LangfuseApiJson),
            ("blob_observations.csv", Format::LangfuseBlobCsv),
            ("blob_observations.jsonl", Format::LangfuseBlobJsonl),
        ];
        for (name, want) in cases {
            let file = InputFile::new(0, &fixture(name));
            let head = super::super::read_head(&file).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(sniff(&head), Some(want), "{name}");
        }
    }

    #[test]
    fn other_systems_files_are_not_claimed() {
        let head = |t: &str| Head {
            text: t.to_string(),
        };
        // Langfuse's own traces export: no traceId/startTime.
        assert_eq!(
            sniff(&head("\"id\",\"timestamp\",\"name\",\"userId\",\"tags\"\n")),
            None
        );
        // An OpenAI usage page also has a `data` array.
        let openai = r#"{"object":"page","data":[{"object":"bucket","start_time":1727740800,"end_time":1727827200,"results":[]}],"has_more":false}"#;
        assert_eq!(sniff(&head(openai)), None);
        // A Dify messages export.
        assert_eq!(
            sniff(&head(
                "id,app_id,conversation_id,message_tokens,answer_tokens,created_at\n"
            )),
            None
        );
        // JSONL with snake_case keys but no observation type.
        assert_eq!(
            sniff(&head(r#"{"trace_id":"t","start_time":"2026-10-01"}"#)),
            None
        );
        assert_eq!(sniff(&head("[1, 2, 3]")), None);
    }

    #[test]
    fn a_head_cut_inside_a_large_input_still_sniffs() {
        // The UI export puts id/traceId/startTime before input; the 64 KiB head may end inside it.
        let big = "x".repeat(70_000);
        let text = format!(
            r#"[{{"id":"o1","traceId":"t1","type":"GENERATION","startTime":"2026-10-01T08:00:00.000Z","input":"{big}"#
        );
        let cut: String = text.chars().take(64 * 1024).collect();
        assert_eq!(sniff(&Head { text: cut }), Some(Format::LangfuseUiJson));
    }

    #[test]
    fn an_unrecognizable_file_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("notes.csv");
        std::fs::write(&p, "date,amount\n2026-10-01,3.50\n").unwrap_or_else(|e| panic!("{e}"));
        let err = read_all(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unrecognized format"), "{err}");
        assert!(err.contains("langfuse-ui-csv"), "{err}");
    }

    // ------------------------------------------------------------------ fixtures, row by row

    #[test]
    fn ui_csv_rows_map_to_exact_classes() {
        let (_, s) = load("ui_export.csv");
        // 8 data rows: 6 generations/embeddings, 1 span, 1 bad start time.
        assert_accounting(&s, 8, 6, 1, 1);

        let r = rec(&s, "obs-ui-001");
        // Langfuse-normalized OpenAI: 1200 + 800 + 150 = 2150 = total, so disjoint as stored.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1200), (InputCacheRead, 800), (Output, 150)])
        );
        assert_eq!(usd(r), Some(dec!(0.0055)));
        assert_eq!(
            r.start,
            Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap()
                + chrono::Duration::milliseconds(123)
        );
        assert_eq!(r.start, r.end);
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("openai", "gpt-4o")
        );
        assert_eq!(r.model_raw, "gpt-4o-2024-08-06");
        assert_eq!(r.link.trace_id.as_deref(), Some("tr-7f3a01"));
        assert_eq!(r.scope.workflow.as_deref(), Some("obs-ui-000"));
        assert_eq!(r.scope.user.as_deref(), Some("u-1042"));
        assert_eq!(
            (r.operation, r.link.status, r.requests),
            (Operation::Chat, Status::Ok, 1)
        );
        assert_eq!(r.origin.line, 2);

        let r = rec(&s, "obs-ui-002");
        // Anthropic: 50 + 3000 + 1000 + 400 = 4450 = total.
        assert_eq!(
            r.usage,
            Usage::of(&[
                (Input, 50),
                (InputCacheRead, 3000),
                (InputCacheWrite5m, 1000),
                (Output, 400)
            ])
        );
        assert_eq!(usd(r), Some(dec!(0.0108)));
        assert_eq!(r.provider, "anthropic");
        assert_eq!(r.scope.workflow, None);
        assert_eq!(r.origin.line, 3);

        // Row 2's output spans lines 3-4, so row 3 starts on line 5.
        let r = rec(&s, "obs-ui-003");
        assert_eq!(r.link.status, Status::Error);
        assert_eq!(r.usage, Usage::of(&[(Input, 900)]));
        assert_eq!(usd(r), Some(dec!(0.000135)));
        assert_eq!(r.origin.line, 5);

        let r = rec(&s, "obs-ui-004");
        assert_eq!(r.operation, Operation::Embedding);
        assert_eq!(r.usage, Usage::of(&[(Input, 512)]));
        assert_eq!(usd(r), Some(dec!(0.00001024)));

        let r = rec(&s, "obs-ui-006");
        // 2000 + 300 + 1200 = 3500 = total: output already net of reasoning.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 2000), (Output, 300), (OutputReasoning, 1200)])
        );
        // No `total` in costDetails: 0.0022 + 0.00132 + 0.00528 = 0.0088.
        assert_eq!(usd(r), Some(dec!(0.0088)));

        let r = rec(&s, "obs-ui-007");
        // Inclusive input (#10592): 5000 + 200 = 5200 = total, so the 4000 cached are inside
        // input: 5000 - 4000 = 1000 uncached.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1000), (InputCacheRead, 4000), (Output, 200)])
        );
        assert_eq!(usd(r), Some(dec!(0.0136)));

        assert_eq!(s.no_usage, vec![(7, "SPAN observation: no model usage")]);
        let (line, reason) = &s.rejected[0];
        assert_eq!(*line, 10);
        assert!(
            reason.contains("startTime") && reason.contains("'yesterday'"),
            "{reason}"
        );
        assert!(reason.contains("2026-10-01T08:00:00.123Z"), "{reason}");
    }

    #[test]
    fn ui_json_rows_map_to_exact_classes() {
        let (_, s) = load("ui_export.json");
        // 8 elements: 5 records, 1 EVENT, a NaN element and a non-numeric count.
        assert_accounting(&s, 8, 5, 1, 2);

        let r = rec(&s, "obs-uj-001");
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1200), (InputCacheRead, 800), (Output, 150)])
        );
        assert_eq!(r.origin.line, 1);

        let r = rec(&s, "obs-uj-002");
        // 120 + 6000 + 0 + 2000 + 350 = 8470 = total; the 1h writes keep their own class.
        assert_eq!(
            r.usage,
            Usage::of(&[
                (Input, 120),
                (InputCacheRead, 6000),
                (InputCacheWrite1h, 2000),
                (Output, 350)
            ])
        );
        assert_eq!(usd(r), Some(dec!(0.01941)));
        assert_eq!(
            r.start,
            Utc.with_ymd_and_hms(2026, 10, 2, 10, 1, 0).unwrap()
                + chrono::Duration::milliseconds(456)
        );
        assert_eq!(r.origin.line, 2);

        let r = rec(&s, "obs-uj-003");
        // Inclusive output: 1000 + 1500 = 2500 = total, reasoning 1200 inside output.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1000), (Output, 300), (OutputReasoning, 1200)])
        );
        assert_eq!(usd(r), Some(dec!(0.01298)));

        // A rate-limited attempt: kept, error, no usage and no cost (not zero cost).
        let r = rec(&s, "obs-uj-004");
        assert_eq!(r.link.status, Status::Error);
        assert!(r.usage.is_zero());
        assert_eq!(r.reported_cost, None);

        let r = rec(&s, "obs-uj-005");
        assert_eq!(
            (r.operation, r.usage),
            (Operation::Embedding, Usage::of(&[(Input, 2000)]))
        );
        assert_eq!(usd(r), Some(dec!(0.00026)));

        assert_eq!(s.no_usage, vec![(6, "EVENT observation: no model usage")]);
        assert_eq!(s.rejected[0].0, 7);
        assert!(
            s.rejected[0].1.starts_with("element 7: invalid JSON"),
            "{}",
            s.rejected[0].1
        );
        assert_eq!(s.rejected[1].0, 8);
        assert!(
            s.rejected[1].1.contains("element 8: usageDetails.input")
                && s.rejected[1].1.contains("'lots'")
        );
    }

    #[test]
    fn ui_jsonl_rows_map_to_exact_classes() {
        let (_, s) = load("ui_export.jsonl");
        // 8 lines, one blank: 4 records, TOOL + SPAN, 1 broken line.
        assert_accounting(&s, 7, 4, 2, 1);

        let r = rec(&s, "obs-ul-001");
        // 300 + 10000 + 2500 + 500 = 13300 = total.
        assert_eq!(
            r.usage,
            Usage::of(&[
                (Input, 300),
                (InputCacheRead, 10000),
                (InputCacheWrite5m, 2500),
                (Output, 500)
            ])
        );
        assert_eq!(usd(r), Some(dec!(0.00554)));
        assert_eq!(r.model, "claude-3-5-haiku");

        let r = rec(&s, "obs-ul-002");
        // 2500 + 1024 + 100 = 3624 = total.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 2500), (InputCacheRead, 1024), (Output, 100)])
        );
        assert_eq!(usd(r), Some(dec!(0.0005118)));
        assert_eq!(r.origin.line, 2);

        let r = rec(&s, "obs-ul-003");
        assert_eq!(
            (r.link.status, r.usage),
            (Status::Error, Usage::of(&[(Input, 1500)]))
        );
        assert_eq!(r.reported_cost, None);

        let r = rec(&s, "obs-ul-004");
        assert_eq!(r.usage, Usage::of(&[(Input, 64)]));
        assert_eq!(usd(r), Some(dec!(0.00000128)));
        assert_eq!(r.origin.line, 6);

        assert_eq!(s.rejected[0].0, 5);
        assert!(s.rejected[0].1.starts_with("invalid JSON"));
        assert_eq!(
            s.no_usage,
            vec![
                (7, "agent/tool/chain observation: no model usage"),
                (8, "SPAN observation: no model usage")
            ]
        );
    }

    #[test]
    fn api_v1_page_rows_map_to_exact_classes() {
        let (_, s) = load("api_observations.json");
        assert_accounting(&s, 6, 4, 1, 1);

        let r = rec(&s, "obs-api-001");
        // 400 + 1600 + 80 = 2080 = total.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 400), (InputCacheRead, 1600), (Output, 80)])
        );
        assert_eq!(usd(r), Some(dec!(0.0038)));
        // Pretty-printed page: the line where each element's `{` is.
        assert_eq!(r.origin.line, 3);

        let r = rec(&s, "obs-api-002");
        // 200 + 5000 + 0 + 600 = 5800.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 200), (InputCacheRead, 5000), (Output, 600)])
        );
        assert_eq!(usd(r), Some(dec!(0.0111)));
        assert_eq!(r.origin.line, 57);

        let r = rec(&s, "obs-api-003");
        assert_eq!(
            (r.link.status, r.usage),
            (Status::Error, Usage::of(&[(Input, 3000)]))
        );
        assert_eq!(usd(r), Some(dec!(0.0075)));

        let r = rec(&s, "obs-api-004");
        assert_eq!(
            (r.operation, r.usage),
            (Operation::Embedding, Usage::of(&[(Input, 100)]))
        );
        assert_eq!(usd(r), Some(dec!(0.000002)));
        assert_eq!(r.origin.line, 163);

        assert_eq!(s.no_usage, vec![(212, "SPAN observation: no model usage")]);
        assert_eq!(s.rejected[0].0, 256);
        assert!(
            s.rejected[0].1.contains("element 6: startTime") && s.rejected[0].1.contains("25:61")
        );
    }

    #[test]
    fn api_v2_page_reads_provided_model_and_string_numbers() {
        let (_, s) = load("api_observations_v2.json");
        assert_accounting(&s, 3, 2, 1, 0);

        let r = rec(&s, "obs-v2-001");
        assert_eq!(r.model, "gpt-4o");
        assert_eq!(r.usage, Usage::of(&[(Input, 1000), (Output, 200)]));
        assert_eq!(usd(r), Some(dec!(0.0045)));
        assert_eq!(r.scope.user.as_deref(), Some("u-7"));

        let r = rec(&s, "obs-v2-002");
        // 800 + 100 + 640 = 1540 = total.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 800), (Output, 100), (OutputReasoning, 640)])
        );
        // costDetails is empty: totalCost "0.004136" = 800 * 1.1e-6 + 740 * 4.4e-6.
        assert_eq!(usd(r), Some(dec!(0.004136)));
        assert_eq!(r.model, "o4-mini");

        // The AGENT repeats its child's usage: left out, and the reason says so.
        assert_eq!(s.no_usage.len(), 1);
        assert!(s.no_usage[0].1.contains("carrying usage or cost"));
    }

    #[test]
    fn blob_csv_rows_map_to_exact_classes() {
        let (_, s) = load("blob_observations.csv");
        assert_accounting(&s, 7, 5, 1, 1);

        let r = rec(&s, "obs-bl-001");
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1200), (InputCacheRead, 800), (Output, 150)])
        );
        assert_eq!(usd(r), Some(dec!(0.0055)));
        // Six fractional digits.
        assert_eq!(
            r.start,
            Utc.with_ymd_and_hms(2026, 10, 6, 14, 0, 0).unwrap()
                + chrono::Duration::microseconds(123_456)
        );
        assert_eq!(r.origin.line, 2);

        let r = rec(&s, "obs-bl-002");
        // Three fractional digits.
        assert_eq!(
            r.start,
            Utc.with_ymd_and_hms(2026, 10, 6, 14, 1, 0).unwrap()
                + chrono::Duration::milliseconds(250)
        );
        assert_eq!(
            r.usage,
            Usage::of(&[
                (Input, 50),
                (InputCacheRead, 3000),
                (InputCacheWrite5m, 1000),
                (Output, 400)
            ])
        );

        let r = rec(&s, "obs-bl-003");
        assert_eq!(
            (r.link.status, r.usage),
            (Status::Error, Usage::of(&[(Input, 700)]))
        );
        assert_eq!(usd(r), Some(dec!(0.000105)));

        // Only `total` given for an embedding: all of it is input.
        let r = rec(&s, "obs-bl-004");
        assert_eq!(
            (r.operation, r.usage),
            (Operation::Embedding, Usage::of(&[(Input, 256)]))
        );
        assert_eq!(usd(r), Some(dec!(0.00000512)));

        let r = rec(&s, "obs-bl-006");
        // 1000 + 200 + 800 = 2000; cost from total_cost as cost_details is empty.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1000), (Output, 200), (OutputReasoning, 800)])
        );
        assert_eq!(usd(r), Some(dec!(0.0055)));
        assert_eq!(r.scope.user, None);

        assert_eq!(s.no_usage, vec![(6, "SPAN observation: no model usage")]);
        assert_eq!(s.rejected[0].0, 8);
        assert!(
            s.rejected[0]
                .1
                .contains("usage_details: expected a JSON object"),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn blob_jsonl_rows_map_to_exact_classes() {
        let (_, s) = load("blob_observations.jsonl");
        assert_accounting(&s, 7, 5, 1, 1);

        let r = rec(&s, "obs-bj-001");
        // String counts, inclusive input: 5000 + 200 = 5200; 5000 - 4000 = 1000 uncached.
        assert_eq!(
            r.usage,
            Usage::of(&[(Input, 1000), (InputCacheRead, 4000), (Output, 200)])
        );
        assert_eq!(usd(r), Some(dec!(0.0136)));
        assert_eq!(
            r.start,
            Utc.with_ymd_and_hms(2026, 10, 7, 15, 0, 0).unwrap()
                + chrono::Duration::microseconds(1)
        );
        assert_eq!(r.model, "gpt-4.1");

        let r = rec(&s, "obs-bj-002");
        assert_eq!(r.usage.total(), 4450);
        assert_eq!(r.usage[InputCacheWrite5m], 1000);
        let r = rec(&s, "obs-bj-003");
        assert_eq!(r.link.status, Status::Error);

        assert_eq!(s.rejected[0].0, 7);
        assert!(s.rejected[0].1.contains("start_time") && s.rejected[0].1.contains("07/10/2026"));
        assert!(s.rejected[0].1.contains("2026-10-01 08:00:00.123456"));
    }

    // ------------------------------------------------------------------ conventions

    #[test]
    fn disjoint_details_are_kept_as_given() {
        // 100 + 30 + 20 + 50 + 10 = 210 = total.
        let u = usage_of(json!({"input": 100, "cache_read_input_tokens": 30,
            "cache_creation_input_tokens": 20, "output": 50, "output_reasoning": 10, "total": 210}));
        assert_eq!(
            u,
            Ok(Usage::of(&[
                (Input, 100),
                (InputCacheRead, 30),
                (InputCacheWrite5m, 20),
                (Output, 50),
                (OutputReasoning, 10)
            ]))
        );
    }

    #[test]
    fn inclusive_input_and_output_are_netted() {
        // OpenAI-style: prompt 1000 includes 600 cached + 50 audio; completion 400 includes
        // 300 reasoning; 1000 + 400 = 1400 = total.
        let u = usage_of(
            json!({"input": 1000, "input_cached_tokens": 600, "input_audio_tokens": 50,
            "output": 400, "output_reasoning_tokens": 300, "total": 1400}),
        );
        // input 1000 - 600 - 50 = 350; output 400 - 300 = 100.
        assert_eq!(
            u,
            Ok(Usage::of(&[
                (Input, 350),
                (InputCacheRead, 600),
                (InputAudio, 50),
                (Output, 100),
                (OutputReasoning, 300)
            ]))
        );
    }

    #[test]
    fn only_one_side_inclusive() {
        // Input inclusive, output net: 1000 + 100 + 300 = 1400 = total; 1000 - 600 = 400.
        let u = usage_of(
            json!({"input": 1000, "input_cached_tokens": 600, "output": 100,
            "output_reasoning_tokens": 300, "total": 1400}),
        );
        assert_eq!(
            u,
            Ok(Usage::of(&[
                (Input, 400),
                (InputCacheRead, 600),
                (Output, 100),
                (OutputReasoning, 300)
            ]))
        );
        // Output inclusive, input net: 400 + 600 + 400 = 1400 = total; 400 - 300 = 100.
        let u = usage_of(
            json!({"input": 400, "input_cached_tokens": 600, "output": 400,
            "output_reasoning_tokens": 300, "total": 1400}),
        );
        assert_eq!(
            u,
            Ok(Usage::of(&[
                (Input, 400),
                (InputCacheRead, 600),
                (Output, 100),
                (OutputReasoning, 300)
            ]))
        );
    }

    #[test]
    fn without_or_with_an_odd_total_details_are_disjoint() {
        let want = Usage::of(&[(Input, 10), (InputCacheRead, 5), (Output, 3)]);
        assert_eq!(
            usage_of(json!({"input": 10, "input_cache_read": 5, "output": 3})),
            Ok(want)
        );
        // 99 fits no convention (10+5+3 = 18, 10+3 = 13): Langfuse's own normalization stands,
        // and the 81 the total has beyond the parts is kept (as `other`: no model named).
        assert_eq!(
            usage_of(json!({"input": 10, "input_cache_read": 5, "output": 3, "total": 99})),
            Ok(want + Usage::of(&[(Other, 81)]))
        );
        // An inclusive reading that would go negative is not taken: 10 + 3 = 13 but 20 > 10.
        let u = usage_of(json!({"input": 10, "cached_tokens": 20, "output": 3, "total": 13}));
        assert_eq!(
            u,
            Ok(Usage::of(&[(Input, 10), (InputCacheRead, 20), (Output, 3)]))
        );
    }

    #[test]
    fn usage_keys_classify_into_disjoint_classes() {
        let cases = [
            ("input", KeyKind::BaseInput),
            ("input_tokens", KeyKind::BaseInput),
            ("output", KeyKind::BaseOutput),
            ("total", KeyKind::Total),
            ("input_cached_tokens", KeyKind::Detail(InputCacheRead)),
            ("input_cache_read", KeyKind::Detail(InputCacheRead)),
            ("cache_read_input_tokens", KeyKind::Detail(InputCacheRead)),
            ("cached_tokens", KeyKind::Detail(InputCacheRead)),
            (
                "cache_creation_input_tokens",
                KeyKind::Detail(InputCacheWrite5m),
            ),
            ("input_cache_creation", KeyKind::Detail(InputCacheWrite5m)),
            ("input_cache_write", KeyKind::Detail(InputCacheWrite5m)),
            (
                "input_cache_creation_5m",
                KeyKind::Detail(InputCacheWrite5m),
            ),
            (
                "input_cache_creation_1h",
                KeyKind::Detail(InputCacheWrite1h),
            ),
            (
                "ephemeral_1h_input_tokens",
                KeyKind::Detail(InputCacheWrite1h),
            ),
            (
                "ephemeral_5m_input_tokens",
                KeyKind::Detail(InputCacheWrite5m),
            ),
            (
                "cache_creation_input_tokens_1h",
                KeyKind::Detail(InputCacheWrite1h),
            ),
            ("output_reasoning_tokens", KeyKind::Detail(OutputReasoning)),
            ("reasoning_tokens", KeyKind::Detail(OutputReasoning)),
            ("output_reasoning", KeyKind::Detail(OutputReasoning)),
            ("input_audio_tokens", KeyKind::Detail(InputAudio)),
            ("input_audio", KeyKind::Detail(InputAudio)),
            ("output_audio_tokens", KeyKind::Detail(OutputAudio)),
            ("input_image_tokens", KeyKind::Detail(InputImage)),
            ("output_accepted_prediction_tokens", KeyKind::Detail(Output)),
            ("input_text_tokens", KeyKind::Detail(Input)),
        ];
        for (k, want) in cases {
            assert_eq!(classify(k), Some(want), "{k}");
        }
        assert_eq!(classify("image_count"), None);
    }

    #[test]
    fn unknown_keys_go_by_prefix_or_reject_the_row() {
        // `input_text_tokens` is not a known detail: billed as input, disjoint from `input`.
        let u = usage_of(json!({"input": 7, "input_text_tokens": 3, "output": 2, "total": 12}));
        assert_eq!(u, Ok(Usage::of(&[(Input, 10), (Output, 2)])));
        // A key of no known kind is kept as `other` instead of rejecting the row.
        let u = usage_of(json!({"input": 7, "image_count": 2}));
        assert_eq!(u, Ok(Usage::of(&[(Input, 7), (Other, 2)])));
        let err = usage_of(json!({"input": -3})).unwrap_err();
        assert!(err.contains("usageDetails.input"), "{err}");
    }

    #[test]
    fn keys_langfuse_and_its_integrations_write() {
        // One observation per integration, in the UI export's JSONL shape; counts by hand.
        let (_, s) = load("ui_export_integrations.jsonl");
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        let u = |id: &str| rec(&s, id).usage;
        // OpenInference audio details at 0 no longer reject the row.
        assert_eq!(
            u("obs-ui-int-001"),
            Usage::of(&[(Input, 120), (Output, 30)])
        );
        // `prompt_details.audio` is inside `input` (only cache tokens are netted): 200 - 40.
        assert_eq!(
            u("obs-ui-int-002"),
            Usage::of(&[
                (Input, 160),
                (InputCacheRead, 100),
                (InputAudio, 40),
                (Output, 50)
            ])
        );
        // Gemini through Vertex: 2,023 - 5 - 845 = 1,173 thinking tokens.
        assert_eq!(
            u("obs-ui-int-003"),
            Usage::of(&[(Input, 5), (Output, 845), (OutputReasoning, 1173)])
        );
        // The aggregate cache write beside its 5m/1h split is counted once: 12+3000+1000+250.
        assert_eq!(
            u("obs-ui-int-004"),
            Usage::of(&[
                (Input, 12),
                (InputCacheRead, 3000),
                (InputCacheWrite5m, 1000),
                (Output, 250)
            ])
        );
        // Priority-tier keys repeat the other counts.
        assert_eq!(
            u("obs-ui-int-005"),
            Usage::of(&[(Input, 800), (InputCacheRead, 200), (Output, 100)])
        );
        // An unknown key: 900 + 120 + 300 = 1,320 = total, kept as other.
        assert_eq!(
            u("obs-ui-int-006"),
            Usage::of(&[(Input, 900), (Output, 120), (Other, 300)])
        );
        // The AI SDK's prediction tokens are inside output: 400 + 90 = 490.
        assert_eq!(
            u("obs-ui-int-007"),
            Usage::of(&[(Input, 400), (Output, 90)])
        );
        // LangChain's Vertex modality keys: audio input is its own class.
        assert_eq!(
            u("obs-ui-int-008"),
            Usage::of(&[(Input, 60), (InputAudio, 240), (Output, 40)])
        );
        // Every total ties out with its classes.
        for r in &s.records {
            assert!(matches!(
                r.usage.total(),
                150 | 350 | 2023 | 4262 | 1100 | 1320 | 490 | 340
            ));
        }
        let noted = |line: u64| -> Vec<&str> {
            s.notes
                .iter()
                .filter(|(l, _)| *l == line)
                .map(|(_, n)| *n)
                .collect()
        };
        assert_eq!(
            noted(3),
            vec![
                "total larger than its parts: the difference kept as output_reasoning (the model thinks)"
            ]
        );
        assert!(noted(5).iter().all(|n| n.contains("priority")) && noted(5).len() == 2);
        assert_eq!(
            noted(6),
            vec!["unknown usage key kept as other: tool_use_prompt_tokens"]
        );
        assert!(noted(1).is_empty() && noted(2).is_empty() && noted(4).is_empty());
    }

    #[test]
    fn a_total_beyond_the_parts_is_reasoning_only_for_a_model_that_thinks() {
        let r = row(json!({"usageDetails": {"input": 5, "output": 845, "total": 2023}}));
        let (u, notes) = usage_noted(&CAMEL, &r, Operation::Chat, "gpt-4o").unwrap();
        assert_eq!(u, Usage::of(&[(Input, 5), (Output, 845), (Other, 1173)]));
        assert_eq!(
            notes,
            vec!["total larger than its parts: the difference kept as other"]
        );
        // An unknown key the total shows to be inside the other counts is left out.
        let r =
            row(json!({"usageDetails": {"input": 5, "output": 8, "search_units": 2, "total": 13}}));
        let (u, notes) = usage_noted(&CAMEL, &r, Operation::Chat, "gpt-4o").unwrap();
        assert_eq!(u, Usage::of(&[(Input, 5), (Output, 8)]));
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn a_lone_total_is_input_for_embeddings_only() {
        let r = row(json!({"usageDetails": {"total": 40}}));
        assert_eq!(
            usage(&CAMEL, &r, Operation::Embedding),
            Ok(Usage::of(&[(Input, 40)]))
        );
        let err = usage(&CAMEL, &r, Operation::Chat).unwrap_err();
        assert!(err.contains("only 'total'"), "{err}");
    }

    #[test]
    fn legacy_count_columns_when_usage_details_are_absent() {
        let r = row(json!({"promptTokens": "120", "completionTokens": 30}));
        assert_eq!(
            usage(&CAMEL, &r, Operation::Chat),
            Ok(Usage::of(&[(Input, 120), (Output, 30)]))
        );
        let r = row(json!({"usage": {"unit": "TOKENS", "input": 5, "output": 6, "total": 11}}));
        assert_eq!(
            usage(&CAMEL, &r, Operation::Chat),
            Ok(Usage::of(&[(Input, 5), (Output, 6)]))
        );
    }

    #[test]
    fn cost_precedence_and_bad_costs() {
        let c = |v: Value| reported_cost(&CAMEL, &row(v));
        assert_eq!(
            c(json!({"costDetails": {"input": 1, "total": "0.5"}, "totalCost": 9})),
            Ok(Some(dec!(0.5)))
        );
        assert_eq!(
            c(json!({"costDetails": {"input": 0.1, "output": "0.02"}})),
            Ok(Some(dec!(0.12)))
        );
        assert_eq!(
            c(json!({"costDetails": {}, "calculatedTotalCost": 1.5e-6})),
            Ok(Some(dec!(0.0000015)))
        );
        assert_eq!(c(json!({"costDetails": "{}", "totalCost": ""})), Ok(None));
        assert!(
            c(json!({"costDetails": {"total": "n/a"}}))
                .unwrap_err()
                .contains("costDetails.total")
        );
    }

    // ------------------------------------------------------------------ file shapes

    #[test]
    fn single_line_array_as_the_ui_writes_it() {
        let text = r#"[{"id":"a","traceId":"t","type":"GENERATION","startTime":"2026-10-01T08:00:00.000Z","usageDetails":{"input":1,"output":2,"total":3}},{"id":"b","traceId":"t","type":"GENERATION","startTime":"soon"}]"#;
        let s = read_str(Format::LangfuseUiJson, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].origin.line, 1);
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 1);
        assert!(s.rejected[0].1.starts_with("element 2: startTime"));
        // An empty export.
        let s = read_str(Format::LangfuseUiJson, "[]").unwrap_or_else(|e| panic!("{e}"));
        assert_accounting(&s, 0, 0, 0, 0);
    }

    #[test]
    fn a_json_document_that_does_not_parse_is_an_input_error() {
        let truncated = "[{\"id\":\"a\",\"traceId\":\"t\",\n\"input\":\"cut";
        let e = read_str(Format::LangfuseUiJson, truncated)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("file ends early"), "{e}");
        let e = read_str(Format::LangfuseApiJson, r#"{"meta":{"page":1}}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("API page"), "{e}");
        let e = read_str(Format::LangfuseUiJson, "[{}] x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("after the JSON document"), "{e}");
        let e = read_str(Format::LangfuseUiJson, "[{} {}]")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("expected ',' or ']'"), "{e}");
    }

    #[test]
    fn csv_without_required_columns_or_with_ragged_rows() {
        let e = read_str(Format::LangfuseUiCsv, "id,name\n1,x\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("missing column 'traceId'"), "{e}");
        let text = "id,traceId,type,startTime\na,t,GENERATION,2026-10-01T08:00:00Z,extra\nb,t,FOO,2026-10-01T08:00:00Z\n";
        let s = read_str(Format::LangfuseUiCsv, text).unwrap_or_else(|e| panic!("{e}"));
        assert_accounting(&s, 2, 0, 0, 2);
        assert_eq!(s.rejected[0].0, 2);
        assert!(s.rejected[0].1.contains("expected 4 fields"));
        assert_eq!(s.rejected[1].0, 3);
        assert!(s.rejected[1].1.contains("got 'FOO'"));
    }

    #[test]
    fn non_langfuse_format_is_refused() {
        assert!(read_str(Format::OpenaiCostCsv, "").is_err());
    }

    #[test]
    fn generation_input_and_output_are_kept_as_call_text() {
        // UI CSV: JSON cells as written; a plain-text output as is; no output → empty.
        let (_, s) = load("ui_export.csv");
        let t = rec(&s, "obs-ui-001").text.as_deref().unwrap();
        assert_eq!(
            t.input,
            r#"[{"role":"user","content":"Where is my order?"}]"#
        );
        assert_eq!(
            t.output,
            r#"{"role":"assistant","content":"It ships today."}"#
        );
        let t = rec(&s, "obs-ui-002").text.as_deref().unwrap();
        assert_eq!(t.output, "Summary:\nCustomer wants a refund.");
        assert_eq!(rec(&s, "obs-ui-003").text.as_deref().unwrap().output, "");
        // An embedding is not a chat call: no text.
        assert!(rec(&s, "obs-ui-004").text.is_none());
        // JSON values (JSONL) are kept as JSON text, strings as they are.
        let line = r#"{"id":"g1","traceId":"t1","type":"GENERATION","startTime":"2026-10-01T08:00:00.000Z","model":"gpt-4o-mini","input":[{"role":"user","content":"hi"}],"output":"hello","usageDetails":{"input":8,"output":1,"total":9}}"#;
        let s = read_str(Format::LangfuseUiJsonl, line).unwrap();
        let t = s.records[0].text.as_deref().unwrap();
        let v: Value = serde_json::from_str(&t.input).unwrap();
        assert_eq!(v[0]["content"], "hi");
        assert_eq!(t.output, "hello");
    }

    #[test]
    fn trace_tags_read_as_csv_text_or_json_arrays() {
        assert_eq!(
            tags(&Value::String(r#"["billing","eu"]"#.into())),
            ["billing", "eu"]
        );
        assert_eq!(tags(&Value::String("[]".into())), Vec::<String>::new());
        assert_eq!(tags(&Value::String("billing".into())), ["billing"]);
        assert_eq!(tags(&serde_json::json!(["a", " b "])), ["a", "b"]);
    }

    // ------------------------------------------------------------------ blob export as Parquet

    /// The observations of `blob_observations.csv` (rows 1–6) as Langfuse's Parquet blob export
    /// writes them: ClickHouse's `FORMAT Parquet` of the observations table, so DateTime64 →
    /// TIMESTAMP (µs, UTC), Map(String, UInt64) usage → MAP<string, UINT64>, Map(String,
    /// Decimal64(12)) cost → MAP<string, DECIMAL(18,12)>, Nullable → optional.
    fn write_blob_parquet(path: &std::path::Path) {
        use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        use std::sync::Arc;
        const SCHEMA: &str = "message schema {
            required binary id (STRING);
            required binary trace_id (STRING);
            required binary project_id (STRING);
            required binary environment (STRING);
            required binary type (STRING);
            optional binary parent_observation_id (STRING);
            required int64 start_time (TIMESTAMP(MICROS,true));
            optional int64 end_time (TIMESTAMP(MICROS,true));
            optional binary name (STRING);
            required group metadata (MAP) {
                repeated group key_value { required binary key (STRING); required binary value (STRING); }
            }
            required binary level (STRING);
            optional binary status_message (STRING);
            optional binary provided_model_name (STRING);
            required group usage_details (MAP) {
                repeated group key_value { required binary key (STRING); required int64 value (INTEGER(64,false)); }
            }
            required group cost_details (MAP) {
                repeated group key_value { required binary key (STRING); required int64 value (DECIMAL(18,12)); }
            }
            optional int64 total_cost (DECIMAL(18,12));
        }";
        // 2026-10-06 14:00:00 UTC = 1790812800 + 5 × 86400 + 14 × 3600 = 1791295200 s.
        let at =
            |min: i64, sec: i64, micros: i64| (1_791_295_200 + min * 60 + sec) * 1_000_000 + micros;
        // Decimal(18,12): the amount × 10^12.
        let d = |s: &str| {
            let v = Decimal::from_str_exact(s).unwrap() * Decimal::from(1_000_000_000_000i64);
            i64::try_from(v).unwrap()
        };
        type Entries<'a, V> = Vec<(&'a str, V)>;
        struct Obs<'a> {
            id: &'a str,
            trace: &'a str,
            typ: &'a str,
            start: i64,
            end: i64,
            name: &'a str,
            level: &'a str,
            status: Option<&'a str>,
            model: Option<&'a str>,
            usage: Entries<'a, i64>,
            cost: Entries<'a, i64>,
            total: Option<i64>,
        }
        let rows = [
            Obs {
                id: "obs-bl-001",
                trace: "tr-c5d601",
                typ: "GENERATION",
                start: at(0, 0, 123_456),
                end: at(0, 1, 654_321),
                name: "chat-completion",
                level: "DEFAULT",
                status: None,
                model: Some("gpt-4o-2024-08-06"),
                usage: vec![
                    ("input", 1200),
                    ("input_cached_tokens", 800),
                    ("output", 150),
                    ("total", 2150),
                ],
                cost: vec![
                    ("input", d("0.003")),
                    ("input_cached_tokens", d("0.001")),
                    ("output", d("0.0015")),
                    ("total", d("0.0055")),
                ],
                total: Some(d("0.0055")),
            },
            Obs {
                id: "obs-bl-002",
                trace: "tr-c5d602",
                typ: "GENERATION",
                start: at(1, 0, 250_000),
                end: at(1, 5, 0),
                name: "claude-answer",
                level: "DEFAULT",
                status: None,
                model: Some("claude-3-5-sonnet-20241022"),
                usage: vec![
                    ("input", 50),
                    ("cache_read_input_tokens", 3000),
                    ("cache_creation_input_tokens", 1000),
                    ("output", 400),
                    ("total", 4450),
                ],
                cost: vec![
                    ("input", d("0.00015")),
                    ("cache_read_input_tokens", d("0.0009")),
                    ("cache_creation_input_tokens", d("0.00375")),
                    ("output", d("0.006")),
                    ("total", d("0.0108")),
                ],
                total: Some(d("0.0108")),
            },
            Obs {
                id: "obs-bl-003",
                trace: "tr-c5d603",
                typ: "GENERATION",
                start: at(2, 0, 0),
                end: at(2, 30, 0),
                name: "chat-completion",
                level: "ERROR",
                status: Some(
                    "Error code: 500 - The server had an error while processing your request.",
                ),
                model: Some("gpt-4o-mini"),
                usage: vec![("input", 700), ("output", 0), ("total", 700)],
                cost: vec![("input", d("0.000105")), ("total", d("0.000105"))],
                total: Some(d("0.000105")),
            },
            Obs {
                id: "obs-bl-004",
                trace: "tr-c5d604",
                typ: "EMBEDDING",
                start: at(3, 0, 0),
                end: at(3, 0, 20_000),
                name: "embed-query",
                level: "DEFAULT",
                status: None,
                model: Some("text-embedding-3-small"),
                usage: vec![("total", 256)],
                cost: vec![("total", d("0.00000512"))],
                total: Some(d("0.00000512")),
            },
            Obs {
                id: "obs-bl-005",
                trace: "tr-c5d604",
                typ: "SPAN",
                start: at(2, 59, 500_000),
                end: at(3, 1, 0),
                name: "retrieve",
                level: "DEFAULT",
                status: None,
                model: None,
                usage: vec![],
                cost: vec![],
                total: None,
            },
            Obs {
                id: "obs-bl-006",
                trace: "tr-c5d605",
                typ: "GENERATION",
                start: at(4, 0, 0),
                end: at(4, 9, 0),
                name: "plan",
                level: "DEFAULT",
                status: None,
                model: Some("o3-mini"),
                usage: vec![
                    ("input", 1000),
                    ("output", 200),
                    ("output_reasoning_tokens", 800),
                    ("total", 2000),
                ],
                cost: vec![],
                total: Some(d("0.0055")),
            },
        ];
        let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
        let props = Arc::new(WriterProperties::builder().build());
        let mut w =
            SerializedFileWriter::new(std::fs::File::create(path).unwrap(), schema, props).unwrap();
        let mut rg = w.next_row_group().unwrap();
        let bytes = |s: &str| ByteArray::from(s);
        // Levels of a MAP leaf: one (def 1, rep 0 then 1…) per entry, (def 0, rep 0) when empty.
        fn map_levels<V>(maps: &[&Entries<'_, V>]) -> (Vec<i16>, Vec<i16>) {
            let (mut def, mut rep) = (Vec::new(), Vec::new());
            for m in maps {
                if m.is_empty() {
                    def.push(0);
                    rep.push(0);
                }
                for i in 0..m.len() {
                    def.push(1);
                    rep.push(if i == 0 { 0 } else { 1 });
                }
            }
            (def, rep)
        }
        let usage: Vec<&Entries<i64>> = rows.iter().map(|r| &r.usage).collect();
        let cost: Vec<&Entries<i64>> = rows.iter().map(|r| &r.cost).collect();
        let empty: Entries<&str> = vec![];
        let meta: Vec<&Entries<&str>> = rows.iter().map(|_| &empty).collect();
        let mut leaf = 0;
        while let Some(mut col) = rg.next_column().unwrap() {
            let req_str =
                |f: &dyn Fn(&Obs) -> String| rows.iter().map(|r| bytes(&f(r))).collect::<Vec<_>>();
            let opt = |v: Vec<Option<&str>>| {
                let def: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
                (v.into_iter().flatten().map(bytes).collect::<Vec<_>>(), def)
            };
            match leaf {
                0..=4 | 11 => {
                    let v = match leaf {
                        0 => req_str(&|r| r.id.to_string()),
                        1 => req_str(&|r| r.trace.to_string()),
                        2 => req_str(&|_| "cm1proj7acme0001".to_string()),
                        3 => req_str(&|_| "default".to_string()),
                        4 => req_str(&|r| r.typ.to_string()),
                        _ => req_str(&|r| r.level.to_string()),
                    };
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, None, None)
                        .unwrap();
                }
                5 | 8 | 12 | 13 => {
                    let (v, def) = opt(match leaf {
                        5 => rows.iter().map(|_| None).collect(),
                        8 => rows.iter().map(|r| Some(r.name)).collect(),
                        12 => rows.iter().map(|r| r.status).collect(),
                        _ => rows.iter().map(|r| r.model).collect(),
                    });
                    col.typed::<ByteArrayType>()
                        .write_batch(&v, Some(&def), None)
                        .unwrap();
                }
                6 => {
                    let v: Vec<i64> = rows.iter().map(|r| r.start).collect();
                    col.typed::<Int64Type>()
                        .write_batch(&v, None, None)
                        .unwrap();
                }
                7 => {
                    let v: Vec<i64> = rows.iter().map(|r| r.end).collect();
                    col.typed::<Int64Type>()
                        .write_batch(&v, Some(&vec![1; v.len()]), None)
                        .unwrap();
                }
                9 | 10 => {
                    let (def, rep) = map_levels(&meta);
                    col.typed::<ByteArrayType>()
                        .write_batch(&[], Some(&def), Some(&rep))
                        .unwrap();
                }
                14 | 16 => {
                    let maps = if leaf == 14 { &usage } else { &cost };
                    let (def, rep) = map_levels(maps);
                    let keys: Vec<ByteArray> = maps
                        .iter()
                        .flat_map(|m| m.iter().map(|(k, _)| bytes(k)))
                        .collect();
                    col.typed::<ByteArrayType>()
                        .write_batch(&keys, Some(&def), Some(&rep))
                        .unwrap();
                }
                15 | 17 => {
                    let maps = if leaf == 15 { &usage } else { &cost };
                    let (def, rep) = map_levels(maps);
                    let values: Vec<i64> = maps
                        .iter()
                        .flat_map(|m| m.iter().map(|(_, v)| *v))
                        .collect();
                    col.typed::<Int64Type>()
                        .write_batch(&values, Some(&def), Some(&rep))
                        .unwrap();
                }
                _ => {
                    let def: Vec<i16> = rows.iter().map(|r| i16::from(r.total.is_some())).collect();
                    let v: Vec<i64> = rows.iter().filter_map(|r| r.total).collect();
                    col.typed::<Int64Type>()
                        .write_batch(&v, Some(&def), None)
                        .unwrap();
                }
            }
            col.close().unwrap();
            leaf += 1;
        }
        rg.close().unwrap();
        w.close().unwrap();
    }

    #[test]
    fn blob_parquet_rows_are_the_blob_csv_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("2026-10-06T14-00-00.parquet");
        write_blob_parquet(&path);
        let (format, pq) = crate::source::read_all(&path).unwrap();
        assert_eq!(format, Format::LangfuseBlobParquet);
        assert!(pq.rejected.is_empty(), "{:?}", pq.rejected);
        let (_, csv) = load("blob_observations.csv");
        // The CSV's rows 1–6 (lines 2–7); its line 8 is a malformed usage text a MAP cannot hold.
        let key = |r: &UsageRecord| {
            (
                r.id.clone(),
                r.usage,
                r.reported_cost,
                r.start,
                r.model.clone(),
                r.operation,
                r.link.status,
                r.link.trace_id.clone(),
            )
        };
        let want: Vec<_> = csv
            .records
            .iter()
            .filter(|r| r.origin.line <= 7)
            .map(key)
            .collect();
        let got: Vec<_> = pq.records.iter().map(key).collect();
        assert_eq!(got, want);
        // Row N is CSV line N + 1.
        let lines: Vec<u64> = pq.records.iter().map(|r| r.origin.line + 1).collect();
        let csv_lines: Vec<u64> = csv
            .records
            .iter()
            .filter(|r| r.origin.line <= 7)
            .map(|r| r.origin.line)
            .collect();
        assert_eq!(lines, csv_lines);
        // By hand: row 1's 1,200 + 800 cached + 150 = its total 2,150 (disjoint as stored);
        // $0.0055 from a DECIMAL(18,12) of 5,500,000,000; 14:00:00.123456 from a TIMESTAMP in µs.
        let r = &pq.records[0];
        assert_eq!(
            r.usage,
            Usage::of(&[
                (UsageClass::Input, 1200),
                (UsageClass::InputCacheRead, 800),
                (UsageClass::Output, 150)
            ])
        );
        assert_eq!(r.reported_cost.map(|m| m.amount), Some(Decimal::new(55, 4)));
        assert_eq!(r.start.timestamp_micros(), 1_791_295_200_123_456);
        // The SPAN is a row without usage.
        assert_eq!(pq.no_usage, vec![(5, "SPAN observation: no model usage")]);
    }
}
