//! `service_tier`: calls the reference billed at a service tier other than the standard one
//! (OpenAI `flex`, `priority`, `batch`; Anthropic `priority`; a bill's batch or provisioned
//! meter) that the baseline values at the standard price, as apps do that know no tiers (Dify).
//! Measured from the reference's own tier of each line (its service-tier grouping or meter),
//! valued as the price tables' difference between that tier and the standard tier of the same
//! usage; money only, never tokens. A baseline that records the tier itself (its calls carry
//! one) already values them at the tier: its own premium is taken off.

use super::{Amount, Cause, Context, GroupView, Measured, Place, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Usage, UsageRecord};
use crate::simulate::Provider;
use rust_decimal::Decimal;

pub const NAME: &str = "service_tier";

pub struct ServiceTier;

/// OpenAI's `priority` tier, not `flex`: flex is offered only for some models (GPT-5, o3,
/// o4-mini), not the simulated app's gpt-4.1 and gpt-4.1-mini, which OpenAI offers at priority.
/// A project whose service tier is set to Priority has the requests that name no tier served at
/// priority, moved over gradually (and some kept at standard by the ramp-rate limit): the app
/// sends no tier and learns none, and the usage API's service-tier grouping shows it. Only
/// OpenAI's world has it: Anthropic's Priority Tier is a capacity commitment whose costs its cost
/// report does not show per line.
static PLANT: Plant = Plant {
    amount: "share of the app's chat calls OpenAI served at the priority tier (the project's service tier set to Priority; the requests name no tier, so Dify and Langfuse value them at the standard price); OpenAI only",
    kind: Amount::Share,
    default: [0.05, 0.0],
    only: Some(Provider::Openai),
};

fn tiered(rec: &UsageRecord) -> bool {
    crate::pricing::tier::normalize_service_tier(rec.service_tier.as_deref()).is_some()
}

impl Cause for ServiceTier {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The baseline's own tier premium (its tally's money): a baseline call that carries its
    /// tier is already valued at it.
    fn on_baseline(&self, _rec: &UsageRecord, v: &Valuation, at: Place, t: &mut Tally) {
        if at.in_window
            && !at.repeats
            && let Some(p) = v.tier_premium
        {
            t.money += p;
        }
    }

    /// The reference's tiered calls on the baseline's own keys and projects (another key's
    /// calls are `unattributed_traffic`'s at the bill's money), less the baseline's premium.
    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        let mut side = Tally::default();
        g.own_scopes().for_each(|s| side.merge(&s.tiers));
        let mut m = side.step(side.money - t.money);
        m.tokens = Usage::ZERO;
        m
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        let note = if m.records == 0 {
            "the reference bills no call at a service tier other than the standard one".to_string()
        } else {
            format!(
                "{} reference lines billed at a service tier other than the standard one ({}): the tier's price difference to the standard price the baseline values them at, no tokens{}",
                crate::report::count(m.records as i64),
                tiers(m),
                if m.unpriced > 0 {
                    "; some tiers unpriced, their money stays unexplained"
                } else {
                    ""
                }
            )
        };
        ("measured", note)
    }

    /// A trace call that carries a tier the app's count of it does not.
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (Some(a), Some(t)) if tiered(t) && !tiered(a) => Some(NAME),
            _ => None,
        }
    }

    /// The tiers were chosen per request; the app prices every call at the standard price.
    fn remedy(&self, cx: &Context, m: &Measured) -> Option<String> {
        if m.records == 0 || m.cost.is_zero() {
            return None;
        }
        Some(format!(
            "{} lines of {} are billed at other service tiers ({}; {} against the standard price): the baseline values them at the standard price — record each call's service_tier and price it by tier, or send them at the standard tier",
            crate::report::count(m.records as i64),
            cx.setup.reference,
            tiers(m),
            signed(m.cost.round_dp(2)),
        ))
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}

/// `"flex 2 −0.05, priority 1 +0.02"`: lines and premium by tier, largest first.
fn tiers(m: &Measured) -> String {
    m.kinds
        .largest()
        .iter()
        .map(|(k, n, money)| format!("{k} {} {}", crate::report::count(*n as i64), signed(*money)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn signed(d: Decimal) -> String {
    let d = d.normalize();
    if d.is_sign_negative() {
        d.to_string()
    } else {
        format!("+{d}")
    }
}
