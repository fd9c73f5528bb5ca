//! Conditional tiers of a price entry: long-context prices for a whole request, flex / priority
//! (and explicit batch) service tiers, and time-of-day windows such as DeepSeek's night discount.
//!
//! An entry's `[entry.prices]` is its default tier. Each `[[entry.tiers]]` names conditions that
//! must all hold; among the tiers whose conditions hold, the most specific one prices the whole
//! record. Specific means: its set of condition kinds is a strict superset of the other's, or the
//! kinds are the same and its `input_above` threshold is higher. Tables are checked when loaded so
//! that two tiers that can both hold always have a most specific one.

use crate::record::{Usage, UsageClass};
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use rust_decimal::Decimal;

/// Service tiers a tier may name. Standard names (`default`, `standard`, `auto`, `on_demand`,
/// none) are the default tier and are never named.
pub const SERVICE_TIERS: [&str; 3] = ["batch", "flex", "priority"];

/// The service tier of a record, lower-cased; `None` for the standard tier.
pub fn normalize_service_tier(t: Option<&str>) -> Option<String> {
    let t = t?.trim().to_ascii_lowercase();
    match t.as_str() {
        "" | "default" | "standard" | "auto" | "on_demand" => None,
        _ => Some(t),
    }
}

/// A daily UTC window `[start, end)` in minutes after midnight; `end < start` wraps midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub end: u32,
}

impl Window {
    /// `"16:30-00:30"`.
    pub fn parse(s: &str) -> Result<Window, String> {
        let bad =
            || format!("window_utc: expected \"HH:MM-HH:MM\" (UTC, end exclusive), got '{s}'");
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let m = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map(|t| t.hour() * 60 + t.minute())
                .map_err(|_| bad())
        };
        let w = Window {
            start: m(a)?,
            end: m(b)?,
        };
        if w.start == w.end {
            return Err(format!("window_utc: '{s}' is empty (start equals end)"));
        }
        Ok(w)
    }

    /// Length in minutes.
    pub fn minutes(&self) -> u32 {
        (self.end + 1440 - self.start) % 1440
    }

    /// True if the minute-of-day `m` lies in the window.
    pub fn contains_minute(&self, m: u32) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }

    /// True if the instant lies in the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        // Seconds count: 00:30:00 is outside a window ending at 00:30.
        let t = at.time();
        let secs = t.num_seconds_from_midnight();
        let m = secs / 60;
        self.contains_minute(m)
    }

    /// True if all of `[start, end)` lies in one occurrence of the window (a call: its instant).
    pub fn covers(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        if !self.contains(start) {
            return false;
        }
        if end <= start {
            return true;
        }
        let t = start.time();
        let ms_of_day =
            i64::from(t.num_seconds_from_midnight()) * 1000 + i64::from(t.nanosecond() / 1_000_000);
        let into = (ms_of_day - i64::from(self.start) * 60_000).rem_euclid(86_400_000);
        into + (end - start).num_milliseconds() <= i64::from(self.minutes()) * 60_000
    }

    /// True if two windows share a minute.
    pub fn overlaps(&self, other: &Window) -> bool {
        (0..1440).any(|m| self.contains_minute(m) && other.contains_minute(m))
    }

    pub fn label(&self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02} UTC",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// What a tier charges when it applies.
#[derive(Clone, Debug, PartialEq)]
pub enum TierPrice {
    /// Per-token prices replacing the default's, class by class (the same classes).
    Prices(Box<[Option<Decimal>; UsageClass::COUNT]>),
    /// The default prices times this factor.
    Multiplier(Decimal),
    /// Known to be priced differently, at a price that is not known: the record is unpriced.
    Unpriced,
}

/// One conditional tier.
#[derive(Clone, Debug, PartialEq)]
pub struct Tier {
    pub name: String,
    /// Condition: the record's service tier (`batch`, `flex`, `priority`).
    pub service_tier: Option<String>,
    /// Condition: the request's input, summed over `counts`, is above this many tokens.
    pub input_above: Option<i64>,
    /// Classes counted toward `input_above` (default: every input class, cached included).
    pub counts: Vec<UsageClass>,
    /// Condition: the call falls in this daily UTC window.
    pub window: Option<Window>,
    pub price: TierPrice,
    pub note: Option<String>,
}

/// Kinds of condition, for specificity.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Kinds {
    service: bool,
    input: bool,
    window: bool,
}

impl Kinds {
    fn superset_of(self, o: Kinds) -> bool {
        (self.service || !o.service) && (self.input || !o.input) && (self.window || !o.window)
    }
}

impl Tier {
    fn kinds(&self) -> Kinds {
        Kinds {
            service: self.service_tier.is_some(),
            input: self.input_above.is_some(),
            window: self.window.is_some(),
        }
    }

    /// True when `self` is more specific than `other` (see module docs).
    pub fn dominates(&self, other: &Tier) -> bool {
        let (a, b) = (self.kinds(), other.kinds());
        if a == b {
            return matches!((self.input_above, other.input_above), (Some(x), Some(y)) if x > y);
        }
        a.superset_of(b)
    }

    /// True when some request could meet both tiers' conditions.
    pub fn can_both_hold(&self, other: &Tier) -> bool {
        let service = match (&self.service_tier, &other.service_tier) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let window = match (&self.window, &other.window) {
            (Some(a), Some(b)) => a.overlaps(b),
            _ => true,
        };
        service && window
    }

    /// True when `self`'s conditions hold whenever both `a`'s and `b`'s do (a tier for the
    /// combination of two tiers).
    fn holds_when_both(&self, a: &Tier, b: &Tier) -> bool {
        let service = match &self.service_tier {
            None => true,
            Some(s) => a.service_tier.as_ref() == Some(s) || b.service_tier.as_ref() == Some(s),
        };
        let input = match self.input_above {
            None => true,
            Some(n) => a.input_above.max(b.input_above).is_some_and(|m| n <= m),
        };
        let window = match &self.window {
            None => true,
            Some(w) => a.window.as_ref() == Some(w) || b.window.as_ref() == Some(w),
        };
        service && input && window && self.counts_same_as(a, b)
    }

    /// A threshold over other classes would not follow from the two tiers'.
    fn counts_same_as(&self, a: &Tier, b: &Tier) -> bool {
        self.input_above.is_none()
            || [a, b]
                .iter()
                .any(|t| t.input_above.is_some() && t.counts == self.counts)
    }

    /// Tokens counted toward `input_above`.
    pub fn counted_input(&self, usage: &Usage) -> i64 {
        self.counts.iter().map(|&c| usage[c]).sum()
    }

    /// The conditions, as a reader would say them.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.service_tier {
            parts.push(format!("service tier {s}"));
        }
        if let Some(n) = self.input_above {
            parts.push(format!(
                "input > {n} tokens ({})",
                self.counts
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(" + ")
            ));
        }
        if let Some(w) = &self.window {
            parts.push(format!("time in {}", w.label()));
        }
        parts.join(", ")
    }
}

/// What is known about a record when its tier is chosen.
#[derive(Clone, Debug)]
pub struct Conditions {
    /// Normalized service tier (`None` = standard).
    pub service_tier: Option<String>,
    /// Start and end of the record (`start == end` for a call).
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// True when the record is one request, so a per-request threshold can be evaluated. A bill
    /// bucket aggregates many calls: long-context tiers never apply to it.
    pub single_request: bool,
}

impl Conditions {
    /// One call at `at`.
    pub fn call(at: DateTime<Utc>, service_tier: Option<&str>) -> Conditions {
        Conditions {
            service_tier: normalize_service_tier(service_tier),
            start: at,
            end: at,
            single_request: true,
        }
    }

    /// Whether the tier's conditions hold for `usage` under these conditions.
    pub fn holds(&self, t: &Tier, usage: &Usage) -> bool {
        if let Some(s) = &t.service_tier
            && self.service_tier.as_deref() != Some(s.as_str())
        {
            return false;
        }
        if let Some(n) = t.input_above
            && (!self.single_request || t.counted_input(usage) <= n)
        {
            return false;
        }
        if let Some(w) = &t.window
            && !w.covers(self.start, self.end)
        {
            return false;
        }
        true
    }
}

/// The tier to use: `Ok(None)` = the default; `Err` names the tiers that both hold with neither
/// more specific (only possible in a table that was not checked).
pub fn choose<'a>(
    tiers: &'a [Tier],
    cond: &Conditions,
    usage: &Usage,
) -> Result<Option<&'a Tier>, String> {
    let hold: Vec<&Tier> = tiers.iter().filter(|t| cond.holds(t, usage)).collect();
    let Some(&first) = hold.first() else {
        return Ok(None);
    };
    let mut best = first;
    for &t in &hold[1..] {
        if t.dominates(best) {
            best = t;
        }
    }
    for &t in &hold {
        if !std::ptr::eq(t, best) && !best.dominates(t) {
            return Err(format!(
                "tiers '{}' and '{}' both apply and neither is more specific",
                best.name, t.name
            ));
        }
    }
    Ok(Some(best))
}

/// Checks one entry's tiers against its default prices; returns the first problem.
pub fn validate(
    tiers: &[Tier],
    default: &[Option<Decimal>; UsageClass::COUNT],
    unpriced: &[UsageClass],
    has_batch_discount: bool,
) -> Result<(), String> {
    if !tiers.is_empty() && default.iter().all(Option::is_none) {
        return Err("tiers without a default: [entry.prices] lists no price".into());
    }
    for (i, t) in tiers.iter().enumerate() {
        let who = format!("tiers.{} ('{}')", i + 1, t.name);
        if tiers[..i].iter().any(|o| o.name == t.name) {
            return Err(format!("{who}: a second tier with this name"));
        }
        if t.service_tier.is_none() && t.input_above.is_none() && t.window.is_none() {
            return Err(format!(
                "{who}: a tier needs a condition (service_tier, input_above or window_utc); the unconditional price is [entry.prices]"
            ));
        }
        if t.service_tier.as_deref() == Some("batch") && has_batch_discount {
            return Err(format!(
                "{who}: a batch tier and batch_discount both price batch; keep one"
            ));
        }
        if let TierPrice::Prices(p) = &t.price {
            for c in UsageClass::ALL {
                let (tier_has, default_has) =
                    (p[c as usize].is_some(), default[c as usize].is_some());
                if tier_has && !default_has {
                    return Err(format!(
                        "{who}: prices '{c}', which [entry.prices] does not; a tier reprices the default's classes"
                    ));
                }
                if default_has && !tier_has {
                    return Err(format!(
                        "{who}: does not price '{c}', which [entry.prices] prices; a tier lists every class of the default"
                    ));
                }
                if tier_has && unpriced.contains(&c) {
                    return Err(format!(
                        "{who}: prices '{c}', which the entry marks unpriced"
                    ));
                }
            }
        }
    }
    for (i, a) in tiers.iter().enumerate() {
        for b in &tiers[i + 1..] {
            let joined = tiers
                .iter()
                .any(|c| c.dominates(a) && c.dominates(b) && c.holds_when_both(a, b));
            if a.can_both_hold(b) && !a.dominates(b) && !b.dominates(a) && !joined {
                let why = match (&a.window, &b.window) {
                    (Some(x), Some(y)) => {
                        format!("their windows {} and {} overlap", x.label(), y.label())
                    }
                    _ => format!(
                        "a request can meet both ({}; {}) and neither is more specific: add a tier with both conditions (unpriced = true if its price is not known)",
                        a.describe(),
                        b.describe()
                    ),
                };
                return Err(format!("tiers '{}' and '{}': {why}", a.name, b.name));
            }
        }
    }
    Ok(())
}
