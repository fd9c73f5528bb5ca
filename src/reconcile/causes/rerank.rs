//! `rerank`: rerank usage in the reference (a knowledge base's rerank model: Alibaba bill lines
//! of `gte-rerank-v2` / `qwen3-rerank`, a gateway's rerank calls) on models the baseline
//! records no rerank calls for — Dify never records them, like embeddings — at the bill's money.

use super::{Cause, Context, GroupView, Measured, Place, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Operation, Status, UsageRecord};

pub const NAME: &str = "rerank";

pub struct Rerank;

impl Cause for Rerank {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: whether the baseline records rerank calls in the group at all; the reference's
    /// rerank lines are in the shared scopes.
    fn on_baseline(&self, rec: &UsageRecord, _v: &Valuation, at: Place, t: &mut Tally) {
        if !at.repeats && rec.operation == Operation::Rerank {
            t.records += 1;
        }
    }

    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        let mut side = Tally::default();
        let mut unstated = 0;
        if t.records == 0 {
            for s in g.own_scopes() {
                side.merge(&s.reranks);
                unstated += s.reranks_unstated;
            }
        }
        // The bill's own money when every line states it, at the day's rate (the book-rate
        // part is the fx step's); otherwise valued as the other reference steps value usage.
        let money = if side.records > 0 && unstated == 0 {
            side.money - side.fx
        } else {
            side.step_money()
        };
        side.step(money)
    }

    fn describe(&self, _cx: &Context, m: &Measured) -> (&'static str, String) {
        let note = if m.records == 0 {
            "no rerank usage in the reference on models the baseline records no rerank calls for"
                .to_string()
        } else {
            format!(
                "rerank usage in the reference ({}) on models the baseline records no rerank calls for{}",
                by_model(m),
                super::unpriced_note(m.unpriced)
            )
        };
        ("measured", note)
    }

    /// A trace call alone that is a rerank call (the embeddings step labels the other non-chat
    /// model calls).
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (None, Some(t))
                if t.link.status != Status::Error
                    && !t.link.auxiliary
                    && t.operation == Operation::Rerank =>
            {
                Some(NAME)
            }
            _ => None,
        }
    }

    fn remedy(&self, _cx: &Context, m: &Measured) -> Option<String> {
        if m.records == 0 || m.cost.is_zero() {
            return None;
        }
        Some(format!(
            "{} rerank {} on {} cost {}: the app does not record them; they come from the knowledge base's rerank setting — count them with the app's cost, or turn rerank off where retrieval is good enough without it",
            crate::report::count(m.records as i64),
            lines(m.records),
            models(m),
            m.cost.round_dp(4).normalize(),
        ))
    }
}

fn lines(n: u64) -> &'static str {
    if n == 1 { "line" } else { "lines" }
}

/// The rerank models, largest first (`gte-rerank-v2 and rerank-v3.5`).
fn models(m: &Measured) -> String {
    let names: Vec<&str> = m.kinds.largest().iter().map(|(k, _, _)| *k).collect();
    crate::report::model::listed(&names)
}

/// `"gte-rerank-v2: 2 lines"` for the note.
fn by_model(m: &Measured) -> String {
    m.kinds
        .largest()
        .iter()
        .map(|(k, n, _)| format!("{k}: {n} {}", lines(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}
