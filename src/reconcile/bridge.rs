//! One comparison (baseline → reference) accumulated per group and turned into a waterfall.
//!
//! Records are fed one at a time (`add_baseline`, `add_reference`, `add_unrecorded`,
//! `add_drift`), so memory grows with the number of groups, not records. Each record is shown
//! to every cause of [`causes::ALL`], which keeps its own evidence per group; `finish` walks the
//! causes in order, each measured on its own evidence, and `unexplained` is the residual, so
//! `baseline + Σ steps = reference` holds exactly, per class and in money, for every group, and
//! totals are the sums of groups.

use super::causes::{
    self, Context, GroupPrices, GroupView, Matched, Measured, Place, RefScope, Tally,
};
use super::recount::CallRecount;
use super::window::{Calendar, Grid, Span};
use crate::pricing::PriceBook;
use crate::record::{Operation, Usage, UsageRecord};
use crate::report::model::{self as m, Attribution};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

pub use super::causes::{MatchKind, classify_match};

/// Money a record contributes, as its source decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Valuation {
    /// The source's own money for this record (reported cost, or the table cost where the source
    /// reports none); `None` = unpriced. Bill usage lines whose money comes from cost lines of the
    /// same bill carry `Some(0)`.
    pub money: Option<Decimal>,
    /// The table cost at the record's time, if priced.
    pub computed: Option<Decimal>,
    /// The reported cost in the report currency, if any.
    pub reported: Option<Decimal>,
    /// The part of `money` that comes from valuing a bill at a book rate instead of the dated
    /// rate of its day (the `fx` step); zero otherwise.
    pub fx: Decimal,
    /// For a record billed at a service tier other than the standard one: its table cost at
    /// that tier minus its table cost at the standard tier (the `service_tier` step's money);
    /// `None` at the standard tier or when either is unpriced.
    pub tier_premium: Option<Decimal>,
}

impl Tally {
    fn report(&self) -> m::Side {
        m::Side {
            requests: self.requests,
            records: self.records,
            tokens: self.usage,
            cost: self.money,
            unpriced_records: self.unpriced,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct GroupAcc {
    /// The baseline inside the report window, rows that repeat usage included (the app's rows
    /// add up to them).
    base: Tally,
    /// Tokens of the baseline's own calls anywhere in the span (no repeats): its volume for
    /// attribution.
    base_traffic: i64,
    reference: BTreeMap<(Option<String>, Option<String>), RefScope>,
    /// A raw model name and instant to look the group's prices up by.
    price_probe: Option<(String, DateTime<Utc>)>,
    /// Each cause's evidence, in [`causes::ALL`]'s order.
    causes: [Tally; causes::N],
}

#[derive(Clone, Debug, Default)]
pub struct AttributionRule {
    pub api_keys: Vec<String>,
    pub projects: Vec<String>,
}

/// Static facts about a comparison, fixed before any record arrives.
#[derive(Clone, Debug)]
pub struct ComparisonSetup {
    pub baseline: String,
    pub reference: String,
    pub evidence: Option<String>,
    /// The baseline is an app view: it records only final attempts and folds cached tokens into
    /// input, so retries and cache steps apply.
    pub baseline_is_app: bool,
    pub window: Span,
    pub span: Span,
    pub grid: Option<Grid>,
    pub calendar: Calendar,
    /// Book rates bills are valued at (report currency per unit), for the fx step's note.
    pub book_rates: Vec<(crate::record::Currency, Decimal)>,
    /// Which baseline and evidence records the comparison sees (a bill: only its own calls).
    pub route: super::route::Route,
    /// `--teams`: the baseline's calls in the window are also summed per team.
    pub teams: Option<std::sync::Arc<crate::chargeback::Teams>>,
}

pub struct ComparisonAcc {
    pub setup: ComparisonSetup,
    /// Groups by window and an index into `models`: the (provider, model) names are stored once,
    /// so a record's group is found without allocating.
    groups: BTreeMap<(DateTime<Utc>, u32), GroupAcc>,
    models: Vec<(String, String)>,
    /// `models` by the hash of the pair (ids whose pairs share a hash, compared in full).
    model_ids: rustc_hash::FxHashMap<u64, Vec<u32>>,
    /// Display buckets by UTC hour, for `window_start`.
    floor_memo: super::window::FloorMemo,
    /// Records of either side outside the compared span.
    pub baseline_outside: u64,
    pub reference_outside: u64,
    /// With `--teams`: the baseline's own calls in the window (no repeats), per team.
    pub chargeback: crate::chargeback::Tallies,
}

impl GroupAcc {
    /// Adds another partial accumulation of the same group (a parallel reader's share).
    fn merge(&mut self, o: GroupAcc) {
        self.base.merge(&o.base);
        self.base_traffic += o.base_traffic;
        for (k, s) in o.reference {
            self.reference.entry(k).or_default().merge(&s);
        }
        if self.price_probe.is_none() {
            self.price_probe = o.price_probe;
        }
        for (mine, theirs) in self.causes.iter_mut().zip(&o.causes) {
            mine.merge(theirs);
        }
    }

    /// Shows every cause one event.
    fn each_cause(&mut self, mut f: impl FnMut(&dyn causes::Cause, &mut Tally)) {
        for (c, t) in causes::ALL.iter().zip(self.causes.iter_mut()) {
            f(*c, t);
        }
    }
}

impl ComparisonAcc {
    /// An empty accumulator with the same setup, for a parallel reader.
    pub fn empty_like(&self) -> ComparisonAcc {
        ComparisonAcc::new(self.setup.clone())
    }

    /// Adds what a parallel reader accumulated (merge in input order for stable evidence).
    pub fn merge(&mut self, other: ComparisonAcc) {
        for ((w, id), g) in other.groups {
            let (provider, model) = &other.models[id as usize];
            let mine = self.model_id(provider, model);
            self.groups.entry((w, mine)).or_default().merge(g);
        }
        self.baseline_outside += other.baseline_outside;
        self.reference_outside += other.reference_outside;
        self.chargeback.merge(other.chargeback);
    }

    pub fn new(setup: ComparisonSetup) -> ComparisonAcc {
        ComparisonAcc {
            setup,
            groups: BTreeMap::new(),
            models: Vec::new(),
            model_ids: Default::default(),
            floor_memo: Default::default(),
            baseline_outside: 0,
            reference_outside: 0,
            chargeback: Default::default(),
        }
    }

    /// The group window an instant belongs to: the reference's bucket (coarsened to the display
    /// bucket when that is wider), or the display bucket when the reference has no grid.
    fn window_start(&mut self, t: DateTime<Utc>) -> DateTime<Utc> {
        let cal = &self.setup.calendar;
        match &self.setup.grid {
            Some(g) => {
                let s = g.floor(t);
                if cal.bucket.nominal() > g.width {
                    self.floor_memo.floor(cal, s)
                } else {
                    s
                }
            }
            None => self.floor_memo.floor(cal, t),
        }
    }

    /// The index of a (provider, model) pair, found by the pair's hash without allocating
    /// (so a run with many models stays linear).
    fn model_id(&mut self, provider: &str, model: &str) -> u32 {
        use std::hash::BuildHasher;
        let key = rustc_hash::FxBuildHasher.hash_one((provider, model));
        let models = &self.models;
        if let Some(&id) = self.model_ids.get(&key).and_then(|ids| {
            ids.iter().find(|&&i| {
                let (p, m) = &models[i as usize];
                p == provider && m == model
            })
        }) {
            return id;
        }
        let id = self.models.len() as u32;
        self.models.push((provider.to_string(), model.to_string()));
        self.model_ids.entry(key).or_default().push(id);
        id
    }

    fn group(&mut self, rec: &UsageRecord) -> &mut GroupAcc {
        let key = (
            self.window_start(rec.start),
            self.model_id(&rec.provider, &rec.model),
        );
        self.groups.entry(key).or_default()
    }

    /// A baseline call. Returns false when it is outside the compared span.
    pub fn add_baseline(&mut self, rec: &UsageRecord, v: &Valuation) -> bool {
        if !self.setup.span.contains(rec.start) {
            self.baseline_outside += 1;
            return false;
        }
        let at = Place {
            in_window: self.setup.window.contains(rec.start),
            repeats: rec.link.repeats.is_some(),
        };
        if at.repeats && !at.in_window {
            // Outside the window a repeat is no traffic at all.
            return false;
        }
        if at.in_window
            && !at.repeats
            && let Some(teams) = &self.setup.teams
        {
            self.chargeback.add(teams.team_of(rec), rec, v.money);
        }
        let g = self.group(rec);
        if at.in_window {
            g.base.add(rec, v);
        }
        g.each_cause(|c, t| c.on_baseline(rec, v, at, t));
        if at.repeats {
            // Part of the app's own total inside the window, taken out by `double_counting`.
            return true;
        }

        g.base_traffic += rec.usage.total();
        if g.price_probe.is_none() {
            g.price_probe = Some((rec.model_raw.clone(), rec.start));
        }
        true
    }

    /// A reference record (a bill bucket line or a trace call).
    pub fn add_reference(&mut self, rec: &UsageRecord, v: &Valuation) -> bool {
        let inside = if rec.is_bucket() {
            self.setup.span.overlaps(rec.start, rec.end)
        } else {
            self.setup.span.contains(rec.start)
        };
        if !inside {
            self.reference_outside += 1;
            return false;
        }
        let g = self.group(rec);
        let scope = g
            .reference
            .entry((rec.scope.api_key.clone(), rec.scope.project.clone()))
            .or_default();
        if rec.adjustment.is_some() {
            // Money no call causes: no other cause's scope sum may take it too.
            scope.adjustments.add(rec, v);
        } else if rec.operation == Operation::Embedding {
            scope.embeddings.add(rec, v);
        } else if rec.operation == Operation::Rerank {
            scope.reranks.add(rec, v);
            scope
                .reranks
                .kinds
                .add(&rec.model, 1, v.money.unwrap_or_default());
            if v.reported.is_none() && !rec.cost_only {
                scope.reranks_unstated += 1;
            }
        } else {
            scope.calls.add(rec, v);
            if let Some(premium) = v.tier_premium {
                scope.tiers.add_delta(&rec.id, rec.usage, Some(premium));
                scope
                    .tiers
                    .kinds
                    .add(rec.service_tier.as_deref().unwrap_or_default(), 1, premium);
            }
        }
        g.each_cause(|c, t| c.on_reference(rec, v, t));
        if !rec.cost_only && !rec.model_raw.is_empty() {
            // The reference's raw names (dated snapshots) price the group best.
            g.price_probe = Some((rec.model_raw.clone(), rec.start));
        }
        true
    }

    /// A call with usage the evidence source saw that an app's tables never record as a row
    /// of their own (a failed attempt, a housekeeping call); the causes decide which is whose.
    pub fn add_unrecorded(&mut self, rec: &UsageRecord, v: &Valuation) {
        if !self.setup.baseline_is_app || !self.setup.span.contains(rec.start) {
            return;
        }
        if rec.usage.is_zero() {
            return;
        }
        self.group(rec)
            .each_cause(|c, t| c.on_unrecorded(rec, v, t));
    }

    /// A failed attempt seen by the evidence source (trace ERROR generation with usage).
    pub fn add_retry_evidence(&mut self, rec: &UsageRecord, v: &Valuation) {
        self.add_unrecorded(rec, v);
    }

    /// An app housekeeping call (conversation naming, suggested questions) the evidence source
    /// saw and the app's tables never record.
    pub fn add_auxiliary_evidence(&mut self, rec: &UsageRecord, v: &Valuation) {
        self.add_unrecorded(rec, v);
    }

    /// A baseline call matched to the same call in the evidence source: the difference between
    /// the provider-reported counts (evidence) and the baseline's counts, by input and output,
    /// for the cause `classify_match` names.
    pub fn add_drift(
        &mut self,
        base: &UsageRecord,
        evidence_usage: &Usage,
        prices: Option<(Decimal, Decimal)>,
    ) {
        if !self.setup.span.contains(base.start) {
            return;
        }
        let d_in = evidence_usage.input_total() - base.usage.input_total();
        let d_out = evidence_usage.output_total() - base.usage.output_total();
        if d_in == 0 && d_out == 0 {
            return;
        }
        let kind = classify_match(base, evidence_usage);
        if kind == MatchKind::Equal {
            return;
        }
        let m = Matched {
            base,
            kind,
            d_in,
            d_out,
            reasoning: causes::reasoning_tokens::unrecorded_reasoning(&base.usage, evidence_usage),
            media: causes::multimodal_tokens::unrecorded_media(&base.usage, evidence_usage),
            prices,
        };
        self.group(base).each_cause(|c, t| c.on_matched(&m, t));
    }

    /// The recount of a drifting call already passed to `add_drift` (same span rule).
    pub fn add_drift_recount(&mut self, base: &UsageRecord, recount: &CallRecount) {
        if !self.setup.span.contains(base.start) {
            return;
        }
        self.group(base).each_cause(|c, t| c.on_recount(recount, t));
    }

    /// Decides which API keys / projects of the reference belong to the baseline.
    fn attribution(&self, rule: &AttributionRule) -> Attribution {
        let mut keys: BTreeMap<String, i64> = BTreeMap::new();
        let mut projects: BTreeMap<String, i64> = BTreeMap::new();
        let mut baseline_tokens = 0i64;
        for g in self.groups.values() {
            baseline_tokens += g.base_traffic;
            for ((k, p), s) in &g.reference {
                let t = s.calls.usage.total();
                if let Some(k) = k {
                    *keys.entry(k.clone()).or_default() += t;
                }
                if let Some(p) = p {
                    *projects.entry(p.clone()).or_default() += t;
                }
            }
        }
        let split =
            |all: &BTreeMap<String, i64>, chosen: &[String]| -> (Vec<String>, Vec<String>) {
                all.keys()
                    .cloned()
                    .partition(|k| chosen.iter().any(|c| c == k))
            };
        if !rule.api_keys.is_empty() || !rule.projects.is_empty() {
            // With several bills, `--key`/`--project` name the app's keys and projects on all of
            // them: a dimension none of whose values is on this bill (an Anthropic workspace
            // read against the OpenAI bill) plays no part here, unless the other one has none
            // on it either (then the app has no traffic on this bill).
            let on_bill = |given: &[String], all: &BTreeMap<String, i64>| {
                given.iter().any(|v| all.contains_key(v))
            };
            let (keys_here, projects_here) = (
                on_bill(&rule.api_keys, &keys),
                on_bill(&rule.projects, &projects),
            );
            let use_keys = !rule.api_keys.is_empty() && (keys_here || !projects_here);
            let use_projects = !rule.projects.is_empty() && (projects_here || !keys_here);
            // A dimension the rule does not name plays no part: it is listed empty.
            let (ak, uk) = if !use_keys {
                (Vec::new(), Vec::new())
            } else {
                split(&keys, &rule.api_keys)
            };
            let (ap, up) = if !use_projects {
                (Vec::new(), Vec::new())
            } else {
                split(&projects, &rule.projects)
            };
            return Attribution {
                method: "explicit",
                api_keys: ak,
                projects: ap,
                unattributed_api_keys: uk,
                unattributed_projects: up,
            };
        }
        // Without a rule, the key (else project) whose call volume is closest to the
        // baseline's is taken as the baseline's own; the others are unattributed.
        let pick = |all: &BTreeMap<String, i64>| -> Option<String> {
            all.iter()
                .min_by_key(|&(_, &t)| (t - baseline_tokens).abs())
                .map(|(k, _)| k.clone())
        };
        if keys.len() > 1 {
            let chosen = pick(&keys).into_iter().collect::<Vec<_>>();
            let (ak, uk) = split(&keys, &chosen);
            return Attribution {
                method: "estimated",
                api_keys: ak,
                projects: projects.keys().cloned().collect(),
                unattributed_api_keys: uk,
                unattributed_projects: Vec::new(),
            };
        }
        if projects.len() > 1 {
            let chosen = pick(&projects).into_iter().collect::<Vec<_>>();
            let (ap, up) = split(&projects, &chosen);
            return Attribution {
                method: "estimated",
                api_keys: keys.keys().cloned().collect(),
                projects: ap,
                unattributed_api_keys: Vec::new(),
                unattributed_projects: up,
            };
        }
        Attribution {
            method: "all",
            api_keys: keys.keys().cloned().collect(),
            projects: projects.keys().cloned().collect(),
            unattributed_api_keys: Vec::new(),
            unattributed_projects: Vec::new(),
        }
    }

    /// `rate(currency, at)`: units of the report currency per unit of a price table's currency
    /// on `at`'s day (`None`: no rate; the cache step's money then stays unexplained).
    pub fn finish(
        self,
        prices: &PriceBook,
        rule: &AttributionRule,
        rate: &dyn Fn(crate::record::Currency, DateTime<Utc>) -> Option<Decimal>,
    ) -> m::ComparisonReport {
        let attribution = self.attribution(rule);
        let cx = Context {
            setup: &self.setup,
            attribution: &attribution,
        };
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut totals = Totals::default();
        // Groups in (window, provider, model) order.
        let mut ordered: Vec<_> = self
            .groups
            .iter()
            .map(|((w, id), g)| {
                let (p, m) = &self.models[*id as usize];
                ((*w, p, m), g)
            })
            .collect();
        ordered.sort_by(|a, b| a.0.cmp(&b.0));
        for ((window_start, provider, model), g) in ordered {
            let mut reference = Tally::default();
            for s in g.reference.values() {
                reference.merge(&s.calls);
                reference.merge(&s.embeddings);
                reference.merge(&s.reranks);
                reference.merge(&s.adjustments);
            }
            let group_prices = g.price_probe.as_ref().and_then(|(raw, at)| {
                prices
                    .lookup(provider, raw, model, *at)
                    .map(|entry| GroupPrices {
                        entry,
                        rate: rate(entry.currency, *at),
                    })
            });
            let mut view = GroupView {
                cx: &cx,
                model,
                base: &g.base,
                reference: &reference,
                scopes: &g.reference,
                so_far: g.base.usage,
                prices: group_prices,
            };
            let steps: Vec<Measured> = causes::ALL
                .iter()
                .zip(&g.causes)
                .map(|(c, t)| {
                    let m = c.measure(&view, t);
                    view.so_far += m.tokens;
                    m
                })
                .collect();
            let comparison = render(&cx, &g.base, &reference, &steps, false);
            totals.add(&g.base, &reference, &steps);
            groups.push(m::Group {
                key: m::GroupKey {
                    window_start,
                    provider: provider.clone(),
                    model: model.clone(),
                },
                comparison,
            });
        }
        let totals = render(&cx, &totals.base, &totals.reference, &totals.steps, true);
        m::ComparisonReport {
            baseline: self.setup.baseline.clone(),
            reference: self.setup.reference.clone(),
            evidence: self.setup.evidence.clone(),
            reference_buckets: self.setup.grid.map(|g| super::window::width_name(g.width)),
            span: m::WindowSpan {
                start: self.setup.span.start,
                end: self.setup.span.end,
            },
            attribution,
            totals,
            groups,
        }
    }
}

/// The waterfall of one group (or of the totals, which also say what to do about each step):
/// each cause's step, then `unexplained`.
fn render(
    cx: &Context,
    base: &Tally,
    reference: &Tally,
    steps: &[Measured],
    totals: bool,
) -> m::Comparison {
    let mut bridge: Vec<m::Step> = causes::ALL
        .iter()
        .zip(steps)
        .map(|(c, s)| {
            let (method, note) = c.describe(cx, s);
            m::Step {
                cause: c.name(),
                tokens: s.tokens,
                cost: s.cost,
                records: s.records,
                method,
                evidence: s.evidence.clone(),
                note,
                remedy: if totals && (s.records > 0 || !s.cost.is_zero()) {
                    c.remedy(cx, s)
                } else {
                    None
                },
            }
        })
        .collect();
    let explained_usage = bridge.iter().fold(Usage::ZERO, |a, s| a + s.tokens);
    let explained_money: Decimal = bridge.iter().map(|s| s.cost).sum();
    let variance_usage = reference.usage - base.usage;
    let variance_money = reference.money - base.money;
    let unexplained_usage = variance_usage - explained_usage;
    let unexplained_money = variance_money - explained_money;
    bridge.push(m::Step {
        cause: causes::unexplained::NAME,
        tokens: unexplained_usage,
        cost: unexplained_money,
        records: 0,
        method: "measured",
        evidence: Vec::new(),
        note: causes::unexplained::NOTE.to_string(),
        remedy: None,
    });
    let (pct, unexplained_pct) = if !reference.money.is_zero() {
        (
            pct_of(variance_money, reference.money),
            pct_of(unexplained_money, reference.money),
        )
    } else {
        let r = Decimal::from(reference.usage.total());
        (
            pct_of(Decimal::from(variance_usage.total()), r),
            pct_of(Decimal::from(unexplained_usage.total()), r),
        )
    };
    m::Comparison {
        baseline: base.report(),
        reference: reference.report(),
        variance: m::Variance {
            tokens: variance_usage,
            cost: variance_money,
            pct,
        },
        bridge,
        unexplained_pct,
    }
}

fn pct_of(x: Decimal, of: Decimal) -> f64 {
    if of.is_zero() {
        return 0.0;
    }
    // A tiny reference under a large difference is beyond a Decimal: the ratio is then taken
    // in floating point (it is only a display and gate figure, never money).
    match x
        .checked_div(of)
        .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
    {
        Some(p) => p.round_dp(6).to_string().parse::<f64>().unwrap_or(0.0),
        None => {
            let f = |d: Decimal| d.to_string().parse::<f64>().unwrap_or(0.0);
            f(x) / f(of) * 100.0
        }
    }
}

/// Sums of every group's sides and steps, so totals are exactly the sum of groups.
struct Totals {
    base: Tally,
    reference: Tally,
    steps: Vec<Measured>,
}

impl Default for Totals {
    fn default() -> Self {
        Totals {
            base: Tally::default(),
            reference: Tally::default(),
            steps: vec![Measured::default(); causes::N],
        }
    }
}

impl Totals {
    fn add(&mut self, base: &Tally, reference: &Tally, steps: &[Measured]) {
        self.base.merge(base);
        self.reference.merge(reference);
        for (t, s) in self.steps.iter_mut().zip(steps) {
            t.merge(s);
        }
    }
}

/// Index of the evidence source's calls for matching baseline calls one to one.
#[derive(Default)]
pub struct CallIndex {
    /// Calls by the fingerprint of their id, and by the fingerprint of their trace id when the
    /// trace has exactly one successful call ([`SEVERAL`] otherwise): indexes into `usages`.
    by_id: rustc_hash::FxHashMap<IdKey, u32>,
    by_trace: rustc_hash::FxHashMap<IdKey, u32>,
    usages: Vec<PackedUsage>,
    /// The usages a `u32` per class cannot hold, by index (hostile input; real calls fit).
    wide: HashMap<u32, Usage>,
}

/// A 128-bit fingerprint of an id (seeded XXH3-128, see `identity::id_key`), as two words so
/// a map entry with its index takes 24 bytes. A month of calls is held as fingerprints, not
/// strings: two ids of one run share one with a probability under 10^-24.
type IdKey = [u64; 2];

/// Marks a trace id of several successful calls: it cannot match a call alone.
const SEVERAL: u32 = u32::MAX;

/// A call's usage in 44 bytes, when every class fits a `u32`.
type PackedUsage = [u32; crate::record::UsageClass::COUNT];

fn id_key(id: &str) -> IdKey {
    let k = super::identity::id_key(id);
    [(k >> 64) as u64, k as u64]
}

impl CallIndex {
    /// Adds a successful call of the evidence source. A second call with the same id takes the
    /// id's place, as a map of ids would.
    pub fn insert(&mut self, rec: &UsageRecord) {
        let Ok(at) = u32::try_from(self.usages.len()) else {
            // Four billion calls: the rest match nothing (their steps stay unexplained).
            return;
        };
        if at == SEVERAL {
            return;
        }
        let mut packed = [0u32; crate::record::UsageClass::COUNT];
        let fits = packed
            .iter_mut()
            .zip(rec.usage.0)
            .all(|(p, n)| u32::try_from(n).map(|n| *p = n).is_ok());
        if !fits {
            self.wide.insert(at, rec.usage);
        }
        self.usages.push(packed);
        self.by_id.insert(id_key(&rec.id), at);
        if let Some(t) = &rec.link.trace_id {
            // A trace with several successful generations cannot be matched by trace id alone.
            self.by_trace
                .entry(id_key(t))
                .and_modify(|i| *i = SEVERAL)
                .or_insert(at);
        }
    }

    /// Adds the calls of a later part of the same read, as if they had been inserted after
    /// this part's: a later call with an id takes the id's place, and a trace id both parts
    /// have is a trace of several calls.
    pub fn merge(&mut self, o: CallIndex) {
        let Ok(base) = u32::try_from(self.usages.len()) else {
            return;
        };
        // Past the last index a u32 holds: the rest match nothing, as with `insert`.
        let moved = |i: u32| base.checked_add(i).filter(|&at| at != SEVERAL);
        let kept = o.usages.len().min(SEVERAL.saturating_sub(base) as usize);
        self.usages.extend_from_slice(&o.usages[..kept]);
        for (i, u) in o.wide {
            if let Some(at) = moved(i).filter(|&at| (at as usize) < self.usages.len()) {
                self.wide.insert(at, u);
            }
        }
        for (k, i) in o.by_id {
            if let Some(at) = moved(i).filter(|&at| (at as usize) < self.usages.len()) {
                self.by_id.insert(k, at);
            }
        }
        for (k, i) in o.by_trace {
            let at = if i == SEVERAL {
                SEVERAL
            } else {
                match moved(i).filter(|&at| (at as usize) < self.usages.len()) {
                    Some(at) => at,
                    None => continue,
                }
            };
            self.by_trace
                .entry(k)
                .and_modify(|x| *x = SEVERAL)
                .or_insert(at);
        }
    }

    /// The evidence usage of the same call: by record id (node execution id = generation id),
    /// else by trace id (message id = trace id) when the trace has exactly one generation.
    pub fn find(&self, rec: &UsageRecord) -> Option<Usage> {
        // No evidence source (an app against its bill): nothing to hash per call.
        if self.usages.is_empty() {
            return None;
        }
        let at = match self.by_id.get(&id_key(&rec.id)) {
            Some(&at) => at,
            None => {
                let t = rec.link.trace_id.as_ref()?;
                *self.by_trace.get(&id_key(t)).filter(|&&i| i != SEVERAL)?
            }
        };
        // Real calls all fit: no lookup on the app's hot path unless some did not.
        if !self.wide.is_empty()
            && let Some(u) = self.wide.get(&at)
        {
            return Some(*u);
        }
        let packed = self.usages.get(at as usize)?;
        let mut u = Usage::ZERO;
        u.0.iter_mut()
            .zip(packed)
            .for_each(|(n, &p)| *n = i64::from(p));
        Some(u)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::window::BucketSize;
    use crate::record::{Currency, Money, Origin, Status, UsageClass};
    use rust_decimal_macros::dec;

    fn traced(id: &str, trace: Option<&str>, usage: Usage) -> UsageRecord {
        let mut r = UsageRecord::call(id.into(), Origin { file: 0, line: 1 }, t(1));
        r.link.trace_id = trace.map(String::from);
        r.usage = usage;
        r
    }

    #[test]
    fn the_call_index_finds_by_id_then_by_a_trace_of_one_call() {
        let small = Usage::of(&[(UsageClass::Input, 120), (UsageClass::Output, 30)]);
        // Beyond a u32 and negative: kept exactly, not truncated.
        let wide = Usage::of(&[(UsageClass::Input, 5_000_000_000), (UsageClass::Other, -3)]);
        let mut index = CallIndex::default();
        index.insert(&traced("gen-1", Some("msg-1"), small));
        index.insert(&traced("gen-2", Some("msg-2"), wide));
        index.insert(&traced("gen-3", Some("msg-3"), small));
        index.insert(&traced("gen-4", Some("msg-3"), small));
        let find = |id: &str, trace: Option<&str>| index.find(&traced(id, trace, Usage::ZERO));
        assert_eq!(find("gen-1", None), Some(small));
        assert_eq!(find("gen-2", None), Some(wide));
        // A message id matches its trace's only generation.
        assert_eq!(find("msg-1", Some("msg-1")), Some(small));
        assert_eq!(find("msg-2", Some("msg-2")), Some(wide));
        // A trace of two generations matches no message alone; its generations by id still do.
        assert_eq!(find("msg-3", Some("msg-3")), None);
        assert_eq!(find("gen-4", Some("msg-3")), Some(small));
        assert_eq!(find("gen-9", Some("msg-9")), None);
        assert_eq!(index.len(), 4);
    }

    /// Two parts of one read merged find what one index fed every call in turn finds: a later
    /// copy of an id takes its place, a trace with a call in each part is a trace of several,
    /// and a usage beyond a u32 keeps its place.
    #[test]
    fn merged_call_indexes_find_what_one_index_finds() {
        let u = |n: i64| Usage::of(&[(UsageClass::Input, n), (UsageClass::Output, 1)]);
        let wide = Usage::of(&[(UsageClass::Input, 5_000_000_000)]);
        let calls = [
            traced("gen-1", Some("msg-1"), u(10)),
            traced("gen-2", Some("msg-2"), wide),
            traced("gen-3", Some("msg-3"), u(30)),
            // The second part: a trace split over both parts, an id again, a wide usage.
            traced("gen-4", Some("msg-3"), u(40)),
            traced("gen-1", Some("msg-5"), u(50)),
            traced("gen-6", Some("msg-6"), wide),
        ];
        let mut one = CallIndex::default();
        calls.iter().for_each(|c| one.insert(c));
        let (mut a, mut b) = (CallIndex::default(), CallIndex::default());
        calls[..3].iter().for_each(|c| a.insert(c));
        calls[3..].iter().for_each(|c| b.insert(c));
        a.merge(b);
        for (id, trace) in [
            ("gen-1", None),
            ("gen-2", None),
            ("gen-4", None),
            ("gen-6", None),
            ("msg-1", Some("msg-1")),
            ("msg-2", Some("msg-2")),
            ("msg-3", Some("msg-3")),
            ("msg-5", Some("msg-5")),
            ("msg-6", Some("msg-6")),
        ] {
            let q = traced(id, trace, Usage::ZERO);
            assert_eq!(a.find(&q), one.find(&q), "{id}");
        }
        assert_eq!(a.find(&traced("gen-1", None, Usage::ZERO)), Some(u(50)));
        assert_eq!(a.find(&traced("msg-3", Some("msg-3"), Usage::ZERO)), None);
        assert_eq!(a.find(&traced("gen-6", None, Usage::ZERO)), Some(wide));
        assert_eq!(a.len(), one.len());
    }

    const TABLE: &str = r#"
[[entry]]
provider = "openai"
model = "m1"
names = ["m1"]
effective_from = "2026-01-01"
unit = "1M"
currency = "USD"
source = "test"
[entry.prices]
input = "2.00"
input_cache_read = "1.00"
output = "8.00"
"#;

    const TABLE_REASONING: &str = r#"
[[entry]]
provider = "openai"
model = "m1"
names = ["m1"]
effective_from = "2026-01-01"
unit = "1M"
currency = "USD"
source = "test"
[entry.prices]
input = "2.00"
output = "8.00"
output_reasoning = "10.00"
"#;

    fn t(h: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 10, 1, 0, 0, 0).unwrap()
            + chrono::Duration::hours(i64::from(h))
    }

    fn call(id: &str, h: u32, input: i64, cached: i64, output: i64) -> UsageRecord {
        let mut r = UsageRecord::call(id.into(), Origin { file: 0, line: 1 }, t(h));
        r.set_model(Some("openai"), "m1");
        r.usage = Usage::of(&[
            (UsageClass::Input, input),
            (UsageClass::InputCacheRead, cached),
            (UsageClass::Output, output),
        ]);
        r
    }

    fn val(
        money: Option<Decimal>,
        computed: Option<Decimal>,
        reported: Option<Decimal>,
    ) -> Valuation {
        Valuation {
            money,
            computed,
            reported,
            fx: Decimal::ZERO,
            tier_premium: None,
        }
    }

    /// Folding, stopped streams, housekeeping calls and repeated rows, on one hand-computed day
    /// of an Anthropic-like table: input $3, cache write (5m) $3.75, cache read $0.30, output
    /// $15 per 1M tokens.
    #[test]
    fn new_app_steps_match_hand_arithmetic_and_tie_out() {
        let table = r#"
[[entry]]
provider = "openai"
model = "m1"
names = ["m1"]
effective_from = "2026-01-01"
unit = "1M"
currency = "USD"
source = "test"
[entry.prices]
input = "3.00"
input_cache_write_5m = "3.75"
input_cache_read = "0.30"
output = "15.00"
"#;
        let prices = PriceBook::from_toml_str("test.toml", table).unwrap();
        let window = Span {
            start: t(0),
            end: t(24),
        };
        let mut acc = ComparisonAcc::new(ComparisonSetup {
            baseline: "dify".into(),
            reference: "bill".into(),
            evidence: Some("langfuse".into()),
            baseline_is_app: true,
            window,
            span: window,
            grid: Some(Grid {
                origin: t(0),
                width: chrono::Duration::days(1),
            }),
            calendar: Calendar {
                tz: chrono_tz::UTC,
                bucket: BucketSize::Day,
            },
            book_rates: Vec::new(),
            route: crate::reconcile::route::Route::All,
            teams: None,
        });
        let unit = Some((dec!(0.000003), dec!(0.000015)));
        let usage = |pairs: &[(UsageClass, i64)]| Usage::of(pairs);
        use UsageClass::{Input, InputCacheRead, InputCacheWrite5m, Output};

        // f: provider 100 in + 1000 cache write + 2000 cache read, 50 out. Dify folds:
        // 100 + ⌊1000 × 1.25⌋ + ⌊2000 × 0.1⌋ = 100 + 1250 + 200 = 1550, priced at input:
        // 1550 × 3e-6 + 50 × 15e-6 = 0.00465 + 0.00075 = 0.0054.
        let mut f = call("f", 3, 0, 0, 0);
        f.usage = usage(&[(Input, 1550), (Output, 50)]);
        acc.add_baseline(
            &f,
            &val(Some(dec!(0.0054)), Some(dec!(0.0054)), Some(dec!(0.0054))),
        );
        let f_provider = usage(&[
            (Input, 100),
            (InputCacheWrite5m, 1000),
            (InputCacheRead, 2000),
            (Output, 50),
        ]);
        acc.add_drift(&f, &f_provider, unit);

        // s: a stopped stream, Dify 0 / 0 at $0; the provider billed 400 in, 30 out.
        let mut st = call("s", 4, 0, 0, 0);
        st.link.status = Status::Interrupted;
        acc.add_baseline(&st, &val(Some(dec!(0)), Some(dec!(0)), Some(dec!(0))));
        acc.add_drift(&st, &usage(&[(Input, 400), (Output, 30)]), unit);

        // c: an iteration container repeating 200 tokens / $0.0006 of its children.
        let mut c = call("c", 5, 200, 0, 0);
        c.link.repeats = Some("iteration/loop container: the sum of its child nodes");
        acc.add_baseline(&c, &val(Some(dec!(0.0006)), None, Some(dec!(0.0006))));

        // n: conversation naming seen only in the trace: 300 in, 10 out =
        // 0.0009 + 0.00015 = 0.00105 at table prices.
        let mut n = call("n", 6, 300, 0, 10);
        n.link.auxiliary = true;
        acc.add_auxiliary_evidence(&n, &val(Some(dec!(0.00105)), Some(dec!(0.00105)), None));

        // The bill: f + s + n = in 100+400+300 = 800, write 1000, read 2000, out 50+30+10 = 90.
        // Money: 800 × 3e-6 + 1000 × 3.75e-6 + 2000 × 0.3e-6 + 90 × 15e-6
        //      = 0.0024 + 0.00375 + 0.0006 + 0.00135 = 0.0081.
        let mut b = UsageRecord::bucket(
            "b".into(),
            Origin { file: 1, line: 1 },
            t(0),
            t(0) + chrono::Duration::days(1),
        );
        b.set_model(Some("openai"), "m1");
        b.usage = usage(&[
            (Input, 800),
            (InputCacheWrite5m, 1000),
            (InputCacheRead, 2000),
            (Output, 90),
        ]);
        acc.add_reference(&b, &val(Some(dec!(0.0081)), Some(dec!(0.0081)), None));

        let report = acc.finish(&prices, &AttributionRule::default(), &|_, _| {
            Some(Decimal::ONE)
        });
        let tot = &report.totals;
        let step = |cause: &str| tot.bridge.iter().find(|s| s.cause == cause).unwrap();
        // Baseline: 1600 + 0 + 200 = 1800 tokens, $0.0054 + 0 + 0.0006 = $0.006.
        assert_eq!(tot.baseline.tokens.total(), 1800);
        assert_eq!(tot.baseline.cost, dec!(0.006));
        assert_eq!(
            step("auxiliary_calls").tokens,
            usage(&[(Input, 300), (Output, 10)])
        );
        assert_eq!(step("auxiliary_calls").cost, dec!(0.00105));
        assert_eq!(step("double_counting").tokens, usage(&[(Input, -200)]));
        assert_eq!(step("double_counting").cost, dec!(-0.0006));
        // 400 × 3e-6 + 30 × 15e-6 = 0.0012 + 0.00045.
        assert_eq!(
            step("streaming_interruption").tokens,
            usage(&[(Input, 400), (Output, 30)])
        );
        assert_eq!(step("streaming_interruption").cost, dec!(0.00165));
        // Folding: provider input total 3100 − Dify's 1550 = +1550 at 3e-6 = 0.00465.
        assert_eq!(step("cache_write_folding").tokens, usage(&[(Input, 1550)]));
        assert_eq!(step("cache_write_folding").cost, dec!(0.00465));
        assert_eq!(step("tokenizer_drift").tokens, Usage::ZERO);
        // Cache: 1000 write at +0.75e-6 and 2000 read at −2.7e-6 = 0.00075 − 0.0054.
        assert_eq!(
            step("cache_hits").tokens,
            usage(&[
                (Input, -3000),
                (InputCacheWrite5m, 1000),
                (InputCacheRead, 2000)
            ])
        );
        assert_eq!(step("cache_hits").cost, dec!(-0.00465));
        // Nothing left: 0.006 + 0.00105 − 0.0006 + 0.00165 + 0.00465 − 0.00465 = 0.0081.
        assert_eq!(step("unexplained").tokens, Usage::ZERO);
        assert_eq!(step("unexplained").cost, dec!(0));
        assert_eq!(tot.reference.cost, dec!(0.0081));
    }

    /// An app against its trace over the day of `t(0)`, in UTC days.
    fn dify_against_trace_one_day() -> ComparisonAcc {
        let window = Span {
            start: t(0),
            end: t(24),
        };
        ComparisonAcc::new(ComparisonSetup {
            baseline: "dify".into(),
            reference: "langfuse".into(),
            evidence: Some("langfuse".into()),
            baseline_is_app: true,
            window,
            span: window,
            grid: None,
            calendar: Calendar {
                tz: chrono_tz::UTC,
                bucket: BucketSize::Day,
            },
            book_rates: Vec::new(),
            route: crate::reconcile::route::Route::All,
            teams: None,
        })
    }

    /// Thinking tokens against a trace, on one hand-computed day of a table with input $2,
    /// output $8 and reasoning $10 per 1M tokens: missing on one call (Dify on Gemini),
    /// folded into output on another (Dify on o-series), beside visible-output drift, each
    /// token counted once.
    #[test]
    fn reasoning_tokens_are_moved_or_added_once_beside_drift() {
        let table = TABLE_REASONING;
        let prices = PriceBook::from_toml_str("test.toml", table).unwrap();
        let mut acc = dify_against_trace_one_day();
        let unit = Some((dec!(0.000002), dec!(0.000008)));
        let money = |u: &Usage| {
            Decimal::from(u[UsageClass::Input]) * dec!(0.000002)
                + Decimal::from(u[UsageClass::Output]) * dec!(0.000008)
                + Decimal::from(u[UsageClass::OutputReasoning]) * dec!(0.00001)
        };
        // (id, app in/out, trace in/out/thinking):
        // g: Gemini, thinking left out: d_out 1173, all of it thinking.
        // o: o-series, thinking folded into the app's 1500: same totals, no matched difference.
        // v: visible output 100 above the provider's: drift −100.
        // w: 200 thinking left out and visible output 20 low: d_out 220 = 200 + drift 20.
        let calls = [
            ("g", 100, 845, 845, 1173),
            ("o", 200, 1500, 300, 1200),
            ("v", 300, 500, 400, 0),
            ("w", 50, 100, 120, 200),
        ];
        for (i, &(id, input, app_out, out, thinking)) in calls.iter().enumerate() {
            let app = call(id, 3 + i as u32, input, 0, app_out);
            let m = money(&app.usage);
            acc.add_baseline(&app, &val(Some(m), Some(m), Some(m)));
            let mut tr = call(id, 3 + i as u32, input, 0, out);
            tr.usage[UsageClass::OutputReasoning] = thinking;
            let m = money(&tr.usage);
            acc.add_reference(&tr, &val(Some(m), Some(m), Some(m)));
            acc.add_drift(&app, &tr.usage, unit);
        }
        let report = acc.finish(&prices, &AttributionRule::default(), &|_, _| {
            Some(Decimal::ONE)
        });
        let tot = &report.totals;
        let step = |c: &str| tot.bridge.iter().find(|s| s.cause == c).unwrap();
        use UsageClass::{Output, OutputReasoning};
        // App: 650 in, 845 + 1500 + 500 + 100 = 2945 out; money 0.00696 + 0.0124 + 0.0046 +
        // 0.0009 = 0.02486. Trace: 650 in, 845 + 300 + 400 + 120 = 1665 out, 1173 + 1200 + 200
        // = 2573 thinking; money 0.01869 + 0.0148 + 0.0038 + 0.00306 = 0.04035.
        assert_eq!(tot.baseline.cost, dec!(0.02486));
        assert_eq!(tot.reference.cost, dec!(0.04035));
        // Drift: v −100 and w +20 visible output, at $8: −0.0008 + 0.00016; g's and w's
        // thinking is not drift.
        let drift = step("tokenizer_drift");
        assert_eq!(drift.tokens, Usage::of(&[(Output, -80)]));
        assert_eq!(drift.cost, dec!(-0.00064));
        assert_eq!(drift.records, 2);
        // Thinking: 2573 beyond the app's 0; the app's output after drift, 2945 − 80 = 2865,
        // is 1200 above the trace's 1665: folded (o). The other 1373 = 1173 + 200 are missing.
        // 1373 × 10e-6 + 1200 × (10 − 8)e-6 = 0.01373 + 0.0024 = 0.01613.
        let r = step("reasoning_tokens");
        assert_eq!(
            r.tokens,
            Usage::of(&[(Output, -1200), (OutputReasoning, 2573)])
        );
        assert_eq!(r.cost, dec!(0.01613));
        assert_eq!(r.records, 3);
        assert!(
            r.note.contains("on 2 matched calls langfuse shows"),
            "{}",
            r.note
        );
        let remedy = r.remedy.as_deref().unwrap();
        assert!(
            remedy.contains("m1 1,373 tokens, 0.01373")
                && remedy.contains("m1 1,200 tokens, 0.0024"),
            "{remedy}"
        );
        // 0.02486 − 0.00064 + 0.01613 = 0.04035: nothing left.
        assert_eq!(step("unexplained").tokens, Usage::ZERO);
        assert_eq!(step("unexplained").cost, dec!(0));
    }

    /// The mirror case, a trace against usage pages that fold thinking into output (OpenAI's
    /// `output_tokens` include reasoning), on one hand-computed day of the table above (input
    /// $2, output $8, reasoning $10 per 1M): the trace's thinking is moved back to output, at
    /// most as much as the bill counts beyond the trace's visible output; the rest of that
    /// excess stays unexplained.
    #[test]
    fn thinking_the_trace_splits_and_the_bill_folds_is_moved_back_to_output() {
        let prices = PriceBook::from_toml_str("test.toml", TABLE_REASONING).unwrap();
        let window = Span {
            start: t(0),
            end: t(24),
        };
        let mut acc = ComparisonAcc::new(ComparisonSetup {
            baseline: "langfuse".into(),
            reference: "openai".into(),
            evidence: None,
            baseline_is_app: false,
            window,
            span: window,
            grid: None,
            calendar: Calendar {
                tz: chrono_tz::UTC,
                bucket: BucketSize::Day,
            },
            book_rates: Vec::new(),
            route: crate::reconcile::route::Route::All,
            teams: None,
        });
        let money = |u: &Usage| {
            Decimal::from(u[UsageClass::Input]) * dec!(0.000002)
                + Decimal::from(u[UsageClass::Output]) * dec!(0.000008)
                + Decimal::from(u[UsageClass::OutputReasoning]) * dec!(0.00001)
        };
        // (id, trace in/out/thinking, bill out): o thinks 1,200 tokens the bill counts in its
        // 1,500 output; x has none, and the bill counts 100 output tokens more than the trace.
        for (i, &(id, input, out, thinking, billed)) in
            [("o", 200, 300, 1200, 1500), ("x", 100, 400, 0, 500)]
                .iter()
                .enumerate()
        {
            let mut tr = call(id, 3 + i as u32, input, 0, out);
            tr.usage[UsageClass::OutputReasoning] = thinking;
            let m = money(&tr.usage);
            acc.add_baseline(&tr, &val(Some(m), Some(m), Some(m)));
            let bill = call(id, 3 + i as u32, input, 0, billed);
            let m = money(&bill.usage);
            acc.add_reference(&bill, &val(Some(m), Some(m), Some(m)));
        }
        let report = acc.finish(&prices, &AttributionRule::default(), &|_, _| {
            Some(Decimal::ONE)
        });
        let tot = &report.totals;
        let step = |c: &str| tot.bridge.iter().find(|s| s.cause == c).unwrap();
        use UsageClass::{Output, OutputReasoning};
        // Trace: 0.0004 + 0.0024 + 0.012 = 0.0148 and 0.0002 + 0.0032 = 0.0034, 0.0182. Bill:
        // 0.0004 + 0.012 = 0.0124 and 0.0002 + 0.004 = 0.0042, 0.0166.
        assert_eq!(tot.baseline.cost, dec!(0.0182));
        assert_eq!(tot.reference.cost, dec!(0.0166));
        // 1,200 thinking tokens the bill does not split out; it counts 2,000 − 700 = 1,300
        // output beyond the trace's visible output, so all 1,200 move back, at (8 − 10)e-6:
        // −0.0024.
        let r = step("reasoning_tokens");
        assert_eq!(
            r.tokens,
            Usage::of(&[(Output, 1200), (OutputReasoning, -1200)])
        );
        assert_eq!(r.cost, dec!(-0.0024));
        assert!(
            r.note
                .starts_with("1,200 thinking tokens the baseline records as output_reasoning"),
            "{}",
            r.note
        );
        let remedy = r.remedy.as_deref().unwrap();
        assert!(remedy.contains("m1 1,200 tokens, -0.0024"), "{remedy}");
        // The other 100 output tokens at $8: 0.0182 − 0.0024 + 0.0008 = 0.0166.
        assert_eq!(step("unexplained").tokens, Usage::of(&[(Output, 100)]));
        assert_eq!(step("unexplained").cost, dec!(0.0008));
    }

    /// Image and audio tokens against a trace, on one hand-computed day of a table with input
    /// $2, audio input $40 and output $8 per 1M tokens (images at the input price, the table's
    /// fallback): audio left out on one call, images counted as text on another, audio left out
    /// beside text drift on a third, and text drift alone on a fourth, each token counted once.
    #[test]
    fn multimodal_tokens_are_moved_or_added_once_beside_drift() {
        const TABLE_MEDIA: &str = r#"
[[entry]]
provider = "openai"
model = "m1"
names = ["m1"]
effective_from = "2026-01-01"
unit = "1M"
currency = "USD"
source = "test"
[entry.prices]
input = "2.00"
input_audio = "40.00"
output = "8.00"
"#;
        let prices = PriceBook::from_toml_str("test.toml", TABLE_MEDIA).unwrap();
        let mut acc = dify_against_trace_one_day();
        use UsageClass::{Input, InputAudio, InputCacheRead, InputImage};
        let unit = Some((dec!(0.000002), dec!(0.000008)));
        // Cached input too at the input price (the table's fallback).
        let money = |u: &Usage| {
            Decimal::from(u[Input] + u[InputCacheRead] + u[InputImage]) * dec!(0.000002)
                + Decimal::from(u[InputAudio]) * dec!(0.00004)
                + Decimal::from(u[UsageClass::Output]) * dec!(0.000008)
        };
        // (id, app input, trace text / image / audio input); every output is 50 on both sides.
        // a: 1,000 audio tokens left out: d_in 1,000, all of it media; 40 of its 100 text tokens
        //    are cached on the trace, which the app counts as plain input (`cache_hits`' move,
        //    later in the bridge, not media counted as text).
        // f: 1,000 image tokens counted as text in the app's 1,100: same totals.
        // w: 500 audio tokens left out and text 10 low: d_in 510 = 500 + drift 10.
        // v: text 20 high: drift −20.
        let calls = [
            ("a", 100, 100, 0, 1_000),
            ("f", 1_100, 100, 1_000, 0),
            ("w", 100, 110, 0, 500),
            ("v", 300, 280, 0, 0),
        ];
        for (i, &(id, app_in, text, image, audio)) in calls.iter().enumerate() {
            let app = call(id, 3 + i as u32, app_in, 0, 50);
            let m = money(&app.usage);
            acc.add_baseline(&app, &val(Some(m), Some(m), Some(m)));
            let mut tr = call(id, 3 + i as u32, text, 0, 50);
            tr.usage[InputImage] = image;
            tr.usage[InputAudio] = audio;
            if id == "a" {
                tr.usage[Input] -= 40;
                tr.usage[InputCacheRead] = 40;
            }
            let m = money(&tr.usage);
            acc.add_reference(&tr, &val(Some(m), Some(m), Some(m)));
            acc.add_drift(&app, &tr.usage, unit);
        }
        let report = acc.finish(&prices, &AttributionRule::default(), &|_, _| {
            Some(Decimal::ONE)
        });
        let tot = &report.totals;
        let step = |c: &str| tot.bridge.iter().find(|s| s.cause == c).unwrap();
        // App: 1,600 input × 2e-6 + 200 output × 8e-6 = 0.0032 + 0.0016 = 0.0048. Trace: 590
        // text and 1,000 image × 2e-6 = 0.00318, 1,500 audio × 40e-6 = 0.06, output 0.0016:
        // 0.06478.
        assert_eq!(tot.baseline.cost, dec!(0.0048));
        assert_eq!(tot.reference.cost, dec!(0.06478));
        // Drift: w +10 and v −20 text input at $2; the audio of a and w is not drift.
        let drift = step("tokenizer_drift");
        assert_eq!(drift.tokens, Usage::of(&[(Input, -10)]));
        assert_eq!(drift.cost, dec!(-0.00002));
        assert_eq!(drift.records, 2);
        // Media: 2,500 beyond the app's 0. The app's text after drift, 1,600 − 10 = 1,590, is
        // 1,000 above the trace's 550 text + 40 cached: counted as text, given to images first (f), at
        // $2 − $2 = $0. The 1,500 audio tokens are missing: 1,500 × 40e-6 = 0.06.
        let s = step("multimodal_tokens");
        assert_eq!(
            s.tokens,
            Usage::of(&[(Input, -1_000), (InputImage, 1_000), (InputAudio, 1_500)])
        );
        assert_eq!(s.cost, dec!(0.06));
        // The trace calls that carry media (a, f, w), and the matched calls that show media
        // the app leaves out (a, w; f's totals agree).
        assert_eq!(s.records, 3);
        assert!(
            s.note
                .contains("2,500 image and audio tokens (1,000 input_image, 1,500 input_audio)")
                && s.note
                    .contains("1,500 the baseline does not record, 1,000 it counts as text")
                && s.note.contains("on 2 matched calls langfuse shows"),
            "{}",
            s.note
        );
        // Images counted as text at the text price are nothing to fix; the missing audio is.
        let remedy = s.remedy.as_deref().unwrap();
        assert!(
            remedy.contains("(m1 input_audio 1,500 tokens, 0.06)") && !remedy.contains("as text"),
            "{remedy}"
        );
        // The 40 cached tokens move after it, at $2 − $2 = $0.
        let cache = step("cache_hits");
        assert_eq!(
            cache.tokens,
            Usage::of(&[(Input, -40), (InputCacheRead, 40)])
        );
        assert_eq!(cache.cost, dec!(0));
        // 0.0048 − 0.00002 + 0.06 = 0.06478: nothing left.
        assert_eq!(step("unexplained").tokens, Usage::ZERO);
        assert_eq!(step("unexplained").cost, dec!(0));
    }

    /// A hand-computed day: prices $2 / $1 cached / $8 per 1M tokens.
    #[test]
    fn waterfall_steps_match_hand_arithmetic_and_tie_out() {
        let prices = PriceBook::from_toml_str("test.toml", TABLE).unwrap();
        let window = Span {
            start: t(2),
            end: t(24),
        };
        let span = Span {
            start: t(0),
            end: t(24),
        };
        let mut acc = ComparisonAcc::new(ComparisonSetup {
            baseline: "dify".into(),
            reference: "openai".into(),
            evidence: Some("langfuse".into()),
            baseline_is_app: true,
            window,
            span,
            grid: Some(Grid {
                origin: t(0),
                width: chrono::Duration::days(1),
            }),
            calendar: Calendar {
                tz: chrono_tz::UTC,
                bucket: BucketSize::Day,
            },
            book_rates: Vec::new(),
            route: crate::reconcile::route::Route::All,
            teams: None,
        });
        // a1: 1000 in / 100 out, recorded at the table price: 0.002 + 0.0008 = 0.0028.
        let a1 = call("a1", 10, 1000, 0, 100);
        acc.add_baseline(
            &a1,
            &val(Some(dec!(0.0028)), Some(dec!(0.0028)), Some(dec!(0.0028))),
        );
        // a2: the app estimated 500 in (provider: 800) and priced at a stale $4/$16:
        // recorded 500·4e-6 + 50·16e-6 = 0.0028; table 500·2e-6 + 50·8e-6 = 0.0014.
        let a2 = call("a2", 11, 500, 0, 50);
        acc.add_baseline(
            &a2,
            &val(Some(dec!(0.0028)), Some(dec!(0.0014)), Some(dec!(0.0028))),
        );
        // e: before the window's start but inside the bill's day: 100 in / 10 out = 0.00028.
        let e = call("e", 1, 100, 0, 10);
        acc.add_baseline(
            &e,
            &val(
                Some(dec!(0.00028)),
                Some(dec!(0.00028)),
                Some(dec!(0.00028)),
            ),
        );
        // Drift evidence: the provider counted a1 as 400 + 600 cached (no drift), a2 as 800.
        let unit = Some((dec!(0.000002), dec!(0.000008)));
        acc.add_drift(
            &a1,
            &Usage::of(&[
                (UsageClass::Input, 400),
                (UsageClass::InputCacheRead, 600),
                (UsageClass::Output, 100),
            ]),
            unit,
        );
        acc.add_drift(
            &a2,
            &Usage::of(&[(UsageClass::Input, 800), (UsageClass::Output, 50)]),
            unit,
        );
        // A failed attempt the app never saw: 700 in = 0.0014.
        let mut r1 = call("r1", 12, 700, 0, 0);
        r1.link.status = Status::Error;
        acc.add_retry_evidence(&r1, &val(Some(dec!(0.0014)), Some(dec!(0.0014)), None));
        // The bill's day on key K1: usage 400+800+700+100 = 2000 uncached, 600 cached,
        // 100+50+10 = 160 out; its cost line 2000·2e-6 + 600·1e-6 + 160·8e-6 = 0.00588.
        let mut u = UsageRecord::bucket(
            "u1".into(),
            Origin { file: 1, line: 1 },
            t(0),
            t(0) + chrono::Duration::days(1),
        );
        u.set_model(Some("openai"), "m1");
        u.scope.api_key = Some("K1".into());
        u.usage = Usage::of(&[
            (UsageClass::Input, 2000),
            (UsageClass::InputCacheRead, 600),
            (UsageClass::Output, 160),
        ]);
        acc.add_reference(&u, &val(Some(Decimal::ZERO), Some(dec!(0.00588)), None));
        let mut c1 = u.clone();
        c1.id = "c1".into();
        c1.usage = Usage::ZERO;
        c1.cost_only = true;
        c1.reported_cost = Some(Money::new(dec!(0.00588), Currency::USD));
        acc.add_reference(&c1, &val(Some(dec!(0.00588)), None, Some(dec!(0.00588))));
        // Another team's key K2: 1000 in, cost line 0.002.
        let mut u2 = u.clone();
        u2.id = "u2".into();
        u2.scope.api_key = Some("K2".into());
        u2.usage = Usage::of(&[(UsageClass::Input, 1000)]);
        acc.add_reference(&u2, &val(Some(Decimal::ZERO), Some(dec!(0.002)), None));
        let mut c2 = c1.clone();
        c2.id = "c2".into();
        c2.scope.api_key = Some("K2".into());
        c2.reported_cost = Some(Money::new(dec!(0.002), Currency::USD));
        acc.add_reference(&c2, &val(Some(dec!(0.002)), None, Some(dec!(0.002))));

        let rule = AttributionRule {
            api_keys: vec!["K1".into()],
            projects: vec![],
        };
        let report = acc.finish(&prices, &rule, &|_, _| Some(Decimal::ONE));
        assert_eq!(
            report.attribution.unattributed_api_keys,
            vec!["K2".to_string()]
        );
        assert_eq!(report.groups.len(), 1);
        let tot = &report.totals;
        let step = |c: &str| tot.bridge.iter().find(|s| s.cause == c).unwrap();
        assert_eq!(
            tot.baseline.tokens,
            Usage::of(&[(UsageClass::Input, 1500), (UsageClass::Output, 150)])
        );
        assert_eq!(tot.baseline.cost, dec!(0.0056));
        assert_eq!(step("window_misalignment").tokens.total(), 110);
        assert_eq!(step("window_misalignment").cost, dec!(0.00028));
        assert_eq!(step("unattributed_traffic").tokens[UsageClass::Input], 1000);
        assert_eq!(step("unattributed_traffic").cost, dec!(0.002));
        assert_eq!(step("embeddings").tokens, Usage::ZERO);
        assert_eq!(step("retries").tokens[UsageClass::Input], 700);
        assert_eq!(step("retries").cost, dec!(0.0014));
        assert_eq!(step("tokenizer_drift").tokens[UsageClass::Input], 300);
        assert_eq!(step("tokenizer_drift").records, 1);
        assert_eq!(step("tokenizer_drift").cost, dec!(0.0006));
        // 600 cached tokens move out of input; each is $1/1M cheaper: −0.0006.
        let cache = step("cache_hits");
        assert_eq!(cache.tokens[UsageClass::InputCacheRead], 600);
        assert_eq!(cache.tokens[UsageClass::Input], -600);
        assert_eq!(cache.cost, dec!(-0.0006));
        assert_eq!(step("price_mismatch").cost, dec!(-0.0014));
        assert_eq!(step("price_mismatch").records, 1);
        // Reference: 0.00588 + 0.002 = 0.00788; every step is explained, nothing is left.
        assert_eq!(tot.reference.cost, dec!(0.00788));
        assert_eq!(step("unexplained").tokens, Usage::ZERO);
        assert_eq!(step("unexplained").cost, Decimal::ZERO);
    }

    /// One bill line of 1,000 tokens at $0.002 on a model the app records no call for: as a
    /// chat line it is unexplained, as a rerank line it is the `rerank` step (the same $0.002),
    /// and an app that records a rerank call on that model itself gets no step.
    #[test]
    fn rerank_lines_are_their_own_step_unless_the_baseline_records_rerank() {
        let prices = PriceBook::from_toml_str("test.toml", TABLE).unwrap();
        let span = Span {
            start: t(0),
            end: t(24),
        };
        let run = |line_op: Operation, app_rerank: bool| {
            let mut acc = ComparisonAcc::new(ComparisonSetup {
                baseline: "dify".into(),
                reference: "bill".into(),
                evidence: None,
                baseline_is_app: true,
                window: span,
                span,
                grid: None,
                calendar: Calendar {
                    tz: chrono_tz::UTC,
                    bucket: BucketSize::Day,
                },
                book_rates: Vec::new(),
                route: crate::reconcile::route::Route::All,
                teams: None,
            });
            let mut line = call("r", 3, 1000, 0, 0);
            line.set_model(Some("openai"), "rr1");
            line.operation = line_op;
            if app_rerank {
                let mut own = line.clone();
                own.id = "app-r".into();
                own.operation = Operation::Rerank;
                own.usage = Usage::ZERO;
                acc.add_baseline(&own, &val(Some(dec!(0)), None, Some(dec!(0))));
            }
            acc.add_reference(&line, &val(Some(dec!(0.002)), None, Some(dec!(0.002))));
            let rep = acc.finish(&prices, &AttributionRule::default(), &|_, _| {
                Some(Decimal::ONE)
            });
            let cost = |c: &str| {
                rep.totals
                    .bridge
                    .iter()
                    .find(|s| s.cause == c)
                    .unwrap()
                    .cost
            };
            (cost("rerank"), cost("unexplained"))
        };
        assert_eq!(run(Operation::Chat, false), (dec!(0), dec!(0.002)));
        // Unpriced in the table (no rr1 entry): the bill's own $0.002 values it.
        assert_eq!(run(Operation::Rerank, false), (dec!(0.002), dec!(0)));
        assert_eq!(run(Operation::Rerank, true), (dec!(0), dec!(0.002)));
    }

    #[test]
    fn estimated_attribution_picks_the_key_closest_in_volume() {
        let prices = PriceBook::from_toml_str("test.toml", TABLE).unwrap();
        let span = Span {
            start: t(0),
            end: t(24),
        };
        let mut acc = ComparisonAcc::new(ComparisonSetup {
            baseline: "dify".into(),
            reference: "openai".into(),
            evidence: None,
            baseline_is_app: true,
            window: span,
            span,
            grid: None,
            calendar: Calendar {
                tz: chrono_tz::UTC,
                bucket: BucketSize::Day,
            },
            book_rates: Vec::new(),
            route: crate::reconcile::route::Route::All,
            teams: None,
        });
        acc.add_baseline(
            &call("a", 3, 1000, 0, 0),
            &val(Some(dec!(0.002)), Some(dec!(0.002)), Some(dec!(0.002))),
        );
        for (id, key, n) in [("k1", "K1", 1100), ("k2", "K2", 90_000)] {
            let mut r = call(id, 3, n, 0, 0);
            r.scope.api_key = Some(key.into());
            acc.add_reference(
                &r,
                &val(
                    Some(Decimal::from(n) * dec!(0.000002)),
                    Some(Decimal::from(n) * dec!(0.000002)),
                    None,
                ),
            );
        }
        let rep = acc.finish(&prices, &AttributionRule::default(), &|_, _| {
            Some(Decimal::ONE)
        });
        assert_eq!(rep.attribution.method, "estimated");
        assert_eq!(rep.attribution.api_keys, vec!["K1".to_string()]);
        let un = rep
            .totals
            .bridge
            .iter()
            .find(|s| s.cause == "unattributed_traffic")
            .unwrap();
        assert_eq!(un.tokens.total(), 90_000);
        assert_eq!(un.method, "estimated");
        // No trace: retries cannot be seen and say so.
        let re = rep
            .totals
            .bridge
            .iter()
            .find(|s| s.cause == "retries")
            .unwrap();
        assert_eq!(re.method, "not_measured");
        // 1100 − 1000 = 100 tokens ($0.0002) left unexplained.
        let ux = rep
            .totals
            .bridge
            .iter()
            .find(|s| s.cause == "unexplained")
            .unwrap();
        assert_eq!(ux.tokens.total(), 100);
        assert_eq!(ux.cost, dec!(0.0002));
    }
}
