//! The one record type every source is normalized into.
//!
//! Usage classes are disjoint: a token is counted in exactly one class, so every total is a plain
//! sum. Each adapter undoes its source's own convention (OpenAI's `prompt_tokens` includes cached
//! tokens, Anthropic's `input_tokens` does not) once, at the edge.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::{Add, AddAssign, Index, IndexMut, Neg, Sub, SubAssign};

/// A disjoint usage class. The numeric order is the display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageClass {
    /// Input tokens that were neither read from nor written to a prompt cache.
    Input,
    InputCacheRead,
    InputCacheWrite5m,
    InputCacheWrite1h,
    InputAudio,
    InputImage,
    /// Visible output tokens (reasoning excluded).
    Output,
    OutputReasoning,
    OutputAudio,
    OutputImage,
    /// Tokens a source counts under a name no other class covers (an unknown usage key, or
    /// a total larger than its parts for a model without reasoning). No price table prices
    /// it, so a record holding it is valued only by what the source reported.
    Other,
}

impl UsageClass {
    pub const ALL: [UsageClass; 11] = [
        UsageClass::Input,
        UsageClass::InputCacheRead,
        UsageClass::InputCacheWrite5m,
        UsageClass::InputCacheWrite1h,
        UsageClass::InputAudio,
        UsageClass::InputImage,
        UsageClass::Output,
        UsageClass::OutputReasoning,
        UsageClass::OutputAudio,
        UsageClass::OutputImage,
        UsageClass::Other,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// Prompt-cache classes: billed at a discount (read) or premium (write) relative to `input`.
    pub const CACHE: [UsageClass; 3] = [
        UsageClass::InputCacheRead,
        UsageClass::InputCacheWrite5m,
        UsageClass::InputCacheWrite1h,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UsageClass::Input => "input",
            UsageClass::InputCacheRead => "input_cache_read",
            UsageClass::InputCacheWrite5m => "input_cache_write_5m",
            UsageClass::InputCacheWrite1h => "input_cache_write_1h",
            UsageClass::InputAudio => "input_audio",
            UsageClass::InputImage => "input_image",
            UsageClass::Output => "output",
            UsageClass::OutputReasoning => "output_reasoning",
            UsageClass::OutputAudio => "output_audio",
            UsageClass::OutputImage => "output_image",
            UsageClass::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<UsageClass> {
        UsageClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// True for the classes that are part of the prompt side of a call.
    pub fn is_input(self) -> bool {
        (self as usize) < (UsageClass::Output as usize)
    }
}

impl fmt::Display for UsageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Token counts per disjoint class. Signed, because the same type carries variances and bridge
/// steps; source records only ever hold non-negative counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Usage(pub [i64; UsageClass::COUNT]);

impl Usage {
    pub const ZERO: Usage = Usage([0; UsageClass::COUNT]);

    pub fn of(pairs: &[(UsageClass, i64)]) -> Usage {
        let mut u = Usage::ZERO;
        for &(c, n) in pairs {
            u[c] += n;
        }
        u
    }

    pub fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    /// All prompt-side tokens, cached and uncached.
    pub fn input_total(&self) -> i64 {
        UsageClass::ALL
            .iter()
            .filter(|c| c.is_input())
            .map(|&c| self[c])
            .sum()
    }

    pub fn output_total(&self) -> i64 {
        self.total() - self.input_total()
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (UsageClass, i64)> + '_ {
        UsageClass::ALL.iter().map(move |&c| (c, self[c]))
    }
}

/// The largest count one record may carry in one class: far above any real bill line (a
/// quadrillion tokens), small enough that the sums of a run are exact.
pub const MAX_RECORD_TOKENS: i64 = 1_000_000_000_000_000;
/// The largest token total one source may reach (all classes, all records); leaves room in an
/// `i64` for a source read in up to 16 pieces and for the differences and steps between sources.
pub const MAX_SOURCE_TOKENS: i64 = 100_000_000_000_000_000;
/// The largest amount (any currency) one record may carry, and one source may reach in sum: the
/// report's sums, differences and percentages of them stay inside a `Decimal`.
pub const MAX_RECORD_AMOUNT: i64 = 1_000_000_000_000_000;
pub const MAX_SOURCE_AMOUNT: i128 = 1_000_000_000_000_000_000_000_000;

impl Usage {
    /// Sum of the absolute counts of every class; `None` when it does not fit an `i64`.
    pub fn magnitude(&self) -> Option<i64> {
        self.0
            .iter()
            .try_fold(0i64, |a, &n| a.checked_add(n.checked_abs()?))
    }
}

impl Index<UsageClass> for Usage {
    type Output = i64;
    fn index(&self, c: UsageClass) -> &i64 {
        &self.0[c as usize]
    }
}

impl IndexMut<UsageClass> for Usage {
    fn index_mut(&mut self, c: UsageClass) -> &mut i64 {
        &mut self.0[c as usize]
    }
}

impl Add for Usage {
    type Output = Usage;
    fn add(mut self, rhs: Usage) -> Usage {
        self += rhs;
        self
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Usage) {
        for (a, b) in self.0.iter_mut().zip(rhs.0) {
            *a += b;
        }
    }
}

impl Sub for Usage {
    type Output = Usage;
    fn sub(mut self, rhs: Usage) -> Usage {
        self -= rhs;
        self
    }
}

impl SubAssign for Usage {
    fn sub_assign(&mut self, rhs: Usage) {
        for (a, b) in self.0.iter_mut().zip(rhs.0) {
            *a -= b;
        }
    }
}

impl Neg for Usage {
    type Output = Usage;
    fn neg(self) -> Usage {
        Usage::ZERO - self
    }
}

/// Serialized as `{"input": n, "output": n, <other non-zero classes>..., "total": n}`:
/// `input`, `output` and `total` are always present so consumers can rely on them.
impl Serialize for Usage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (c, n) in self.iter() {
            if n != 0 || matches!(c, UsageClass::Input | UsageClass::Output) {
                m.serialize_entry(c.name(), &n)?;
            }
        }
        m.serialize_entry("total", &self.total())?;
        m.end()
    }
}

/// ISO-4217-style currency code. Dify's `RMB` is normalized to `CNY` by its adapter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");
    pub const CNY: Currency = Currency(*b"CNY");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Parses a currency as sources write it: case-insensitive, trimmed, `RMB` meaning `CNY`.
    pub fn parse(s: &str) -> Option<Currency> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("rmb") {
            return Some(Currency::CNY);
        }
        let b = t.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        Some(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }
    pub fn usd(amount: Decimal) -> Money {
        Money::new(amount, Currency::USD)
    }
}

/// What kind of call produced the usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Chat,
    Completion,
    Embedding,
    Rerank,
    Moderation,
    Image,
    Audio,
    ToolCall,
    Other,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Completion => "completion",
            Operation::Embedding => "embedding",
            Operation::Rerank => "rerank",
            Operation::Moderation => "moderation",
            Operation::Image => "image",
            Operation::Audio => "audio",
            Operation::ToolCall => "tool_call",
            Operation::Other => "other",
        }
    }

    /// Operations an app's chat view typically does not record (Dify never records these).
    pub fn is_auxiliary_model_call(self) -> bool {
        matches!(
            self,
            Operation::Embedding | Operation::Rerank | Operation::Moderation
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Ok,
    /// The call failed (Dify `status=error`, Langfuse `level=ERROR`).
    Error,
    /// The user or client stopped the call mid-stream.
    Interrupted,
    /// Answered from an upstream cache.
    CacheHit,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Interrupted => "interrupted",
            Status::CacheHit => "cache_hit",
        }
    }
}

/// Money on a bill line that no call causes: the bill takes it off (a credit, a discount) or
/// adds it, whatever the usage. Set only on cost-only lines; the `discounts_and_credits` step
/// is their sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// A credit the bill grants without a kind of its own (a FOCUS `Credit` row, a GCP credit of
    /// a type this tool does not know).
    Credit,
    /// A promotional or free-tier credit.
    Promotion,
    /// A commitment's or reservation's discount: usage drawn from a prepaid or committed amount
    /// at less than its list price.
    Commitment,
    /// Any other discount off the list price (negotiated, sustained use, a reseller's margin).
    Discount,
}

impl Adjustment {
    pub fn name(self) -> &'static str {
        match self {
            Adjustment::Credit => "credit",
            Adjustment::Promotion => "promotion",
            Adjustment::Commitment => "commitment",
            Adjustment::Discount => "discount",
        }
    }
}

/// Which view a source is: the app's, the trace store's, a gateway's between the app and the
/// providers, or a provider's bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    App,
    Trace,
    Gateway,
    Bill,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::App => "app",
            Role::Trace => "trace",
            Role::Gateway => "gateway",
            Role::Bill => "bill",
        }
    }
}

/// Where a record came from: an index into the run's file table and a 1-based line number
/// (for JSON documents, the line where the element starts, or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    pub file: u32,
    pub line: u64,
}

/// Who the usage belongs to. Every field is optional: sources carry different subsets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Workflow run (Dify) or parent observation (Langfuse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The tenant the row belongs to in its own system: Dify's workspace (`tenant_id`),
    /// Langfuse's project (`projectId`). Used by `--teams` rules only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Tags of the call's trace (Langfuse `traceTags`). Used by `--teams` rules only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// How a record links to the same call seen by another source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Linkage {
    /// Dify message id / Langfuse trace id (Dify's Langfuse integration uses the message id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Dify conversation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    pub status: Status,
    /// An app's housekeeping call that its own tables never record (Dify's conversation naming
    /// and suggested questions), seen in a trace.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auxiliary: bool,
    /// Why this row repeats usage other rows of the same source already count (an iteration
    /// container's sum of its children, a row exported twice). Such rows belong to the source's
    /// own total and are taken out again by the `double_counting` step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<&'static str>,
}

/// Per-token unit prices a source says it used (Dify stores them per message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct UnitPrices {
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
    pub currency: Currency,
}

/// The cost this tool computed from its price tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComputedCost {
    pub cost: Money,
    /// The price entry that produced it (`provider/model@effective_from`).
    pub entry: String,
}

/// Text a record carries until it is recounted; never kept past enrichment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallText {
    pub input: String,
    pub output: String,
}

/// One call (app/trace rows) or one bucket line (bill rows).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UsageRecord {
    /// Unique within its source (message id, observation id, or a synthetic bucket-line id).
    pub id: String,
    pub origin: Origin,
    /// `start == end` for a call; `[start, end)` for a bill bucket.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Canonical provider (`openai`, `anthropic`, `alibaba`, `deepseek`, …) or empty if unknown.
    pub provider: String,
    /// The bill that served the call (`openai`, `azure`, `aws`, …; see
    /// `catalog::serving_provider`), or empty if unknown. Bill lines: the bill's own cloud where
    /// one export holds several (FOCUS).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub serving: &'static str,
    /// The model name exactly as the source wrote it.
    pub model_raw: String,
    /// Canonical model (dated snapshot suffixes and vendor prefixes removed), see `catalog`.
    pub model: String,
    pub operation: Operation,
    pub scope: Scope,
    pub link: Linkage,
    /// Service tier the usage was billed under, as the source names it (`batch`, `flex`,
    /// `priority`, `standard`/`default`), when the source says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Number of model requests this record stands for (1 for a call).
    pub requests: u64,
    pub usage: Usage,
    /// Cost as the source reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_cost: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_prices: Option<UnitPrices>,
    /// Filled by the pricing stage; `None` means unpriced (never zero by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_cost: Option<ComputedCost>,
    /// True for records that carry money only (bill cost lines): their tokens, if any, are
    /// already counted by the same bill's usage lines.
    pub cost_only: bool,
    /// On a cost-only line: the money is a credit or discount, not usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<Adjustment>,
    #[serde(skip)]
    pub text: Option<Box<CallText>>,
}

impl UsageRecord {
    /// A call record at one instant with everything else empty; adapters fill the rest.
    pub fn call(id: String, origin: Origin, at: DateTime<Utc>) -> UsageRecord {
        UsageRecord {
            id,
            origin,
            start: at,
            end: at,
            provider: String::new(),
            serving: "",
            model_raw: String::new(),
            model: String::new(),
            operation: Operation::Chat,
            scope: Scope::default(),
            link: Linkage::default(),
            service_tier: None,
            requests: 1,
            usage: Usage::ZERO,
            reported_cost: None,
            unit_prices: None,
            computed_cost: None,
            cost_only: false,
            adjustment: None,
            text: None,
        }
    }

    /// A bill bucket line `[start, end)`.
    pub fn bucket(
        id: String,
        origin: Origin,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> UsageRecord {
        UsageRecord {
            end,
            requests: 0,
            ..UsageRecord::call(id, origin, start)
        }
    }

    /// Sets raw, canonical model and provider from a raw model name and an optional provider
    /// hint, through the catalog.
    pub fn set_model(&mut self, provider_hint: Option<&str>, raw: &str) {
        /// Canonical model, provider and serving provider of one (hint, raw name) pair.
        type CatalogAnswer = (String, String, &'static str);
        // A month names a handful of models a million times: the catalog's answer for each
        // (hint, name) pair is kept per thread, by hint (a handful too) then by name, so a hit
        // builds no key; both levels are bounded so hostile input cannot grow them.
        type ByName = rustc_hash::FxHashMap<String, CatalogAnswer>;
        thread_local! {
            static SEEN: std::cell::RefCell<Vec<(Option<String>, ByName)>> = Default::default();
        }
        const HINTS: usize = 16;
        const KEPT: usize = 1024;
        // Longer names than real ones are answered without being kept.
        const KEPT_LEN: usize = 256;
        if raw.len() > KEPT_LEN || provider_hint.is_some_and(|h| h.len() > KEPT_LEN) {
            let canon = crate::catalog::canonicalize(provider_hint, raw);
            self.serving = crate::catalog::serving_provider(provider_hint, raw);
            self.model_raw = raw.to_string();
            self.model = canon.model;
            self.provider = canon.provider;
            return;
        }
        SEEN.with_borrow_mut(|by_hint| {
            let i = match by_hint
                .iter()
                .position(|(h, _)| h.as_deref() == provider_hint)
            {
                Some(i) => i,
                None => {
                    if by_hint.len() >= HINTS {
                        by_hint.clear();
                    }
                    by_hint.push((provider_hint.map(str::to_string), ByName::default()));
                    by_hint.len() - 1
                }
            };
            let seen = &mut by_hint[i].1;
            if !seen.contains_key(raw) {
                if seen.len() >= KEPT {
                    seen.clear();
                }
                let canon = crate::catalog::canonicalize(provider_hint, raw);
                let serving = crate::catalog::serving_provider(provider_hint, raw);
                seen.insert(raw.to_string(), (canon.model, canon.provider, serving));
            }
            let (model, provider, serving) = &seen[raw];
            self.model_raw.clear();
            self.model_raw.push_str(raw);
            self.model.clone_from(model);
            self.provider.clone_from(provider);
            self.serving = serving;
        });
    }

    pub fn is_bucket(&self) -> bool {
        self.end > self.start
    }

    /// Why this record cannot be carried into a run's sums, if it cannot: a count above
    /// [`MAX_RECORD_TOKENS`] or negative, an amount or unit price above [`MAX_RECORD_AMOUNT`].
    pub fn beyond_limits(&self) -> Option<String> {
        if let Some((c, n)) = self
            .usage
            .iter()
            .find(|&(_, n)| !(0..=MAX_RECORD_TOKENS).contains(&n))
        {
            return Some(format!(
                "{c}: {n} tokens is beyond what a row may carry (0 to {MAX_RECORD_TOKENS})"
            ));
        }
        let max = Decimal::from(MAX_RECORD_AMOUNT);
        let amounts = [
            ("cost", self.reported_cost.map(|m| m.amount)),
            ("input unit price", self.unit_prices.map(|p| p.input)),
            ("output unit price", self.unit_prices.map(|p| p.output)),
        ];
        amounts.iter().find_map(|(what, a)| {
            a.filter(|a| a.abs() > max).map(|a| {
                format!("{what}: {a} is beyond what a row may carry (at most {MAX_RECORD_AMOUNT})")
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_totals_are_sums_of_disjoint_classes() {
        let u = Usage::of(&[
            (UsageClass::Input, 100),
            (UsageClass::InputCacheRead, 400),
            (UsageClass::Output, 50),
            (UsageClass::OutputReasoning, 7),
        ]);
        assert_eq!(u.total(), 557);
        assert_eq!(u.input_total(), 500);
        assert_eq!(u.output_total(), 57);
        assert_eq!((u - u), Usage::ZERO);
        assert_eq!((-u)[UsageClass::Input], -100);
    }

    #[test]
    fn usage_serializes_input_output_total_always() {
        let u = Usage::of(&[(UsageClass::InputCacheRead, 3)]);
        let j = serde_json::to_string(&u).unwrap();
        assert_eq!(
            j,
            r#"{"input":0,"input_cache_read":3,"output":0,"total":3}"#
        );
    }

    #[test]
    fn currency_parse_normalizes_rmb() {
        assert_eq!(Currency::parse("RMB "), Some(Currency::CNY));
        assert_eq!(Currency::parse("usd"), Some(Currency::USD));
        assert_eq!(Currency::parse("dollars"), None);
        assert_eq!(
            UsageClass::from_name("input_cache_write_1h"),
            Some(UsageClass::InputCacheWrite1h)
        );
    }
}
