//! The causes of the bridge, one module each, in the report's order ([`ALL`]).
//!
//! A cause is a value of [`Cause`]: it owns which records are its evidence (`on_*`, filling its
//! own [`Tally`] per group), how that is measured and valued per group (`measure`), its method
//! and note (`describe`), its spot-check label and how the simulator plants it. The bridge
//! (`super::bridge`) keeps only what every cause shares — the two sides, the groups, the totals
//! and `unexplained`, the residual — and walks this list, so the report, the spot check and the
//! simulator's truth all read the same causes.

pub mod auxiliary_calls;
pub mod cache_hits;
pub mod cache_write_folding;
pub mod discounts_and_credits;
pub mod double_counting;
pub mod embeddings;
pub mod fx;
pub mod gateway_cache_hits;
pub mod multimodal_tokens;
pub mod price_mismatch;
pub mod reasoning_tokens;
pub mod rerank;
pub mod retries;
pub mod service_tier;
pub mod streaming_interruption;
pub mod tokenizer_drift;
pub mod unattributed_traffic;
pub mod unexplained;
pub mod window_misalignment;

use super::bridge::{ComparisonSetup, Valuation};
use super::recount::{CallRecount, RecountAcc};
use crate::pricing::PriceEntry;
use crate::record::{Status, Usage, UsageClass, UsageRecord};
use crate::report::model::Attribution;
use crate::simulate::Provider;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Evidence record ids kept per step.
pub const EVIDENCE_SAMPLES: usize = 5;

/// The measured causes, in bridge order; `unexplained` (the residual) follows them.
pub const ALL: [&dyn Cause; 18] = [
    &window_misalignment::WindowMisalignment,
    &unattributed_traffic::UnattributedTraffic,
    &embeddings::Embeddings,
    &rerank::Rerank,
    &auxiliary_calls::AuxiliaryCalls,
    &retries::Retries,
    &double_counting::DoubleCounting,
    &gateway_cache_hits::GatewayCacheHits,
    &streaming_interruption::StreamingInterruption,
    &tokenizer_drift::TokenizerDrift,
    // After every step that changes output counts: it measures what they leave.
    &reasoning_tokens::ReasoningTokens,
    &multimodal_tokens::MultimodalTokens,
    &cache_write_folding::CacheWriteFolding,
    &cache_hits::CacheHits,
    &price_mismatch::PriceMismatch,
    &service_tier::ServiceTier,
    &discounts_and_credits::DiscountsAndCredits,
    &fx::Fx,
];

/// Number of measured causes.
pub const N: usize = ALL.len();

/// Every step of the bridge, in order: the measured causes, then `unexplained`.
pub fn step_names() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|c| c.name()).chain([unexplained::NAME])
}

/// Position of a step in [`step_names`]; panics on a name that is not a step (a typo in the
/// program, not in user input).
pub fn step_index(name: &str) -> usize {
    step_names()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("{name} is not a bridge step"))
}

/// One cause of the gap between a baseline and a reference.
pub trait Cause: Sync {
    /// The step's name in the report (`cause`), the spot check and the simulator.
    fn name(&self) -> &'static str;

    /// A baseline record inside the compared span (`at` says where it falls).
    fn on_baseline(&self, _rec: &UsageRecord, _v: &Valuation, _at: Place, _t: &mut Tally) {}

    /// A reference record (bill line or trace call) inside the compared span.
    fn on_reference(&self, _rec: &UsageRecord, _v: &Valuation, _t: &mut Tally) {}

    /// A call with usage the evidence source (the trace) saw and an app baseline never records
    /// as its own row: failed attempts, housekeeping calls.
    fn on_unrecorded(&self, _rec: &UsageRecord, _v: &Valuation, _t: &mut Tally) {}

    /// A baseline call matched one to one with the evidence source's count of the same call,
    /// the two differing.
    fn on_matched(&self, _m: &Matched, _t: &mut Tally) {}

    /// The recount of a drifting matched call's text.
    fn on_recount(&self, _r: &CallRecount, _t: &mut Tally) {}

    /// The step's value in one group, from its tally and what the group shares.
    fn measure(&self, g: &GroupView, t: &Tally) -> Measured;

    /// `(method, note)` of a measured step (a group's or the totals').
    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String);

    /// The spot check's label for one row (a matched pair, or a call of one side), if this
    /// cause explains it.
    fn spot_label(&self, _p: &SpotPair) -> Option<&'static str> {
        None
    }

    /// How `simulate --cause NAME=AMOUNT` plants it (`None`: never planted).
    fn plant(&self) -> Option<&'static Plant> {
        None
    }

    /// What to do about a measured step (of the totals), computed from its evidence; `None`
    /// when there is nothing to do (the gap is how the systems count, not a setting to fix).
    fn remedy(&self, _cx: &Context, _m: &Measured) -> Option<String> {
        None
    }
}

/// Where a baseline record falls.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub in_window: bool,
    /// The record repeats usage other baseline rows count (a container, a row exported twice).
    pub repeats: bool,
}

/// How a baseline call's counts relate to the same call's provider-reported counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    /// Same input and output totals.
    Equal,
    /// The user stopped the stream: the app kept what it re-estimated (Dify: 0), the provider
    /// billed what it had generated.
    Interrupted,
    /// The app folded the provider's cache counts into its prompt count with billing weights
    /// (see [`cache_write_folding::folded_prompt_tokens`]).
    CacheFolded,
    /// Same input; the whole output difference is thinking tokens the provider reported in
    /// its reasoning class that the app's count leaves out (Dify on Gemini).
    ReasoningUnrecorded,
    /// The whole difference is image or audio tokens the provider reported in their own
    /// classes (and thinking, as above) that the app's count leaves out.
    MediaUnrecorded,
    /// Any other difference: another tokenizer or estimate, or framing.
    Drift,
}

pub fn classify_match(base: &UsageRecord, evidence: &Usage) -> MatchKind {
    let same_in = evidence.input_total() == base.usage.input_total();
    let same_out = evidence.output_total() == base.usage.output_total();
    if same_in && same_out {
        return MatchKind::Equal;
    }
    if base.link.status == Status::Interrupted {
        return MatchKind::Interrupted;
    }
    if same_in {
        let thinking = reasoning_tokens::unrecorded_reasoning(&base.usage, evidence);
        if thinking > 0 && thinking == evidence.output_total() - base.usage.output_total() {
            return MatchKind::ReasoningUnrecorded;
        }
    }
    let (media_in, media_out) = multimodal_tokens::unrecorded_media(&base.usage, evidence);
    if media_in + media_out > 0
        && media_in == evidence.input_total() - base.usage.input_total()
        && media_out + reasoning_tokens::unrecorded_reasoning(&base.usage, evidence)
            == evidence.output_total() - base.usage.output_total()
    {
        return MatchKind::MediaUnrecorded;
    }
    let base_has_cache = UsageClass::CACHE.iter().any(|&c| base.usage[c] != 0);
    let evidence_has_cache = UsageClass::CACHE.iter().any(|&c| evidence[c] != 0);
    if !same_in
        && evidence_has_cache
        && !base_has_cache
        && base.usage.input_total() == cache_write_folding::folded_prompt_tokens(evidence)
    {
        return MatchKind::CacheFolded;
    }
    MatchKind::Drift
}

/// A matched call that differs: provider-reported − baseline counts.
pub struct Matched<'a> {
    pub base: &'a UsageRecord,
    pub kind: MatchKind,
    pub d_in: i64,
    pub d_out: i64,
    /// Of `d_out`, thinking tokens the provider reported that the app's count leaves out
    /// ([`reasoning_tokens::unrecorded_reasoning`]): the `reasoning_tokens` step's.
    pub reasoning: i64,
    /// Of `d_in` and `d_out` (after `reasoning`), image and audio tokens the provider reported
    /// that the app's count leaves out ([`multimodal_tokens::unrecorded_media`]): the
    /// `multimodal_tokens` step's.
    pub media: (i64, i64),
    /// Table input/output prices per token in the report currency, if priced.
    pub prices: Option<(Decimal, Decimal)>,
}

impl Matched<'_> {
    /// `d_in` input and `d_out` output tokens, and their money at the table prices.
    pub fn delta(&self, d_in: i64, d_out: i64) -> (Usage, Option<Decimal>) {
        (
            Usage::of(&[(UsageClass::Input, d_in), (UsageClass::Output, d_out)]),
            self.prices
                .map(|(p_in, p_out)| Decimal::from(d_in) * p_in + Decimal::from(d_out) * p_out),
        )
    }
}

/// Records accumulated for one purpose in one group: a side of the comparison, or one cause's
/// evidence (each cause decides what its tally's fields mean).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub records: u64,
    pub requests: u64,
    pub usage: Usage,
    pub money: Decimal,
    pub computed: Decimal,
    pub cost_lines: u64,
    pub unpriced: u64,
    pub evidence: Vec<String>,
    /// Book-rate differences inside `money`, and how many records carry one.
    pub fx: Decimal,
    pub fx_records: u64,
    /// How drifting calls' counts are explained by recounting their text.
    pub recount: RecountAcc,
    /// Evidence by kind, for the remedy.
    pub kinds: Kinds,
}

impl Tally {
    /// A record at its own usage and valuation.
    pub fn add(&mut self, rec: &UsageRecord, v: &Valuation) {
        self.records += 1;
        self.requests += rec.requests;
        self.usage += rec.usage;
        match v.money {
            Some(x) => self.money += x,
            None => self.unpriced += 1,
        }
        if let Some(c) = v.computed {
            self.computed += c;
        }
        if rec.cost_only {
            self.cost_lines += 1;
        }
        if !v.fx.is_zero() {
            self.fx += v.fx;
            self.fx_records += 1;
        }
        self.note_evidence(&rec.id);
    }

    /// One record's difference (`money` `None`: unpriced).
    pub fn add_delta(&mut self, id: &str, usage: Usage, money: Option<Decimal>) {
        self.records += 1;
        self.usage += usage;
        match money {
            Some(m) => self.money += m,
            None => self.unpriced += 1,
        }
        self.note_evidence(id);
    }

    pub fn note_evidence(&mut self, id: &str) {
        if self.evidence.len() < EVIDENCE_SAMPLES {
            self.evidence
                .push(crate::report::model::clipped_id(id).into_owned());
        }
    }

    pub fn merge(&mut self, o: &Tally) {
        self.records += o.records;
        self.requests += o.requests;
        self.usage += o.usage;
        self.money += o.money;
        self.computed += o.computed;
        self.cost_lines += o.cost_lines;
        self.unpriced += o.unpriced;
        self.fx += o.fx;
        self.fx_records += o.fx_records;
        push_evidence(&mut self.evidence, &o.evidence);
        self.recount.merge(&o.recount);
        self.kinds.merge(&o.kinds);
    }

    /// Money of a set of reference records taken out as a step: the bill's own cost lines when
    /// they cover them, else the table cost of their usage.
    pub fn step_money(&self) -> Decimal {
        if self.cost_lines > 0 {
            // At the dated rates: the book-rate part is the fx step's.
            self.money - self.fx
        } else {
            self.computed
        }
    }

    /// The tally as a step: its own usage, the given money, records and evidence.
    pub fn step(&self, money: Decimal) -> Measured {
        Measured {
            tokens: self.usage,
            cost: money,
            records: self.records,
            evidence: self.evidence.clone(),
            unpriced: self.unpriced,
            recount: self.recount.clone(),
            kinds: self.kinds.clone(),
        }
    }
}

pub fn push_evidence(to: &mut Vec<String>, from: &[String]) {
    for e in from {
        if to.len() < EVIDENCE_SAMPLES {
            to.push(e.clone());
        }
    }
}

/// Reference records of one (api key, project) scope, split by kind.
#[derive(Clone, Debug, Default)]
pub struct RefScope {
    pub calls: Tally,
    pub embeddings: Tally,
    /// Rerank lines (`rerank`), `kinds` by model.
    pub reranks: Tally,
    /// Rerank lines that do not state their own money (valued at the table, or billed on
    /// separate cost lines).
    pub reranks_unstated: u64,
    /// Cost-only lines of credits and discounts (`UsageRecord::adjustment`): money no call
    /// causes, whoever's scope they are on (`discounts_and_credits`).
    pub adjustments: Tally,
    /// The calls (of `calls`, not beside them) billed at a service tier other than the
    /// standard one: `money` is their tier premium over the standard tier, `kinds` by tier
    /// (`service_tier`).
    pub tiers: Tally,
}

impl RefScope {
    pub fn merge(&mut self, o: &RefScope) {
        self.calls.merge(&o.calls);
        self.embeddings.merge(&o.embeddings);
        self.reranks.merge(&o.reranks);
        self.reranks_unstated += o.reranks_unstated;
        self.adjustments.merge(&o.adjustments);
        self.tiers.merge(&o.tiers);
    }
}

/// What a cause measures from a group. Totals are the sums of groups' values.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub tokens: Usage,
    pub cost: Decimal,
    pub records: u64,
    pub evidence: Vec<String>,
    /// Records (or classes) whose money is unknown and stays unexplained.
    pub unpriced: u64,
    pub recount: RecountAcc,
    /// The step's evidence by kind, for its remedy (each cause names its kinds).
    pub kinds: Kinds,
}

impl Measured {
    pub fn merge(&mut self, o: &Measured) {
        self.tokens += o.tokens;
        self.cost += o.cost;
        self.records += o.records;
        push_evidence(&mut self.evidence, &o.evidence);
        self.unpriced += o.unpriced;
        self.recount.merge(&o.recount);
        self.kinds.merge(&o.kinds);
    }
}

/// A per-token price as the price per 1M tokens, written plainly (`2.50`, `0.075`).
pub fn per_million(per_token: Decimal) -> String {
    let p = (per_token * Decimal::from(1_000_000)).normalize();
    if p.scale() < 2 {
        format!("{p:.2}")
    } else {
        p.to_string()
    }
}

/// An amount's currency as a prefix: `$` for USD, else the code and a space.
pub fn currency_prefix(c: crate::record::Currency) -> String {
    if c == crate::record::Currency::USD {
        "$".to_string()
    } else {
        format!("{} ", c.as_str())
    }
}

/// An id shortened for a sentence (keys are long hashes).
pub fn short_id(id: &str) -> String {
    if id.chars().count() > 16 {
        format!("{}…", id.chars().take(12).collect::<String>())
    } else {
        id.to_string()
    }
}

/// Records and money by kind (a configured price, a key), bounded: past [`Kinds::MAX`] kinds
/// the rest are counted together under [`Kinds::OTHERS`], so a hostile export cannot grow it.
#[derive(Clone, Debug, Default)]
pub struct Kinds(BTreeMap<String, (u64, Decimal)>);

impl Kinds {
    pub const MAX: usize = 32;
    pub const OTHERS: &'static str = "…";

    pub fn add(&mut self, kind: &str, records: u64, money: Decimal) {
        // Called per record: a kind already present is found without allocating its key.
        if let Some(e) = self.0.get_mut(kind) {
            e.0 += records;
            e.1 += money;
            return;
        }
        let key = if self.0.len() < Self::MAX {
            kind
        } else {
            Self::OTHERS
        };
        let e = self.0.entry(key.to_string()).or_default();
        e.0 += records;
        e.1 += money;
    }

    pub fn merge(&mut self, o: &Kinds) {
        for (k, (n, m)) in &o.0 {
            self.add(k, *n, *m);
        }
    }

    /// The kinds by |money| (then records), largest first.
    pub fn largest(&self) -> Vec<(&str, u64, Decimal)> {
        let mut v: Vec<_> = self
            .0
            .iter()
            .map(|(k, (n, m))| (k.as_str(), *n, *m))
            .collect();
        v.sort_by(|a, b| {
            b.2.abs()
                .cmp(&a.2.abs())
                .then(b.1.cmp(&a.1))
                .then(a.0.cmp(b.0))
        });
        v
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What every cause of a comparison may read: its setup and who the baseline is on the bill.
pub struct Context<'a> {
    pub setup: &'a ComparisonSetup,
    pub attribution: &'a Attribution,
}

impl Context<'_> {
    /// A reference scope on keys/projects the baseline does not cover.
    pub fn unattributed(&self, key: &Option<String>, project: &Option<String>) -> bool {
        // Sorted lists (from the reference's key maps): a bill with thousands of keys is looked
        // up per scope in log time, not by a scan.
        key.as_ref().is_some_and(|k| {
            self.attribution
                .unattributed_api_keys
                .binary_search(k)
                .is_ok()
        }) || project.as_ref().is_some_and(|p| {
            self.attribution
                .unattributed_projects
                .binary_search(p)
                .is_ok()
        })
    }

    /// Method and note of a step measured on calls only the trace sees (housekeeping calls,
    /// failed attempts): nothing to see without a trace.
    pub fn seen_in_trace(
        &self,
        not_app: &str,
        no_trace: &str,
        measured: String,
    ) -> (&'static str, String) {
        if !self.setup.baseline_is_app {
            ("measured", not_app.to_string())
        } else if self.setup.evidence.is_none() {
            ("not_measured", no_trace.to_string())
        } else {
            ("measured", measured)
        }
    }

    /// Method and note of a step measured on app calls matched one to one with the trace's.
    pub fn matched(&self, no_trace: &str, measured: String) -> (&'static str, String) {
        let has_evidence = self.setup.evidence.is_some() || !self.setup.baseline_is_app;
        if !self.setup.baseline_is_app {
            (
                "not_measured",
                "the baseline carries provider-reported counts".to_string(),
            )
        } else if !has_evidence {
            ("not_measured", no_trace.to_string())
        } else {
            ("measured", measured)
        }
    }

    /// The name of the evidence source, for notes.
    pub fn trace(&self) -> &str {
        self.setup.evidence.as_deref().unwrap_or("the trace")
    }
}

/// The price entry in force for a group, with its rate to the report currency.
#[derive(Clone, Copy)]
pub struct GroupPrices<'a> {
    pub entry: &'a PriceEntry,
    /// Report currency per unit of the entry's currency (`None`: no rate that day).
    pub rate: Option<Decimal>,
}

impl GroupPrices<'_> {
    /// Per-token price of a class in the report currency.
    pub fn unit(&self, c: UsageClass) -> Option<Decimal> {
        self.entry.unit_price(c).zip(self.rate).map(|(p, r)| p * r)
    }
}

/// What a group shares with every cause when it is measured.
pub struct GroupView<'a> {
    pub cx: &'a Context<'a>,
    /// The group's model (canonical name).
    pub model: &'a str,
    /// The baseline inside the report window (rows that repeat usage included).
    pub base: &'a Tally,
    /// The whole reference.
    pub reference: &'a Tally,
    pub scopes: &'a BTreeMap<(Option<String>, Option<String>), RefScope>,
    /// The baseline plus every step before this one.
    pub so_far: Usage,
    pub prices: Option<GroupPrices<'a>>,
}

impl<'a> GroupView<'a> {
    /// The reference's scopes (API key, project) that are the baseline's own: another key's
    /// or project's usage is `unattributed_traffic`'s, at the bill's money.
    pub fn own_scopes(&self) -> impl Iterator<Item = &'a RefScope> + '_ {
        self.scopes
            .iter()
            .filter(|((k, p), _)| !self.cx.unattributed(k, p))
            .map(|(_, s)| s)
    }
}

/// One row of the spot check: an app call and its trace call, or a call of one side alone.
pub struct SpotPair<'a> {
    pub app: Option<&'a UsageRecord>,
    /// The app call's recorded and table cost.
    pub app_reported: Option<Decimal>,
    pub app_computed: Option<Decimal>,
    pub trace: Option<&'a UsageRecord>,
    /// How the pair's counts relate (matched pairs of a call that is not a repeat).
    pub kind: Option<MatchKind>,
}

/// How much of a cause `simulate` plants and what AMOUNT means.
pub struct Plant {
    /// What AMOUNT means (the `--help` text).
    pub amount: &'static str,
    pub kind: Amount,
    /// The default mix's amount in an OpenAI and in an Anthropic world.
    pub default: [f64; 2],
    /// The only provider whose world has it.
    pub only: Option<Provider>,
}

/// The range of an AMOUNT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    /// A share of calls, in [0, 1].
    Share,
    /// A non-negative ratio.
    Ratio,
    /// A relative error, above −1.
    Relative,
}

/// Every plantable step, in bridge order, with its plant.
pub fn plants() -> impl Iterator<Item = (&'static str, &'static Plant)> {
    ALL.iter()
        .filter_map(|c| c.plant().map(|p| (c.name(), p)))
        .chain([(unexplained::NAME, &unexplained::PLANT)])
}

/// The kind counting the matched calls whose trace shows tokens the app's count leaves out
/// (`reasoning_tokens`, `multimodal_tokens`).
pub const MATCHED_CALLS: &str = "matched calls";

/// `"; on N matched calls TRACE shows WHAT the app's count leaves out"` for a note, or nothing.
pub fn matched_calls_note(cx: &Context, m: &Measured, what: &str) -> String {
    let calls = m
        .kinds
        .largest()
        .iter()
        .find(|(k, _, _)| *k == MATCHED_CALLS)
        .map_or(0, |(_, n, _)| *n);
    if calls == 0 {
        return String::new();
    }
    format!(
        "; on {} matched calls {} shows {what} the app's count leaves out",
        crate::report::count(calls as i64),
        cx.trace()
    )
}

/// `"; N of them unpriced, …"` for a note, or nothing.
pub fn unpriced_note(unpriced: u64) -> String {
    if unpriced > 0 {
        format!("; {unpriced} of them unpriced, their money stays unexplained")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step has one name, `unexplained` closes the list, and a cause only one provider's
    /// world has is planted by default only there.
    #[test]
    fn the_list_names_each_step_once_and_plants_sensibly() {
        let names: Vec<_> = step_names().collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert_eq!(names.last(), Some(&"unexplained"));
        assert_eq!(step_index("retries"), 5);
        for (name, p) in plants() {
            if let Some(only) = p.only {
                let other = 1 - only as usize;
                assert_eq!(p.default[other], 0.0, "{name}");
            }
        }
        assert!(!plants().any(|(n, _)| n == fx::NAME));
        // The service tier is planted, by default too, in OpenAI's world only (its priority
        // tier; the simulated Anthropic bills every call at the standard tier).
        let (_, tier) = plants().find(|(n, _)| *n == service_tier::NAME).unwrap();
        assert_eq!(tier.only, Some(Provider::Openai));
        assert!(tier.default[Provider::Openai as usize] > 0.0);
        // The simulated bills (OpenAI, Anthropic) carry no credit lines.
        assert!(!plants().any(|(n, _)| n == discounts_and_credits::NAME));
    }

    #[test]
    fn kinds_are_bounded_and_ordered_by_money() {
        let mut k = Kinds::default();
        for i in 0..100 {
            k.add(&format!("key {i}"), 1, Decimal::from(i));
        }
        // 32 kinds of their own, the other 68 together.
        assert_eq!(k.0.len(), Kinds::MAX + 1);
        let (name, n, money) = k.largest()[0];
        assert_eq!((name, n), (Kinds::OTHERS, 68));
        // 32 + … + 99 = (32 + 99) × 68 / 2.
        assert_eq!(money, Decimal::from(4454));
        assert_eq!(k.largest()[1].0, "key 31");
        assert_eq!(per_million(Decimal::new(25, 7)), "2.50");
        assert_eq!(per_million(Decimal::new(75, 9)), "0.075");
    }
}
