//! `unattributed_traffic`: reference usage on API keys / projects the baseline does not cover
//! (`--key`/`--project`, or the key closest in volume: `estimated`), at the bill's money.

use super::{Amount, Cause, Context, GroupView, Measured, Plant, Tally};
use crate::report::model::listed;

pub const NAME: &str = "unattributed_traffic";

pub struct UnattributedTraffic;

static PLANT: Plant = Plant {
    amount: "another key/project's tokens on the bill, as a fraction of the app's billed chat tokens",
    kind: Amount::Ratio,
    default: [1.5, 1.5],
    only: None,
};

impl Cause for UnattributedTraffic {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: the reference's scopes, which the bridge keeps for every cause.
    fn measure(&self, g: &GroupView, _t: &Tally) -> Measured {
        let mut side = Tally::default();
        for ((k, p), s) in g.scopes {
            if g.cx.unattributed(k, p) {
                side.merge(&s.calls);
                side.merge(&s.embeddings);
                side.merge(&s.reranks);
            }
        }
        side.step(side.step_money())
    }

    fn describe(&self, cx: &Context, _m: &Measured) -> (&'static str, String) {
        let a = cx.attribution;
        // Each group's note says this: values are clipped and the list bounded, so a huge
        // key id or thousands of keys do not multiply the report's size by its groups.
        let who = a
            .unattributed_api_keys
            .iter()
            .map(|k| format!("key {k}"))
            .chain(
                a.unattributed_projects
                    .iter()
                    .map(|p| format!("project {p}")),
            )
            .collect::<Vec<_>>();
        let who = listed(&who);
        let estimated = a.method == "estimated";
        let note = if who.is_empty() {
            "no reference usage outside the baseline's keys/projects".to_string()
        } else if estimated {
            format!(
                "reference usage on {who}; the baseline was matched to {} by closest volume (set --key/--project to state it)",
                listed(&a.api_keys.iter().chain(&a.projects).collect::<Vec<_>>())
            )
        } else {
            format!("reference usage on {who}, which the baseline does not cover")
        };
        (if estimated { "estimated" } else { "measured" }, note)
    }

    /// An estimated attribution is a guess to replace with a statement; a stated one leaves
    /// nothing to do (other keys' traffic is theirs).
    fn remedy(&self, cx: &Context, _m: &Measured) -> Option<String> {
        let a = cx.attribution;
        if a.method != "estimated" || a.unattributed_api_keys.is_empty() {
            return None;
        }
        let mut keys: Vec<String> = a
            .unattributed_api_keys
            .iter()
            .take(3)
            .map(|k| super::short_id(k))
            .collect();
        if a.unattributed_api_keys.len() > 3 {
            keys.push(format!("{} more", a.unattributed_api_keys.len() - 3));
        }
        Some(format!(
            "{} on {} {} not this app's by volume alone: give each app its own API key and name the app's with --key, so the attribution is stated, not estimated",
            keys.join(", "),
            cx.setup.reference,
            if a.unattributed_api_keys.len() == 1 {
                "is"
            } else {
                "are"
            }
        ))
    }

    fn plant(&self) -> Option<&'static Plant> {
        Some(&PLANT)
    }
}
