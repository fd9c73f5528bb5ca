//! `discounts_and_credits`: money the bill takes off (or adds) that no call causes — GCP
//! `credits[]` (promotions, free tier, committed use discounts), FOCUS `Credit` rows, the part
//! of a FOCUS usage row below its `ListCost` (a commitment's or a negotiated discount) and AWS
//! CUR Bedrock lines of type `Credit`/`Refund` (credits) and `EdpDiscount`/`PrivateRateDiscount`/
//! `BundledDiscount` (discounts). Each is a
//! cost-only line of the bill marked with its kind (`UsageRecord::adjustment`); the step is
//! their sum at the bill's money, never tokens. Never planted: the simulated bills (OpenAI,
//! Anthropic) carry no credit lines.

use super::{Cause, Context, GroupView, Measured, Tally, unpriced_note};
use crate::reconcile::bridge::Valuation;
use crate::record::{Usage, UsageRecord};

pub const NAME: &str = "discounts_and_credits";

pub struct DiscountsAndCredits;

impl Cause for DiscountsAndCredits {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A credit or discount line of the reference, on whatever key or project it is (the
    /// bridge keeps these lines out of the scopes' calls, so no other step's sum takes them).
    fn on_reference(&self, rec: &UsageRecord, v: &Valuation, t: &mut Tally) {
        if let Some(kind) = rec.adjustment {
            t.add(rec, v);
            let dated = v.money.map_or(rust_decimal::Decimal::ZERO, |m| m - v.fx);
            t.kinds.add(kind.name(), 1, dated);
        }
    }

    /// Their money at the dated rates (a book rate's part is the fx step's); never tokens.
    fn measure(&self, _g: &GroupView, t: &Tally) -> Measured {
        let mut m = t.step(t.money - t.fx);
        m.tokens = Usage::ZERO;
        m
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        let note = if m.records == 0 {
            "the reference has no credit or discount lines".to_string()
        } else {
            format!(
                "{} credit and discount lines of the reference ({}): money the bill takes off or adds that no call causes, no tokens{}",
                crate::report::count(m.records as i64),
                kinds(m),
                unpriced_note(m.unpriced)
            )
        };
        ("measured", note)
    }

    /// Credits are not usage; a discount off the list price is what the price tables do not
    /// know.
    fn remedy(&self, cx: &Context, m: &Measured) -> Option<String> {
        if m.records == 0 {
            return None;
        }
        let has = |k: &str| m.kinds.largest().iter().any(|(n, _, _)| *n == k);
        let mut what = Vec::new();
        if has("credit") || has("promotion") {
            what.push(
                "credits are not usage: book them separately from the usage they offset (a promotion or free tier ends, the usage does not)",
            );
        }
        if has("commitment") || has("discount") {
            what.push(
                "a commitment's or negotiated discount is not in the price tables: compare usage at list price (the other steps) and read this step as what the contract saves",
            );
        }
        Some(format!(
            "{} on {}: {}",
            kinds(m),
            cx.setup.reference,
            what.join("; ")
        ))
    }
}

/// `"1 promotion -0.05, 1 commitment -0.02"`: lines and money by kind, largest first.
fn kinds(m: &Measured) -> String {
    m.kinds
        .largest()
        .iter()
        .map(|(k, n, money)| {
            format!(
                "{} {k} {}",
                crate::report::count(*n as i64),
                money.normalize()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
