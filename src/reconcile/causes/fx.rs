//! `fx`: with `--book-rate CUR=RATE`, bill money in CUR valued at the book rate instead of the
//! dated rate in force on each line's day; Σ amount × (book − dated). Never planted (the
//! simulated bills are in USD).

use super::{Cause, Context, GroupView, Measured, Tally};

pub const NAME: &str = "fx";

pub struct Fx;

impl Cause for Fx {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Evidence: the book-rate part of the reference's money, kept on the shared side.
    fn measure(&self, g: &GroupView, _t: &Tally) -> Measured {
        let r = g.reference;
        Measured {
            cost: r.fx,
            records: r.fx_records,
            evidence: if r.fx_records > 0 {
                r.evidence.clone()
            } else {
                Vec::new()
            },
            ..Measured::default()
        }
    }

    fn describe(&self, cx: &Context, m: &Measured) -> (&'static str, String) {
        let setup = cx.setup;
        let rates = setup
            .book_rates
            .iter()
            .map(|(cur, r)| format!("{r} per {cur}"))
            .collect::<Vec<_>>()
            .join(", ");
        let note = if m.records > 0 {
            format!(
                "{} reference records valued at the book rate ({rates}) instead of the dated rate in force on each record's day",
                crate::report::count(m.records as i64)
            )
        } else if setup.book_rates.is_empty() {
            "money in other currencies is converted at the dated rate in force on each record's day (bundled ECB reference rates or --fx-rates); no book rate given".to_string()
        } else {
            format!("no reference money in the book-rate currencies ({rates})")
        };
        ("measured", note)
    }
}
