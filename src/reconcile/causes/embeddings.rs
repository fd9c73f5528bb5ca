//! `embeddings`: embedding usage in the reference on models the baseline records no embeddings
//! for (Dify never records them), at the bill's money.

use super::{Amount, Cause, Context, GroupView, Measured, Place, Plant, SpotPair, Tally};
use crate::reconcile::bridge::Valuation;
use crate::record::{Operation, Status, UsageRecord};
use crate::simulate::Provider;

pub const NAME: &str = "embeddings";

pub struct Embeddings;

static PLANT: Plant = Plant {
    amount: "embedding tokens on the app's key (a query embedding per message plus indexing jobs), as a fraction of the app's billed chat tokens (OpenAI only)",
    kind: Amount::Ratio,
    default: [0.12, 0.0],
    only: Some(Provider::Openai),
};

impl Cause for Embeddings {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: whether the baseline records embeddings in the group at all (its tally counts
    /// them); the reference's embedding lines are in the shared scopes.
    fn on_baseline(&self, rec: &UsageRecord, _v: &Valuation, at: Place, t: &mut Tally) {
        if !at.repeats && rec.operation == Operation::Embedding {
            t.records += 1;
        }
    }

    fn measure(&self, g: &GroupView, t: &Tally) -> Measured {
        let mut side = Tally::default();
        if t.records == 0 {
            g.own_scopes().for_each(|s| side.merge(&s.embeddings));
        }
        side.step(side.step_money())
    }

    fn describe(&self, _cx: &Context, _m: &Measured) -> (&'static str, String) {
        (
            "measured",
            "embedding usage in the reference on models the baseline records no embeddings for"
                .to_string(),
        )
    }

    /// A trace call alone that is an embedding or other non-chat model call (rerank calls are
    /// the `rerank` step's).
    fn spot_label(&self, p: &SpotPair) -> Option<&'static str> {
        match (p.app, p.trace) {
            (None, Some(t))
                if t.link.status != Status::Error
                    && !t.link.auxiliary
                    && t.operation != Operation::Rerank
                    && t.operation.is_auxiliary_model_call() =>
            {
                Some(NAME)
            }
            _ => None,
        }
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
