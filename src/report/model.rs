//! The report: what every renderer draws, and the JSON contract `llm-recon/report/v1`.

use crate::record::{Currency, Usage};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

pub const SCHEMA: &str = "llm-recon/report/v1";

/// Money in the JSON report: a decimal string, exact.
pub mod money_str {
    use rust_decimal::Decimal;
    use serde::Serializer;
    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.normalize().to_string())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub window: WindowInfo,
    pub currency: Currency,
    pub sources: Vec<SourceSummary>,
    pub comparisons: Vec<ComparisonReport>,
    /// Rejected rows, in input order (at most `REJECTED_LISTED`; `sources[].rows_rejected` has
    /// every count).
    pub rejected: Vec<Rejection>,
    /// App and trace calls whose serving bill is not among the inputs (with at least one bill
    /// given), per source and provider: compared with no bill.
    pub unbilled: Vec<Unbilled>,
    /// Rows that share an id with the kept row of their source but carry other values (at most
    /// `REJECTED_LISTED`; `sources[].rows_conflicting` has every count).
    pub conflicts: Vec<Conflict>,
    pub verdict: Verdict,
    /// With `--teams`: each team's usage per source and share of each bill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chargeback: Option<Chargeback>,
    /// Days per app whose tokens or cost per call leave their trailing baseline.
    pub anomalies: Anomalies,
    /// With `--previous`: the change of each figure and step against an earlier report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// Run-level remarks (e.g. records left out of every comparison).
    pub notes: Vec<String>,
}

pub const REJECTED_LISTED: usize = 1000;

/// Characters of one input value (a key, an id, a model name) that notes and their lists show; a longer value is cut there and ends in `…`. One absurd value (a 10 MB
/// API key id) must not be copied into every group's note.
pub const SHOWN_CHARS: usize = 200;

/// Characters of a record id, API key or project that conflicts, evidence and attributions show: ids compose several input
/// fields (an AWS line's usage type, operation, account and principal ARN are 200+ characters)
/// and are meant to be copied into `--call`, so they get a wider bound than other values.
pub const ID_CHARS: usize = 1024;

/// Values a note lists before it says how many more there are.
pub const LISTED_IN_NOTE: usize = 10;

/// `value` as the report shows it: at most [`SHOWN_CHARS`] characters, cut with `…`.
pub fn clipped(value: &str) -> std::borrow::Cow<'_, str> {
    clipped_at(value, SHOWN_CHARS)
}

/// A record id as the report shows it: at most [`ID_CHARS`] characters, cut with `…`.
pub fn clipped_id(value: &str) -> std::borrow::Cow<'_, str> {
    clipped_at(value, ID_CHARS)
}

fn clipped_at(value: &str, chars: usize) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(chars) {
        None => std::borrow::Cow::Borrowed(value),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}…", &value[..end])),
    }
}

/// Values joined with `, `, each [`clipped`], at most [`LISTED_IN_NOTE`] of them and then
/// `and N more`.
pub fn listed<S: AsRef<str>>(values: &[S]) -> String {
    let mut out = values
        .iter()
        .take(LISTED_IN_NOTE)
        .map(|v| clipped(v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ");
    if values.len() > LISTED_IN_NOTE {
        out.push_str(&format!(" and {} more", values.len() - LISTED_IN_NOTE));
    }
    out
}

/// Serializes a list of keys or projects [`clipped_id`] (the count stays complete): they are
/// copied into `--key` and `--project`.
pub mod clipped_list {
    use serde::Serializer;
    use serde::ser::SerializeSeq;
    pub fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&super::clipped_id(x))?;
        }
        seq.end()
    }
}

/// A copy of an identity that lost to the kept one (`file:line` of each).
#[derive(Clone, Debug, Serialize)]
pub struct Conflict {
    pub source: String,
    pub id: String,
    pub kept: String,
    pub superseded: String,
}

impl WindowInfo {
    /// The window as `start → end` with each end formatted by `fmt`, or `none`.
    pub fn shown(&self, fmt: impl Fn(DateTime<Utc>) -> String) -> String {
        match (self.start, self.end) {
            (Some(s), Some(e)) => format!("{} → {}", fmt(s), fmt(e)),
            _ => "none (no --from/--to and no usage in any input)".to_string(),
        }
    }
}

/// Calls of one source served by a provider whose bill is not among the inputs.
#[derive(Clone, Debug, Serialize)]
pub struct Unbilled {
    pub source: String,
    /// The serving provider (`anthropic`, `aws`, …); empty when nothing says.
    pub provider: String,
    pub calls: u64,
    pub tokens: Usage,
    #[serde(with = "money_str")]
    pub cost: Decimal,
    pub unpriced_records: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowInfo {
    /// `None` (JSON `null`) when no window was asked for and no source has usage to span.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub bucket: String,
    pub timezone: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceSummary {
    pub name: String,
    /// The formats of the source's files, comma-separated.
    pub format: String,
    pub role: &'static str,
    pub files: Vec<String>,
    pub rows_read: u64,
    /// Rows that contributed usage or cost, plus rows understood to carry none
    /// (`rows_without_usage`, a subset) and duplicates of usage already counted.
    pub rows_used: u64,
    pub rows_rejected: u64,
    pub rows_without_usage: u64,
    pub without_usage: Vec<ReasonCount>,
    /// What the source's adapter said about rows it used (an unknown usage key kept as
    /// `other`, a total that disagrees with its parts, …), with row counts.
    pub row_notes: Vec<ReasonCount>,
    pub requests: u64,
    pub tokens: Usage,
    #[serde(with = "money_str")]
    pub cost: Decimal,
    /// Records with no price entry and no reported cost: their volume is below, never $0.
    pub unpriced_records: u64,
    pub unpriced_tokens: Usage,
    pub unpriced_models: Vec<String>,
    /// Records whose reported cost is in another currency than the report's (valued from the
    /// price tables instead).
    pub foreign_currency_records: u64,
    /// Rows identical to the counted row of their id (counted once).
    pub rows_duplicate: u64,
    /// Rows with the id of a kept row and other values (see `conflicts`).
    pub rows_conflicting: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReasonCount {
    pub reason: String,
    pub rows: u64,
    /// The id of one such row (the first read), where the adapter names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    pub source: String,
    pub origin: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ComparisonReport {
    pub baseline: String,
    pub reference: String,
    /// The source used as evidence for retries and tokenizer drift, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The reference's bucket width when it is a bill (`1d`, `1h`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_buckets: Option<String>,
    /// The instants compared: the report window widened to whole reference buckets.
    pub span: WindowSpan,
    pub attribution: Attribution,
    pub totals: Comparison,
    pub groups: Vec<Group>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowSpan {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Attribution {
    /// `explicit` (from --key/--project), `estimated` (closest volume), or `all` (one key or
    /// none in the reference).
    pub method: &'static str,
    /// Each list is sorted (the causes look keys up by binary search); values are shown
    /// [`clipped`] in the JSON.
    #[serde(serialize_with = "clipped_list::serialize")]
    pub api_keys: Vec<String>,
    #[serde(serialize_with = "clipped_list::serialize")]
    pub projects: Vec<String>,
    #[serde(serialize_with = "clipped_list::serialize")]
    pub unattributed_api_keys: Vec<String>,
    #[serde(serialize_with = "clipped_list::serialize")]
    pub unattributed_projects: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Side {
    pub requests: u64,
    pub records: u64,
    pub tokens: Usage,
    #[serde(with = "money_str")]
    pub cost: Decimal,
    pub unpriced_records: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Variance {
    pub tokens: Usage,
    #[serde(with = "money_str")]
    pub cost: Decimal,
    /// Cost variance relative to the reference, in percent (tokens when the reference has no
    /// cost).
    pub pct: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub cause: &'static str,
    pub tokens: Usage,
    #[serde(with = "money_str")]
    pub cost: Decimal,
    pub records: u64,
    /// `measured` (from matched records), `estimated` (and the note says how), or
    /// `not_measured` (the evidence it needs is not among the inputs).
    pub method: &'static str,
    pub evidence: Vec<String>,
    pub note: String,
    /// What to do about it (totals only; absent when there is nothing to do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Comparison {
    pub baseline: Side,
    pub reference: Side,
    pub variance: Variance,
    pub bridge: Vec<Step>,
    /// `unexplained` relative to the reference, in percent (cost, or tokens without cost).
    pub unexplained_pct: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroupKey {
    pub window_start: DateTime<Utc>,
    pub provider: String,
    pub model: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub key: GroupKey,
    #[serde(flatten)]
    pub comparison: Comparison,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub max_variance_pct: Option<f64>,
    pub max_unexplained_pct: Option<f64>,
    /// `--max-anomalies`: more flagged days than this fail the run.
    pub max_anomalies: Option<u64>,
    /// `--allow-empty`: a run that compares nothing or finds no usage passes.
    pub allow_empty: bool,
    pub pass: bool,
    pub failures: Vec<Failure>,
}

/// One failed check of the gate.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// `max_variance`, `max_unexplained`, `max_anomalies`, `nothing_compared` or `no_usage`.
    pub check: &'static str,
    /// `baseline → reference`, for a threshold on one comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<String>,
    /// The comparison's figure (percent of the reference), for a threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figure: Option<f64>,
    /// The limit it exceeded (percent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    pub message: String,
}

/// `--teams`: who used what, per source, and each team's share of each bill.
#[derive(Clone, Debug, Serialize)]
pub struct Chargeback {
    pub teams_file: String,
    /// How records find their team and how a bill is shared, in words.
    pub rule: &'static str,
    pub sources: Vec<SourceChargeback>,
    pub bills: Vec<BillChargeback>,
}

/// Usage and money of some records.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TeamMeasure {
    pub records: u64,
    pub requests: u64,
    pub tokens: Usage,
    #[serde(with = "money_str")]
    pub cost: Decimal,
    pub unpriced_records: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TeamUsage {
    pub team: String,
    pub cost_center: String,
    #[serde(flatten)]
    pub measured: TeamMeasure,
}

/// One source's records in the window by team: `teams` + `unmapped` = `total`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceChargeback {
    pub source: String,
    pub role: &'static str,
    pub teams: Vec<TeamUsage>,
    pub unmapped: TeamMeasure,
    pub total: TeamMeasure,
}

/// One bill shared among teams: the lines' `share`s add up to `total_rounded`, their `exact`
/// amounts to `total`.
#[derive(Clone, Debug, Serialize)]
pub struct BillChargeback {
    pub bill: String,
    /// The source whose calls weight the shares of the pooled lines (the app, else the trace).
    pub basis: Option<String>,
    /// `cost` (the basis's cost of the calls routed to the bill), `tokens` (when that cost is
    /// zero), or `none` (no such calls: the pool is unattributed).
    pub allocated_by: &'static str,
    pub span: WindowSpan,
    pub currency: Currency,
    /// Decimals of the currency's minor unit, the shares' precision.
    pub minor_unit: u32,
    /// Lines on the basis's own keys and projects that no rule names: shared by usage.
    pub pooled: TeamMeasure,
    #[serde(with = "money_str")]
    pub total: Decimal,
    #[serde(with = "money_str")]
    pub total_rounded: Decimal,
    pub lines: Vec<BillShare>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BillShare {
    /// `team`, `unmapped` (the pool's part of calls no rule matches) or `unattributed` (lines
    /// on other keys and projects no rule names; the pool when no call explains it).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    /// The basis's calls routed to this bill (the allocation weight).
    pub measured: TeamMeasure,
    /// Bill lines that go to this line without allocation (a rule names their key or project;
    /// for `unattributed`, the other keys' lines).
    pub billed_directly: TeamMeasure,
    /// Its exact part of the pooled money.
    #[serde(with = "money_str")]
    pub allocated: Decimal,
    /// `billed_directly.cost` + `allocated`.
    #[serde(with = "money_str")]
    pub exact: Decimal,
    /// `exact` rounded to the minor unit by largest remainder.
    #[serde(with = "money_str")]
    pub share: Decimal,
}

/// Money that may be absent: a decimal string or `null`.
pub mod opt_money_str {
    use rust_decimal::Decimal;
    use serde::Serializer;
    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&d.normalize().to_string()),
            None => s.serialize_none(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Anomalies {
    /// The rule, in words (the constants of `reconcile::anomalies`).
    pub rule: String,
    pub flagged: Vec<Anomaly>,
}

/// One app's day whose tokens or cost per call left its trailing baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Anomaly {
    pub source: String,
    /// The app id (empty when the rows name none).
    pub app: String,
    /// The local day in the report's zone, `2026-10-12`, and its start as an instant.
    pub day: String,
    pub day_start: DateTime<Utc>,
    /// `tokens_per_call` or `cost_per_call`.
    pub metric: &'static str,
    #[serde(with = "money_str")]
    pub value: Decimal,
    #[serde(with = "money_str")]
    pub baseline_median: Decimal,
    #[serde(with = "money_str")]
    pub baseline_mad: Decimal,
    pub baseline_days: u32,
    /// value against the median, in percent.
    pub change_pct: f64,
    pub calls: u64,
    pub tokens: i64,
    #[serde(with = "money_str")]
    pub cost: Decimal,
}

/// `--previous`: changes against an earlier report.
#[derive(Clone, Debug, Serialize)]
pub struct Previous {
    pub file: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub comparisons: Vec<ComparisonChange>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ComparisonChange {
    /// `dify → openai`.
    pub comparison: String,
    /// `both`, `new` (only in this report) or `gone` (only in the earlier one).
    pub status: &'static str,
    /// baseline, reference and variance, each in `cost` and `tokens`.
    pub figures: Vec<Change>,
    /// Each bridge step (and `unexplained`), in `cost` and `tokens`.
    pub steps: Vec<Change>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub name: String,
    /// `cost` (report currency) or `tokens`.
    pub unit: &'static str,
    /// `both`, `new` or `gone`.
    pub status: &'static str,
    #[serde(with = "opt_money_str")]
    pub previous: Option<Decimal>,
    #[serde(with = "opt_money_str")]
    pub current: Option<Decimal>,
    /// current − previous.
    #[serde(with = "opt_money_str")]
    pub change: Option<Decimal>,
    /// change in percent of |previous| (`null` when previous is zero or one side is missing).
    pub change_pct: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_clipped_at_a_character_and_lists_bounded() {
        let short = "key_abc";
        assert_eq!(clipped(short), short);
        let exact = "é".repeat(SHOWN_CHARS);
        assert_eq!(clipped(&exact), exact);
        // 201 two-byte characters: the first 200 are kept, then the ellipsis.
        let long = "é".repeat(SHOWN_CHARS + 1);
        assert_eq!(clipped(&long), format!("{}…", "é".repeat(SHOWN_CHARS)));
        let keys: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
        assert_eq!(listed(&keys[..2]), "k0, k1");
        assert_eq!(
            listed(&keys),
            "k0, k1, k2, k3, k4, k5, k6, k7, k8, k9 and 2 more"
        );
    }
}
