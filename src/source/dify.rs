//! Dify, the app view.
//!
//! Dify has no usage export of its own. What exists:
//! - its Postgres tables dumped with psql: `messages` (one row per chat/completion message) and
//!   `workflow_node_executions` (one row per node run), as `\copy (select …) to … csv header`
//!   (NULL = empty field) or as JSONL from `select row_to_json(t) from t` (NULL = `null`,
//!   numbers as JSON numbers, JSON text columns as strings);
//! - logs of service-API responses: streaming `message_end` events (decimals as strings, no
//!   timestamp) and blocking chat/completion responses (decimals as JSON numbers such as `1e-06`,
//!   `created_at` in unix seconds).
//!
//! Times are naive UTC. Dify has no prompt-cache view: its `prompt_tokens` / `message_tokens`
//! include any cached tokens, so everything lands in `Input` and `Output`. The cost Dify reports
//! is kept as it wrote it (rounded unit prices make a recomputation wrong).

use super::util::{self, json_count, json_decimal, parse_count, parse_decimal, parse_utc};
use super::{Format, Head, InputError, InputFile, RecordSink, Row};
use crate::record::{
    CallText, Currency, Money, Operation, Status, UnitPrices, Usage, UsageClass, UsageRecord,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::io::BufRead;

const TIME_EXAMPLE: &str = "2026-10-01 08:00:00.123456";

/// Columns read only for the call text (never required, never needed for usage).
const TEXT_ONLY_COLUMNS: [&str; 2] = ["message", "answer"];

// ---------------------------------------------------------------------------------------------
// Columns

/// `messages` columns the adapter reads; `message` (the prompt as Dify saved it) and `answer` are
/// kept as the call's text for recounting, `query`, `inputs` and `message_metadata` are never
/// touched.
mod m {
    pub const NAMES: [&str; 21] = [
        "id",
        "created_at",
        "message_tokens",
        "answer_tokens",
        "total_price",
        "currency",
        "app_id",
        "model_provider",
        "model_id",
        "conversation_id",
        "message_unit_price",
        "message_price_unit",
        "answer_unit_price",
        "answer_price_unit",
        "from_end_user_id",
        "from_account_id",
        "workflow_run_id",
        "status",
        "app_mode",
        "message",
        "answer",
    ];
    /// The first `REQUIRED` names must be in the header.
    pub const REQUIRED: usize = 6;
    pub const ID: usize = 0;
    pub const CREATED_AT: usize = 1;
    pub const MESSAGE_TOKENS: usize = 2;
    pub const ANSWER_TOKENS: usize = 3;
    pub const TOTAL_PRICE: usize = 4;
    pub const CURRENCY: usize = 5;
    pub const APP_ID: usize = 6;
    pub const MODEL_PROVIDER: usize = 7;
    pub const MODEL_ID: usize = 8;
    pub const CONVERSATION_ID: usize = 9;
    pub const MESSAGE_UNIT_PRICE: usize = 10;
    pub const MESSAGE_PRICE_UNIT: usize = 11;
    pub const ANSWER_UNIT_PRICE: usize = 12;
    pub const ANSWER_PRICE_UNIT: usize = 13;
    pub const FROM_END_USER_ID: usize = 14;
    pub const FROM_ACCOUNT_ID: usize = 15;
    pub const WORKFLOW_RUN_ID: usize = 16;
    pub const STATUS: usize = 17;
    pub const APP_MODE: usize = 18;
    /// `[{"role", "text", "files"}, …]`: Dify's saved form of the prompt messages.
    pub const MESSAGE: usize = 19;
    pub const ANSWER: usize = 20;
}

/// `workflow_node_executions` columns the adapter reads (`inputs` is never touched; `outputs` for
/// agent nodes' usage and model nodes' answer `text`; `process_data` for its usage, model and
/// `prompts`, the prompt as the model saw it).
mod n {
    pub const NAMES: [&str; 12] = [
        "id",
        "node_type",
        "status",
        "created_at",
        "process_data",
        "execution_metadata",
        "app_id",
        "workflow_run_id",
        "node_id",
        "created_by",
        "outputs",
        "tenant_id",
    ];
    pub const REQUIRED: usize = 6;
    pub const ID: usize = 0;
    pub const NODE_TYPE: usize = 1;
    pub const STATUS: usize = 2;
    pub const CREATED_AT: usize = 3;
    pub const PROCESS_DATA: usize = 4;
    pub const EXECUTION_METADATA: usize = 5;
    pub const APP_ID: usize = 6;
    pub const WORKFLOW_RUN_ID: usize = 7;
    pub const NODE_ID: usize = 8;
    pub const CREATED_BY: usize = 9;
    /// `usage` of `agent` nodes (Dify writes their usage there) and `text`, the answer.
    pub const OUTPUTS: usize = 10;
    /// The workspace (`--teams` rules).
    pub const TENANT_ID: usize = 11;
}

/// Node types that call a model and record `process_data.usage`.
const MODEL_NODE_TYPES: [&str; 4] = ["llm", "question-classifier", "parameter-extractor", "agent"];

/// Service-API stream event names (chat, completion, agent, workflow and chatflow streams).
const API_EVENTS: [&str; 26] = [
    "message",
    "message_end",
    "message_file",
    "message_replace",
    "agent_message",
    "agent_thought",
    "agent_log",
    "tts_message",
    "tts_message_end",
    "workflow_started",
    "workflow_finished",
    "node_started",
    "node_finished",
    "node_retry",
    "iteration_started",
    "iteration_next",
    "iteration_completed",
    "loop_started",
    "loop_next",
    "loop_completed",
    "parallel_branch_started",
    "parallel_branch_finished",
    "text_chunk",
    "reasoning_chunk",
    "error",
    "ping",
];

// ---------------------------------------------------------------------------------------------
// Sniffing

pub fn sniff(head: &Head) -> Option<Format> {
    let first = head
        .text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.starts_with('{') || first.starts_with("data:") || first.starts_with("event:") {
        return sniff_json_lines(&head.text);
    }
    let cols = head.csv_columns();
    let has = |name: &str| cols.iter().any(|c| c == name);
    if has("id") && has("message_tokens") && has("answer_tokens") {
        Some(Format::DifyMessagesCsv)
    } else if has("id") && has("node_type") && has("execution_metadata") {
        Some(Format::DifyNodeExecutionsCsv)
    } else {
        None
    }
}

/// JSONL: the first line that is not an SSE keep-alive. A line cut by the end of the head (a
/// long `message` column) is looked at for key names only.
fn sniff_json_lines(text: &str) -> Option<Format> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !is_sse_ping(l))?;
    let (prefixed, body) = match line.strip_prefix("data:") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, line),
    };
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(obj)) => {
            let has = |k: &str| obj.contains_key(k);
            if !prefixed && has("id") && has("message_tokens") && has("answer_tokens") {
                Some(Format::DifyMessagesJsonl)
            } else if !prefixed && has("id") && has("node_type") && has("execution_metadata") {
                Some(Format::DifyNodeExecutionsJsonl)
            } else if is_api_object(&obj) {
                Some(Format::DifyApiLog)
            } else {
                None
            }
        }
        Ok(_) => None,
        Err(_) => {
            // Truncated: top-level keys cannot be told from nested ones, so an export of another
            // system (its own keys present) is left alone.
            let has = |k: &str| has_key_text(body, k);
            if has("traceId") || has("trace_id") || has("object") {
                return None;
            }
            if !prefixed && has("id") && has("message_tokens") && has("answer_tokens") {
                Some(Format::DifyMessagesJsonl)
            } else if !prefixed && has("id") && has("node_type") && has("execution_metadata") {
                Some(Format::DifyNodeExecutionsJsonl)
            } else if has("event") && has("task_id") {
                Some(Format::DifyApiLog)
            } else {
                None
            }
        }
    }
}

fn is_sse_ping(line: &str) -> bool {
    line.strip_prefix("event:")
        .is_some_and(|rest| rest.trim() == "ping")
}

/// A service-API event or blocking response: a known event name with a Dify task or message id,
/// or `metadata.usage` with Dify's `prompt_tokens`.
fn is_api_object(obj: &Map<String, Value>) -> bool {
    let known_event = obj
        .get("event")
        .and_then(Value::as_str)
        .is_some_and(|e| API_EVENTS.contains(&e));
    let dify_ids = [
        "task_id",
        "message_id",
        "conversation_id",
        "workflow_run_id",
    ]
    .iter()
    .any(|k| obj.contains_key(*k));
    let usage = obj
        .get("metadata")
        .and_then(|m| m.get("usage"))
        .is_some_and(|u| u.get("prompt_tokens").is_some());
    (known_event && dify_ids) || usage
}

/// True when `"key"` occurs as a JSON key (followed by `:`) outside an escaped string.
fn has_key_text(text: &str, key: &str) -> bool {
    let pat = format!("\"{key}\"");
    let mut from = 0;
    while let Some(pos) = text[from..].find(&pat) {
        let at = from + pos;
        let escaped = at > 0 && text.as_bytes()[at - 1] == b'\\';
        let after = text[at + pat.len()..].trim_start();
        if !escaped && after.starts_with(':') {
            return true;
        }
        from = at + pat.len();
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
    match format {
        Format::DifyMessagesCsv => read_csv(&m::NAMES, m::REQUIRED, message, file, reader, sink),
        Format::DifyMessagesJsonl => read_jsonl(&m::NAMES, message, file, reader, sink),
        Format::DifyNodeExecutionsCsv => {
            read_csv(&n::NAMES, n::REQUIRED, node_execution, file, reader, sink)
        }
        Format::DifyNodeExecutionsJsonl => {
            read_jsonl(&n::NAMES, node_execution, file, reader, sink)
        }
        Format::DifyApiLog => read_api_log(file, reader, sink),
        other => Err(InputError::new(
            file,
            None,
            format!("{other} is not a Dify format"),
        )),
    }
}

/// One field of a row: CSV text or a JSON value. `None` in a row means NULL or absent.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl<'a> Cell<'a> {
    fn text(s: &'a str) -> Option<Cell<'a>> {
        (!util::is_null(s)).then_some(Cell::Text(s))
    }

    fn json(v: &'a Value) -> Option<Cell<'a>> {
        match v {
            Value::Null => None,
            Value::String(s) if util::is_null(s) => None,
            v => Some(Cell::Json(v)),
        }
    }

    fn str(self) -> Cow<'a, str> {
        match self {
            Cell::Text(s) => Cow::Borrowed(util::trim(s)),
            Cell::Json(Value::String(s)) => Cow::Borrowed(s.trim()),
            Cell::Json(v) => Cow::Owned(v.to_string()),
        }
    }

    /// The cell as written, untrimmed (a JSON value as its JSON text): call text to recount.
    fn raw(self) -> String {
        match self {
            Cell::Text(s) => s.to_string(),
            Cell::Json(Value::String(s)) => s.clone(),
            Cell::Json(v) => v.to_string(),
        }
    }

    fn decimal(self) -> Option<Decimal> {
        match self {
            Cell::Text(s) => parse_decimal(s),
            Cell::Json(v) => json_decimal(v),
        }
    }

    fn count(self) -> Option<i64> {
        match self {
            Cell::Text(s) => parse_count(s),
            Cell::Json(v) => json_count(v),
        }
    }

    /// A JSON document stored in a text column (CSV field or JSON string), or a JSON object
    /// (a `json` column in `row_to_json`).
    fn parse<T: DeserializeOwned>(self) -> Option<T> {
        match self {
            Cell::Text(s) => serde_json::from_str(s).ok(),
            Cell::Json(Value::String(s)) => serde_json::from_str(s).ok(),
            Cell::Json(v @ Value::Object(_)) => T::deserialize(v).ok(),
            Cell::Json(_) => None,
        }
    }
}

/// A value quoted for a reject reason, shortened.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

fn shown_value(v: &Value) -> String {
    match v {
        Value::String(s) => shown(s),
        other => shown(&other.to_string()),
    }
}

/// The fields of one row, in the order of the format's column list.
struct Fields<'a> {
    names: &'static [&'static str],
    cells: &'a [Option<Cell<'a>>],
}

/// The most columns a Dify table's reader picks (the row's cells live on the stack).
const MAX_COLUMNS: usize = 21;
const _: () = assert!(m::NAMES.len() <= MAX_COLUMNS && n::NAMES.len() <= MAX_COLUMNS);

impl<'a> Fields<'a> {
    fn get(&self, i: usize) -> Option<Cell<'a>> {
        self.cells.get(i).copied().flatten()
    }

    fn string(&self, i: usize) -> Option<String> {
        self.get(i).map(|c| c.str().into_owned())
    }

    /// A cell's text without copying it, for values only looked at.
    fn text(&self, i: usize) -> Option<Cow<'a, str>> {
        self.get(i).map(Cell::str)
    }

    fn required_str(&self, i: usize, what: &str) -> Result<String, String> {
        self.string(i)
            .ok_or_else(|| format!("{}: expected {what}, got nothing", self.names[i]))
    }

    fn time(&self, i: usize) -> Result<DateTime<Utc>, String> {
        let name = self.names[i];
        let c = self.get(i).ok_or_else(|| {
            format!("{name}: expected a timestamp like {TIME_EXAMPLE}, got nothing")
        })?;
        let s = c.str();
        parse_utc(&s).ok_or_else(|| {
            format!(
                "{name}: expected a timestamp like {TIME_EXAMPLE}, got '{}'",
                shown(&s)
            )
        })
    }

    fn count(&self, i: usize) -> Result<i64, String> {
        let name = self.names[i];
        let c = self
            .get(i)
            .ok_or_else(|| format!("{name}: expected a token count, got nothing"))?;
        c.count().ok_or_else(|| {
            format!(
                "{name}: expected a non-negative whole token count, got '{}'",
                shown(&c.str())
            )
        })
    }

    fn decimal(&self, i: usize) -> Result<Option<Decimal>, String> {
        match self.get(i) {
            None => Ok(None),
            Some(c) => c.decimal().map(Some).ok_or_else(|| {
                format!(
                    "{}: expected a decimal number, got '{}'",
                    self.names[i],
                    shown(&c.str())
                )
            }),
        }
    }

    fn currency(&self, i: usize) -> Result<Option<Currency>, String> {
        match self.get(i) {
            None => Ok(None),
            Some(c) => {
                let s = c.str();
                Currency::parse(&s).map(Some).ok_or_else(|| {
                    format!(
                        "{}: expected a currency code like USD or RMB, got '{}'",
                        self.names[i],
                        shown(&s)
                    )
                })
            }
        }
    }

    fn json<T: DeserializeOwned + Default>(&self, i: usize) -> Result<T, String> {
        match self.get(i) {
            None => Ok(T::default()),
            Some(c) => c.parse().ok_or_else(|| {
                format!(
                    "{}: expected a JSON object, got '{}'",
                    self.names[i],
                    shown(&c.str())
                )
            }),
        }
    }
}

type RowFn = fn(&Fields<'_>, &InputFile, u64) -> Result<Row, String>;

fn read_csv(
    names: &'static [&'static str],
    required: usize,
    row_fn: RowFn,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let mut rdr = util::csv_reader(reader);
    let headers = rdr
        .byte_headers()
        .map_err(|e| InputError::new(file, Some(1), format!("cannot read the CSV header: {e}")))?
        .clone();
    // Column positions, resolved once. Text-only columns are left unread when the sink wants
    // no call text: on a month of messages they are most of the bytes.
    let skip_text = !sink.wants_text();
    let index: Vec<Option<usize>> = names
        .iter()
        .map(|name| {
            if skip_text && TEXT_ONLY_COLUMNS.contains(name) {
                return None;
            }
            headers
                .iter()
                .position(|h| String::from_utf8_lossy(h).trim() == *name)
        })
        .collect();
    for (name, i) in names.iter().zip(&index).take(required) {
        if i.is_none() {
            return Err(InputError::new(
                file,
                Some(1),
                format!("missing column '{name}'; expected a psql CSV export of the Dify table"),
            ));
        }
    }

    // Byte records: only the columns read must be UTF-8 (the large text columns are skipped
    // over as bytes). The whole record is checked once, which is cheaper than a check per
    // field; a field of a valid record is valid when it starts and ends on character
    // boundaries, and any other field is checked on its own.
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                // The line where the record starts (quoted fields may span lines).
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                let whole = std::str::from_utf8(rec.as_slice()).ok();
                let mut cells = [None; MAX_COLUMNS];
                let mut bad = None;
                for (k, i) in index.iter().enumerate() {
                    let Some(range) = i.and_then(|i| rec.range(i)) else {
                        continue;
                    };
                    let text = whole
                        .and_then(|w| w.get(range.clone()))
                        .or_else(|| std::str::from_utf8(&rec.as_slice()[range]).ok());
                    match text {
                        Some(s) => cells[k] = Cell::text(s),
                        None => bad = Some(names[k]),
                    }
                }
                if let Some(col) = bad {
                    sink.reject(line, format!("{col}: not UTF-8 text"));
                    continue;
                }
                let fields = Fields {
                    names,
                    cells: &cells[..names.len()],
                };
                Row::emit(row_fn(&fields, file, line), line, "", sink);
            }
            Err(e) => util::csv_row_error(&e, file, sink)?,
        }
    }
}

fn read_jsonl(
    names: &'static [&'static str],
    row_fn: RowFn,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    util::each_jsonl_line(file, reader, sink, |line, text, sink| {
        let values = match pick_columns(text, names) {
            Ok(v) => v,
            // `\copy (select row_to_json(t) …) to …` writes COPY text format, which doubles every
            // backslash; a line that only parses undoubled is such a line.
            Err(e) => match copy_unescape(text).and_then(|t| pick_columns(&t, names).ok()) {
                Some(v) => v,
                None => {
                    sink.reject(
                        line,
                        format!(
                            "invalid JSON: {e}; expected one table row per line as a JSON object, as row_to_json writes it"
                        ),
                    );
                    return;
                }
            },
        };
        let cells: Vec<_> = values.iter().map(Cell::json).collect();
        let fields = Fields {
            names,
            cells: &cells,
        };
        Row::emit(row_fn(&fields, file, line), line, "", sink);
    })
}

/// Parses one JSON object keeping only the named keys (in `names` order, `Null` when absent);
/// every other value, such as a long `query` or `answer`, is skipped without being built.
fn pick_columns(text: &str, names: &[&str]) -> Result<Vec<Value>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let values = serde::de::DeserializeSeed::deserialize(Pick(names), &mut de)?;
    de.end()?;
    Ok(values)
}

struct Pick<'a>(&'a [&'a str]);

impl<'de> serde::de::DeserializeSeed<'de> for Pick<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Pick<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let mut out = vec![Value::Null; self.0.len()];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.0.iter().position(|n| *n == key) {
                Some(i) => out[i] = map.next_value()?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Undoes PostgreSQL COPY text escaping (`\\`, `\n`, `\t`, `\r`, …); `None` when the line has
/// no backslash, so there is nothing to undo.
fn copy_unescape(text: &str) -> Option<String> {
    if !text.contains('\\') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// messages

fn message(f: &Fields<'_>, file: &InputFile, line: u64) -> Result<Row, String> {
    let id = f.required_str(m::ID, "the message id")?;
    let at = f.time(m::CREATED_AT)?;
    let input = f.count(m::MESSAGE_TOKENS)?;
    let output = f.count(m::ANSWER_TOKENS)?;
    let total_price = f.decimal(m::TOTAL_PRICE)?;
    let currency = f.currency(m::CURRENCY)?;
    let reported_cost = match (total_price, currency) {
        (Some(p), Some(c)) => Some(Money::new(p, c)),
        (Some(p), None) => {
            return Err(format!(
                "currency: expected a currency code like USD or RMB for total_price {p}, got nothing"
            ));
        }
        (None, _) => None,
    };
    let unit_prices = message_unit_prices(f, currency)?;

    let mut rec = UsageRecord::call(id.clone(), file.origin(line), at);
    // Chatflow rows have no model (NULL model_id): they sum the run's LLM nodes.
    if let Some(model) = f.text(m::MODEL_ID) {
        rec.set_model(f.text(m::MODEL_PROVIDER).as_deref(), &model);
    }
    if f.text(m::APP_MODE).as_deref() == Some("completion") {
        rec.operation = Operation::Completion;
    }
    rec.usage = Usage::of(&[(UsageClass::Input, input), (UsageClass::Output, output)]);
    rec.reported_cost = reported_cost;
    rec.unit_prices = unit_prices;
    if f.text(m::STATUS).as_deref() == Some("error") {
        rec.link.status = Status::Error;
    }
    rec.scope.app = f.string(m::APP_ID);
    rec.scope.workflow = f.string(m::WORKFLOW_RUN_ID);
    rec.scope.user = f
        .string(m::FROM_END_USER_ID)
        .or_else(|| f.string(m::FROM_ACCOUNT_ID));
    // Dify's Langfuse integration uses the message id as the trace id.
    rec.link.trace_id = Some(id);
    rec.link.conversation_id = f.string(m::CONVERSATION_ID);
    rec.text = call_text(f.get(m::MESSAGE), f.get(m::ANSWER));
    Ok(Row::Record(Box::new(rec)))
}

/// A message's per-token prices, from its four unit-price columns and its currency. A month's
/// messages repeat a handful of price settings (one per model), so the last few are kept per
/// thread with their columns, and a row that repeats one exactly is not parsed again.
fn message_unit_prices(
    f: &Fields<'_>,
    currency: Option<Currency>,
) -> Result<Option<UnitPrices>, String> {
    type Seen = Vec<([String; 4], Currency, UnitPrices)>;
    thread_local! {
        static SEEN: std::cell::RefCell<Seen> = const { std::cell::RefCell::new(Vec::new()) };
    }
    const KEPT: usize = 8;
    const COLUMNS: [usize; 4] = [
        m::MESSAGE_UNIT_PRICE,
        m::MESSAGE_PRICE_UNIT,
        m::ANSWER_UNIT_PRICE,
        m::ANSWER_PRICE_UNIT,
    ];
    let texts = COLUMNS.map(|i| match f.get(i) {
        Some(Cell::Text(s)) => Some(s),
        _ => None,
    });
    let key = texts
        .iter()
        .all(Option::is_some)
        .then(|| texts.map(Option::unwrap_or_default));
    if let (Some(k), Some(c)) = (key, currency) {
        let hit = SEEN.with_borrow(|seen| {
            seen.iter()
                .find(|(cols, cur, _)| *cur == c && cols.iter().zip(k).all(|(a, b)| a == b))
                .map(|(_, _, u)| *u)
        });
        if hit.is_some() {
            return Ok(hit);
        }
    }
    let prices = match (
        f.decimal(m::MESSAGE_UNIT_PRICE)?,
        f.decimal(m::MESSAGE_PRICE_UNIT)?,
        f.decimal(m::ANSWER_UNIT_PRICE)?,
        f.decimal(m::ANSWER_PRICE_UNIT)?,
        currency,
    ) {
        (Some(iu), Some(ip), Some(ou), Some(op), Some(c)) => Some(per_token(iu, ip, ou, op, c)?),
        _ => None,
    };
    // Only short columns are kept, so hostile values cannot grow the memo.
    if let (Some(k), Some(c), Some(u)) = (key, currency, prices)
        && k.iter().all(|t| t.len() <= 64)
    {
        SEEN.with_borrow_mut(|seen| {
            if seen.len() >= KEPT {
                seen.remove(0);
            }
            seen.push((k.map(str::to_string), c, u));
        });
    }
    Ok(prices)
}

/// The text a call carries for recounting: the prompt in Dify's saved form (a JSON array of
/// `{"role", "text", "files"}`, kept as JSON text) and the answer. `None` when neither is there.
fn call_text(prompt: Option<Cell<'_>>, answer: Option<Cell<'_>>) -> Option<Box<CallText>> {
    if prompt.is_none() && answer.is_none() {
        return None;
    }
    Some(Box::new(CallText {
        input: prompt.map(Cell::raw).unwrap_or_default(),
        output: answer.map(Cell::raw).unwrap_or_default(),
    }))
}

/// Per-token prices from Dify's `unit_price × price_unit` pairs.
fn per_token(
    in_unit: Decimal,
    in_price_unit: Decimal,
    out_unit: Decimal,
    out_price_unit: Decimal,
    currency: Currency,
) -> Result<UnitPrices, String> {
    let mul = |a: Decimal, b: Decimal| {
        a.checked_mul(b)
            .map(|d| d.normalize())
            .ok_or_else(|| format!("unit price {a} × price unit {b} is out of range"))
    };
    Ok(UnitPrices {
        input: mul(in_unit, in_price_unit)?,
        output: mul(out_unit, out_price_unit)?,
        currency,
    })
}

// ---------------------------------------------------------------------------------------------
// LLMUsage (node process_data.usage, API metadata.usage)

/// What an `LLMUsage` object says.
struct LlmUsage {
    usage: Usage,
    /// `total_tokens` where it is not `prompt_tokens + completion_tokens` (a known Dify bug):
    /// the parts are what the provider reported, the total is not counted.
    total_mismatch: bool,
    total_price: Option<Decimal>,
    currency: Option<Currency>,
    unit_prices: Option<UnitPrices>,
}

/// Reads Dify's `LLMUsage`: `prompt_tokens`, `completion_tokens`, `total_tokens`, per-side
/// `*_unit_price` / `*_price_unit`, `total_price`, `currency`. Decimals may be strings (pydantic,
/// streaming) or numbers (blocking responses).
fn llm_usage(u: &Map<String, Value>, label: &str) -> Result<LlmUsage, String> {
    let get = |k: &str| match u.get(k) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    };
    let count = |k: &str| -> Result<Option<i64>, String> {
        match get(k) {
            None => Ok(None),
            Some(v) => json_count(v).map(Some).ok_or_else(|| {
                format!(
                    "{label}.{k}: expected a non-negative whole token count, got '{}'",
                    shown_value(v)
                )
            }),
        }
    };
    let decimal = |k: &str| -> Result<Option<Decimal>, String> {
        match get(k) {
            None => Ok(None),
            Some(v) => json_decimal(v).map(Some).ok_or_else(|| {
                format!(
                    "{label}.{k}: expected a decimal number, got '{}'",
                    shown_value(v)
                )
            }),
        }
    };
    let (prompt, completion, total) = (
        count("prompt_tokens")?,
        count("completion_tokens")?,
        count("total_tokens")?,
    );
    let total_mismatch = matches!((prompt, completion, total),
        (Some(p), Some(c), Some(t)) if p.checked_add(c) != Some(t));
    let usage = match (prompt, completion) {
        (Some(p), Some(c)) => Usage::of(&[(UsageClass::Input, p), (UsageClass::Output, c)]),
        (None, None) => match total {
            Some(t) if t > 0 => {
                return Err(format!(
                    "{label}: only total_tokens ({t}) is given; expected prompt_tokens and completion_tokens"
                ));
            }
            _ => Usage::ZERO,
        },
        (None, Some(_)) => {
            return Err(format!(
                "{label}.prompt_tokens: expected a token count, got nothing"
            ));
        }
        (Some(_), None) => {
            return Err(format!(
                "{label}.completion_tokens: expected a token count, got nothing"
            ));
        }
    };
    let currency = match get("currency") {
        None => None,
        Some(v) => Some(v.as_str().and_then(Currency::parse).ok_or_else(|| {
            format!(
                "{label}.currency: expected a currency code like USD or RMB, got '{}'",
                shown_value(v)
            )
        })?),
    };
    let unit_prices = match (
        decimal("prompt_unit_price")?,
        decimal("prompt_price_unit")?,
        decimal("completion_unit_price")?,
        decimal("completion_price_unit")?,
        currency,
    ) {
        (Some(iu), Some(ip), Some(ou), Some(op), Some(c)) => Some(per_token(iu, ip, ou, op, c)?),
        _ => None,
    };
    Ok(LlmUsage {
        usage,
        total_mismatch,
        total_price: decimal("total_price")?,
        currency,
        unit_prices,
    })
}

// ---------------------------------------------------------------------------------------------
// workflow_node_executions

/// `process_data` of a model node; keys other than these are skipped unread.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ProcessData {
    /// `[{"role", "text", "files"}, …]`, Dify's saved form of the prompt messages.
    prompts: Option<Value>,
    model_mode: Option<Value>,
    usage: Option<Value>,
    model_provider: Option<Value>,
    model_name: Option<Value>,
}

/// `outputs` of a model node: the answer `text`; an agent node's summed `LLMUsage` (`files`
/// and `json` are skipped unread).
#[derive(Default, Deserialize)]
#[serde(default)]
struct NodeOutputs {
    usage: Option<Value>,
    text: Option<Value>,
}

/// `execution_metadata`: `total_price` is a JSON number (Decimal → float in Dify's encoder).
#[derive(Default, Deserialize)]
#[serde(default)]
struct ExecutionMetadata {
    total_tokens: Option<Value>,
    total_price: Option<Value>,
    currency: Option<Value>,
}

impl ExecutionMetadata {
    fn tokens(&self) -> Result<Option<i64>, String> {
        match &self.total_tokens {
            None | Some(Value::Null) => Ok(None),
            Some(v) => json_count(v).map(Some).ok_or_else(|| {
                format!(
                    "execution_metadata.total_tokens: expected a token count, got '{}'",
                    shown_value(v)
                )
            }),
        }
    }

    fn price(&self) -> Result<Option<Decimal>, String> {
        match &self.total_price {
            None | Some(Value::Null) => Ok(None),
            Some(v) => json_decimal(v).map(Some).ok_or_else(|| {
                format!(
                    "execution_metadata.total_price: expected a decimal number, got '{}'",
                    shown_value(v)
                )
            }),
        }
    }

    fn currency(&self) -> Result<Option<Currency>, String> {
        match &self.currency {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_str().and_then(Currency::parse).map(Some).ok_or_else(|| {
                format!(
                    "execution_metadata.currency: expected a currency code like USD or RMB, got '{}'",
                    shown_value(v)
                )
            }),
        }
    }

    /// The reported cost: a price needs its currency.
    fn cost(price: Option<Decimal>, currency: Option<Currency>) -> Result<Option<Money>, String> {
        match (price, currency) {
            (Some(p), Some(c)) => Ok(Some(Money::new(p, c))),
            (Some(p), None) => Err(format!(
                "execution_metadata.currency: expected a currency code like USD or RMB for total_price {p}, got nothing"
            )),
            (None, _) => Ok(None),
        }
    }
}

fn value_str(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !util::is_null(s) => Some(s.trim().to_string()),
        _ => None,
    }
}

fn node_execution(f: &Fields<'_>, file: &InputFile, line: u64) -> Result<Row, String> {
    let id = f.required_str(n::ID, "the node execution id")?;
    let node_type = f.required_str(n::NODE_TYPE, "a node type like llm")?;
    let status = f.string(n::STATUS).unwrap_or_default();
    if status == "retry" {
        return Ok(Row::NoUsage(
            "retried attempt (status retry): Dify records no usage for it",
        ));
    }
    let container = matches!(node_type.as_str(), "iteration" | "loop");
    if !container && !MODEL_NODE_TYPES.contains(&node_type.as_str()) {
        return Ok(Row::NoUsage("non-model node: no model usage"));
    }

    let at = f.time(n::CREATED_AT)?;
    let meta: ExecutionMetadata = f.json(n::EXECUTION_METADATA)?;
    if container {
        return container_row(id, &meta, f, file, line, at);
    }
    let pd: ProcessData = f.json(n::PROCESS_DATA)?;
    let failed = matches!(status.as_str(), "failed" | "exception");

    // Agent nodes keep their usage in `outputs.usage`, other model nodes in
    // `process_data.usage`. An `outputs` that is not an object (a failed node's) has no text.
    let usage_in_outputs = node_type == "agent" && matches!(pd.usage, None | Some(Value::Null));
    let outputs: NodeOutputs = if usage_in_outputs {
        f.json(n::OUTPUTS)?
    } else {
        f.json(n::OUTPUTS).unwrap_or_default()
    };
    let (label, raw_usage) = if usage_in_outputs {
        ("outputs.usage", outputs.usage)
    } else {
        ("process_data.usage", pd.usage)
    };
    let usage = match &raw_usage {
        None | Some(Value::Null) => None,
        Some(Value::Object(u)) => Some(llm_usage(u, label)?),
        Some(v) => {
            return Err(format!(
                "{label}: expected a JSON object of token counts, got '{}'",
                shown_value(v)
            ));
        }
    };
    let meta_tokens = meta.tokens()?;
    // A stopped stream keeps its row (Dify re-estimates its usage, 0 by default) so that the
    // bridge can match it to the provider's count.
    if usage.is_none() && !failed && status != "stopped" {
        return match meta_tokens {
            Some(t) if t > 0 => Err(format!(
                "execution_metadata: total_tokens {t} without a usage object (process_data.usage, or outputs.usage for agents); expected prompt_tokens and completion_tokens to split input from output"
            )),
            _ => Ok(Row::NoUsage("model node without recorded usage")),
        };
    }

    let price = meta.price()?.or(usage.as_ref().and_then(|u| u.total_price));
    let currency = meta.currency()?.or(usage.as_ref().and_then(|u| u.currency));
    let reported_cost = ExecutionMetadata::cost(price, currency)?;

    let mut rec = UsageRecord::call(id, file.origin(line), at);
    if let Some(model) = value_str(&pd.model_name) {
        rec.set_model(value_str(&pd.model_provider).as_deref(), &model);
    }
    if value_str(&pd.model_mode).as_deref() == Some("completion") {
        rec.operation = Operation::Completion;
    }
    if let Some(u) = &usage {
        rec.usage = u.usage;
        rec.unit_prices = u.unit_prices;
    }
    rec.reported_cost = reported_cost;
    rec.link.status = match status.as_str() {
        "failed" | "exception" => Status::Error,
        "stopped" => Status::Interrupted,
        _ => Status::Ok,
    };
    rec.scope.app = f.string(n::APP_ID);
    rec.scope.workflow = f.string(n::WORKFLOW_RUN_ID);
    rec.scope.node = f.string(n::NODE_ID);
    rec.scope.user = f.string(n::CREATED_BY);
    rec.scope.workspace = f.string(n::TENANT_ID);
    let prompts = pd.prompts.as_ref().filter(|p| p.is_array()).map(Cell::Json);
    let answer = match &outputs.text {
        Some(t @ Value::String(_)) => Some(Cell::Json(t)),
        _ => None,
    };
    rec.text = call_text(prompts, answer);
    Ok(Row::Record(Box::new(rec)))
}

/// The model label of an iteration/loop container's record: it has no model of its own.
pub const CONTAINER_MODEL: &str = "(iteration/loop container)";

/// An iteration/loop container row: Dify stores the sum of its children's tokens and price in
/// `execution_metadata`. Kept as a record that repeats its children, so the app's total is what
/// its rows add up to and the `double_counting` step takes it out again.
fn container_row(
    id: String,
    meta: &ExecutionMetadata,
    f: &Fields<'_>,
    file: &InputFile,
    line: u64,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Row, String> {
    let tokens = meta.tokens()?.unwrap_or(0);
    let price = meta.price()?;
    if tokens == 0 && price.is_none_or(|p| p.is_zero()) {
        return Ok(Row::NoUsage(
            "iteration/loop container without usage of its own",
        ));
    }
    let currency = meta.currency()?;
    let mut rec = UsageRecord::call(id, file.origin(line), at);
    rec.model = CONTAINER_MODEL.to_string();
    // Dify keeps only the total: it cannot be split into input and output.
    rec.usage[crate::record::UsageClass::Input] = tokens;
    // A zero price needs no currency.
    let price = price.filter(|p| !p.is_zero() || currency.is_some());
    rec.reported_cost = ExecutionMetadata::cost(price, currency)?;
    rec.link.repeats = Some("iteration/loop container: the sum of its child nodes");
    rec.scope.app = f.string(n::APP_ID);
    rec.scope.workflow = f.string(n::WORKFLOW_RUN_ID);
    rec.scope.node = f.string(n::NODE_ID);
    rec.scope.workspace = f.string(n::TENANT_ID);
    Ok(Row::Record(Box::new(rec)))
}

// ---------------------------------------------------------------------------------------------
// Service-API log

fn read_api_log(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    util::each_jsonl_line(file, reader, sink, |line, text, sink| {
        let t = text.trim();
        if is_sse_ping(t) {
            sink.no_usage(line, "stream keep-alive (event: ping)");
            return;
        }
        let body = t.strip_prefix("data:").map(str::trim_start).unwrap_or(t);
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(obj)) => {
                let row = api_object(&obj, file, line, sink);
                Row::emit(row, line, "", sink)
            }
            Ok(_) => sink.reject(
                line,
                "expected a JSON object: a message_end event or a blocking chat/completion response"
                    .to_string(),
            ),
            Err(e) => sink.reject(line, format!("invalid JSON: {e}")),
        }
    })
}

/// Said of an API-log line whose `total_tokens` is not the sum of its parts.
pub const TOTAL_MISMATCH_NOTE: &str = "metadata.usage.total_tokens differs from prompt_tokens + completion_tokens (a known Dify bug): the parts are counted, the total is not";

fn api_object(
    obj: &Map<String, Value>,
    file: &InputFile,
    line: u64,
    sink: &mut dyn RecordSink,
) -> Result<Row, String> {
    let usage = match obj.get("metadata").and_then(|m| m.get("usage")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(u)) => Some(u),
        Some(v) => {
            return Err(format!(
                "metadata.usage: expected a JSON object of token counts, got '{}'",
                shown_value(v)
            ));
        }
    };
    let event = obj.get("event").and_then(Value::as_str);
    let Some(usage) = usage else {
        return if event.is_some() {
            Ok(Row::NoUsage("stream event without usage"))
        } else {
            Err("expected a message_end event or a blocking chat/completion response with metadata.usage".to_string())
        };
    };
    let s = |k: &str| match obj.get(k) {
        Some(Value::String(s)) if !util::is_null(s) => Some(s.trim().to_string()),
        _ => None,
    };
    // A completion message_end has both: `message_id` names the message, `id` the event.
    let id = s("message_id")
        .or_else(|| s("id"))
        .ok_or("message_id: expected the message id, got nothing")?;
    let at = match obj.get("created_at") {
        None | Some(Value::Null) => {
            return Err(format!(
                "created_at: expected unix seconds; {} events carry no timestamp, so the log must add created_at",
                event.unwrap_or("message_end")
            ));
        }
        Some(v) => util::unix_seconds(v).ok_or_else(|| {
            format!(
                "created_at: expected unix seconds like 1705407629, got '{}'",
                shown_value(v)
            )
        })?,
    };
    let u = llm_usage(usage, "metadata.usage")?;
    let reported_cost = match (u.total_price, u.currency) {
        (Some(p), Some(c)) => Some(Money::new(p, c)),
        (Some(p), None) => {
            return Err(format!(
                "metadata.usage.currency: expected a currency code like USD or RMB for total_price {p}, got nothing"
            ));
        }
        (None, _) => None,
    };
    let mut rec = UsageRecord::call(id.clone(), file.origin(line), at);
    if s("mode").as_deref() == Some("completion") {
        rec.operation = Operation::Completion;
    }
    rec.usage = u.usage;
    rec.unit_prices = u.unit_prices;
    rec.reported_cost = reported_cost;
    if u.total_mismatch {
        sink.note_example(line, TOTAL_MISMATCH_NOTE, &id);
    }
    rec.link.trace_id = Some(id);
    rec.link.conversation_id = s("conversation_id");
    Ok(Row::Record(Box::new(rec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{CollectSink, read_all, read_head};
    use UsageClass::*;
    use chrono::{Duration, TimeZone};
    use rust_decimal_macros::dec;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name)
    }

    use crate::source::testutil::{load, rec};

    fn read_str(format: Format, text: &str) -> Result<CollectSink, InputError> {
        let file = InputFile::new(0, Path::new("mem"));
        let mut r: &[u8] = text.as_bytes();
        let mut sink = CollectSink::default();
        read(format, &file, &mut r, &mut sink)?;
        Ok(sink)
    }

    fn head(text: &str) -> Head {
        Head {
            text: text.to_string(),
        }
    }

    fn sniff_file(path: &Path) -> Option<Format> {
        let file = InputFile::new(0, path);
        let h = read_head(&file).unwrap_or_else(|e| panic!("{e}"));
        sniff(&h)
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + Duration::microseconds(micros)
    }

    fn cost(r: &UsageRecord) -> Option<(Decimal, &str)> {
        r.reported_cost
            .as_ref()
            .map(|m| (m.amount, m.currency.as_str()))
    }

    fn prices(r: &UsageRecord) -> Option<(Decimal, Decimal, &str)> {
        r.unit_prices
            .as_ref()
            .map(|u| (u.input, u.output, u.currency.as_str()))
    }

    fn assert_accounting(
        s: &CollectSink,
        rows: usize,
        records: usize,
        no_usage: usize,
        rejected: usize,
    ) {
        assert_eq!(s.records.len(), records, "records");
        assert_eq!(s.no_usage.len(), no_usage, "no_usage: {:?}", s.no_usage);
        assert_eq!(s.rejected.len(), rejected, "rejected: {:?}", s.rejected);
        assert_eq!(records + no_usage + rejected, rows);
    }

    // ------------------------------------------------------------------ sniffing

    #[test]
    fn every_fixture_sniffs_to_its_format() {
        let cases = [
            ("dify/messages.csv", Format::DifyMessagesCsv),
            ("dify/messages.jsonl", Format::DifyMessagesJsonl),
            ("dify/node_executions.csv", Format::DifyNodeExecutionsCsv),
            (
                "dify/node_executions.jsonl",
                Format::DifyNodeExecutionsJsonl,
            ),
            ("dify/api_log.jsonl", Format::DifyApiLog),
            ("demo/dify_messages.csv", Format::DifyMessagesCsv),
            (
                "demo/dify_node_executions.csv",
                Format::DifyNodeExecutionsCsv,
            ),
        ];
        for (name, want) in cases {
            assert_eq!(sniff_file(&fixture(name)), Some(want), "{name}");
        }
    }

    #[test]
    fn other_systems_files_are_not_claimed() {
        let mut others: Vec<PathBuf> = [
            "langfuse/ui_export.csv",
            "langfuse/ui_export.json",
            "langfuse/ui_export.jsonl",
            "langfuse/api_observations.json",
            "langfuse/api_observations_v2.json",
            "langfuse/blob_observations.csv",
            "langfuse/blob_observations.jsonl",
            "demo/langfuse_observations.csv",
            "demo/openai_usage_completions_p1.json",
            "demo/openai_usage_embeddings_p1.json",
            "demo/openai_costs_p1.json",
        ]
        .iter()
        .map(|n| fixture(n))
        .collect();
        if let Ok(dir) = std::fs::read_dir(fixture("openai")) {
            others.extend(dir.filter_map(|e| e.ok()).map(|e| e.path()));
        }
        for p in others.iter().filter(|p| p.is_file()) {
            assert_eq!(sniff_file(p), None, "{}", p.display());
        }
        // A Langfuse JSONL line that mentions Dify's keys inside its metadata is not a messages
        // row: top-level keys decide.
        let lf = r#"{"id":"o1","traceId":"t","type":"GENERATION","startTime":"2026-10-01T08:00:00Z","metadata":{"message_tokens":1,"answer_tokens":2}}"#;
        assert_eq!(sniff(&head(lf)), None);
        // Truncated the same way: the other system's own keys keep it away.
        assert_eq!(sniff(&head(&lf[..lf.len() - 5])), None);
        // An analytics log with an `event` key that is not a Dify stream event.
        assert_eq!(
            sniff(&head(r#"{"event":"page_view","user_id":"u1"}"#)),
            None
        );
        assert_eq!(sniff(&head("date,amount\n2026-10-01,3.50\n")), None);
    }

    #[test]
    fn a_head_cut_inside_a_long_message_column_still_sniffs() {
        // row_to_json writes `message` (the prompt) before `message_tokens`; the 64 KiB head can
        // end inside a later row, and a first row longer than the head has its keys cut too.
        let big = "x".repeat(70_000);
        let line = format!(
            r#"{{"id":"m1","app_id":"a","message_tokens":10,"answer_tokens":2,"answer":"{big}"}}"#
        );
        let cut: String = line.chars().take(64 * 1024).collect();
        assert_eq!(sniff(&head(&cut)), Some(Format::DifyMessagesJsonl));
        let node = format!(
            r#"{{"id":"n1","node_type":"llm","inputs":"{big}","execution_metadata":null}}"#
        );
        // `execution_metadata` lies past the cut: not enough to say.
        let cut: String = node.chars().take(64 * 1024).collect();
        assert_eq!(sniff(&head(&cut)), None);
    }

    #[test]
    fn an_unrecognizable_file_is_an_input_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("notes.jsonl");
        std::fs::write(&p, "{\"hello\": \"world\"}\n").unwrap_or_else(|e| panic!("{e}"));
        let err = read_all(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unrecognized format"), "{err}");
        assert!(err.contains("dify-messages-csv"), "{err}");
    }

    #[test]
    fn non_dify_format_is_refused() {
        let err = read_str(Format::LangfuseUiCsv, "id\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not a Dify format"), "{err}");
    }

    // ------------------------------------------------------------------ messages

    #[test]
    fn messages_csv_rows_map_to_exact_values() {
        let (_, s) = load("dify/messages.csv");
        // 5 rows: OpenAI chat, chatflow (no model), error, tongyi RMB, bad count.
        assert_accounting(&s, 5, 4, 0, 1);

        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a01");
        assert_eq!(r.usage, Usage::of(&[(Input, 1200), (Output, 300)]));
        // total_price as Dify wrote it: 1200 × 2.5e-6 + 300 × 10e-6 = 0.003 + 0.003.
        assert_eq!(cost(r), Some((dec!(0.0060000), "USD")));
        // 2.5000 × 0.0000010 and 10.0000 × 0.0000010 per token.
        assert_eq!(prices(r), Some((dec!(0.0000025), dec!(0.00001), "USD")));
        assert_eq!(
            (r.start, r.end),
            (at(2026, 10, 1, 8, 0, 0, 123_456), r.start)
        );
        assert_eq!(
            (r.provider.as_str(), r.model.as_str(), r.model_raw.as_str()),
            ("openai", "gpt-4o", "gpt-4o-2024-08-06")
        );
        assert_eq!(
            (r.operation, r.link.status, r.requests),
            (Operation::Chat, Status::Ok, 1)
        );
        assert_eq!(r.link.trace_id.as_deref(), Some(r.id.as_str()));
        assert_eq!(
            r.link.conversation_id.as_deref(),
            Some("c0c0c0c0-aaaa-4bbb-8ccc-000000000001")
        );
        assert_eq!(
            r.scope.app.as_deref(),
            Some("8e2d4c1a-5b6f-4e3a-9c7d-1a2b3c4d5e01")
        );
        assert_eq!(
            r.scope.user.as_deref(),
            Some("e0e0e0e0-1111-4222-8333-444455556601")
        );
        assert_eq!(r.scope.workflow, None);
        assert_eq!(r.origin.line, 2);

        // Row 1's answer spans lines 2-3, so the chatflow row starts on line 4.
        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a02");
        assert_eq!(r.origin.line, 4);
        assert_eq!(
            (r.provider.as_str(), r.model.as_str(), r.model_raw.as_str()),
            ("", "", "")
        );
        // The run's counted nodes: 500 + 300 + 1600 in, 1 + 50 + 450 out.
        assert_eq!(r.usage, Usage::of(&[(Input, 2400), (Output, 501)]));
        // 0.0000756 + 0.0000750 + 0.0085000.
        assert_eq!(cost(r), Some((dec!(0.0086506), "USD")));
        assert_eq!(
            r.scope.workflow.as_deref(),
            Some("d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e501")
        );
        // No end user: the console account.
        assert_eq!(
            r.scope.user.as_deref(),
            Some("acc0acc0-2222-4333-8444-555566667701")
        );
        // Postgres trims fraction zeros: `.5` is half a second.
        assert_eq!(r.start, at(2026, 10, 1, 9, 15, 30, 500_000));

        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a03");
        assert_eq!(r.link.status, Status::Error);
        assert!(r.usage.is_zero());
        assert_eq!(cost(r), Some((Decimal::ZERO, "USD")));
        assert_eq!(r.start, at(2026, 10, 1, 10, 0, 0, 0));

        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a04");
        assert_eq!(r.operation, Operation::Completion);
        assert_eq!(r.usage, Usage::of(&[(Input, 800), (Output, 200)]));
        // RMB is CNY; 800 × 0.04 × 0.001 + 200 × 0.12 × 0.001 = 0.032 + 0.024.
        assert_eq!(cost(r), Some((dec!(0.056), "CNY")));
        assert_eq!(prices(r), Some((dec!(0.00004), dec!(0.00012), "CNY")));
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("alibaba", "qwen-max")
        );
        assert_eq!(r.start, at(2026, 10, 1, 11, 30, 45, 60_000));

        assert_eq!(s.rejected[0].0, 7);
        assert_eq!(
            s.rejected[0].1,
            "message_tokens: expected a non-negative whole token count, got '1,024'"
        );
    }

    #[test]
    fn messages_jsonl_rows_map_to_exact_values() {
        let (_, s) = load("dify/messages.jsonl");
        // 6 lines: 4 rows, a NULL answer_tokens and a cut-off line.
        assert_accounting(&s, 6, 4, 0, 2);

        let r = rec(&s, "4a2b9c63-8e2f-4d9c-8b52-1f7c3a9e2b01");
        assert_eq!(r.usage, Usage::of(&[(Input, 2000), (Output, 500)]));
        // JSON numbers 0.1500 × 0.0000010 and 0.6000 × 0.0000010.
        assert_eq!(prices(r), Some((dec!(0.00000015), dec!(0.0000006), "USD")));
        // 2000 × 0.15e-6 + 500 × 0.6e-6 = 0.0003 + 0.0003.
        assert_eq!(cost(r), Some((dec!(0.0006), "USD")));
        // row_to_json writes `T` between date and time.
        assert_eq!(r.start, at(2026, 10, 2, 14, 5, 9, 700_000));
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("openai", "gpt-4o-mini")
        );
        assert_eq!(r.origin.line, 1);

        let r = rec(&s, "4a2b9c63-8e2f-4d9c-8b52-1f7c3a9e2b02");
        assert_eq!(r.usage, Usage::of(&[(Input, 3000), (Output, 400)]));
        // 3000 × 3e-6 + 400 × 15e-6 = 0.009 + 0.006.
        assert_eq!(cost(r), Some((dec!(0.015), "USD")));
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("anthropic", "claude-3-5-sonnet")
        );
        assert_eq!(r.operation, Operation::Chat);

        let r = rec(&s, "4a2b9c63-8e2f-4d9c-8b52-1f7c3a9e2b03");
        assert_eq!(r.model, "");
        assert_eq!(
            r.scope.workflow.as_deref(),
            Some("d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e503")
        );
        // 700 × 0.15e-6 + 80 × 0.6e-6 = 0.000105 + 0.000048.
        assert_eq!(cost(r), Some((dec!(0.000153), "USD")));

        // `RMB ` with Dify's trailing space.
        let r = rec(&s, "4a2b9c63-8e2f-4d9c-8b52-1f7c3a9e2b04");
        assert_eq!(cost(r), Some((dec!(0.0012), "CNY")));
        assert_eq!(prices(r), Some((dec!(0.000001), dec!(0.000002), "CNY")));
        assert_eq!(r.start, at(2026, 10, 2, 17, 45, 30, 1_000));

        assert_eq!(
            s.rejected[0],
            (
                5,
                "answer_tokens: expected a token count, got nothing".to_string()
            )
        );
        assert_eq!(s.rejected[1].0, 6);
        assert!(
            s.rejected[1].1.starts_with("invalid JSON"),
            "{}",
            s.rejected[1].1
        );
    }

    #[test]
    fn messages_csv_with_reordered_columns_ragged_rows_and_bad_values() {
        // Only the required columns, in another order.
        let text = "currency,total_price,answer_tokens,message_tokens,created_at,id\n\
                    USD,0.0000100,4,6,2026-10-01 08:00:00,m1\n\
                    USD,0.1,4\n\
                    USD,0.1,4,6,yesterday,m3\n\
                    ,0.1,4,6,2026-10-01 08:00:00,m4\n\
                    EUR,,4,6,2026-10-01 08:00:00,m5\n\
                    USD,abc,4,6,2026-10-01 08:00:00,m6\n";
        let s = read_str(Format::DifyMessagesCsv, text).unwrap_or_else(|e| panic!("{e}"));
        assert_accounting(&s, 6, 2, 0, 4);
        let r = rec(&s, "m1");
        assert_eq!(r.usage, Usage::of(&[(Input, 6), (Output, 4)]));
        assert_eq!(cost(r), Some((dec!(0.00001), "USD")));
        assert_eq!(r.unit_prices, None);
        // NULL total_price: no reported cost (not zero).
        assert_eq!(rec(&s, "m5").reported_cost, None);
        assert_eq!(
            s.rejected[0],
            (3, "expected 6 fields like the header, got 3".to_string())
        );
        assert_eq!(
            s.rejected[1],
            (
                4,
                "created_at: expected a timestamp like 2026-10-01 08:00:00.123456, got 'yesterday'"
                    .to_string()
            )
        );
        assert!(
            s.rejected[2].1.starts_with("currency:"),
            "{}",
            s.rejected[2].1
        );
        assert_eq!(
            s.rejected[3],
            (
                7,
                "total_price: expected a decimal number, got 'abc'".to_string()
            )
        );
    }

    #[test]
    fn messages_jsonl_through_psql_copy_text_format() {
        // `\copy (select row_to_json(m) from messages m) to …` writes COPY text format, which
        // doubles each backslash of the JSON: `"say \"hi\""` arrives as `"say \\"hi\\""`.
        let line = r#"{"id":"m1","query":"say \\"hi\\"","message_tokens":7,"answer_tokens":3,"total_price":0.0000100,"currency":"USD","created_at":"2026-10-01T08:00:00"}"#;
        let s = read_str(Format::DifyMessagesJsonl, &format!("{line}\n[1]\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_accounting(&s, 2, 1, 0, 1);
        let r = rec(&s, "m1");
        assert_eq!(r.usage, Usage::of(&[(Input, 7), (Output, 3)]));
        // JSON number 0.0000100 read from its text.
        assert_eq!(cost(r), Some((dec!(0.00001), "USD")));
        assert_eq!(s.rejected[0].0, 2);
    }

    #[test]
    fn a_csv_without_a_required_column_is_an_input_error() {
        let err = read_str(
            Format::DifyMessagesCsv,
            "id,created_at,message_tokens,answer_tokens,currency\nm1,2026-10-01,1,1,USD\n",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("missing column 'total_price'"), "{err}");
        let err = read_str(Format::DifyNodeExecutionsCsv, "id,node_type,status\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("missing column 'created_at'"), "{err}");
    }

    // ------------------------------------------------------------------ node executions

    #[test]
    fn node_executions_csv_rows_map_to_exact_values() {
        let (_, s) = load("dify/node_executions.csv");
        // 10 rows: start, classifier, iteration, child, retry, answer, answer node, failed,
        // parameter extractor, bad time.
        assert_accounting(&s, 10, 6, 3, 1);

        let r = rec(&s, "9a000000-0000-4000-8000-000000000002");
        assert_eq!(r.usage, Usage::of(&[(Input, 500), (Output, 1)]));
        // execution_metadata.total_price is the float 7.56e-05 = 0.0000750 + 6E-7.
        assert_eq!(cost(r), Some((dec!(0.0000756), "USD")));
        assert_eq!(prices(r), Some((dec!(0.00000015), dec!(0.0000006), "USD")));
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("openai", "gpt-4o-mini")
        );
        assert_eq!(r.start, at(2026, 10, 1, 9, 15, 30, 510_000));
        assert_eq!(
            r.scope.workflow.as_deref(),
            Some("d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e501")
        );
        assert_eq!(r.scope.node.as_deref(), Some("1759300000002"));
        assert_eq!(
            r.scope.app.as_deref(),
            Some("8e2d4c1a-5b6f-4e3a-9c7d-1a2b3c4d5e02")
        );
        assert_eq!(r.link.trace_id, None);
        assert_eq!(r.origin.line, 3);

        // The iteration container repeats its child's 350 tokens / $0.000075 (execution_metadata
        // total): kept, marked as repeating, its total in `input` since Dify does not split it.
        let r = rec(&s, "9a000000-0000-4000-8000-000000000003");
        assert_eq!(r.usage, Usage::of(&[(Input, 350)]));
        assert_eq!(cost(r), Some((dec!(0.000075), "USD")));
        assert!(r.link.repeats.is_some_and(|w| w.contains("container")));
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("", CONTAINER_MODEL)
        );

        // The iteration child is a call of its own.
        let r = rec(&s, "9a000000-0000-4000-8000-000000000004");
        assert_eq!(r.link.repeats, None);
        assert_eq!(r.usage, Usage::of(&[(Input, 300), (Output, 50)]));
        // 300 × 0.15e-6 + 50 × 0.6e-6 = 0.000045 + 0.00003.
        assert_eq!(cost(r), Some((dec!(0.000075), "USD")));

        let r = rec(&s, "9a000000-0000-4000-8000-000000000006");
        assert_eq!(r.usage, Usage::of(&[(Input, 1600), (Output, 450)]));
        // 1600 × 2.5e-6 + 450 × 10e-6 = 0.004 + 0.0045.
        assert_eq!(cost(r), Some((dec!(0.0085), "USD")));
        assert_eq!(r.model, "gpt-4o");

        // Failed: kept as an error with no usage and no cost.
        let r = rec(&s, "9a000000-0000-4000-8000-000000000008");
        assert_eq!(r.link.status, Status::Error);
        assert!(r.usage.is_zero());
        assert_eq!((r.reported_cost, r.model.as_str()), (None, ""));
        assert_eq!(r.start, at(2026, 10, 1, 13, 2, 3, 0));

        let r = rec(&s, "9a000000-0000-4000-8000-000000000009");
        assert_eq!(r.usage, Usage::of(&[(Input, 900), (Output, 60)]));
        // 900 × 1e-6 + 60 × 2e-6 = 0.0009 + 0.00012, in RMB.
        assert_eq!(cost(r), Some((dec!(0.00102), "CNY")));
        assert_eq!(prices(r), Some((dec!(0.000001), dec!(0.000002), "CNY")));
        assert_eq!(r.provider, "deepseek");

        assert_eq!(
            s.no_usage,
            vec![
                (2, "non-model node: no model usage"),
                (
                    6,
                    "retried attempt (status retry): Dify records no usage for it"
                ),
                (8, "non-model node: no model usage"),
            ]
        );
        assert_eq!(s.rejected[0].0, 11);
        assert!(
            s.rejected[0].1.contains("created_at")
                && s.rejected[0].1.contains("'01/10/2026 13:06'"),
            "{}",
            s.rejected[0].1
        );
    }

    #[test]
    fn node_executions_jsonl_rows_map_to_exact_values() {
        let (_, s) = load("dify/node_executions.jsonl");
        // 8 lines: loop container, loop child, knowledge retrieval, agent with only
        // total_tokens, agent with outputs.usage, exception, Claude answer, cut-off line.
        assert_accounting(&s, 8, 5, 1, 2);
        // The loop container: 430 tokens, 7.8e-05 USD, the sum of its child (400 + 30).
        let r = rec(&s, "9c000000-0000-4000-8000-000000000001");
        assert_eq!(r.usage, Usage::of(&[(Input, 430)]));
        assert_eq!(cost(r), Some((dec!(0.000078), "USD")));
        assert!(r.link.repeats.is_some());

        let r = rec(&s, "9c000000-0000-4000-8000-000000000002");
        assert_eq!(r.usage, Usage::of(&[(Input, 400), (Output, 30)]));
        // 400 × 0.15e-6 + 30 × 0.6e-6 = 0.00006 + 0.000018.
        assert_eq!(cost(r), Some((dec!(0.000078), "USD")));
        assert_eq!(r.start, at(2026, 10, 2, 16, 20, 0, 310_000));
        assert_eq!(
            r.scope.user.as_deref(),
            Some("e0e0e0e0-1111-4222-8333-444455556601")
        );

        // The agent's usage lives in `outputs.usage`, decimals as floats (2.5 × 1e-06).
        let r = rec(&s, "9c000000-0000-4000-8000-000000000008");
        assert_eq!(r.usage, Usage::of(&[(Input, 1200), (Output, 150)]));
        // 1200 × 2.5e-6 + 150 × 10e-6 = 0.003 + 0.0015.
        assert_eq!(cost(r), Some((dec!(0.0045), "USD")));
        assert_eq!(prices(r), Some((dec!(0.0000025), dec!(0.00001), "USD")));
        assert_eq!(r.origin.line, 5);

        let r = rec(&s, "9c000000-0000-4000-8000-000000000005");
        assert_eq!(r.link.status, Status::Error);
        assert!(r.usage.is_zero());
        assert_eq!(r.origin.line, 6);

        let r = rec(&s, "9c000000-0000-4000-8000-000000000006");
        assert_eq!(r.usage, Usage::of(&[(Input, 2000), (Output, 300)]));
        // 2000 × 3e-6 + 300 × 15e-6 = 0.006 + 0.0045.
        assert_eq!(cost(r), Some((dec!(0.0105), "USD")));
        assert_eq!(
            (r.provider.as_str(), r.model.as_str()),
            ("anthropic", "claude-3-5-sonnet")
        );

        assert_eq!(s.no_usage, vec![(3, "non-model node: no model usage")]);
        assert_eq!(s.rejected[0].0, 4);
        assert!(
            s.rejected[0].1.contains("total_tokens 1500")
                && s.rejected[0]
                    .1
                    .contains("prompt_tokens and completion_tokens"),
            "{}",
            s.rejected[0].1
        );
        assert_eq!(s.rejected[1].0, 8);
        assert!(s.rejected[1].1.starts_with("invalid JSON"));
    }

    #[test]
    fn node_usage_edge_cases() {
        let header = "id,node_type,status,created_at,process_data,execution_metadata\n";
        let row = |id: &str, pd: &str, meta: &str| {
            let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            format!(
                "{id},llm,succeeded,2026-10-01 08:00:00,{},{}\n",
                q(pd),
                q(meta)
            )
        };
        let text = [
            header.to_string(),
            // Only usage.total_tokens: no split.
            row("a", r#"{"usage": {"total_tokens": 90}}"#, "{}"),
            // No execution_metadata price: usage.total_price with usage.currency.
            row(
                "b",
                r#"{"usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_price": "0.0000123", "currency": "EUR"}}"#,
                "",
            ),
            row("c", r#"{"usage": {"prompt_tokens": "many", "completion_tokens": 2}}"#, "{}"),
            row("d", r#"{"usage": {"prompt_tokens": 5, "completion_tokens": 2}}"#, r#"{"total_price": 0.5}"#),
            row("e", "not json", "{}"),
            // Succeeded, no usage and no tokens at all.
            row("f", r#"{"model_mode": "chat"}"#, "{}"),
        ]
        .concat();
        let s = read_str(Format::DifyNodeExecutionsCsv, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_accounting(&s, 6, 1, 1, 4);
        let r = rec(&s, "b");
        assert_eq!(r.usage, Usage::of(&[(Input, 5), (Output, 2)]));
        assert_eq!(cost(r), Some((dec!(0.0000123), "EUR")));
        assert_eq!(r.unit_prices, None);
        assert_eq!(s.no_usage, vec![(7, "model node without recorded usage")]);
        let reasons: Vec<&str> = s.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(
            reasons[0],
            "process_data.usage: only total_tokens (90) is given; expected prompt_tokens and completion_tokens"
        );
        assert_eq!(
            reasons[1],
            "process_data.usage.prompt_tokens: expected a non-negative whole token count, got 'many'"
        );
        assert!(
            reasons[2].starts_with("execution_metadata.currency"),
            "{}",
            reasons[2]
        );
        assert_eq!(
            reasons[3],
            "process_data: expected a JSON object, got 'not json'"
        );
    }

    // ------------------------------------------------------------------ API log

    #[test]
    fn api_log_lines_map_to_exact_values() {
        let (_, s) = load("dify/api_log.jsonl");
        // 8 lines: message chunk, ping, message_end without time, 3 blocking responses,
        // workflow_finished, cut-off line.
        assert_accounting(&s, 8, 3, 3, 2);

        // The documentation's blocking chat example: string decimals, `message_id` names the
        // message (its `id` differs).
        let r = rec(&s, "9da23599-e713-473b-982c-4328d4f5c78a");
        assert_eq!(r.usage, Usage::of(&[(Input, 1033), (Output, 128)]));
        // 1033 × 0.001 × 0.001 + 128 × 0.002 × 0.001 = 0.001033 + 0.000256.
        assert_eq!(cost(r), Some((dec!(0.0012890), "USD")));
        assert_eq!(prices(r), Some((dec!(0.000001), dec!(0.000002), "USD")));
        // 1705407629 = 2024-01-16 12:20:29 UTC.
        assert_eq!(r.start, at(2024, 1, 16, 12, 20, 29, 0));
        assert_eq!((r.model.as_str(), r.provider.as_str()), ("", ""));
        assert_eq!(
            r.link.conversation_id.as_deref(),
            Some("45701982-8118-4bc5-8e9b-64562b4555f2")
        );
        assert_eq!(r.link.trace_id.as_deref(), Some(r.id.as_str()));

        // Decimals as JSON numbers, `1e-06` among them.
        let r = rec(&s, "a1b2c3d4-0001-4000-8000-00000000aa01");
        assert_eq!(r.usage, Usage::of(&[(Input, 1000), (Output, 200)]));
        assert_eq!(prices(r), Some((dec!(0.00000015), dec!(0.0000006), "USD")));
        // 1000 × 0.15e-6 + 200 × 0.6e-6 = 0.00015 + 0.00012.
        assert_eq!(cost(r), Some((dec!(0.00027), "USD")));
        // 1791009015 = 2026-10-03 06:30:15 UTC.
        assert_eq!(r.start, at(2026, 10, 3, 6, 30, 15, 0));

        let r = rec(&s, "a1b2c3d4-0001-4000-8000-00000000aa02");
        assert_eq!(r.operation, Operation::Completion);
        // total_price 9e-05 = 50 × 0.001 × 0.001 + 20 × 0.002 × 0.001.
        assert_eq!(cost(r), Some((dec!(0.00009), "USD")));
        assert_eq!(r.usage, Usage::of(&[(Input, 50), (Output, 20)]));

        assert_eq!(
            s.no_usage,
            vec![
                (1, "stream event without usage"),
                (2, "stream keep-alive (event: ping)"),
                (7, "stream event without usage"),
            ]
        );
        assert_eq!(s.rejected[0].0, 3);
        assert!(
            s.rejected[0].1.contains("created_at")
                && s.rejected[0]
                    .1
                    .contains("message_end events carry no timestamp"),
            "{}",
            s.rejected[0].1
        );
        assert_eq!(s.rejected[1].0, 8);
        assert!(s.rejected[1].1.starts_with("invalid JSON"));
    }

    #[test]
    fn api_log_objects_that_are_not_usage() {
        let text = "[1, 2]\n\
                    {\"task_id\": \"t\", \"workflow_run_id\": \"w\", \"data\": {\"total_tokens\": 150}}\n\
                    {\"event\": \"message_end\", \"message_id\": \"m\", \"created_at\": \"soon\", \"metadata\": {\"usage\": {\"prompt_tokens\": 1, \"completion_tokens\": 1}}}\n";
        let s = read_str(Format::DifyApiLog, text).unwrap_or_else(|e| panic!("{e}"));
        assert_accounting(&s, 3, 0, 0, 3);
        assert!(s.rejected[0].1.starts_with("expected a JSON object"));
        assert!(
            s.rejected[1].1.contains("metadata.usage"),
            "{}",
            s.rejected[1].1
        );
        assert_eq!(
            s.rejected[2].1,
            "created_at: expected unix seconds like 1705407629, got 'soon'"
        );
    }

    #[test]
    fn api_log_total_that_is_not_its_parts_is_noted_and_the_parts_counted() {
        let (_, s) = load("dify/api_log_total_mismatch.jsonl");
        assert_accounting(&s, 3, 3, 0, 0);
        // dify#19175's shape: total_tokens 412 < 412 + 57; the parts are what was billed.
        let r = rec(&s, "d1f7e0a2-5b3c-4e8d-9a10-00000000bb01");
        assert_eq!(r.usage, Usage::of(&[(Input, 412), (Output, 57)]));
        assert_eq!(r.usage.total(), 469);
        // A blocking response with a total above its parts (1,300 ≠ 1,200 + 300).
        let r = rec(&s, "d1f7e0a2-5b3c-4e8d-9a10-00000000bb02");
        assert_eq!(r.usage, Usage::of(&[(Input, 1200), (Output, 300)]));
        // Two mismatches (lines 1 and 2); line 3's 120 = 100 + 20 is not one.
        assert_eq!(
            s.notes,
            vec![(1, TOTAL_MISMATCH_NOTE), (2, TOTAL_MISMATCH_NOTE)]
        );
        assert_eq!(
            s.note_examples,
            vec![
                (1, "d1f7e0a2-5b3c-4e8d-9a10-00000000bb01".to_string()),
                (2, "d1f7e0a2-5b3c-4e8d-9a10-00000000bb02".to_string())
            ]
        );
    }

    // ------------------------------------------------------------------ the demo month

    fn truth() -> Value {
        let text = std::fs::read_to_string(fixture("demo/truth.json"))
            .unwrap_or_else(|e| panic!("truth.json: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("truth.json: {e}"))
    }

    fn truth_i64(v: &Value, path: &[&str]) -> i64 {
        path.iter()
            .fold(v, |v, k| &v[*k])
            .as_i64()
            .unwrap_or_else(|| panic!("truth.json: no {path:?}"))
    }

    fn truth_dec(v: &Value, path: &[&str]) -> Decimal {
        path.iter()
            .fold(v, |v, k| &v[*k])
            .as_str()
            .and_then(parse_decimal)
            .unwrap_or_else(|| panic!("truth.json: no {path:?}"))
    }

    #[test]
    fn demo_files_read_without_rejections_and_match_the_truth() {
        let t = truth();
        let dify_openai = t["comparisons"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|c| c["baseline"] == "dify" && c["reference"] == "openai")
            })
            .unwrap_or_else(|| panic!("truth.json: no dify -> openai comparison"))
            .clone();
        let window_start = at(2026, 9, 30, 16, 0, 0, 0);
        let window_end = at(2026, 10, 31, 16, 0, 0, 0);
        let in_window = |r: &UsageRecord| r.start >= window_start && r.start < window_end;

        let (_, nodes) = load("demo/dify_node_executions.csv");
        assert!(
            nodes.rejected.is_empty(),
            "{:?}",
            &nodes.rejected[..nodes.rejected.len().min(5)]
        );
        assert_eq!(
            (nodes.records.len() + nodes.no_usage.len()) as i64,
            truth_i64(&t, &["counts", "dify_node_rows"])
        );
        // Records = LLM rows with usage (stopped streams among them, at 0 tokens), failed
        // Answer rows (kept as errors, no usage) and iteration containers.
        let with_usage: Vec<&UsageRecord> = nodes
            .records
            .iter()
            .filter(|r| r.link.status != Status::Error && r.link.repeats.is_none())
            .collect();
        assert_eq!(
            with_usage.len() as i64,
            truth_i64(&t, &["counts", "dify_llm_rows_with_usage"])
        );
        let failed: Vec<&UsageRecord> = nodes
            .records
            .iter()
            .filter(|r| r.link.status == Status::Error)
            .collect();
        assert_eq!(
            failed.len() as i64,
            truth_i64(&t, &["counts", "rejected_answers"])
        );
        assert!(failed.iter().all(|r| r.usage.is_zero()));
        let stopped: Vec<&&UsageRecord> = with_usage
            .iter()
            .filter(|r| r.link.status == Status::Interrupted)
            .collect();
        assert_eq!(
            stopped.len() as i64,
            truth_i64(&t, &["counts", "stopped_answers"])
        );
        assert!(stopped.iter().all(|r| r.usage.is_zero()));
        assert!(with_usage.iter().all(|r| r.provider == "openai"
            && r.reported_cost.is_some_and(|c| c.currency == Currency::USD)));
        // Retries: one no-usage row per retried Answer call.
        let retries = nodes
            .no_usage
            .iter()
            .filter(|(_, why)| why.starts_with("retried attempt"))
            .count() as i64;
        assert_eq!(retries, truth_i64(&t, &["counts", "retried_answers"]));
        let containers = nodes
            .records
            .iter()
            .filter(|r| {
                r.link
                    .repeats
                    .is_some_and(|w| w.starts_with("iteration/loop"))
            })
            .count() as i64;
        assert_eq!(containers, truth_i64(&t, &["counts", "iteration_runs"]));

        // The baseline is Dify's node rows in the report window, containers included; the rest
        // of the bill span is the window_misalignment step (all Dify traffic lies in the span).
        let sum = |pred: &dyn Fn(&UsageRecord) -> bool| {
            nodes.records.iter().filter(|r| pred(r)).fold(
                (Usage::ZERO, Decimal::ZERO),
                |(u, c), r| {
                    (
                        u + r.usage,
                        c + r.reported_cost.map(|m| m.amount).unwrap_or_default(),
                    )
                },
            )
        };
        let (u_in, c_in) = sum(&in_window);
        // Containers belong to the baseline inside the window (double_counting takes them
        // out); outside it they are no traffic.
        let (u_out, c_out) = sum(&|r| !in_window(r) && r.link.repeats.is_none());
        let b = |k: &str| truth_i64(&dify_openai, &["baseline_totals", "tokens", k]);
        let w = |k: &str| truth_i64(&dify_openai, &["steps", "window_misalignment", "tokens", k]);
        assert_eq!(
            u_in,
            Usage::of(&[(Input, b("input")), (Output, b("output"))])
        );
        assert_eq!(
            u_out,
            Usage::of(&[(Input, w("input")), (Output, w("output"))])
        );
        // execution_metadata.total_price floats (e.g. 8.64e-05) read back to Dify's 7-place
        // prices exactly.
        assert_eq!(c_in, truth_dec(&dify_openai, &["baseline_totals", "cost"]));
        assert_eq!(
            c_out,
            truth_dec(&dify_openai, &["steps", "window_misalignment", "cost"])
        );

        // Messages: one chatflow row per run, no model, summing the run's counted nodes.
        let (_, msgs) = load("demo/dify_messages.csv");
        assert!(
            msgs.rejected.is_empty(),
            "{:?}",
            &msgs.rejected[..msgs.rejected.len().min(5)]
        );
        assert!(msgs.no_usage.is_empty());
        assert_eq!(
            msgs.records.len() as i64,
            truth_i64(&t, &["counts", "messages"])
        );
        assert_eq!(
            msgs.records.iter().filter(|r| in_window(r)).count() as i64,
            truth_i64(&t, &["counts", "messages_in_window"])
        );
        assert!(
            msgs.records
                .iter()
                .all(|r| r.model.is_empty() && r.scope.workflow.is_some())
        );
        let m_usage = msgs.records.iter().fold(Usage::ZERO, |u, r| u + r.usage);
        let m_cost: Decimal = msgs
            .records
            .iter()
            .filter_map(|r| r.reported_cost.map(|m| m.amount))
            .sum();
        // Message rows sum the run's counted nodes: every node but the containers.
        let (u_rep, c_rep) = nodes
            .records
            .iter()
            .filter(|r| in_window(r) && r.link.repeats.is_some())
            .fold((Usage::ZERO, Decimal::ZERO), |(u, c), r| {
                (
                    u + r.usage,
                    c + r.reported_cost.map(|m| m.amount).unwrap_or_default(),
                )
            });
        assert_eq!(m_usage, u_in + u_out - u_rep);
        assert_eq!(m_cost, c_in + c_out - c_rep);
        assert_eq!(
            msgs.records
                .iter()
                .filter(|r| r.link.status == Status::Error)
                .count() as i64,
            truth_i64(&t, &["counts", "rejected_answers"])
        );
    }

    /// The prompt as Dify saved it, parsed back: (role, text) pairs.
    fn prompt_pairs(r: &UsageRecord) -> Vec<(String, String)> {
        let t = r.text.as_deref().expect("call text");
        let v: Value = serde_json::from_str(&t.input).expect("prompt JSON");
        v.as_array()
            .expect("prompt array")
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap().to_string(),
                    m["text"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn call_text_is_kept_for_recounting() {
        let pair = |r: &str, t: &str| (r.to_string(), t.to_string());
        // messages.csv row 1: `message` is the saved prompt, `answer` the answer (with its
        // newline); row 3 has a NULL answer; row 4's JSON escapes decode to the CJK text.
        let (_, s) = load("dify/messages.csv");
        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a01");
        assert_eq!(
            prompt_pairs(r),
            [
                pair("system", "You are the support assistant."),
                pair("user", "What is our refund policy?")
            ]
        );
        assert_eq!(
            r.text.as_deref().unwrap().output,
            "Refunds are accepted within 30 days.\nSee the policy page for details."
        );
        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a03");
        assert_eq!(r.text.as_deref().unwrap().output, "");
        let r = rec(&s, "3f1c9a52-7d1e-4c8b-9a41-0e6b2f8d1a04");
        assert_eq!(prompt_pairs(r), [pair("user", "翻译：季度报告")]);
        // JSONL: `message` is a JSON array in row_to_json, kept as its JSON text.
        let (_, s) = load("dify/messages.jsonl");
        let r = rec(&s, "4a2b9c63-8e2f-4d9c-8b52-1f7c3a9e2b01");
        assert_eq!(prompt_pairs(r), [pair("user", "Which plan includes SSO?")]);
        // Node executions: process_data.prompts and outputs.text; a classifier's outputs
        // carry no answer text.
        let (_, s) = load("dify/node_executions.csv");
        let r = rec(&s, "9a000000-0000-4000-8000-000000000006");
        assert_eq!(
            prompt_pairs(r),
            [
                pair("system", "You are the support assistant."),
                pair("user", "Summarize ticket 4471")
            ]
        );
        assert_eq!(
            r.text.as_deref().unwrap().output,
            "The customer reports slow report loading."
        );
        let r = rec(&s, "9a000000-0000-4000-8000-000000000002");
        assert_eq!(prompt_pairs(r)[0], pair("system", "Classify."));
        assert_eq!(r.text.as_deref().unwrap().output, "");
    }

    /// A sink that wants no call text.
    #[derive(Default)]
    struct NoText(CollectSink);
    impl RecordSink for NoText {
        fn record(&mut self, rec: UsageRecord) {
            self.0.record(rec)
        }
        fn no_usage(&mut self, line: u64, reason: &'static str) {
            self.0.no_usage(line, reason)
        }
        fn reject(&mut self, line: u64, reason: String) {
            self.0.reject(line, reason)
        }
        fn wants_text(&self) -> bool {
            false
        }
    }

    /// A sink that wants no call text: the text columns are not read at all.
    #[test]
    fn no_call_text_when_the_sink_wants_none() {
        let path = fixture("dify/messages.csv");
        let file = InputFile::new(0, &path);
        let mut sink = NoText::default();
        crate::source::read(Format::DifyMessagesCsv, &file, &mut sink).unwrap();
        let (_, all) = load("dify/messages.csv");
        // Same records, same usage, only without text.
        assert_eq!(sink.0.records.len(), all.records.len());
        assert!(sink.0.records.iter().all(|r| r.text.is_none()));
        assert!(all.records.iter().all(|r| r.text.is_some()));
        let usage = |s: &CollectSink| s.records.iter().map(|r| r.usage).collect::<Vec<_>>();
        assert_eq!(usage(&sink.0), usage(&all));
    }

    /// Rows that repeat a price setting take it from the memo, and only an exact repeat does:
    /// the same columns in another currency, or one column changed, are parsed anew.
    #[test]
    fn repeated_unit_prices_are_each_rows_own() {
        let text = std::fs::read_to_string(fixture("reasoning_tokens/dify_messages.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let (head, row) = (lines[0], lines[1]);
        let other =
            |id: &str, from: &str, to: &str| row.replace("aa0000000001", id).replacen(from, to, 1);
        let rows = [
            row.to_string(),
            other("aa0000000002", ",USD,", ",RMB,"),
            other("aa0000000003", ",2.5000,0.0000010,", ",2.6000,0.0000010,"),
            other("aa0000000004", "x", "x"),
        ];
        let csv = format!("{head}\n{}\n", rows.join("\n"));
        let sink = read_str(Format::DifyMessagesCsv, &csv).unwrap();
        let prices: Vec<_> = sink
            .records
            .iter()
            .map(|r| {
                let u = r.unit_prices.unwrap();
                (u.input, u.output, u.currency)
            })
            .collect();
        let (i, o) = (Decimal::new(3, 7), Decimal::new(25, 7));
        assert_eq!(
            prices,
            [
                (i, o, Currency::USD),
                (i, o, Currency::CNY),
                (i, Decimal::new(26, 7), Currency::USD),
                (i, o, Currency::USD),
            ]
        );
    }

    /// Only the columns read must be UTF-8: a record that is not valid as a whole still gives
    /// its fields (a bad byte in the query, a column never read), multi-byte text in a column
    /// read is kept, and a bad byte in a column read is that row's rejection, naming the column.
    #[test]
    fn utf8_is_required_of_the_columns_read_only() {
        let text = std::fs::read_to_string(fixture("reasoning_tokens/dify_messages.csv")).unwrap();
        let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        let swap = |line: &mut Vec<u8>, from: &str, to: &[u8]| {
            let at = line
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .unwrap();
            line.splice(at..at + from.len(), to.iter().copied());
        };
        // Row 1: a lone 0xff in the query, é in the saved prompt (the `message` column).
        swap(&mut lines[1], "Plan a three-day", b"Plan a \xff three-day");
        swap(
            &mut lines[1],
            "\"\"Plan a three-day",
            "\"\"Plan a thr\u{e9}e-day".as_bytes(),
        );
        // Row 3, row 1 again as another message, with a lone 0xff in the answer.
        let mut third = lines[1].clone();
        swap(&mut third, "aa0000000001", b"aa0000000003");
        swap(&mut third, "Fushimi", b"Fushimi \xff");
        // Row 2: a lone 0xff in the model id.
        swap(&mut lines[2], "gemini-2.5-flash", b"gemini-\xff");
        lines.push(third);
        let bytes: Vec<u8> = lines.join(&b'\n').into_iter().chain([b'\n']).collect();
        let file = InputFile::new(0, Path::new("mem"));
        let read = |sink: &mut dyn RecordSink| {
            let mut r: &[u8] = &bytes;
            read(Format::DifyMessagesCsv, &file, &mut r, sink).unwrap();
        };
        // Reading the text: the answer is a column read.
        let mut all = CollectSink::default();
        read(&mut all);
        assert_eq!(all.records.len(), 1);
        let r = &all.records[0];
        assert_eq!(r.id, "5b1e7c20-3a4d-4e8f-9c12-aa0000000001");
        assert!(
            r.text
                .as_deref()
                .unwrap()
                .input
                .contains("Plan a thr\u{e9}e-day")
        );
        assert_eq!(
            all.rejected,
            vec![
                (3, "model_id: not UTF-8 text".to_string()),
                (4, "answer: not UTF-8 text".to_string())
            ]
        );
        // Without text the answer is skipped over: rows 1 and 3 are records.
        let mut lean = NoText::default();
        read(&mut lean);
        let ids: Vec<_> = lean.0.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "5b1e7c20-3a4d-4e8f-9c12-aa0000000001",
                "5b1e7c20-3a4d-4e8f-9c12-aa0000000003"
            ]
        );
        assert!(lean.0.records.iter().all(|r| r.model == "gemini-2.5-flash"));
        assert_eq!(
            lean.0.rejected,
            vec![(3, "model_id: not UTF-8 text".to_string())]
        );
    }
}
