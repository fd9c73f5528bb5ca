//! The main job: load every input into its source, align, compare, and build the report.
//!
//! Reading order matters for memory: bills (bucket lines, small) and the trace are held; the app
//! source (the big one: a month of Dify rows) streams straight into the comparisons.

pub mod anomalies;
pub mod bridge;
pub mod causes;
pub mod frame;
pub mod identity;
pub mod parallel;
pub mod recount;
pub mod route;
pub mod spotcheck;
pub mod window;

use crate::pricing::PriceBook;
use crate::pricing::fx::FxTable;
use crate::record::{Currency, Money, Role, Status, Usage, UsageClass, UsageRecord};
use crate::report::model::{self as m, Report};
use crate::source::{self, Format, InputError, InputFile, RecordSink, System};
use bridge::{AttributionRule, CallIndex, ComparisonAcc, ComparisonSetup, Valuation};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use frame::Frame;
use route::{Pending, Route, ServedByApp, Unbilled};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use window::{BucketSize, Calendar, Span};

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Options {
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: Tz,
    pub bucket: BucketSize,
    pub attribution: AttributionRule,
    pub currency: Currency,
    /// Exchange rates for money in other currencies (empty: no conversion).
    pub fx: std::sync::Arc<FxTable>,
    /// Rates the books convert bill currencies at (report currency per unit).
    pub book_rates: Vec<(Currency, Decimal)>,
    /// Forces one format for every input instead of sniffing.
    pub input_format: Option<Format>,
    pub max_variance_pct: Option<f64>,
    pub max_unexplained_pct: Option<f64>,
    /// With a threshold, a run that compares nothing or has no usage in the window passes.
    pub allow_empty: bool,
    /// App files at least this large are read on every core.
    pub parallel_min_bytes: u64,
    /// `--teams`: the chargeback's rules.
    pub teams: Option<std::sync::Arc<crate::chargeback::Teams>>,
    /// `--max-anomalies`: more flagged days fail the run.
    pub max_anomalies: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            from: None,
            to: None,
            tz: chrono_tz::UTC,
            bucket: BucketSize::Day,
            attribution: AttributionRule::default(),
            currency: Currency::USD,
            fx: Default::default(),
            book_rates: Vec::new(),
            input_format: None,
            max_variance_pct: None,
            max_unexplained_pct: None,
            allow_empty: false,
            parallel_min_bytes: PARALLEL_MIN_BYTES,
            teams: None,
            max_anomalies: None,
        }
    }
}

/// Why a run stopped (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}")]
    Usage(String),
}

/// A source: every file of one system in the run.
pub struct Source {
    pub system: System,
    pub files: Vec<(InputFile, Format)>,
    pub stats: SourceStats,
    /// The zone local days the files do not name are read in (the run's `--tz`).
    pub zone: Tz,
    /// The bill given to records that name none (Dify's console statistics when the run has one
    /// bill).
    pub default_serving: Option<&'static str>,
}

#[derive(Default, Debug)]
pub struct SourceStats {
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_rejected: u64,
    pub without_usage: BTreeMap<&'static str, u64>,
    /// What the adapters said about rows they used (`RecordSink::note`), with row counts.
    pub notes: BTreeMap<&'static str, u64>,
    /// An example id for a note (the earliest row's, by file and line), where the adapter gave one.
    pub note_examples: BTreeMap<&'static str, ((u32, u64), String)>,
    pub requests: u64,
    pub usage: Usage,
    pub money: Decimal,
    pub unpriced: u64,
    pub unpriced_usage: Usage,
    pub unpriced_models: BTreeSet<String>,
    pub foreign_currency: u64,
    /// Rows identical to the counted row of their id.
    pub duplicates: u64,
    /// Rows with the id of a kept row and other values.
    pub conflicts: u64,
}

impl SourceStats {
    /// Why adding `rec` (valued at `money`) would take this source's totals beyond what the
    /// run's sums can carry, if it would.
    fn beyond_limits(&self, rec: &UsageRecord, money: Option<Decimal>) -> Option<String> {
        let tokens = self
            .usage
            .magnitude()
            .zip(rec.usage.magnitude())
            .and_then(|(a, b)| a.checked_add(b));
        if tokens.is_none_or(|t| t > crate::record::MAX_SOURCE_TOKENS) {
            return Some(format!(
                "{} tokens would take the source's total beyond {} tokens, more than a sum can carry",
                rec.usage.total(),
                crate::record::MAX_SOURCE_TOKENS
            ));
        }
        let max = Decimal::from_i128_with_scale(crate::record::MAX_SOURCE_AMOUNT, 0);
        let sum = money.map(|m| self.money.abs().checked_add(m.abs()));
        if sum.is_some_and(|s| s.is_none_or(|s| s > max)) {
            return Some(format!(
                "an amount of {} would take the source's total beyond {max}, more than a sum can carry",
                money.unwrap_or_default()
            ));
        }
        None
    }

    /// Keeps the earliest row's id as a note's example, whatever order pieces are read in.
    fn keep_example(&mut self, note: &'static str, at: (u32, u64), id: String) {
        match self.note_examples.get(note) {
            Some((kept, _)) if *kept <= at => {}
            _ => {
                self.note_examples.insert(note, (at, id));
            }
        }
    }

    fn merge(&mut self, o: SourceStats) {
        self.rows_read += o.rows_read;
        self.rows_used += o.rows_used;
        self.rows_rejected += o.rows_rejected;
        for (r, n) in o.without_usage {
            *self.without_usage.entry(r).or_default() += n;
        }
        for (r, n) in o.notes {
            *self.notes.entry(r).or_default() += n;
        }
        for (r, (at, id)) in o.note_examples {
            self.keep_example(r, at, id);
        }
        self.requests += o.requests;
        self.usage += o.usage;
        self.money += o.money;
        self.unpriced += o.unpriced;
        self.unpriced_usage += o.unpriced_usage;
        for m in o.unpriced_models {
            if self.unpriced_models.len() < 50 {
                self.unpriced_models.insert(m);
            }
        }
        self.foreign_currency += o.foreign_currency;
        self.duplicates += o.duplicates;
        self.conflicts += o.conflicts;
    }
}

impl Source {
    pub fn name(&self) -> &'static str {
        self.system.name()
    }
    pub fn role(&self) -> Role {
        self.system.role()
    }
    fn has(&self, pred: impl Fn(Format) -> bool) -> bool {
        self.files.iter().any(|(_, f)| pred(*f))
    }

    /// Dify's console statistics are daily sums of the same messages its per-call exports hold:
    /// beside those, they would count every call twice, so they are left out (the per-call
    /// exports are the finer view); the notes say which files.
    fn leave_out_statistics_beside_calls(&mut self) -> Vec<String> {
        let stats = |f: Format| f == Format::DifyTokenCostsJson;
        if !self.has(stats) || !self.has(|f| !stats(f)) {
            return Vec::new();
        }
        let (left_out, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|(_, f)| stats(*f));
        self.files = kept;
        left_out
            .iter()
            .map(|(file, _)| {
                format!(
                    "{}: not read: Dify's console statistics sum the messages its per-call exports among the inputs already count",
                    file.display
                )
            })
            .collect()
    }

    /// Whether every file is Dify's console statistics (days without a provider).
    fn only_statistics(&self) -> bool {
        !self.files.is_empty()
            && self
                .files
                .iter()
                .all(|(_, f)| *f == Format::DifyTokenCostsJson)
    }
    /// Two files of the same format in one source: exports of one table that may overlap.
    fn overlapping_exports(&self) -> bool {
        self.files
            .iter()
            .enumerate()
            .any(|(i, (_, f))| self.files[..i].iter().any(|(_, g)| g == f))
    }
    /// Node executions are read: chatflow `messages` rows repeat their usage.
    fn drops_chatflow_messages(&self) -> bool {
        self.has(|f| {
            matches!(
                f,
                Format::DifyNodeExecutionsCsv | Format::DifyNodeExecutionsJsonl
            )
        })
    }
    /// App rows that repeat usage (containers, copies of one id) are kept and marked, as the
    /// app's own total counts them; other sources (and the app read beside its API log, which
    /// sees the same calls again) leave them out.
    fn marks_repeats(&self) -> bool {
        self.role() == Role::App && !self.has(|f| f == Format::DifyApiLog)
    }
    /// A bill whose money comes from its cost lines (its usage lines carry tokens only).
    fn money_from_cost_lines(&self) -> bool {
        self.has(|f| {
            matches!(
                f,
                Format::OpenaiCostsJson
                    | Format::OpenaiCostCsv
                    | Format::AnthropicCostJson
                    | Format::DeepseekCostCsv
            )
        })
    }
}

/// Sniffs every input and groups the files into sources by system.
pub fn open_sources(paths: &[PathBuf], forced: Option<Format>) -> Result<Vec<Source>, RunError> {
    open_sources_noted(paths, forced).map(|(sources, _)| sources)
}

/// Sniffs every input and groups the files into sources by system, leaving out what a manifest
/// or a later delivery supersedes (pull manifests, AWS manifests and earlier AWS snapshots of a
/// billing period); the notes say what was left out and why.
pub fn open_sources_noted(
    paths: &[PathBuf],
    forced: Option<Format>,
) -> Result<(Vec<Source>, Vec<String>), RunError> {
    let plan = crate::pull::manifest::plan_inputs(paths);
    // Every argument is opened once (a stream cannot be read twice): its inputs, one per zip
    // member, each with its format (`None`: a regular file no sniffer recognizes, which may
    // still be an AWS manifest).
    let mut opened: Vec<Vec<(InputFile, Option<Format>)>> = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        if plan.skip.contains_key(&i) {
            opened.push(Vec::new());
            continue;
        }
        let given = forced.or_else(|| plan.formats.get(&i).copied());
        opened.push(source::input::open_argument_or_unknown(
            i as u32, path, given,
        )?);
    }
    // The snapshot plan sees an argument that is one input (a file, a stream's copy, a zip of
    // one CUR file) as that input; a zip of several is none of AWS's deliveries.
    let single: Vec<Option<(InputFile, Option<Format>)>> = opened
        .iter()
        .map(|inputs| match inputs.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        })
        .collect();
    let already: std::collections::HashSet<usize> = plan.skip.keys().copied().collect();
    let snapshots = source::aws_snapshots::plan(paths, &single, &already);
    let mut skip: BTreeMap<usize, String> = plan
        .skip
        .iter()
        .map(|(i, why)| (*i, why.to_string()))
        .collect();
    skip.extend(snapshots.skip);
    let mut by_system: BTreeMap<System, Source> = BTreeMap::new();
    for (i, inputs) in opened.into_iter().enumerate() {
        if skip.contains_key(&i) {
            continue;
        }
        for (file, format) in inputs {
            let format = format.ok_or_else(|| {
                InputError::new(
                    &file,
                    None,
                    format!(
                        "unrecognized format: expected one of {} (see README, Input formats)",
                        Format::known_list()
                    ),
                )
            })?;
            by_system
                .entry(format.system())
                .or_insert_with(|| Source {
                    system: format.system(),
                    files: Vec::new(),
                    stats: SourceStats::default(),
                    zone: chrono_tz::UTC,
                    default_serving: None,
                })
                .files
                .push((file, format));
        }
    }
    let mut sources: Vec<Source> = by_system.into_values().collect();
    for s in &mut sources {
        // Within the app source, the messages table is read first so the API log can be
        // de-duplicated against it.
        s.files.sort_by_key(|(f, fmt)| (*fmt, f.index));
    }
    let mut notes: Vec<String> = skip
        .iter()
        .map(|(i, why)| format!("{}: not read: {why}", paths[*i].display()))
        .collect();
    notes.extend(snapshots.notes);
    Ok((sources, notes))
}

/// Turns adapter output into counted, priced, de-duplicated records for one source.
struct SourceSink<'a> {
    source: &'static str,
    file: &'a InputFile,
    /// Every file of the source, to name where a kept copy was read.
    files: &'a [(InputFile, Format)],
    format: Format,
    stats: &'a mut SourceStats,
    rejected: &'a mut Vec<m::Rejection>,
    prices: &'a PriceBook,
    conv: Conversion<'a>,
    money_from_cost_lines: bool,
    drop_chatflow_messages: bool,
    /// Ids of the counted records, to find the ones that came more than once (first read).
    ids: Option<&'a mut identity::IdLog>,
    /// The kept copy of every id that came more than once (a read after the ids are known).
    identities: &'a identity::Resolution,
    conflicts: &'a mut Vec<m::Conflict>,
    /// App rows that repeat usage (containers, rows exported twice) are kept and marked, as
    /// the app's own total counts them; other sources drop them.
    mark_repeats: bool,
    /// Added to the adapter's line numbers when it reads a piece of the file.
    line_offset: u64,
    /// Keep call text (app calls that can be matched to a trace, for recounting).
    keep_text: bool,
    zone: Tz,
    default_serving: Option<&'static str>,
    on_record: &'a mut dyn FnMut(&UsageRecord, &Valuation),
}

impl SourceSink<'_> {
    fn file_name(&self, index: u32) -> &str {
        self.files
            .iter()
            .find(|(f, _)| f.index == index)
            .map_or("?", |(f, _)| f.display.as_str())
    }
}

impl RecordSink for SourceSink<'_> {
    fn record(&mut self, mut rec: UsageRecord) {
        if let Some(reason) = rec.beyond_limits() {
            return self.reject(rec.origin.line, reason);
        }
        rec.origin.line += self.line_offset;
        if rec.serving.is_empty()
            && let Some(s) = self.default_serving
        {
            rec.serving = s;
        }
        if !self.keep_text {
            rec.text = None;
        }
        self.stats.rows_read += 1;
        self.stats.rows_used += 1;
        if self.drop_chatflow_messages && is_chatflow_message(self.format, &rec) {
            *self
                .stats
                .without_usage
                .entry("chatflow message: usage counted from its workflow node executions")
                .or_default() += 1;
            return;
        }
        if let Some(ids) = self.ids.as_deref_mut() {
            ids.push(&rec.id);
        }
        let (repeat, dropped) = match self.identities.verdict(&rec) {
            identity::Verdict::Counted => (None, ""),
            identity::Verdict::Duplicate => {
                self.stats.duplicates += 1;
                (
                    Some("a row exported twice: identical to the counted row of its id"),
                    "duplicate: identical to the counted row of its id",
                )
            }
            identity::Verdict::Conflict { kept } => {
                self.stats.conflicts += 1;
                if self.conflicts.len() < m::REJECTED_LISTED {
                    let at =
                        |o: crate::record::Origin| format!("{}:{}", self.file_name(o.file), o.line);
                    self.conflicts.push(m::Conflict {
                        source: self.source.to_string(),
                        id: m::clipped_id(&rec.id).into_owned(),
                        kept: at(kept),
                        superseded: at(rec.origin),
                    });
                }
                (
                    Some("conflicts with the kept row of its id (other values): not counted"),
                    "conflict: same id as the kept row, other values (see conflicts)",
                )
            }
        };
        if let Some(why) = repeat {
            if self.mark_repeats {
                // The app's own rows add up to this; the bridge takes it out again.
                rec.link.repeats = Some(why);
            } else {
                *self.stats.without_usage.entry(dropped).or_default() += 1;
                return;
            }
        }
        if rec.link.repeats.is_some() && !self.mark_repeats {
            *self
                .stats
                .without_usage
                .entry("repeats usage counted by other rows of this source")
                .or_default() += 1;
            return;
        }
        // A repeating row has no model of its own to price (a container): its own money stands.
        rec.computed_cost = if rec.link.repeats.is_some() && rec.model_raw.is_empty() {
            None
        } else {
            self.prices.price_record(&rec)
        };
        // Money in another currency is stated in the report's at the rate of the record's day;
        // a bill valued at a book rate keeps the difference to the dated rate apart (`fx`).
        let foreign = rec
            .computed_cost
            .iter()
            .map(|c| c.cost.currency)
            .chain(rec.reported_cost.map(|r| r.currency))
            .any(|c| c != self.conv.to);
        if foreign {
            self.stats.foreign_currency += 1;
        }
        // A bill line takes the rate of its bucket's middle: a China-day line starts at 16:00
        // UTC the day before.
        let at = rec.start + (rec.end - rec.start) / 2;
        let computed_c = rec
            .computed_cost
            .as_ref()
            .and_then(|c| self.conv.convert(c.cost, at));
        let reported_c = rec.reported_cost.and_then(|r| self.conv.convert(r, at));
        // Money the source states in a currency no rate converts (an unknown code like XXX, a
        // day with no rate) is not valued at the table's price instead: it is unpriced, and said.
        let unconvertible = rec.reported_cost.is_some() && reported_c.is_none();
        if unconvertible {
            *self
                .stats
                .notes
                .entry("its cost is in a currency with no exchange rate to the report's for its day: unpriced, not valued at the table's price")
                .or_default() += 1;
        }
        let computed = computed_c.map(|c| c.0);
        let reported = reported_c.map(|r| r.0);
        // A record with no usage and no reported cost (a failed call) costs nothing, whatever
        // its model: it is not unpriced.
        let no_usage_no_cost = !rec.cost_only && rec.usage.is_zero() && reported.is_none();
        let computed = if no_usage_no_cost {
            Some(Decimal::ZERO)
        } else {
            computed
        };
        let with_book = |c: Option<(Decimal, Decimal)>| c.map(|(d, g)| (d + g, g));
        let (money, fx) = if self.money_from_cost_lines {
            if rec.cost_only {
                with_book(reported_c).map_or((None, Decimal::ZERO), |(m, g)| (Some(m), g))
            } else {
                (Some(Decimal::ZERO), Decimal::ZERO)
            }
        } else {
            match with_book(reported_c).or(with_book(computed_c)) {
                _ if unconvertible => (None, Decimal::ZERO),
                Some((m, g)) => (Some(m), g),
                None => (computed, Decimal::ZERO),
            }
        };
        // The tier premium is the tables' own difference, whatever money the source states.
        let tier_premium = computed.zip(
            self.prices
                .standard_tier_cost(&rec)
                .and_then(|m| self.conv.convert(m, at))
                .map(|c| c.0),
        );
        let v = Valuation {
            money,
            computed,
            reported,
            fx,
            tier_premium: tier_premium.map(|(tier, standard)| tier - standard),
        };
        // Every sum of the run is taken over records whose source totals stay in bounds, so no
        // sum, difference or step downstream can overflow.
        if let Some(reason) = self.stats.beyond_limits(&rec, money) {
            self.stats.rows_read -= 1;
            self.stats.rows_used -= 1;
            return self.reject(rec.origin.line - self.line_offset, reason);
        }
        self.stats.requests += rec.requests;
        self.stats.usage += rec.usage;
        match money {
            Some(x) => self.stats.money += x,
            None => {
                self.stats.unpriced += 1;
                self.stats.unpriced_usage += rec.usage;
                let name = if rec.model_raw.is_empty() {
                    "(no model name)".to_string()
                } else {
                    m::clipped(&rec.model_raw).into_owned()
                };
                if self.stats.unpriced_models.len() < 50 {
                    self.stats.unpriced_models.insert(name);
                }
            }
        }
        (self.on_record)(&rec, &v);
    }

    fn no_usage(&mut self, _line: u64, reason: &'static str) {
        self.stats.rows_read += 1;
        self.stats.rows_used += 1;
        *self.stats.without_usage.entry(reason).or_default() += 1;
    }

    fn wants_text(&self) -> bool {
        self.keep_text
    }

    fn zone(&self) -> Tz {
        self.zone
    }

    fn note(&mut self, _line: u64, note: &'static str) {
        *self.stats.notes.entry(note).or_default() += 1;
    }

    fn note_example(&mut self, line: u64, note: &'static str, example: &str) {
        self.note(line, note);
        let at = (self.file.index, line + self.line_offset);
        self.stats.keep_example(note, at, example.to_string());
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.stats.rows_read += 1;
        self.stats.rows_rejected += 1;
        if self.rejected.len() < m::REJECTED_LISTED {
            self.rejected.push(m::Rejection {
                source: self.source.to_string(),
                origin: format!("{}:{}", self.file.display, line + self.line_offset),
                reason,
            });
        }
    }
}

/// How money in other currencies reaches the report's currency.
#[derive(Clone, Copy)]
struct Conversion<'a> {
    to: Currency,
    fx: Option<&'a FxTable>,
    /// Book rates (report currency per unit); bills only.
    book: &'a [(Currency, Decimal)],
}

impl<'a> Conversion<'a> {
    fn plain(to: Currency) -> Conversion<'static> {
        Conversion {
            to,
            fx: None,
            book: &[],
        }
    }

    fn of(opts: &'a Options) -> Conversion<'a> {
        Conversion {
            to: opts.currency,
            fx: Some(&opts.fx),
            book: &opts.book_rates,
        }
    }

    /// Book rates value bills only: the books convert the invoice, not the app's estimates.
    fn for_role(self, role: Role) -> Conversion<'a> {
        Conversion {
            book: if role == Role::Bill { self.book } else { &[] },
            ..self
        }
    }

    /// The amount at the dated rate in force on `at`'s day, and (book − dated) where a book
    /// rate is given for the currency; `None` when no rate states it.
    fn convert(&self, m: Money, at: DateTime<Utc>) -> Option<(Decimal, Decimal)> {
        if m.currency == self.to {
            return Some((m.amount, Decimal::ZERO));
        }
        // Rounded to 10 places (a millionth of a cent): a cross rate is a repeating decimal.
        let dated = self
            .fx
            .and_then(|fx| fx.convert(m.amount, m.currency, self.to, at))
            .map(|d| d.round_dp(10));
        let book = self
            .book
            .iter()
            .find(|(c, _)| *c == m.currency)
            .map(|(_, r)| m.amount * r);
        match (dated, book) {
            (Some(d), Some(b)) => Some((d, b - d)),
            (Some(d), None) => Some((d, Decimal::ZERO)),
            (None, Some(b)) => Some((b, Decimal::ZERO)),
            (None, None) => None,
        }
    }
}

/// Reads every file of a source, handing each counted record to `on_record`. The ids that come
/// more than once are found first (a light read), so each identity is counted once whatever the
/// order of the files.
fn read_source(
    src: &mut Source,
    prices: &PriceBook,
    conv: Conversion,
    out: &mut Findings,
    on_record: &mut dyn FnMut(&UsageRecord, &Valuation),
) -> Result<(), RunError> {
    let identities = resolve_identities(src, None)?;
    read_source_with(src, prices, conv, out, &identities, None, on_record)
}

/// A first read of a source for its [`Frame`]: it leaves no trace in the source's counts or
/// the run's findings (the second read, with the same resolved ids, counts them).
fn read_frame(
    src: &mut Source,
    prices: &PriceBook,
    conv: Conversion,
    parallel_min_bytes: u64,
) -> Result<(identity::Resolution, Frame), RunError> {
    // The frame's read logs the ids: only a source where one comes twice is read again (paged
    // exports of one kind may overlap: resolved before).
    let resolve_first = src.overlapping_exports();
    let mut identities = if resolve_first {
        resolve_identities(src, None)?
    } else {
        identity::Resolution::default()
    };
    let counted = std::mem::take(&mut src.stats);
    let mut log = identity::IdLog::default();
    let mut read = frame_of(
        src,
        (prices, conv, parallel_min_bytes),
        &identities,
        (!resolve_first).then_some(&mut log),
    );
    if read.is_ok() && !resolve_first {
        let repeated = log.repeated();
        if !repeated.is_empty() {
            identities = resolve_identities(src, Some(repeated))?;
            read = frame_of(src, (prices, conv, parallel_min_bytes), &identities, None);
        }
    }
    src.stats = counted;
    Ok((identities, read?))
}

/// A source's [`Frame`] from one read in parts; `ids` logs the ids read.
fn frame_of(
    src: &mut Source,
    (prices, conv, parallel_min_bytes): (&PriceBook, Conversion, u64),
    identities: &identity::Resolution,
    ids: Option<&mut identity::IdLog>,
) -> Result<Frame, RunError> {
    let read = ReadSpec {
        prices,
        conv,
        identities,
        keep_text: false,
        parallel_min_bytes,
    };
    let parts = read_in_parts(
        src,
        &read,
        &mut Findings::default(),
        ids,
        &Frame::default,
        &|f: &mut Frame, r, _| f.add(r),
    )?;
    let mut frame = Frame::default();
    parts.into_iter().for_each(|p| frame.merge(p));
    Ok(frame)
}

/// What a run finds beside the records: rejected rows and conflicting copies.
#[derive(Default)]
struct Findings {
    rejected: Vec<m::Rejection>,
    conflicts: Vec<m::Conflict>,
}

/// Reads every file of a source with its repeated ids resolved; `ids` logs the ids read.
fn read_source_with(
    src: &mut Source,
    prices: &PriceBook,
    conv: Conversion,
    out: &mut Findings,
    identities: &identity::Resolution,
    mut ids: Option<&mut identity::IdLog>,
    on_record: &mut dyn FnMut(&UsageRecord, &Valuation),
) -> Result<(), RunError> {
    let money_from_cost_lines = src.money_from_cost_lines();
    let role_conv = conv.for_role(src.role());
    let drop_chatflow_messages = src.drops_chatflow_messages();
    let mark_repeats = src.marks_repeats();
    let name = src.name();
    for (file, format) in &src.files {
        let mut sink = SourceSink {
            source: name,
            file,
            files: &src.files,
            format: *format,
            stats: &mut src.stats,
            rejected: &mut out.rejected,
            prices,
            conv: role_conv,
            money_from_cost_lines,
            drop_chatflow_messages,
            ids: ids.as_deref_mut(),
            identities,
            conflicts: &mut out.conflicts,
            mark_repeats,
            line_offset: 0,
            keep_text: false,
            zone: src.zone,
            default_serving: src.default_serving,
            on_record,
        };
        source::read(*format, file, &mut sink)?;
    }
    Ok(())
}

/// The kept copy of every id a source has more than once. `repeated` are the ids already known
/// to repeat (from a full read); without them a light read finds them.
fn resolve_identities(
    src: &Source,
    repeated: Option<std::collections::HashSet<u128>>,
) -> Result<identity::Resolution, RunError> {
    let repeated = match repeated {
        Some(r) => r,
        None => {
            let mut log = identity::IdLog::default();
            scan(src, &mut |rec, _| log.push(&rec.id))?;
            log.repeated()
        }
    };
    if repeated.is_empty() {
        return Ok(identity::Resolution::default());
    }
    let mut copies = identity::Collector::new(&repeated);
    scan(src, &mut |rec, format| copies.offer(rec, format))?;
    Ok(copies.resolve())
}

/// Reads a source's countable records without pricing or counting them.
fn scan(src: &Source, f: &mut dyn FnMut(&UsageRecord, Format)) -> Result<(), RunError> {
    let drop_chatflow = src.drops_chatflow_messages();
    for (file, format) in &src.files {
        let mut sink = ScanSink {
            format: *format,
            drop_chatflow,
            zone: src.zone,
            f,
        };
        source::read(*format, file, &mut sink)?;
    }
    Ok(())
}

struct ScanSink<'a> {
    format: Format,
    drop_chatflow: bool,
    zone: Tz,
    f: &'a mut dyn FnMut(&UsageRecord, Format),
}

impl RecordSink for ScanSink<'_> {
    fn record(&mut self, rec: UsageRecord) {
        // The rows the counting read rejects or leaves out are no copy to keep.
        if rec.beyond_limits().is_none()
            && !(self.drop_chatflow && is_chatflow_message(self.format, &rec))
        {
            (self.f)(&rec, self.format);
        }
    }
    fn no_usage(&mut self, _line: u64, _reason: &'static str) {}
    fn reject(&mut self, _line: u64, _reason: String) {}
    fn wants_text(&self) -> bool {
        false
    }
    fn zone(&self) -> Tz {
        self.zone
    }
}

/// A chatflow's `messages` row: its usage is counted from its workflow node executions.
fn is_chatflow_message(format: Format, rec: &UsageRecord) -> bool {
    matches!(format, Format::DifyMessagesCsv | Format::DifyMessagesJsonl)
        && rec.model.is_empty()
        && rec.scope.workflow.is_some()
}

/// Dify's console statistics name no provider: with one bill among the inputs their days are
/// compared with it; with several they are compared with none (which bill served a day's tokens
/// is not in them). Returns the note that says which.
fn statistics_route(
    sources: &mut [Source],
    app: usize,
    bills: &[usize],
    routes: &BTreeMap<usize, Route>,
) -> String {
    let only = match bills {
        [b] => match &routes[b] {
            Route::Bill(served) if served.len() == 1 => Some(served[0]),
            _ => None,
        },
        _ => None,
    };
    let name = sources[app].name();
    match only {
        Some(bill) => {
            sources[app].default_serving = Some(bill);
            format!(
                "{name}: Dify's console statistics name no provider: their days are compared with the {bill} bill, the only bill among the inputs"
            )
        }
        None if bills.is_empty() => format!(
            "{name}: Dify's console statistics name no provider and no bill is among the inputs"
        ),
        None => format!(
            "{name}: Dify's console statistics name no provider, and the inputs hold several bills: their days are compared with none of them (give the app's bill alone, or Dify's per-call exports)"
        ),
    }
}

/// Runs the reconciliation over `paths`.
pub fn run(paths: &[PathBuf], opts: &Options, prices: &PriceBook) -> Result<Report, RunError> {
    if paths.is_empty() {
        return Err(RunError::Usage("no input files given".into()));
    }
    let (mut sources, mut input_notes) = open_sources_noted(paths, opts.input_format)?;
    for s in &mut sources {
        s.zone = opts.tz;
        input_notes.extend(s.leave_out_statistics_beside_calls());
    }
    // One trace per run: two trace stores (Langfuse and LangSmith) would each claim the same
    // calls, and only one can be the bridge's evidence.
    // Each named with its files, so the user sees which file was taken for which store.
    let traces: Vec<String> = sources
        .iter()
        .filter(|s| s.role() == Role::Trace)
        .map(|s| {
            let files: Vec<&str> = s.files.iter().map(|(f, _)| f.display.as_str()).collect();
            let shown = files.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = if files.len() > 3 { ", …" } else { "" };
            format!("{}: {shown}{more}", s.name())
        })
        .collect();
    if traces.len() > 1 {
        return Err(RunError::Usage(format!(
            "inputs of two trace stores ({}): give the files of one of them",
            traces.join("; ")
        )));
    }
    let conv = Conversion::of(opts);
    let mut found = Findings::default();
    let calendar = Calendar {
        tz: opts.tz,
        bucket: opts.bucket,
    };
    let explicit_window = explicit_window(opts)?;

    // 1. Each bill is read once for its frame (span, grid, route, keys); no source is held.
    // The trace streams into the comparisons once they are set up (step 4), holding per call
    // only what matching needs; the bills and the gateway follow it; the app streams last.
    let idx = |role: Role| sources.iter().position(|s| s.role() == role);
    let (app, trace, gateway, bills) = (
        idx(Role::App),
        idx(Role::Trace),
        idx(Role::Gateway),
        sources
            .iter()
            .enumerate()
            .filter(|(_, s)| s.role() == Role::Bill)
            .map(|(i, _)| i)
            .collect::<Vec<_>>(),
    );
    let mut resolved: BTreeMap<usize, identity::Resolution> = BTreeMap::new();
    let mut frames: BTreeMap<usize, Frame> = BTreeMap::new();
    for &b in &bills {
        let (ids, frame) = read_frame(&mut sources[b], prices, conv, opts.parallel_min_bytes)?;
        resolved.insert(b, ids);
        frames.insert(b, frame);
    }

    check_attribution(&opts.attribution, &frames)?;

    // 2. The window: as asked, else the bill's span, else the trace's (or the gateway's) span in
    // whole buckets. Every trace call lies inside the trace's own span, so when that span is
    // the window the trace is fed into an unbounded frame and the window is set once it has
    // streamed (step 4).
    let mut window =
        explicit_window.or_else(|| bills.first().and_then(|b| frames[b].bucket_hull()));
    let window_from_trace = window.is_none() && trace.is_some();
    if window_from_trace {
        window = Some(Span::UNBOUNDED);
    } else if window.is_none()
        && let Some(g) = gateway
    {
        let (ids, frame) = read_frame(&mut sources[g], prices, conv, opts.parallel_min_bytes)?;
        resolved.insert(g, ids);
        window = frame
            .extent()
            .map(|(lo, hi)| calendar_span(&calendar, lo, hi));
    }

    // 3. Comparisons. Each bill's sees only the calls it served; a trace call that names no
    // provider takes the one its source's other calls name.
    let routes: BTreeMap<usize, Route> = frames
        .iter()
        .map(|(&b, f)| (b, f.route(sources[b].system)))
        .collect();
    let mut routed_notes = Vec::new();
    if let Some(a) = app
        && sources[a].only_statistics()
    {
        routed_notes.push(statistics_route(&mut sources, a, &bills, &routes));
    }
    let mut comps: Vec<(ComparisonAcc, usize, usize)> = Vec::new();
    let mut bill_spans: BTreeMap<usize, Span> = BTreeMap::new();
    if let Some(window) = window {
        for &b in &bills {
            let route = routes[&b].clone();
            let grid = frames[&b].grid();
            let span = frames[&b].span_around(window);
            bill_spans.insert(b, span);
            for (base, is_app) in [(app, true), (trace, false), (gateway, false)] {
                if let Some(base) = base {
                    let setup = ComparisonSetup {
                        baseline: sources[base].name().to_string(),
                        reference: sources[b].name().to_string(),
                        evidence: if is_app {
                            trace.map(|t| sources[t].name().to_string())
                        } else {
                            None
                        },
                        baseline_is_app: is_app,
                        window,
                        span,
                        grid,
                        calendar,
                        book_rates: opts.book_rates.clone(),
                        route: route.clone(),
                        teams: opts.teams.clone(),
                    };
                    comps.push((ComparisonAcc::new(setup), base, b));
                }
            }
        }
        if let (Some(a), Some(t)) = (app, trace) {
            let setup = ComparisonSetup {
                baseline: sources[a].name().to_string(),
                reference: sources[t].name().to_string(),
                evidence: Some(sources[t].name().to_string()),
                baseline_is_app: true,
                window,
                span: window,
                grid: None,
                calendar,
                book_rates: opts.book_rates.clone(),
                route: Route::All,
                teams: opts.teams.clone(),
            };
            comps.push((ComparisonAcc::new(setup), a, t));
        }
        // The gateway forwarded the app's calls (and other clients'): app → gateway sees all of
        // them, like app → trace; each bill's gateway → bill is made above.
        if let (Some(a), Some(g)) = (app, gateway) {
            let setup = ComparisonSetup {
                baseline: sources[a].name().to_string(),
                reference: sources[g].name().to_string(),
                evidence: trace.map(|t| sources[t].name().to_string()),
                baseline_is_app: true,
                window,
                span: window,
                grid: None,
                calendar,
                book_rates: opts.book_rates.clone(),
                route: Route::All,
                teams: opts.teams.clone(),
            };
            comps.push((ComparisonAcc::new(setup), a, g));
        }
    }

    drop(frames);

    // 4. Feed the trace as it streams, then the bills and the gateway: references, trace
    // baselines, retry evidence, the call index.
    let mut index = CallIndex::default();
    let mut unbilled = Unbilled::default();
    let mut team_tallies: BTreeMap<usize, crate::chargeback::Tallies> = BTreeMap::new();
    let mut bill_scopes: BTreeMap<usize, crate::chargeback::BillScopes> = BTreeMap::new();
    let mut feed = SourceFeed {
        comps: &mut comps,
        index: &mut index,
        unbilled: &mut unbilled,
        trace,
        gateway,
        window,
        any_bill: !bills.is_empty(),
        match_calls: app.is_some(),
    };
    if let Some(t) = trace {
        let name = sources[t].name();
        let tf = PartFeed {
            source: t,
            name,
            trace,
            gateway,
            window,
            any_bill: !bills.is_empty(),
            match_calls: app.is_some(),
            hold_nameless: !bills.is_empty(),
        };
        let make = || SourcePart::new(feed.comps, opts.teams.as_deref().zip(window), None);
        // One read logs the trace's ids; only when an id came twice is it read again with its
        // kept copies known (paged exports of one kind may overlap: resolved before).
        let resolve_first = sources[t].overlapping_exports();
        let listed = (found.rejected.len(), found.conflicts.len());
        let mut repeated: Option<std::collections::HashSet<u128>> = None;
        let mut whole = loop {
            let first = repeated.is_none();
            let identities = match repeated.take() {
                Some(r) => resolve_identities(&sources[t], Some(r))?,
                None if resolve_first => resolve_identities(&sources[t], None)?,
                None => identity::Resolution::default(),
            };
            let mut log = identity::IdLog::default();
            let log_ids = first && !resolve_first;
            let read = ReadSpec {
                prices,
                conv,
                identities: &identities,
                keep_text: false,
                parallel_min_bytes: opts.parallel_min_bytes,
            };
            let parts = read_in_parts(
                &mut sources[t],
                &read,
                &mut found,
                log_ids.then_some(&mut log),
                &make,
                &|p, r, v| p.record(&tf, r, v),
            )?;
            if log_ids {
                let again = log.repeated();
                if !again.is_empty() {
                    // Start over: nothing but the trace has been read yet.
                    sources[t].stats = SourceStats::default();
                    found.rejected.truncate(listed.0);
                    found.conflicts.truncate(listed.1);
                    repeated = Some(again);
                    continue;
                }
            }
            break SourcePart::merge_all(parts, make);
        };
        let n = whole.served.fill_in(&mut whole.nameless);
        if n > 0 {
            routed_notes.push(format!(
                "{name}: {n} calls that name no provider are routed to the only bill the source's other calls name"
            ));
        }
        for (r, v) in std::mem::take(&mut whole.nameless) {
            whole.feed(&tf, &r, &v);
        }
        for ((c, _, _), (p, _, _)) in feed.comps.iter_mut().zip(whole.comps) {
            c.merge(p);
        }
        *feed.index = whole.index;
        feed.unbilled.merge(whole.unbilled);
        let (hull, teams) = (whole.hull, whole.teams);
        if window_from_trace {
            let w = hull.map(|(lo, hi)| calendar_span(&calendar, lo, hi));
            window = w;
            feed.window = w;
            match w {
                Some(w) => feed.comps.iter_mut().for_each(|(c, _, _)| {
                    c.setup.window = w;
                    c.setup.span = w;
                }),
                // No trace call at all: nothing frames a comparison.
                None => feed.comps.clear(),
            }
        }
        if let (Some(c), Some(_)) = (teams, window) {
            team_tallies.insert(t, c.tallies);
        }
    }
    for (i, src) in sources.iter_mut().enumerate() {
        if Some(i) == app || Some(i) == trace {
            continue;
        }
        let ids = match resolved.remove(&i) {
            Some(ids) => ids,
            None => resolve_identities(src, None)?,
        };
        let pf = PartFeed {
            source: i,
            name: src.name(),
            trace,
            gateway,
            window: feed.window,
            any_bill: feed.any_bill,
            match_calls: feed.match_calls,
            hold_nameless: false,
        };
        let teams = opts.teams.as_deref().zip(window);
        let make = || SourcePart::new(feed.comps, teams, bill_spans.get(&i));
        let read = ReadSpec {
            prices,
            conv,
            identities: &ids,
            keep_text: false,
            parallel_min_bytes: opts.parallel_min_bytes,
        };
        let parts = read_in_parts(src, &read, &mut found, None, &make, &|p, r, v| {
            p.record(&pf, r, v)
        })?;
        let whole = SourcePart::merge_all(parts, make);
        for ((c, _, _), (p, _, _)) in feed.comps.iter_mut().zip(whole.comps) {
            c.merge(p);
        }
        feed.unbilled.merge(whole.unbilled);
        if let Some(c) = whole.teams {
            team_tallies.insert(i, c.tallies);
            if let Some(scopes) = c.scopes {
                bill_scopes.insert(i, scopes);
            }
        }
    }
    // The trace was read first: the findings go in the inputs' order, as if every source had
    // been read in turn (each source's own in its order).
    let place = |source: &str| sources.iter().position(|s| s.name() == source);
    found.rejected.sort_by_key(|x| place(&x.source));
    found.conflicts.sort_by_key(|x| place(&x.source));

    // 5. Stream the app source into its comparisons, matching calls against the trace.
    let mut app_hull: Option<Span> = None;
    let mut anomalies = Vec::new();
    if let Some(a) = app {
        let (mine, others): (Vec<_>, Vec<_>) = comps
            .into_iter()
            .enumerate()
            .partition(|(_, (_, base, _))| *base == a);
        let mut feed = AppFeed {
            comps: mine.iter().map(|(_, (c, _, _))| c.empty_like()).collect(),
            index: &index,
            prices,
            conv: conv.for_role(Role::App),
            hull: None,
            source: sources[a].name(),
            window,
            served: ServedByApp::default(),
            pending: Pending::default(),
            unbilled: Unbilled::default(),
            teams: opts.teams.as_deref(),
            chargeback: Default::default(),
            days: Calendar {
                tz: opts.tz,
                bucket: BucketSize::Day,
            },
            day_memo: Default::default(),
            daily: Default::default(),
        };
        let mut slots: Vec<(usize, (ComparisonAcc, usize, usize))> = others;
        let positions: Vec<(usize, usize, usize)> =
            mine.iter().map(|(i, (_, b, r))| (*i, *b, *r)).collect();
        let mut originals: Vec<ComparisonAcc> = mine.into_iter().map(|(_, (c, _, _))| c).collect();
        read_app_source(
            &mut sources[a],
            prices,
            conv,
            &mut found,
            &mut feed,
            opts.parallel_min_bytes,
        )?;
        app_hull = feed.hull;
        anomalies = anomalies::find(sources[a].name(), &feed.daily, opts.tz);
        if opts.teams.is_some() {
            team_tallies.insert(a, std::mem::take(&mut feed.chargeback));
        }
        for (orig, part) in originals.iter_mut().zip(feed.comps) {
            orig.merge(part);
        }
        unbilled.merge(feed.unbilled);
        for (bill, n) in feed
            .pending
            .settle(&feed.served, &mut originals, &mut unbilled)
        {
            routed_notes.push(format!(
                "{}: {n} calls that name no provider of their own (iteration containers, chatflow messages read without their nodes, models the catalog does not know) are compared with the {bill} bill, the only one their app's other calls name",
                sources[a].name()
            ));
        }
        slots.extend(
            positions
                .into_iter()
                .zip(originals)
                .map(|((i, b, r), c)| (i, (c, b, r))),
        );
        slots.sort_by_key(|(i, _)| *i);
        comps = slots.into_iter().map(|(_, c)| c).collect();
    }

    // 6. Finish.
    // Without a window asked for and without usage to span, the report has no window (not
    // the epoch).
    let window = window.or_else(|| app_hull.map(|h| calendar_span(&calendar, h.start, h.end)));
    let mut notes = Vec::new();
    notes.extend(input_notes);
    let mut comparisons = Vec::new();
    let mut basis_tallies = Vec::new();
    let mut sides = Vec::new();
    for (mut c, base, reference) in comps {
        basis_tallies.push(std::mem::take(&mut c.chargeback));
        sides.push((base, reference));
        if c.baseline_outside > 0 || c.reference_outside > 0 {
            notes.push(format!(
                "{} → {}: {} baseline and {} reference records fall outside {} … {} and are not compared",
                c.setup.baseline,
                c.setup.reference,
                c.baseline_outside,
                c.reference_outside,
                c.setup.span.start.to_rfc3339(),
                c.setup.span.end.to_rfc3339()
            ));
        }
        let rate = |cur: Currency, at: DateTime<Utc>| {
            conv.convert(Money::new(Decimal::ONE, cur), at)
                .map(|(d, _)| d)
        };
        comparisons.push(c.finish(prices, &opts.attribution, &rate));
    }
    if comparisons.is_empty() {
        notes.push(
            "nothing to compare: give at least two of app (Dify), trace (Langfuse) and bill (OpenAI) exports"
                .to_string(),
        );
    }
    for src in &sources {
        for (note, rows) in &src.stats.notes {
            let example = src
                .stats
                .note_examples
                .get(note)
                .map(|(_, id)| format!(" (e.g. {id})"))
                .unwrap_or_default();
            notes.push(format!("{}: {rows} row(s): {note}{example}", src.name()));
        }
        let st = &src.stats;
        if st.conflicts > 0 {
            notes.push(format!(
                "{}: {} row(s) share an id with a kept row but carry other values (conflicts, listed): \
                 the kept copy is the one with more tokens, then more money, then the greater \
                 canonical value, whatever the order of the files{}",
                src.name(),
                st.conflicts,
                if src.marks_repeats() { "; the others are taken out by double_counting" } else { "; the others are not counted" }
            ));
        }
        if st.duplicates > 0 {
            notes.push(format!(
                "{}: {} row(s) are identical copies of a counted row (same id, same values): counted once",
                src.name(),
                st.duplicates
            ));
        }
    }
    notes.extend(routed_notes);
    let (unbilled, unbilled_notes) = unbilled.finish(opts.currency.as_str());
    notes.extend(unbilled_notes);
    let verdict = verdict(&comparisons, &anomalies, opts, &mut notes);
    let chargeback = opts.teams.as_deref().map(|teams| {
        let sources_cb = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                team_tallies
                    .get(&i)
                    .map(|t| crate::chargeback::source_report(teams, s.name(), s.role().name(), t))
            })
            .collect();
        let bills_cb = bills
            .iter()
            .filter_map(|&b| {
                let span = bill_spans.get(&b)?;
                let scopes = bill_scopes.get(&b)?;
                // The app's calls weight the shares, else the trace's, else the gateway's.
                let basis = [app, trace, gateway]
                    .into_iter()
                    .flatten()
                    .find_map(|base| {
                        let k = sides.iter().position(|&s| s == (base, b))?;
                        Some((
                            sources[base].name(),
                            &comparisons[k].attribution,
                            &basis_tallies[k],
                        ))
                    });
                Some(crate::chargeback::bill_report(
                    teams,
                    &crate::chargeback::BillInput {
                        bill: sources[b].name(),
                        span: m::WindowSpan {
                            start: span.start,
                            end: span.end,
                        },
                        scopes,
                        basis,
                        currency: opts.currency,
                    },
                ))
            })
            .collect();
        m::Chargeback {
            teams_file: teams.file.clone(),
            rule: crate::chargeback::RULE,
            sources: sources_cb,
            bills: bills_cb,
        }
    });
    Ok(Report {
        schema: m::SCHEMA,
        window: m::WindowInfo {
            start: window.map(|w| w.start),
            end: window.map(|w| w.end),
            bucket: opts.bucket.name().to_string(),
            timezone: opts.tz.name().to_string(),
        },
        currency: opts.currency,
        sources: sources.iter().map(summarize).collect(),
        comparisons,
        rejected: found.rejected,
        conflicts: found.conflicts,
        unbilled,
        verdict,
        chargeback,
        anomalies: m::Anomalies {
            rule: anomalies::rule(),
            flagged: anomalies,
        },
        previous: None,
        notes,
    })
}

/// Feeds one record of a trace, bill or gateway, as it streams, to every comparison that takes it.
struct SourceFeed<'a> {
    comps: &'a mut Vec<(ComparisonAcc, usize, usize)>,
    index: &'a mut CallIndex,
    unbilled: &'a mut Unbilled,
    trace: Option<usize>,
    gateway: Option<usize>,
    window: Option<Span>,
    any_bill: bool,
    /// An app streams after: the trace's calls are indexed for it to match against.
    match_calls: bool,
}

impl SourceFeed<'_> {
    fn record(&mut self, i: usize, source: &'static str, r: &UsageRecord, v: &Valuation) {
        let is_trace = Some(i) == self.trace;
        for (c, base, reference) in self.comps.iter_mut() {
            if *reference == i {
                c.add_reference(r, v);
            }
            if !c.setup.route.sees(r) {
                continue;
            }
            if *base == i {
                c.add_baseline(r, v);
            }
            if is_trace && r.link.status == Status::Error {
                c.add_retry_evidence(r, v);
            } else if is_trace && r.link.auxiliary {
                c.add_auxiliary_evidence(r, v);
            }
        }
        if (is_trace || Some(i) == self.gateway)
            && self.any_bill
            && self.window.is_some_and(|w| w.contains(r.start))
            && counts_for_a_bill(r, v)
            && !self
                .comps
                .iter()
                .any(|(c, _, _)| c.setup.route.is_bill() && c.setup.route.sees(r))
        {
            self.unbilled.add(source, r, v.money);
        }
        if is_trace
            && self.match_calls
            && r.link.status != Status::Error
            && !r.link.auxiliary
            && !r.usage.is_zero()
        {
            self.index.insert(r);
        }
    }
}

/// What a non-app source's read (or one piece of it) builds: the comparisons it feeds, the
/// trace's call index, its calls no bill served, its hull, the bills its apps name, the trace's
/// calls that name none (held until every call has shown which bills its app uses) and its team
/// tallies (a bill's per key and project too).
struct SourcePart<'a> {
    comps: Vec<(ComparisonAcc, usize, usize)>,
    index: CallIndex,
    unbilled: Unbilled,
    hull: Option<(DateTime<Utc>, DateTime<Utc>)>,
    served: ServedByApp,
    nameless: Vec<(UsageRecord, Valuation)>,
    teams: Option<SourceChargeback<'a>>,
}

/// What every part of a source's read shares.
struct PartFeed {
    source: usize,
    name: &'static str,
    trace: Option<usize>,
    gateway: Option<usize>,
    window: Option<Span>,
    any_bill: bool,
    match_calls: bool,
    /// The trace's calls that name no bill wait for the calls that show which bills their
    /// app uses.
    hold_nameless: bool,
}

impl<'a> SourcePart<'a> {
    fn new(
        comps: &[(ComparisonAcc, usize, usize)],
        teams: Option<(&'a crate::chargeback::Teams, Span)>,
        bill_span: Option<&'a Span>,
    ) -> Self {
        SourcePart {
            comps: comps
                .iter()
                .map(|(c, b, r)| (c.empty_like(), *b, *r))
                .collect(),
            index: CallIndex::default(),
            unbilled: Unbilled::default(),
            hull: None,
            served: ServedByApp::default(),
            nameless: Vec::new(),
            teams: teams.map(|(teams, w)| SourceChargeback::new(teams, w, bill_span)),
        }
    }

    /// Merges the parts of one read in turn, and the whole into the comparisons and the
    /// unbilled tally.
    fn merge_all(parts: Vec<Self>, make: impl Fn() -> Self) -> Self {
        let mut parts = parts.into_iter();
        let mut whole = parts.next().unwrap_or_else(make);
        parts.for_each(|p| whole.merge(p));
        whole
    }

    fn record(&mut self, f: &PartFeed, r: &UsageRecord, v: &Valuation) {
        self.hull = Some(self.hull.map_or((r.start, r.end), |(lo, hi)| {
            (lo.min(r.start), hi.max(r.end))
        }));
        if f.hold_nameless {
            self.served.learn(r);
            if r.serving.is_empty() {
                self.nameless.push((r.clone(), *v));
                return;
            }
        }
        self.feed(f, r, v);
    }

    fn feed(&mut self, f: &PartFeed, r: &UsageRecord, v: &Valuation) {
        SourceFeed {
            comps: &mut self.comps,
            index: &mut self.index,
            unbilled: &mut self.unbilled,
            trace: f.trace,
            gateway: f.gateway,
            window: f.window,
            any_bill: f.any_bill,
            match_calls: f.match_calls,
        }
        .record(f.source, f.name, r, v);
        if let Some(c) = self.teams.as_mut() {
            c.add(r, v);
        }
    }

    /// Adds a later part of the same read: what one sequential read would have built.
    fn merge(&mut self, o: Self) {
        for ((c, _, _), (p, _, _)) in self.comps.iter_mut().zip(o.comps) {
            c.merge(p);
        }
        self.index.merge(o.index);
        self.unbilled.merge(o.unbilled);
        self.hull = match (self.hull, o.hull) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
        self.served.merge(o.served);
        self.nameless.extend(o.nameless);
        if let (Some(mine), Some(theirs)) = (self.teams.as_mut(), o.teams) {
            mine.merge(theirs);
        }
    }
}

/// A non-app source's records in the window per team and, for a bill, its lines in the
/// compared span per (API key, project): what the chargeback reads of it.
struct SourceChargeback<'a> {
    teams: &'a crate::chargeback::Teams,
    window: Span,
    bill_span: Option<&'a Span>,
    tallies: crate::chargeback::Tallies,
    scopes: Option<crate::chargeback::BillScopes>,
}

impl<'a> SourceChargeback<'a> {
    fn new(
        teams: &'a crate::chargeback::Teams,
        window: Span,
        bill_span: Option<&'a Span>,
    ) -> SourceChargeback<'a> {
        SourceChargeback {
            teams,
            window,
            bill_span,
            tallies: Default::default(),
            scopes: bill_span.map(|_| crate::chargeback::BillScopes::new()),
        }
    }

    /// Adds what another part of the same source's read tallied.
    fn merge(&mut self, o: SourceChargeback) {
        self.tallies.merge(o.tallies);
        if let (Some(mine), Some(theirs)) = (self.scopes.as_mut(), o.scopes) {
            for (k, x) in theirs {
                mine.entry(k).or_default().merge(&x);
            }
        }
    }

    fn add(&mut self, r: &UsageRecord, v: &Valuation) {
        // A bill's lines count where its comparisons count them: in the span of whole buckets.
        let inside = match self.bill_span {
            Some(s) if r.is_bucket() => s.overlaps(r.start, r.end),
            Some(s) => s.contains(r.start),
            None => self.window.contains(r.start),
        };
        if !inside {
            return;
        }
        if let Some(scopes) = self.scopes.as_mut() {
            scopes
                .entry((r.scope.api_key.clone(), r.scope.project.clone()))
                .or_default()
                .add(r, v.money);
            self.tallies.add(
                self.teams.team_of_line(&r.scope.api_key, &r.scope.project),
                r,
                v.money,
            );
        } else {
            self.tallies.add(self.teams.team_of(r), r, v.money);
        }
    }
}

/// `--key` / `--project` values that appear on no bill are a typo or the wrong bill: each would
/// silently move that bill's whole usage into `unattributed_traffic`.
fn check_attribution(
    rule: &AttributionRule,
    bills: &BTreeMap<usize, Frame>,
) -> Result<(), RunError> {
    if bills.is_empty() {
        return Ok(());
    }
    let keys: BTreeSet<&str> = bills
        .values()
        .flat_map(|f| &f.keys)
        .map(String::as_str)
        .collect();
    let projects: BTreeSet<&str> = bills
        .values()
        .flat_map(|f| &f.projects)
        .map(String::as_str)
        .collect();
    let mut problems = Vec::new();
    for (flag, given, known) in [
        ("--key", &rule.api_keys, &keys),
        ("--project", &rule.projects, &projects),
    ] {
        let missing: Vec<&str> = given
            .iter()
            .map(String::as_str)
            .filter(|v| !known.contains(v))
            .collect();
        if !missing.is_empty() {
            let shown: Vec<&str> = known.iter().copied().take(10).collect();
            problems.push(format!(
                "{flag} {}: on no bill among the inputs (the bills name {})",
                missing.join(", "),
                if shown.is_empty() {
                    "none".to_string()
                } else {
                    shown.join(", ")
                        + if known.len() > shown.len() {
                            ", …"
                        } else {
                            ""
                        }
                }
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunError::Usage(problems.join("; ")))
    }
}

/// The window the user asked for (`--from`/`--to` in `--tz`), if any.
pub fn explicit_window(opts: &Options) -> Result<Option<Span>, RunError> {
    let parse = |flag: &str, s: &str| {
        window::parse_bound(s, opts.tz).ok_or_else(|| {
            RunError::Usage(format!(
                "{flag} {s:?}: expected a date YYYY-MM-DD (midnight in --tz) or an RFC 3339 instant"
            ))
        })
    };
    match (&opts.from, &opts.to) {
        (None, None) => Ok(None),
        (Some(f), Some(t)) => {
            let (start, end) = (parse("--from", f)?, parse("--to", t)?);
            if end <= start {
                return Err(RunError::Usage(format!(
                    "--to {t} must be after --from {f}"
                )));
            }
            Ok(Some(Span { start, end }))
        }
        _ => Err(RunError::Usage(
            "--from and --to go together (the window is [from, to))".into(),
        )),
    }
}

/// The whole display buckets that cover `[lo, hi]`.
fn calendar_span(cal: &Calendar, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Span {
    let start = cal.floor(lo);
    let last = cal.floor(hi);
    let step = match cal.bucket {
        BucketSize::Hour => Duration::minutes(61),
        BucketSize::Day => Duration::hours(26),
        BucketSize::Month => Duration::days(32),
    };
    Span {
        start,
        end: cal.floor(last + step),
    }
}

fn summarize(s: &Source) -> m::SourceSummary {
    let st = &s.stats;
    let formats: BTreeSet<&str> = s.files.iter().map(|(_, f)| f.name()).collect();
    m::SourceSummary {
        name: s.name().to_string(),
        format: formats.into_iter().collect::<Vec<_>>().join(","),
        role: s.role().name(),
        files: s.files.iter().map(|(f, _)| f.display.clone()).collect(),
        rows_read: st.rows_read,
        rows_used: st.rows_used,
        rows_rejected: st.rows_rejected,
        rows_without_usage: st.without_usage.values().sum(),
        without_usage: st
            .without_usage
            .iter()
            .map(|(r, n)| m::ReasonCount {
                reason: r.to_string(),
                rows: *n,
                example: None,
            })
            .collect(),
        row_notes: st
            .notes
            .iter()
            .map(|(r, n)| m::ReasonCount {
                reason: r.to_string(),
                rows: *n,
                example: st.note_examples.get(r).map(|(_, id)| id.clone()),
            })
            .collect(),
        requests: st.requests,
        tokens: st.usage,
        cost: st.money,
        unpriced_records: st.unpriced,
        unpriced_tokens: st.unpriced_usage,
        unpriced_models: st.unpriced_models.iter().cloned().collect(),
        foreign_currency_records: st.foreign_currency,
        rows_duplicate: st.duplicates,
        rows_conflicting: st.conflicts,
    }
}

/// The CI gate: with a threshold given, every comparison within it — and something compared,
/// with usage in the window, unless `--allow-empty` (then the reason is a note).
fn verdict(
    comparisons: &[m::ComparisonReport],
    anomalies: &[m::Anomaly],
    opts: &Options,
    notes: &mut Vec<String>,
) -> m::Verdict {
    let mut failures = Vec::new();
    let gated = opts.max_variance_pct.is_some() || opts.max_unexplained_pct.is_some();
    let empty = |c: &m::ComparisonReport| {
        let t = &c.totals;
        [&t.baseline, &t.reference]
            .iter()
            .all(|s| s.tokens.is_zero() && s.cost.is_zero() && s.records == 0)
    };
    let nothing = if comparisons.is_empty() {
        Some((
            "nothing_compared",
            "nothing compared: the inputs hold fewer than two of app (Dify), trace (Langfuse) and bill".to_string(),
        ))
    } else if comparisons.iter().all(empty) {
        Some((
            "no_usage",
            "no usage in the window: every comparison is empty on both sides".to_string(),
        ))
    } else {
        None
    };
    if gated && let Some((check, message)) = nothing {
        if opts.allow_empty {
            notes.push(format!("{message}; passed (--allow-empty)"));
        } else {
            failures.push(m::Failure {
                check,
                comparison: None,
                figure: None,
                limit: None,
                message: format!("{message} (--allow-empty passes such a run)"),
            });
        }
    }
    for c in comparisons {
        let t = &c.totals;
        let name = format!("{} → {}", c.baseline, c.reference);
        for (check, flag, what, figure, limit) in [
            (
                "max_variance",
                "--max-variance",
                "variance",
                t.variance.pct,
                opts.max_variance_pct,
            ),
            (
                "max_unexplained",
                "--max-unexplained",
                "unexplained",
                t.unexplained_pct,
                opts.max_unexplained_pct,
            ),
        ] {
            if let Some(max) = limit
                && figure.abs() > max
            {
                failures.push(m::Failure {
                    check,
                    comparison: Some(name.clone()),
                    figure: Some(figure),
                    limit: Some(max),
                    message: format!("{name}: {what} {figure:.3}% exceeds {flag} {max}%"),
                });
            }
        }
    }
    if let Some(max) = opts.max_anomalies
        && anomalies.len() as u64 > max
    {
        let n = anomalies.len();
        for a in anomalies {
            failures.push(m::Failure {
                check: "max_anomalies",
                comparison: None,
                figure: Some(n as f64),
                limit: Some(max as f64),
                message: format!(
                    "anomaly ({n} flagged, more than --max-anomalies {max}): {} app {} on {}: {} {} against a trailing median of {} ({:+}%)",
                    a.source,
                    if a.app.is_empty() { "(none)" } else { &a.app },
                    a.day,
                    a.metric.replace('_', " "),
                    a.value.round_dp(4).normalize(),
                    a.baseline_median.round_dp(4).normalize(),
                    a.change_pct
                ),
            });
        }
    }
    m::Verdict {
        max_variance_pct: opts.max_variance_pct,
        max_unexplained_pct: opts.max_unexplained_pct,
        max_anomalies: opts.max_anomalies,
        allow_empty: opts.allow_empty,
        pass: failures.is_empty(),
        failures,
    }
}

/// The rejected rows of a run: the first `REJECTED_LISTED` of them, and how many there were.
#[derive(Debug, Default)]
pub struct Rejected {
    pub listed: Vec<m::Rejection>,
    pub total: u64,
}

/// Reads every input and hands each counted record to `out` with its source's name; returns the
/// rejected rows.
pub fn normalize(
    paths: &[PathBuf],
    forced: Option<Format>,
    prices: &PriceBook,
    currency: Currency,
    out: &mut dyn FnMut(&str, &UsageRecord),
) -> Result<Rejected, RunError> {
    for_each_record(paths, forced, prices, currency, &mut |_, name, r, _| {
        out(name, r)
    })
}

/// Reads every input and hands each counted, priced record to `out` with its source's role and
/// name and its valuation; returns the rejected rows.
pub fn for_each_record(
    paths: &[PathBuf],
    forced: Option<Format>,
    prices: &PriceBook,
    currency: Currency,
    out: &mut dyn FnMut(Role, &str, &UsageRecord, &Valuation),
) -> Result<Rejected, RunError> {
    let mut sources = open_sources(paths, forced)?;
    let mut found = Findings::default();
    for src in sources.iter_mut() {
        let (role, name) = (src.role(), src.name());
        read_source(
            src,
            prices,
            Conversion::plain(currency),
            &mut found,
            &mut |r, v| out(role, name, r, v),
        )?;
    }
    Ok(Rejected {
        listed: found.rejected,
        total: sources.iter().map(|s| s.stats.rows_rejected).sum(),
    })
}

/// The app source's records on their way into the comparisons whose baseline it is.
struct AppFeed<'a> {
    comps: Vec<ComparisonAcc>,
    index: &'a CallIndex,
    prices: &'a PriceBook,
    conv: Conversion<'a>,
    hull: Option<Span>,
    source: &'static str,
    window: Option<Span>,
    /// The bills each app's calls name, calls naming none held until the end, and calls whose
    /// bill is not among the inputs.
    served: ServedByApp,
    pending: Pending,
    unbilled: Unbilled,
    /// `--teams`: the app's own calls in the window (no repeats), per team.
    teams: Option<&'a crate::chargeback::Teams>,
    chargeback: crate::chargeback::Tallies,
    /// Local days of the report's zone, and the app's calls per app and day (anomalies).
    days: Calendar,
    day_memo: window::FloorMemo,
    daily: anomalies::Daily,
}

/// A call a bill could have charged: it carries usage or money (a failed call with neither
/// bills nothing, whoever served it).
fn counts_for_a_bill(r: &UsageRecord, v: &Valuation) -> bool {
    !r.usage.is_zero() || v.money.is_some_and(|m| !m.is_zero())
}

impl AppFeed<'_> {
    fn record(&mut self, r: &UsageRecord, v: &Valuation) {
        let at = Span {
            start: r.start,
            end: r.start + Duration::nanoseconds(1),
        };
        self.hull = Some(self.hull.map_or(at, |h| h.hull(&at)));
        if let Some(teams) = self.teams
            && r.link.repeats.is_none()
            && self.window.is_some_and(|w| w.contains(r.start))
        {
            self.chargeback.add(teams.team_of(r), r, v.money);
        }
        if r.link.repeats.is_none()
            && !r.usage.is_zero()
            && self.window.is_some_and(|w| w.contains(r.start))
        {
            let day = self.day_memo.floor(&self.days, r.start);
            self.daily.add(day, r, v.money);
        }
        // A repeating row (container, second copy) is not a call of its own to match.
        let matched = if r.link.repeats.is_some() {
            None
        } else {
            self.index.find(r)
        };
        let unit = matched.and_then(|_| {
            self.prices
                .lookup(&r.provider, &r.model_raw, &r.model, r.start)
                .and_then(|e| {
                    // Table prices in the report currency at the call's day.
                    let rate = self
                        .conv
                        .convert(Money::new(Decimal::ONE, e.currency), r.start)?
                        .0;
                    Some((
                        e.unit_price(UsageClass::Input)? * rate,
                        e.unit_price(UsageClass::Output)? * rate,
                    ))
                })
        });
        // A drifting call with text is recounted once, for every comparison it feeds.
        let recount = matched
            .filter(|ev| bridge::classify_match(r, ev) == bridge::MatchKind::Drift)
            .and_then(|ev| recount::recount(r, &ev));
        // A bill comparison sees the calls its bill served; a call that names no bill waits,
        // per app, for the app's other calls to name one.
        self.served.learn(r);
        let has_bill = self.comps.iter().any(|c| c.setup.route.is_bill());
        let unknown = r.serving.is_empty() && has_bill;
        if has_bill && self.window.is_some_and(|w| w.contains(r.start)) && counts_for_a_bill(r, v) {
            if unknown {
                self.pending
                    .add_unbilled(self.source, r, v.money, &self.comps);
            } else if !self
                .comps
                .iter()
                .any(|c| c.setup.route.is_bill() && c.setup.route.sees(r))
            {
                self.unbilled.add(self.source, r, v.money);
            }
        }
        let mut held = if unknown {
            Some(self.pending.comps_for(r, &self.comps))
        } else {
            None
        };
        for (k, c) in self.comps.iter_mut().enumerate() {
            let c = if !c.setup.route.is_bill() {
                c
            } else if let Some(h) = held.as_deref_mut() {
                &mut h[k]
            } else if c.setup.route.sees(r) {
                c
            } else {
                continue;
            };
            c.add_baseline(r, v);
            if let Some(ev) = matched {
                c.add_drift(r, &ev, unit);
            }
            if let Some(rc) = &recount {
                c.add_drift_recount(r, rc);
            }
        }
    }

    fn empty_like(&self) -> Self {
        AppFeed {
            comps: self.comps.iter().map(ComparisonAcc::empty_like).collect(),
            index: self.index,
            prices: self.prices,
            conv: self.conv,
            hull: None,
            source: self.source,
            window: self.window,
            served: ServedByApp::default(),
            pending: Pending::default(),
            unbilled: Unbilled::default(),
            teams: self.teams,
            chargeback: Default::default(),
            days: self.days,
            day_memo: Default::default(),
            daily: Default::default(),
        }
    }

    fn merge(&mut self, o: Self) {
        for (c, p) in self.comps.iter_mut().zip(o.comps) {
            c.merge(p);
        }
        self.served.merge(o.served);
        self.pending.merge(o.pending);
        self.unbilled.merge(o.unbilled);
        self.chargeback.merge(o.chargeback);
        self.daily.merge(o.daily);
        self.hull = match (self.hull, o.hull) {
            (Some(a), Some(b)) => Some(a.hull(&b)),
            (a, b) => a.or(b),
        };
    }
}

/// What every sink of one file shares.
struct SinkSpec<'a> {
    source: &'static str,
    file: &'a InputFile,
    files: &'a [(InputFile, Format)],
    identities: &'a identity::Resolution,
    format: Format,
    prices: &'a PriceBook,
    conv: Conversion<'a>,
    money_from_cost_lines: bool,
    drop_chatflow_messages: bool,
    mark_repeats: bool,
    keep_text: bool,
    zone: Tz,
    default_serving: Option<&'static str>,
}

impl<'a> SinkSpec<'a> {
    fn sink<'b>(
        &'b self,
        stats: &'b mut SourceStats,
        out: &'b mut Findings,
        ids: Option<&'b mut identity::IdLog>,
        on_record: &'b mut dyn FnMut(&UsageRecord, &Valuation),
        line_offset: u64,
    ) -> SourceSink<'b>
    where
        'a: 'b,
    {
        SourceSink {
            source: self.source,
            file: self.file,
            files: self.files,
            format: self.format,
            stats,
            rejected: &mut out.rejected,
            prices: self.prices,
            conv: self.conv,
            money_from_cost_lines: self.money_from_cost_lines,
            drop_chatflow_messages: self.drop_chatflow_messages,
            ids,
            identities: self.identities,
            conflicts: &mut out.conflicts,
            mark_repeats: self.mark_repeats,
            line_offset,
            keep_text: self.keep_text,
            zone: self.zone,
            default_serving: self.default_serving,
            on_record,
        }
    }
}

impl Findings {
    /// Adds a later piece's findings, as many as the report lists.
    fn extend_listed(&mut self, o: Findings) {
        let room = m::REJECTED_LISTED.saturating_sub(self.rejected.len());
        self.rejected.extend(o.rejected.into_iter().take(room));
        let room = m::REJECTED_LISTED.saturating_sub(self.conflicts.len());
        self.conflicts.extend(o.conflicts.into_iter().take(room));
    }
}

/// Files below this size are read on one core: cutting them costs more than it saves.
pub const PARALLEL_MIN_BYTES: u64 = 16 << 20;

/// Reads the app source into `feed`. Large Dify table exports are cut into pieces read on every
/// core; results are merged in file order, so the report is the same as a sequential read.
fn read_app_source(
    src: &mut Source,
    prices: &PriceBook,
    conv: Conversion,
    out: &mut Findings,
    feed: &mut AppFeed,
    parallel_min_bytes: u64,
) -> Result<(), RunError> {
    // The API log sees the messages table's calls again, and two exports of one table may
    // overlap: their repeated ids are resolved before the one read.
    if src.has(|f| f == Format::DifyApiLog) || src.overlapping_exports() {
        return read_source(src, prices, conv, out, &mut |r, v| feed.record(r, v));
    }
    let listed = out.rejected.len();
    let mut ids = identity::IdLog::default();
    read_app_files(src, prices, conv, out, feed, parallel_min_bytes, &mut ids)?;
    let repeated = ids.repeated();
    if repeated.is_empty() {
        return Ok(());
    }
    // An id came more than once within a file: read again, its kept copy known. Rare, so the
    // common case stays one read and holds one fingerprint per row.
    let identities = resolve_identities(src, Some(repeated))?;
    src.stats = SourceStats::default();
    out.rejected.truncate(listed);
    *feed = feed.empty_like();
    read_source_with(src, prices, conv, out, &identities, None, &mut |r, v| {
        feed.record(r, v)
    })
}

/// One read of the app's files (in pieces on every core where they are large), logging ids.
fn read_app_files(
    src: &mut Source,
    prices: &PriceBook,
    conv: Conversion,
    out: &mut Findings,
    feed: &mut AppFeed,
    parallel_min_bytes: u64,
    ids: &mut identity::IdLog,
) -> Result<(), RunError> {
    let none = identity::Resolution::default();
    let read = ReadSpec {
        prices,
        conv,
        identities: &none,
        keep_text: !feed.index.is_empty(),
        parallel_min_bytes,
    };
    let parts = read_in_parts(
        src,
        &read,
        out,
        Some(ids),
        &|| feed.empty_like(),
        &|p, r, v| p.record(r, v),
    )?;
    for p in parts {
        feed.merge(p);
    }
    Ok(())
}

/// How a source is read by [`read_in_parts`].
struct ReadSpec<'a> {
    prices: &'a PriceBook,
    conv: Conversion<'a>,
    identities: &'a identity::Resolution,
    keep_text: bool,
    parallel_min_bytes: u64,
}

/// How a file of this format is cut into pieces read on every core: CSV with its header put
/// before each piece (`Some(true)`), JSON lines at any line (`Some(false)`), or not at all.
fn piece_kind(format: Format) -> Option<bool> {
    match format {
        Format::DifyMessagesCsv
        | Format::DifyNodeExecutionsCsv
        | Format::LangfuseUiCsv
        | Format::LangfuseBlobCsv
        | Format::AwsCurCsv
        | Format::AwsCur2Csv => Some(true),
        Format::DifyMessagesJsonl
        | Format::DifyNodeExecutionsJsonl
        | Format::LangfuseUiJsonl
        | Format::LangfuseBlobJsonl => Some(false),
        _ => None,
    }
}

/// Reads every file of a source, each into parts made by `make` and fed by `feed`: a small,
/// compressed or unsplittable file in one part, a large plain CSV or JSON-lines file in pieces
/// cut at record boundaries, one per core. The parts come back in file order, so merging them
/// in turn gives what one sequential read would; `ids` logs the counted records' ids.
fn read_in_parts<P: Send>(
    src: &mut Source,
    read: &ReadSpec,
    out: &mut Findings,
    mut ids: Option<&mut identity::IdLog>,
    make: &dyn Fn() -> P,
    feed: &(dyn Fn(&mut P, &UsageRecord, &Valuation) + Sync),
) -> Result<Vec<P>, RunError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    let files = src.files.clone();
    let mut parts = Vec::new();
    for (file, format) in &files {
        let size = std::fs::metadata(&file.path).map_or(0, |m| m.len());
        let spec = SinkSpec {
            source: src.name(),
            file,
            files: &files,
            identities: read.identities,
            format: *format,
            prices: read.prices,
            conv: read.conv.for_role(src.role()),
            money_from_cost_lines: src.money_from_cost_lines(),
            drop_chatflow_messages: src.drops_chatflow_messages(),
            mark_repeats: src.marks_repeats(),
            keep_text: read.keep_text,
            zone: src.zone,
            default_serving: src.default_serving,
        };
        let csv = match piece_kind(*format) {
            Some(csv)
                if threads >= 2 && size >= read.parallel_min_bytes && file.is_plain_file() =>
            {
                csv
            }
            _ => {
                let mut part = make();
                let mut on_record = |r: &UsageRecord, v: &Valuation| feed(&mut part, r, v);
                let mut sink =
                    spec.sink(&mut src.stats, out, ids.as_deref_mut(), &mut on_record, 0);
                source::read(*format, file, &mut sink)?;
                parts.push(part);
                continue;
            }
        };
        let plan = parallel::plan(&file.path, csv, threads)
            .map_err(|e| InputError::new(file, None, format!("cannot read: {e}")))?;
        // Line numbers inside a piece count the prepended CSV header as line 1.
        let header_lines = u64::from(csv);
        let log_ids = ids.is_some();
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .pieces
                .iter()
                .map(|&piece| {
                    let mut part = make();
                    let header = &plan.header;
                    let spec = &spec;
                    scope.spawn(move || -> Result<_, InputError> {
                        let mut stats = SourceStats::default();
                        let mut found = Findings::default();
                        let mut piece_ids = identity::IdLog::default();
                        let reader =
                            parallel::open_piece(&file.path, header, piece).map_err(|e| {
                                InputError::new(file, None, format!("cannot read: {e}"))
                            })?;
                        // Lines stay bounded in pieces as in a whole file.
                        let mut reader = source::input::LineGuard::new(reader);
                        {
                            let mut on_record =
                                |r: &UsageRecord, v: &Valuation| feed(&mut part, r, v);
                            let offset = piece.first_line - 1 - header_lines;
                            let mut sink = spec.sink(
                                &mut stats,
                                &mut found,
                                log_ids.then_some(&mut piece_ids),
                                &mut on_record,
                                offset,
                            );
                            source::read_from(*format, file, &mut reader, &mut sink)?;
                            for line in std::mem::take(&mut reader.overlong) {
                                sink.reject(line, source::input::overlong_reason());
                            }
                        }
                        // Sorted here, on this piece's core.
                        piece_ids.seal();
                        Ok((stats, found, piece_ids, part))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        for r in results {
            let (stats, found, piece_ids, part) = r.map_err(|_| {
                InputError::new(file, None, "internal error while reading in parallel")
            })??;
            src.stats.merge(stats);
            if let Some(ids) = ids.as_deref_mut() {
                ids.extend(piece_ids);
            }
            out.extend_listed(found);
            parts.push(part);
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading the demo's Dify tables in pieces on every core gives the very same report as
    /// reading them on one.
    #[test]
    fn parallel_read_matches_sequential_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
        let files: Vec<PathBuf> = [
            "dify_messages.csv",
            "dify_node_executions.csv",
            "langfuse_observations.csv",
            "openai_usage_completions_p1.json",
            "openai_usage_completions_p2.json",
            "openai_costs_p1.json",
            "openai_costs_p2.json",
        ]
        .iter()
        .map(|f| dir.join(f))
        .collect();
        let prices = PriceBook::bundled().unwrap();
        let mut opts = Options {
            from: Some("2026-10-01".into()),
            to: Some("2026-11-01".into()),
            tz: chrono_tz::Asia::Shanghai,
            parallel_min_bytes: u64::MAX,
            ..Options::default()
        };
        let one = run(&files, &opts, &prices).unwrap();
        opts.parallel_min_bytes = 0;
        let many = run(&files, &opts, &prices).unwrap();
        let json = |r: &Report| serde_json::to_string(r).unwrap();
        assert_eq!(json(&one), json(&many));
        assert!(one.sources[0].rows_read > 10_000);
    }

    /// A trace read in pieces whose ids repeat across them (a copy in the last piece of a row
    /// in the first, a changed copy too) resolves them as one read does: the second read knows
    /// the kept copies whichever piece they were in.
    #[test]
    fn a_trace_read_in_pieces_resolves_ids_repeated_across_pieces() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let text = std::fs::read_to_string(root.join("langfuse/blob_observations.jsonl")).unwrap();
        let row: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let obs = |i: usize, output: u32| {
            let mut r = row.clone();
            r["id"] = format!("obs-{i}").into();
            r["trace_id"] = format!("tr-{}", i / 2).into();
            r["usage_details"]["output"] = output.to_string().into();
            r["usage_details"]["total"] = (5000 + output).to_string().into();
            r.to_string()
        };
        let mut lines: Vec<String> = (0..3000).map(|i| obs(i, 200)).collect();
        lines.push(obs(7, 200)); // a copy
        lines.push(obs(11, 260)); // a changed copy: more tokens, kept
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("observations.jsonl");
        std::fs::write(&trace, lines.join("\n") + "\n").unwrap();
        let files = vec![trace, root.join("openai/usage_completions_1d.json")];
        let prices = PriceBook::bundled().unwrap();
        let mut opts = Options {
            from: Some("2026-10-01".into()),
            to: Some("2026-11-01".into()),
            parallel_min_bytes: u64::MAX,
            ..Options::default()
        };
        let one = run(&files, &opts, &prices).unwrap();
        opts.parallel_min_bytes = 0;
        let many = run(&files, &opts, &prices).unwrap();
        let json = |r: &Report| serde_json::to_string(r).unwrap();
        assert_eq!(json(&one), json(&many));
        let trace = &one.sources[0];
        assert_eq!((trace.rows_duplicate, trace.rows_conflicting), (1, 1));
        // 3,000 calls of 5,200 tokens, one of them with 60 more output tokens.
        assert_eq!(trace.tokens.total(), 3000 * 5200 + 60);
    }

    /// A CUR read in pieces (its framing read and its counting read) gives the report one read
    /// gives: the app against a bill of 2,000 copies of its lines (other line item ids), each
    /// with a line of another service and one that names no known model.
    #[test]
    fn a_cur_read_in_pieces_matches_one_read() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bedrock_e2e");
        let text = std::fs::read_to_string(root.join("cur2_bedrock_bill.csv")).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let rows: Vec<&str> = lines.collect();
        let mut out = vec![header.to_string()];
        for k in 0..2000 {
            for row in &rows {
                let (id, rest) = row.split_once(',').unwrap();
                out.push(format!("{id}x{k},{rest}"));
            }
            for other in [
                ("AmazonEC2", "BoxUsage:m5.large"),
                ("AmazonBedrockService", "USE1-TitanEmbedV9-input-tokens"),
            ] {
                let (id, rest) = rows[0].split_once(',').unwrap();
                let rest = rest
                    .replace("AmazonBedrockService", other.0)
                    .replace("USE1-Claude3.7Sonnet-input-tokens", other.1);
                out.push(format!("{id}{}y{k},{rest}", other.0));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let bill = dir.path().join("cur2.csv");
        std::fs::write(&bill, out.join("\r\n") + "\r\n").unwrap();
        let files = vec![root.join("dify_messages_bedrock.csv"), bill];
        let prices = PriceBook::bundled().unwrap();
        let mut opts = Options {
            from: Some("2026-10-01".into()),
            to: Some("2026-11-01".into()),
            parallel_min_bytes: u64::MAX,
            ..Options::default()
        };
        let one = run(&files, &opts, &prices).unwrap();
        opts.parallel_min_bytes = 0;
        let many = run(&files, &opts, &prices).unwrap();
        let json = |r: &Report| serde_json::to_string(r).unwrap();
        assert_eq!(json(&one), json(&many));
        let aws = &one.sources[1];
        assert_eq!(aws.rows_read as usize, 2000 * (rows.len() + 2));
        // Per copy: the added unknown model rejected; the fixture's Tax and EC2 lines and the
        // added EC2 line without usage.
        assert_eq!(
            (aws.rows_rejected, aws.rows_without_usage),
            (2000, 3 * 2000)
        );
        assert!(!one.comparisons.is_empty());
    }
}
