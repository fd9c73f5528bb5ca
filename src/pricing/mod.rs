//! Versioned price tables: which price was in force for a model at an instant, and what a
//! record's usage cost under it.
//!
//! Tables are data (`pricing/*.toml`, format in `pricing/README.md`); each entry prices a set of
//! raw model names from `effective_from` until a later entry for the same name takes over. A price
//! change is a new entry, so a month of traffic that straddles a change is priced on both sides.
//! A record nothing matches is unpriced (`None`), never zero.

pub mod cli;
pub mod fx;
pub mod import;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_data;
#[cfg(test)]
mod tests_fx;
#[cfg(test)]
mod tests_tiers;
pub mod tier;

use crate::record::{ComputedCost, Currency, Money, Usage, UsageClass, UsageRecord};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::path::Path;
pub use tier::{Conditions, Tier, TierPrice, Window};

/// The tables shipped with the tool, in load order.
const BUNDLED: [(&str, &str); 8] = [
    (
        "pricing/openai.toml",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/openai.toml")),
    ),
    (
        "pricing/anthropic.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/pricing/anthropic.toml"
        )),
    ),
    (
        "pricing/google.toml",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/google.toml")),
    ),
    (
        "pricing/deepseek.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/pricing/deepseek.toml"
        )),
    ),
    (
        "pricing/alibaba.toml",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/alibaba.toml")),
    ),
    (
        "pricing/tencent.toml",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/tencent.toml")),
    ),
    (
        "pricing/mistral.toml",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/mistral.toml")),
    ),
    (
        "pricing/bedrock.toml",
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/pricing/bedrock.toml")),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("{path}: cannot read price tables: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: entry {entry}: {message}")]
    Entry {
        file: String,
        entry: String,
        message: String,
    },
    #[error(
        "{second}: prices '{name}' from the same instant as {first}; \
         a price change needs a new effective_from"
    )]
    Duplicate {
        name: String,
        first: String,
        second: String,
    },
}

/// One price list in force from `effective_from` for the raw names it lists.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceEntry {
    /// `provider/model@YYYY-MM-DD`; a snapshot-only entry is named by its snapshot instead.
    pub id: String,
    pub provider: String,
    /// Canonical model (`catalog::canonical_model`).
    pub model: String,
    /// Lower-case raw names this entry prices.
    pub names: Vec<String>,
    pub effective_from: DateTime<Utc>,
    pub currency: Currency,
    /// Public page the prices were read from, with the date read.
    pub source: String,
    /// Multiplier applied to the whole cost under `service_tier = batch`.
    pub batch_discount: Option<Decimal>,
    pub note: Option<String>,
    /// Table the entry came from.
    pub file: String,
    /// Price per single token, per usage class, as listed.
    per_token: [Option<Decimal>; UsageClass::COUNT],
    /// Classes whose price is known to differ but is not known: no fallback for them.
    unpriced: Vec<UsageClass>,
    /// Conditional tiers (long context, service tiers, time windows); `per_token` is the default.
    pub tiers: Vec<Tier>,
    /// Load position: a later load wins a tie on `effective_from`.
    order: usize,
    /// 1-based position in its file, for messages.
    pos: usize,
}

impl PriceEntry {
    /// The table's own price for a class, without fallbacks.
    pub fn listed_price(&self, class: UsageClass) -> Option<Decimal> {
        self.per_token[class as usize]
    }

    /// `file: entry #n (id)`, as error messages name an entry.
    fn locator(&self) -> String {
        format!("{}: entry #{} ({})", self.file, self.pos, self.id)
    }

    /// Price per single token for a class in the default tier. Fallbacks when a class is not
    /// listed: `output_reasoning` → `output` (reasoning is billed as output); cache read and
    /// cache writes → `input` (no caching discount or premium); `input_image` → `input` (chat
    /// models bill image inputs as prompt tokens). Audio and image output have no fallback.
    /// `None` when not priced, or when the entry marks the class `unpriced`.
    pub fn unit_price(&self, class: UsageClass) -> Option<Decimal> {
        self.resolve(&self.per_token, class).map(|(p, _)| p)
    }

    /// Price of `class` in a price list with the fallbacks above, and the class whose price
    /// was used when it is not the class itself.
    fn resolve(
        &self,
        list: &[Option<Decimal>; UsageClass::COUNT],
        class: UsageClass,
    ) -> Option<(Decimal, Option<UsageClass>)> {
        if self.unpriced.contains(&class) {
            return None;
        }
        if let Some(p) = list[class as usize] {
            return Some((p, None));
        }
        let via = match class {
            UsageClass::OutputReasoning => UsageClass::Output,
            UsageClass::InputCacheRead
            | UsageClass::InputCacheWrite5m
            | UsageClass::InputCacheWrite1h
            | UsageClass::InputImage => UsageClass::Input,
            _ => return None,
        };
        self.resolve(list, via).map(|(p, v)| (p, v.or(Some(via))))
    }

    /// Exact cost of one call's `usage` under this entry and service tier, the call placed at
    /// the entry's `effective_from` (so a time-window tier is judged at that instant; use
    /// [`PriceEntry::quote`] with [`Conditions::call`] for a call at its own time); `None` when
    /// unpriced.
    pub fn cost(&self, usage: &Usage, service_tier: Option<&str>) -> Option<Decimal> {
        let cond = Conditions {
            service_tier: tier::normalize_service_tier(service_tier),
            start: self.effective_from,
            end: self.effective_from,
            single_request: true,
        };
        self.quote(usage, &cond, &[]).ok().map(|q| q.cost)
    }

    /// Prices `usage` line by line: the tier whose conditions hold (the most specific), each
    /// non-zero class's quantity × unit price, and the batch discount when the service tier is
    /// `batch` and no tier names batch itself. `also` lists classes to show even at zero (when
    /// priced). `Err` says why the usage is unpriced.
    ///
    /// Service tiers: standard names use the default or a non-service tier; `batch` uses a
    /// `service_tier = "batch"` tier if there is one, else any other applicable tier times
    /// `batch_discount` (batch stacks with long context); `flex`, `priority` and any other
    /// tier need a tier that names them.
    pub fn quote(
        &self,
        usage: &Usage,
        cond: &Conditions,
        also: &[UsageClass],
    ) -> Result<Quote<'_>, String> {
        let chosen = tier::choose(&self.tiers, cond, usage)?;
        let service_in_tier = chosen.is_some_and(|t| t.service_tier.is_some());
        let batch_discount = match cond.service_tier.as_deref() {
            None => None,
            Some(_) if service_in_tier => None,
            Some("batch") => Some(self.batch_discount.ok_or_else(|| {
                format!(
                    "entry {} has no batch price (no batch_discount and no batch tier)",
                    self.id
                )
            })?),
            Some(other) => {
                let named: Vec<&str> = self
                    .tiers
                    .iter()
                    .filter_map(|t| t.service_tier.as_deref())
                    .collect();
                return Err(if named.contains(&other) {
                    format!(
                        "the {other} tier of entry {} does not apply to this request",
                        self.id
                    )
                } else {
                    format!(
                        "the {other} tier is not priced (entry {} lists no {other} prices)",
                        self.id
                    )
                });
            }
        };
        if let Some(t) = chosen.filter(|t| matches!(t.price, TierPrice::Unpriced)) {
            return Err(format!(
                "entry {} prices its '{}' tier differently at a price that is not known",
                self.id, t.name
            ));
        }
        let mut lines = Vec::new();
        for (class, n) in usage.iter() {
            let named = also.contains(&class);
            // A class with no tokens is priced only when asked for (`also`).
            if n == 0 && !named {
                continue;
            }
            let price = match chosen.map(|t| &t.price) {
                None => self.resolve(&self.per_token, class),
                Some(TierPrice::Prices(p)) => self.resolve(p, class),
                Some(TierPrice::Multiplier(m)) => self
                    .resolve(&self.per_token, class)
                    .map(|(p, v)| (p * m, v)),
                // Refused above, whatever the usage.
                Some(TierPrice::Unpriced) => None,
            };
            if n == 0 && (price.is_none() || !named) {
                continue;
            }
            let (unit_price, priced_as) = price.ok_or_else(|| {
                let why = if self.unpriced.contains(&class) {
                    "its price is marked unconfirmed in the table".to_string()
                } else {
                    let listed: Vec<&str> = UsageClass::ALL
                        .iter()
                        .filter(|&&c| self.listed_price(c).is_some())
                        .map(|c| c.name())
                        .collect();
                    format!("the entry prices only {}", listed.join(", "))
                };
                format!("entry {} has no price for {class} ({why})", self.id)
            })?;
            lines.push(QuoteLine {
                class,
                quantity: n,
                unit_price,
                priced_as,
                cost: unit_price * Decimal::from(n),
            });
        }
        let subtotal: Decimal = lines.iter().map(|l| l.cost).sum();
        let cost = batch_discount.map_or(subtotal, |m| subtotal * m);
        Ok(Quote {
            tier: chosen,
            lines,
            subtotal,
            batch_discount,
            cost,
        })
    }
}

/// One class's line of a [`Quote`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuoteLine {
    pub class: UsageClass,
    pub quantity: i64,
    /// Per single token.
    pub unit_price: Decimal,
    /// The class whose price was used when the list has none for this one.
    pub priced_as: Option<UsageClass>,
    pub cost: Decimal,
}

/// A priced usage: which tier, line by line, and the total.
#[derive(Clone, Debug)]
pub struct Quote<'a> {
    /// The conditional tier used; `None` = the default prices.
    pub tier: Option<&'a Tier>,
    pub lines: Vec<QuoteLine>,
    pub subtotal: Decimal,
    /// Applied to the subtotal (service tier `batch` without a batch tier).
    pub batch_discount: Option<Decimal>,
    pub cost: Decimal,
}

/// Every `*.toml` in `dir`, sorted by file name: (path as shown, text).
fn toml_files(dir: &Path) -> Result<Vec<(String, String)>, PricingError> {
    let io = |source| PricingError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            std::fs::read_to_string(&path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|source| PricingError::Io {
                    path: path.display().to_string(),
                    source,
                })
        })
        .collect()
}

/// All loaded entries, indexed by raw name.
#[derive(Clone, Debug, Default)]
pub struct PriceBook {
    entries: Vec<PriceEntry>,
    /// Name → entry indices sorted by (`effective_from`, load order).
    by_name: FxHashMap<String, Vec<usize>>,
}

impl PriceBook {
    /// The tables compiled into the binary.
    pub fn bundled() -> Result<PriceBook, PricingError> {
        let mut entries = Vec::new();
        for (file, text) in BUNDLED {
            entries.extend(table::parse(file, text, entries.len())?);
        }
        PriceBook::build(entries, true)
    }

    pub fn from_toml_str(file_name: &str, text: &str) -> Result<PriceBook, PricingError> {
        PriceBook::build(table::parse(file_name, text, 0)?, true)
    }

    /// Every `*.toml` in `dir` (sorted by file name), as one book.
    pub fn load_dir(dir: &Path) -> Result<PriceBook, PricingError> {
        let mut entries = Vec::new();
        for (file, text) in toml_files(dir)? {
            entries.extend(table::parse(&file, &text, entries.len())?);
        }
        PriceBook::build(entries, true)
    }

    /// Adds `other`'s entries; on the same name and `effective_from`, `other` wins (user tables
    /// override bundled ones).
    pub fn merge(&mut self, other: PriceBook) {
        let base = self.entries.len();
        let mut entries = std::mem::take(&mut self.entries);
        entries.extend(other.entries.into_iter().map(|mut e| {
            e.order += base;
            e
        }));
        // Entries were each validated already; ties are resolved by load order.
        if let Ok(book) = PriceBook::build(entries, false) {
            *self = book;
        }
    }

    pub fn entries(&self) -> &[PriceEntry] {
        &self.entries
    }

    fn build(entries: Vec<PriceEntry>, reject_duplicates: bool) -> Result<PriceBook, PricingError> {
        let mut by_name: FxHashMap<String, Vec<usize>> = FxHashMap::default();
        for (i, e) in entries.iter().enumerate() {
            for n in &e.names {
                by_name.entry(n.clone()).or_default().push(i);
            }
        }
        for (name, list) in by_name.iter_mut() {
            list.sort_by_key(|&i| (entries[i].effective_from, entries[i].order));
            if reject_duplicates {
                for w in list.windows(2) {
                    let (a, b) = (&entries[w[0]], &entries[w[1]]);
                    if a.effective_from == b.effective_from && a.provider == b.provider {
                        return Err(PricingError::Duplicate {
                            name: name.clone(),
                            first: a.locator(),
                            second: b.locator(),
                        });
                    }
                }
            }
        }
        Ok(PriceBook { entries, by_name })
    }

    /// Entry in force at `at` for this record's model: exact raw-name match (snapshot) wins
    /// over the canonical model; among matches, the latest `effective_from <= at`. `None` =
    /// unpriced. An empty `provider` matches any provider.
    ///
    /// When the raw name is listed in some table, the answer comes from its entries alone (a
    /// snapshot used before its first entry is unpriced, not priced as the alias).
    pub fn lookup(
        &self,
        provider: &str,
        model_raw: &str,
        model: &str,
        at: DateTime<Utc>,
    ) -> Option<&PriceEntry> {
        // Per record: most names are already trimmed lowercase, and are looked up as they are.
        let trimmed = model_raw.trim();
        let raw: std::borrow::Cow<str> = if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
            trimmed.to_ascii_lowercase().into()
        } else {
            trimmed.into()
        };
        // `openai/gpt-4o-2024-08-06` and similar vendor paths name the same snapshot.
        let bare = raw.rsplit('/').next().unwrap_or(&raw);
        for name in [&*raw, bare, model] {
            if name.is_empty() {
                continue;
            }
            if let Some(list) = self.indexed(provider, name) {
                return self.in_force(list, provider, at);
            }
        }
        None
    }

    /// The entry list for a name, if any entry of this provider lists it.
    fn indexed(&self, provider: &str, name: &str) -> Option<&[usize]> {
        let list = self.by_name.get(name)?;
        list.iter()
            .any(|&i| provider.is_empty() || self.entries[i].provider == provider)
            .then_some(list.as_slice())
    }

    fn in_force(&self, list: &[usize], provider: &str, at: DateTime<Utc>) -> Option<&PriceEntry> {
        let end = list.partition_point(|&i| self.entries[i].effective_from <= at);
        list[..end]
            .iter()
            .rev()
            .map(|&i| &self.entries[i])
            .find(|e| provider.is_empty() || e.provider == provider)
    }

    /// Cost of the record's usage at its own time (`rec.start`, so a bill bucket is priced at
    /// its start), its service tier applied. `None` when unpriced, when a non-zero usage class
    /// has no price in the entry, or for cost-only lines (their tokens are priced elsewhere).
    ///
    /// Tiers: a call (one request, `start == end`) is tiered by its own input and time. A bill
    /// bucket line aggregates many calls, so a long-context tier never applies to it (it is
    /// priced at the default tier unless its source names the tier as a service tier); a
    /// time-window tier applies to it only when the whole bucket lies inside one window.
    pub fn price_record(&self, rec: &UsageRecord) -> Option<ComputedCost> {
        if rec.cost_only {
            return None;
        }
        let e = self.lookup(&rec.provider, &rec.model_raw, &rec.model, rec.start)?;
        let cond = Conditions {
            service_tier: tier::normalize_service_tier(rec.service_tier.as_deref()),
            start: rec.start,
            end: rec.end,
            single_request: !rec.is_bucket() && rec.requests <= 1,
        };
        let amount = e.quote(&rec.usage, &cond, &[]).ok()?.cost;
        Some(ComputedCost {
            cost: Money::new(amount, e.currency),
            entry: e.id.clone(),
        })
    }

    /// Cost of a record billed at a service tier other than the standard one (flex, priority,
    /// batch, …) as if it had been billed at the standard tier, by the same entry; `None` for a
    /// record at the standard tier, or unpriced. What an app that knows no tiers would value it.
    pub fn standard_tier_cost(&self, rec: &UsageRecord) -> Option<Money> {
        tier::normalize_service_tier(rec.service_tier.as_deref())?;
        if rec.cost_only {
            return None;
        }
        let e = self.lookup(&rec.provider, &rec.model_raw, &rec.model, rec.start)?;
        let cond = Conditions {
            service_tier: None,
            start: rec.start,
            end: rec.end,
            single_request: !rec.is_bucket() && rec.requests <= 1,
        };
        let amount = e.quote(&rec.usage, &cond, &[]).ok()?.cost;
        Some(Money::new(amount, e.currency))
    }
}
