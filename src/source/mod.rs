//! Input formats: sniffing a file to a known format and streaming its rows into records.
//!
//! One module per system; each exposes `sniff(&Head) -> Option<Format>` and
//! `read(Format, &InputFile, &mut dyn BufRead, &mut dyn RecordSink) -> Result<(), InputError>`.
//! A bad row is handed to `RecordSink::reject` (the run goes on); a file that cannot be read at
//! all is an `InputError` (the run stops with exit 2).

pub mod alibaba;
pub mod anthropic;
pub mod aws;
pub mod aws_snapshots;
pub mod azure;
pub mod deepseek;
pub mod dify;
pub mod dify_token_costs;
pub mod focus;
pub mod gcp;
pub mod input;
pub mod json_scan;
pub mod langfuse;
pub mod langsmith;
pub mod litellm;
pub mod openai;
pub mod parquet_file;
pub mod pyliteral;
pub mod tencent;
#[cfg(test)]
pub(crate) mod testutil;
pub mod util;

use crate::record::{Role, UsageRecord};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Every format we can read. The kebab-case name is what `--input-format` takes and what the
/// report's `sources[].format` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    DifyMessagesCsv,
    DifyMessagesJsonl,
    DifyNodeExecutionsCsv,
    DifyNodeExecutionsJsonl,
    /// JSONL of service-API `message_end` events or blocking responses.
    DifyApiLog,
    /// The console's daily statistics `/statistics/token-costs` (app or workflow) as JSON.
    DifyTokenCostsJson,
    LangfuseUiCsv,
    LangfuseUiJson,
    LangfuseUiJsonl,
    /// Public API page `{"data": [...], "meta": {...}}`.
    LangfuseApiJson,
    LangfuseBlobCsv,
    LangfuseBlobJsonl,
    /// LangSmith `/api/v1/runs/query` pages `{"runs": [...], "cursors": {...}}` (or an array).
    LangsmithRunsJson,
    /// LangSmith runs as JSONL, one run per line.
    LangsmithRunsJsonl,
    /// LangSmith's bulk export of runs to S3-compatible storage (Parquet).
    LangsmithRunsParquet,
    /// The blob-storage export as Parquet (Langfuse's default since 2026-07).
    LangfuseBlobParquet,
    /// `/v1/organization/usage/{completions,embeddings,...}` pages (JSON; a JSON array of pages
    /// or JSONL of pages is accepted too).
    OpenaiUsageJson,
    /// `/v1/organization/costs` pages.
    OpenaiCostsJson,
    /// The dashboard's cost CSV export.
    OpenaiCostCsv,
    /// Anthropic Admin API `/v1/organizations/usage_report/messages` pages.
    AnthropicUsageJson,
    /// Anthropic Admin API `/v1/organizations/cost_report` pages (amounts in cents).
    AnthropicCostJson,
    /// DeepSeek usage export `amount-*.csv` (token counts per type).
    DeepseekAmountCsv,
    /// DeepSeek usage export `cost-*.csv` (money per model and wallet).
    DeepseekCostCsv,
    /// Alibaba Cloud Model Studio (Bailian) bill details CSV, Chinese or English headers.
    AlibabaBillCsv,
    /// Tencent Cloud bill details CSV (Hunyuan usage), Chinese or English headers.
    TencentBillCsv,
    /// Azure Cost Management cost and usage details, EA schema (PascalCase CSV).
    AzureEaCsv,
    /// Azure Cost Management cost and usage details, MCA schema (camelCase CSV).
    AzureMcaCsv,
    /// Azure's legacy pay-as-you-go usage details (`UsageDateTime`, `UsageQuantity`, `PreTaxCost`).
    AzurePaygCsv,
    /// A FOCUS 1.0–1.2 cost and usage export as CSV.
    FocusCsv,
    /// Legacy AWS Cost and Usage Report CSV (`lineItem/UsageType` headers).
    AwsCurCsv,
    /// AWS Data Exports CUR 2.0 CSV (`line_item_usage_type` headers).
    AwsCur2Csv,
    /// Google Cloud Billing export rows (BigQuery table) saved as CSV.
    GcpBillingCsv,
    /// Google Cloud Billing export rows as JSONL or a JSON array.
    GcpBillingJson,
    /// AWS CUR 2.0 (Data Exports) or legacy CUR delivered as Parquet (snake_case columns).
    AwsCurParquet,
    /// A FOCUS 1.0–1.2 cost and usage export as Parquet.
    FocusParquet,
    /// LiteLLM proxy spend logs (`LiteLLM_SpendLogs`) copied to CSV.
    LitellmSpendLogsCsv,
    /// LiteLLM proxy spend logs as JSON: `/spend/logs` rows, a `/spend/logs/v2` page, or JSONL.
    LitellmSpendLogsJson,
}

/// The system a format belongs to; files of one system form one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    Dify,
    Langfuse,
    Langsmith,
    Openai,
    Anthropic,
    Deepseek,
    Alibaba,
    Tencent,
    Azure,
    Focus,
    Aws,
    Gcp,
    Litellm,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Dify => "dify",
            System::Langfuse => "langfuse",
            System::Langsmith => "langsmith",
            System::Openai => "openai",
            System::Anthropic => "anthropic",
            System::Deepseek => "deepseek",
            System::Alibaba => "alibaba",
            System::Tencent => "tencent",
            System::Azure => "azure",
            System::Focus => "focus",
            System::Aws => "aws",
            System::Gcp => "gcp",
            System::Litellm => "litellm",
        }
    }
    pub fn role(self) -> Role {
        match self {
            System::Dify => Role::App,
            System::Langfuse | System::Langsmith => Role::Trace,
            System::Openai | System::Anthropic | System::Azure | System::Focus => Role::Bill,
            System::Deepseek | System::Alibaba | System::Tencent => Role::Bill,
            System::Aws | System::Gcp => Role::Bill,
            System::Litellm => Role::Gateway,
        }
    }
}

impl Format {
    pub const ALL: [Format; 37] = [
        Format::DifyMessagesCsv,
        Format::DifyMessagesJsonl,
        Format::DifyNodeExecutionsCsv,
        Format::DifyNodeExecutionsJsonl,
        Format::DifyApiLog,
        Format::DifyTokenCostsJson,
        Format::LangfuseUiCsv,
        Format::LangfuseUiJson,
        Format::LangfuseUiJsonl,
        Format::LangfuseApiJson,
        Format::LangfuseBlobCsv,
        Format::LangfuseBlobJsonl,
        Format::LangsmithRunsJson,
        Format::LangsmithRunsJsonl,
        Format::LangsmithRunsParquet,
        Format::LangfuseBlobParquet,
        Format::OpenaiUsageJson,
        Format::OpenaiCostsJson,
        Format::OpenaiCostCsv,
        Format::AnthropicUsageJson,
        Format::AnthropicCostJson,
        Format::DeepseekAmountCsv,
        Format::DeepseekCostCsv,
        Format::AlibabaBillCsv,
        Format::TencentBillCsv,
        Format::AzureEaCsv,
        Format::AzureMcaCsv,
        Format::AzurePaygCsv,
        Format::FocusCsv,
        Format::AwsCurCsv,
        Format::AwsCur2Csv,
        Format::GcpBillingCsv,
        Format::GcpBillingJson,
        Format::AwsCurParquet,
        Format::FocusParquet,
        Format::LitellmSpendLogsCsv,
        Format::LitellmSpendLogsJson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::DifyMessagesCsv => "dify-messages-csv",
            Format::DifyMessagesJsonl => "dify-messages-jsonl",
            Format::DifyNodeExecutionsCsv => "dify-node-executions-csv",
            Format::DifyNodeExecutionsJsonl => "dify-node-executions-jsonl",
            Format::DifyApiLog => "dify-api-log",
            Format::DifyTokenCostsJson => "dify-token-costs-json",
            Format::LangfuseUiCsv => "langfuse-ui-csv",
            Format::LangfuseUiJson => "langfuse-ui-json",
            Format::LangfuseUiJsonl => "langfuse-ui-jsonl",
            Format::LangfuseApiJson => "langfuse-api-json",
            Format::LangfuseBlobCsv => "langfuse-blob-csv",
            Format::LangfuseBlobJsonl => "langfuse-blob-jsonl",
            Format::LangsmithRunsJson => "langsmith-runs-json",
            Format::LangsmithRunsJsonl => "langsmith-runs-jsonl",
            Format::LangsmithRunsParquet => "langsmith-runs-parquet",
            Format::LangfuseBlobParquet => "langfuse-blob-parquet",
            Format::OpenaiUsageJson => "openai-usage-json",
            Format::OpenaiCostsJson => "openai-costs-json",
            Format::OpenaiCostCsv => "openai-cost-csv",
            Format::AnthropicUsageJson => "anthropic-usage-json",
            Format::AnthropicCostJson => "anthropic-cost-json",
            Format::DeepseekAmountCsv => "deepseek-amount-csv",
            Format::DeepseekCostCsv => "deepseek-cost-csv",
            Format::AlibabaBillCsv => "alibaba-bill-csv",
            Format::TencentBillCsv => "tencent-bill-csv",
            Format::AzureEaCsv => "azure-ea-csv",
            Format::AzureMcaCsv => "azure-mca-csv",
            Format::AzurePaygCsv => "azure-payg-csv",
            Format::FocusCsv => "focus-csv",
            Format::AwsCurCsv => "aws-cur-csv",
            Format::AwsCur2Csv => "aws-cur2-csv",
            Format::GcpBillingCsv => "gcp-billing-csv",
            Format::GcpBillingJson => "gcp-billing-json",
            Format::AwsCurParquet => "aws-cur-parquet",
            Format::FocusParquet => "focus-parquet",
            Format::LitellmSpendLogsCsv => "litellm-spend-logs-csv",
            Format::LitellmSpendLogsJson => "litellm-spend-logs-json",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn system(self) -> System {
        match self {
            Format::DifyMessagesCsv
            | Format::DifyMessagesJsonl
            | Format::DifyNodeExecutionsCsv
            | Format::DifyNodeExecutionsJsonl
            | Format::DifyApiLog
            | Format::DifyTokenCostsJson => System::Dify,
            Format::LangfuseUiCsv
            | Format::LangfuseUiJson
            | Format::LangfuseUiJsonl
            | Format::LangfuseApiJson
            | Format::LangfuseBlobCsv
            | Format::LangfuseBlobJsonl
            | Format::LangfuseBlobParquet => System::Langfuse,
            Format::LangsmithRunsJson
            | Format::LangsmithRunsJsonl
            | Format::LangsmithRunsParquet => System::Langsmith,
            Format::OpenaiUsageJson | Format::OpenaiCostsJson | Format::OpenaiCostCsv => {
                System::Openai
            }
            Format::AnthropicUsageJson | Format::AnthropicCostJson => System::Anthropic,
            Format::DeepseekAmountCsv | Format::DeepseekCostCsv => System::Deepseek,
            Format::AlibabaBillCsv => System::Alibaba,
            Format::TencentBillCsv => System::Tencent,
            Format::AzureEaCsv | Format::AzureMcaCsv | Format::AzurePaygCsv => System::Azure,
            Format::FocusCsv | Format::FocusParquet => System::Focus,
            Format::AwsCurCsv | Format::AwsCur2Csv | Format::AwsCurParquet => System::Aws,
            Format::GcpBillingCsv | Format::GcpBillingJson => System::Gcp,
            Format::LitellmSpendLogsCsv | Format::LitellmSpendLogsJson => System::Litellm,
        }
    }

    /// Parquet formats are read from their file (footer first), not as a text stream.
    pub fn is_parquet(self) -> bool {
        matches!(
            self,
            Format::AwsCurParquet
                | Format::FocusParquet
                | Format::LangfuseBlobParquet
                | Format::LangsmithRunsParquet
        )
    }

    pub fn known_list() -> String {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A file of the run. `index` is what `Origin::file` refers to (the argument it came from: the
/// members of one zip share it).
#[derive(Clone, Debug)]
pub struct InputFile {
    pub index: u32,
    /// Where the bytes are: the user's file, or the temporary copy of a stream.
    pub path: PathBuf,
    /// How the file is named in messages and the report (the path as the user gave it;
    /// `archive.zip!member.csv` for a zip member, `stdin` for `-`).
    pub display: String,
    /// The compression of the file's bytes (a zip member's is found when it is opened).
    pub encoding: input::Encoding,
    /// The member of the zip archive at `path` this input is.
    pub member: Option<usize>,
    spool: Option<input::Spool>,
}

impl InputFile {
    pub fn new(index: u32, path: &Path) -> InputFile {
        InputFile {
            index,
            path: path.to_path_buf(),
            display: path.display().to_string(),
            encoding: input::Encoding::Plain,
            member: None,
            spool: None,
        }
    }

    /// Whether `path` holds this input's bytes as they are (no compression, no archive), so it
    /// can be cut into pieces and read in parallel.
    pub fn is_plain_file(&self) -> bool {
        self.encoding == input::Encoding::Plain && self.member.is_none()
    }

    pub fn origin(&self, line: u64) -> crate::record::Origin {
        crate::record::Origin {
            file: self.index,
            line,
        }
    }
}

/// A whole file cannot be read: the run stops with exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct InputError {
    pub file: String,
    pub line: Option<u64>,
    pub message: String,
}

impl InputError {
    pub fn new(file: &InputFile, line: Option<u64>, message: impl Into<String>) -> InputError {
        InputError {
            file: file.display.clone(),
            line,
            message: message.into(),
        }
    }
}

/// Where adapters put what they read. Every row ends in exactly one of the three calls.
pub trait RecordSink {
    /// A row that carries usage (or cost).
    fn record(&mut self, rec: UsageRecord);
    /// A row understood and deliberately not counted, e.g. a Dify iteration container that
    /// repeats its children's usage, or a Langfuse SPAN. Counted as used, with the reason.
    fn no_usage(&mut self, line: u64, reason: &'static str);
    /// A row that could not be understood; the reason says what was expected.
    fn reject(&mut self, line: u64, reason: String);
    /// Something the report must say about a row that was used (a count kept under `other`,
    /// a total that disagrees with its parts, a snapshot left out), given before its record.
    /// Notes are grouped by text and counted.
    fn note(&mut self, _line: u64, _note: &'static str) {}
    /// A note with the id of the row it is about; the report names the first such id as an
    /// example beside the count.
    fn note_example(&mut self, line: u64, note: &'static str, _example: &str) {
        self.note(line, note)
    }
    /// Whether records should carry their call text (`UsageRecord::text`). Adapters may skip
    /// reading large text columns when not.
    fn wants_text(&self) -> bool {
        true
    }
    /// The run's time zone (`--tz`), for sources whose days are local days the file does not
    /// name (Dify's console statistics).
    fn zone(&self) -> chrono_tz::Tz {
        chrono_tz::UTC
    }
}

/// The first bytes of a file, BOM removed, for sniffing.
pub struct Head {
    pub text: String,
}

impl Head {
    /// The first line (CSV header), without the line ending.
    pub fn first_line(&self) -> &str {
        self.text
            .lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
    }

    /// Column names of a CSV header, unquoted and trimmed.
    pub fn csv_columns(&self) -> Vec<String> {
        if parquet_file::columns(self).is_some() {
            return Vec::new();
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(self.first_line().as_bytes());
        match rdr.records().next() {
            Some(Ok(r)) => r.iter().map(|s| s.trim().to_string()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn starts_json(&self) -> bool {
        matches!(self.text.trim_start().as_bytes().first(), Some(b'{' | b'['))
    }
}

/// Reads the head of a file for sniffing (through its compression; see `input`).
pub fn read_head(file: &InputFile) -> Result<Head, InputError> {
    input::read_head(file)
}

/// Finds the format of a file from its head.
pub fn sniff(head: &Head) -> Option<Format> {
    if let Some(columns) = parquet_file::columns(head) {
        return aws::sniff_parquet(&columns)
            .or_else(|| focus::sniff_parquet(&columns))
            .or_else(|| langfuse::sniff_parquet(&columns))
            .or_else(|| langsmith::sniff_parquet(&columns));
    }
    dify::sniff(head)
        .or_else(|| dify_token_costs::sniff(head))
        .or_else(|| langsmith::sniff(head))
        .or_else(|| langfuse::sniff(head))
        .or_else(|| openai::sniff(head))
        .or_else(|| anthropic::sniff(head))
        .or_else(|| deepseek::sniff(head))
        .or_else(|| tencent::sniff(head))
        .or_else(|| alibaba::sniff(head))
        .or_else(|| aws::sniff(head))
        .or_else(|| gcp::sniff(head))
        .or_else(|| azure::sniff(head))
        .or_else(|| focus::sniff(head))
        .or_else(|| litellm::sniff(head))
}

/// Runs `f` on the decoded text of a file, positioned after any UTF-8 BOM, CRLF line ends
/// normalized, lines bounded (`input::LineGuard` for CSV and JSONL, `input::DocumentGuard`
/// otherwise). Returns the lines dropped for their length.
pub fn with_text(
    file: &InputFile,
    format: Format,
    f: &mut dyn FnMut(&mut dyn BufRead) -> Result<(), InputError>,
) -> Result<Vec<u64>, InputError> {
    let mut overlong = Vec::new();
    input::with_decoded(file, &mut |decoded| {
        if input::is_line_format(format) {
            let mut guard = input::LineGuard::new(decoded);
            let done = text_of(file, &mut guard, f);
            overlong = std::mem::take(&mut guard.overlong);
            done
        } else {
            let mut guard =
                std::io::BufReader::with_capacity(256 * 1024, input::DocumentGuard::new(decoded));
            text_of(file, &mut guard, f)
        }
    })?;
    Ok(overlong)
}

fn text_of(
    file: &InputFile,
    r: &mut dyn BufRead,
    f: &mut dyn FnMut(&mut dyn BufRead) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let head = r
        .fill_buf()
        .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
    // Files whose first line ends in CRLF get their line ends normalized, so CSV rejections
    // keep their `file:line`; LF files are read as they are.
    let crlf = memchr::memchr(b'\n', head).is_some_and(|i| i > 0 && head[i - 1] == b'\r');
    let bom = head.starts_with(util::BOM);
    if bom {
        r.consume(util::BOM.len());
    }
    if crlf {
        f(&mut util::CrlfToLf::new(r))
    } else {
        f(r)
    }
}

/// Streams every row of `file` (already sniffed as `format`) into `sink`; a line over
/// `input::MAX_LINE_BYTES` is a rejected row.
pub fn read(format: Format, file: &InputFile, sink: &mut dyn RecordSink) -> Result<(), InputError> {
    if format.is_parquet() {
        return read_from(format, file, &mut std::io::empty(), sink);
    }
    let overlong = with_text(file, format, &mut |reader| {
        read_from(format, file, reader, sink)
    })?;
    for line in overlong {
        sink.reject(line, input::overlong_reason());
    }
    Ok(())
}

/// Reads `format` from an already opened reader (a piece of `file` when read in parallel).
pub fn read_from(
    format: Format,
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    match format.system() {
        System::Dify if format == Format::DifyTokenCostsJson => {
            dify_token_costs::read(file, reader, sink)
        }
        System::Dify => dify::read(format, file, reader, sink),
        System::Langfuse => langfuse::read(format, file, reader, sink),
        System::Langsmith => langsmith::read(format, file, reader, sink),
        System::Openai => openai::read(format, file, reader, sink),
        System::Anthropic => anthropic::read(format, file, reader, sink),
        System::Deepseek => deepseek::read(format, file, reader, sink),
        System::Alibaba => alibaba::read(format, file, reader, sink),
        System::Tencent => tencent::read(format, file, reader, sink),
        System::Azure => azure::read(format, file, reader, sink),
        System::Focus => focus::read(format, file, reader, sink),
        System::Aws => aws::read(format, file, reader, sink),
        System::Gcp => gcp::read(format, file, reader, sink),
        System::Litellm => litellm::read(format, file, reader, sink),
    }
}

/// What an adapter makes of one input row (a reason for rejecting it is the `Err` beside it).
pub enum Row {
    Record(Box<UsageRecord>),
    /// One row that is several lines (a usage line and the discount the bill took off it).
    Records(Vec<UsageRecord>),
    NoUsage(&'static str),
}

impl Row {
    /// Hands a row's outcome to the sink; a rejection's reason gets `prefix` in front (e.g. the
    /// element of a JSON page it came from).
    pub fn emit(result: Result<Row, String>, line: u64, prefix: &str, sink: &mut dyn RecordSink) {
        match result {
            Ok(Row::Record(rec)) => sink.record(*rec),
            Ok(Row::Records(recs)) => recs.into_iter().for_each(|r| sink.record(r)),
            Ok(Row::NoUsage(reason)) => sink.no_usage(line, reason),
            Err(reason) if prefix.is_empty() => sink.reject(line, reason),
            Err(reason) => sink.reject(line, format!("{prefix}{reason}")),
        }
    }
}

/// A sink that collects everything; for tests and `normalize`.
#[derive(Default, Debug)]
pub struct CollectSink {
    pub records: Vec<UsageRecord>,
    pub no_usage: Vec<(u64, &'static str)>,
    pub rejected: Vec<(u64, String)>,
    pub notes: Vec<(u64, &'static str)>,
    /// The example ids given with notes (`note_example`), by line.
    pub note_examples: Vec<(u64, String)>,
    /// The zone local days are read in (`None`: UTC).
    pub zone: Option<chrono_tz::Tz>,
}

impl RecordSink for CollectSink {
    fn zone(&self) -> chrono_tz::Tz {
        self.zone.unwrap_or(chrono_tz::UTC)
    }
    fn note(&mut self, line: u64, note: &'static str) {
        self.notes.push((line, note));
    }
    fn note_example(&mut self, line: u64, note: &'static str, example: &str) {
        self.note(line, note);
        self.note_examples.push((line, example.to_string()));
    }
    fn record(&mut self, rec: UsageRecord) {
        self.records.push(rec);
    }
    fn no_usage(&mut self, line: u64, reason: &'static str) {
        self.no_usage.push((line, reason));
    }
    fn reject(&mut self, line: u64, reason: String) {
        self.rejected.push((line, reason));
    }
}

/// Sniffs and reads one file (every member of a zip) into a `CollectSink`; the test helper every
/// adapter uses. The format is the first input's.
pub fn read_all(path: &Path) -> Result<(Format, CollectSink), InputError> {
    let inputs = input::open_argument(0, path, None)?;
    let mut sink = CollectSink::default();
    for (file, format) in &inputs {
        read(*format, file, &mut sink)?;
    }
    let format = inputs
        .first()
        .map(|(_, f)| *f)
        .ok_or_else(|| InputError::new(&InputFile::new(0, path), None, "no input in the file"))?;
    Ok((format, sink))
}
