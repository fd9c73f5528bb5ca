//! `price_mismatch`: Σ (table cost − recorded cost) over baseline calls: stale unit prices,
//! rounding.

use super::{
    Amount, Cause, Context, GroupView, Kinds, Measured, Place, Plant, SpotPair, Tally,
    currency_prefix, per_million,
};
use crate::reconcile::bridge::Valuation;
use crate::record::{Status, UnitPrices, Usage, UsageClass, UsageRecord};
use rust_decimal::Decimal;

pub const NAME: &str = "price_mismatch";

pub struct PriceMismatch;

/// How a kind of configured prices equal to the list's ends: the recorded costs are the same
/// prices, each rounded where the app stores it (Dify: 7 decimals).
const ROUNDING: &str =
    "the recorded costs differ from the list's only by the app's rounding of each call's cost";

static PLANT: Plant = Plant {
    amount: "relative error of Dify's configured unit prices (table × (1 + AMOUNT), stored to 4 decimals)",
    kind: Amount::Relative,
    default: [0.5, 0.5],
    only: None,
};

/// Calls `f` with the kind of a record's configured prices (`$2.00/$8.00`, or empty when the
/// source states none). A month's calls share a handful of prices, so the last one's text is
/// kept per thread rather than written again for every call.
fn with_configured(prices: Option<UnitPrices>, f: impl FnOnce(&str)) {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(UnitPrices, String)>> = const {
            std::cell::RefCell::new(None)
        };
    }
    let Some(u) = prices else {
        return f("");
    };
    LAST.with_borrow_mut(|last| {
        if last.as_ref().is_none_or(|(p, _)| *p != u) {
            let cur = currency_prefix(u.currency);
            let text = format!(
                "{cur}{}/{cur}{}",
                per_million(u.input),
                per_million(u.output)
            );
            *last = Some((u, text));
        }
        if let Some((_, text)) = last.as_ref() {
            f(text);
        }
    });
}

impl Cause for PriceMismatch {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Every baseline call (in the window or at its edges) whose recorded cost differs from
    /// the table cost at its time.
    fn on_baseline(&self, rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        // A gateway's cache hit costs nothing by design: that is `gateway_cache_hits`' money,
        // not a stale price.
        if at.repeats || rec.link.status == Status::CacheHit {
            return;
        }
        if let (Some(r), Some(c)) = (v.reported, v.computed) {
            let gap = c - r;
            if !gap.is_zero() {
                t.add_delta(&rec.id, Usage::ZERO, Some(gap));
                // The prices the source says it used, if it says (Dify does).
                with_configured(rec.unit_prices, |configured| {
                    t.kinds.add(configured, 1, gap)
                });
            }
        }
    }

    /// The step's kinds become sentences: the configured prices against the entry in force.
    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        let mut m = t.step(t.money);
        m.kinds = Kinds::default();
        if let Some(p) = g.prices {
            let e = p.entry;
            // The list prices as the configured ones are written (exact: `per_million` never
            // rounds), to tell prices that differ from costs that are only rounded.
            let list_prices = match (
                e.unit_price(UsageClass::Input),
                e.unit_price(UsageClass::Output),
            ) {
                (Some(i), Some(o)) => {
                    let cur = currency_prefix(e.currency);
                    Some(format!("{cur}{}/{cur}{}", per_million(i), per_million(o)))
                }
                _ => None,
            };
            let since = e.effective_from.format("%Y-%m-%d");
            let listed = match &list_prices {
                Some(p) => format!("{p} per 1M since {since}"),
                None => format!("the entry of {since}"),
            };
            for (configured, n, money) in t.kinds.largest() {
                let phrase = if list_prices.as_deref() == Some(configured) {
                    format!(
                        "{} is configured at the list price ({configured} per 1M): {ROUNDING}",
                        e.model
                    )
                } else if configured.is_empty() || configured == Kinds::OTHERS {
                    format!(
                        "{}: recorded costs differ from the price list ({listed})",
                        e.model
                    )
                } else {
                    format!(
                        "{} is configured at {configured} per 1M; the price list has {listed}",
                        e.model
                    )
                };
                m.kinds.add(&phrase, n, money);
            }
        }
        m
    }

    fn remedy(&self, cx: &Context, m: &Measured) -> Option<String> {
        let worst: Vec<String> = m
            .kinds
            .largest()
            .iter()
            // Rounded costs at the right prices: nothing to update.
            .filter(|(k, _, _)| !k.ends_with(ROUNDING))
            .take(3)
            .map(|(k, n, _)| format!("{k} ({} records)", crate::report::count(*n as i64)))
            .collect();
        if worst.is_empty() {
            return None;
        }
        let what = if cx.setup.baseline_is_app {
            "update the model's prices in the app's model settings".to_string()
        } else {
            format!("update {}'s price list", cx.setup.baseline)
        };
        Some(format!("{} — {what}", worst.join("; ")))
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        (
            "measured",
            format!(
                "{} baseline records whose recorded cost differs from the price table in force at the call's time",
                crate::report::count(m.records as i64)
            ),
        )
    }

    /// A matched app call whose recorded cost is off the table by more than Dify's rounding of
    /// each side to 7 decimals.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.trace, p.app_reported, p.app_computed) {
            (Some(_), Some(r), Some(c)) if (r - c).abs() > Decimal::new(1, 7) => Some(NAME),
            _ => None,
        }
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
