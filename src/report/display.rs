//! Numbers and times for people, shared by every human-readable format: display rounding that
//! never breaks a sum, precision that never shows a non-zero amount as zero, windows and group
//! times in the report's zone with the zone named.

use super::model::{Comparison, Report, Step};
use chrono::{DateTime, Datelike, Months, NaiveTime, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};

/// Fewest decimals money is shown with.
pub const MIN_DP: u32 = 2;
/// Most decimals: anything smaller still non-zero shows as `<0.000001`.
pub const MAX_DP: u32 = 6;

/// The fewest decimals (2 to 6) at which every non-zero amount of `amounts` is at least one unit
/// of the last place, so none of them is shown as zero.
pub fn precision<'a>(amounts: impl IntoIterator<Item = &'a Decimal>) -> u32 {
    let smallest = amounts
        .into_iter()
        .filter(|a| !a.is_zero())
        .map(|a| a.abs())
        .min();
    let Some(smallest) = smallest else {
        return MIN_DP;
    };
    (MIN_DP..=MAX_DP)
        .find(|&dp| smallest >= Decimal::new(1, dp))
        .unwrap_or(MAX_DP)
}

pub fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// `amount` at `dp` decimals with thousands separators (`-1,234.50`); a non-zero amount that
/// rounds to zero shows as `<0.000001` (with its sign) rather than as zero.
pub fn money_dp(amount: Decimal, dp: u32) -> String {
    let r = round(amount, dp);
    if r.is_zero() && !amount.is_zero() {
        let unit = Decimal::new(1, dp).to_string();
        return if amount.is_sign_negative() {
            format!("-<{unit}")
        } else {
            format!("<{unit}")
        };
    }
    let neg = r.is_sign_negative() && !r.is_zero();
    let s = format!("{:.*}", dp as usize, r.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    format!(
        "{}{}{frac}",
        if neg { "-" } else { "" },
        super::group_thousands(int)
    )
}

/// `money_dp` with a `+` on positive amounts (bridge steps).
pub fn signed_money_dp(amount: Decimal, dp: u32) -> String {
    let s = money_dp(amount, dp);
    if amount > Decimal::ZERO {
        format!("+{s}")
    } else {
        s
    }
}

/// A bridge as displayed: baseline and reference rounded, and the steps rounded so that they add
/// up to the displayed difference exactly (largest remainder: every step is first rounded down,
/// then the units still missing go to the steps with the largest remainders). `rounding` is
/// non-zero only when the exact steps themselves do not add up (then it is a line of its own).
#[derive(Clone, Debug, PartialEq)]
pub struct Footed {
    pub dp: u32,
    pub baseline: Decimal,
    pub steps: Vec<Decimal>,
    pub reference: Decimal,
    pub rounding: Decimal,
}

pub fn foot(baseline: Decimal, steps: &[Decimal], reference: Decimal, dp: u32) -> Footed {
    let unit = Decimal::new(1, dp);
    let (b, r) = (round(baseline, dp), round(reference, dp));
    let target = r - b;
    let floors: Vec<Decimal> = steps
        .iter()
        .map(|s| s.round_dp_with_strategy(dp, RoundingStrategy::ToNegativeInfinity))
        .collect();
    let mut shown = floors.clone();
    let missing = target - floors.iter().copied().sum::<Decimal>();
    // Units to hand out: only whole units, never more than one per step.
    let mut units = if missing.is_sign_negative() {
        0
    } else {
        (missing / unit)
            .trunc()
            .to_string()
            .parse::<usize>()
            .unwrap_or(0)
            .min(steps.len())
    };
    let mut order: Vec<usize> = (0..steps.len()).collect();
    // Largest remainder first; ties go to the larger step, then to the earlier one.
    order.sort_by(|&i, &j| {
        let (ri, rj) = (steps[i] - floors[i], steps[j] - floors[j]);
        rj.cmp(&ri)
            .then(steps[j].abs().cmp(&steps[i].abs()))
            .then(i.cmp(&j))
    });
    for i in order {
        if units == 0 {
            break;
        }
        if steps[i] != floors[i] {
            shown[i] += unit;
            units -= 1;
        }
    }
    let rounding = target - shown.iter().copied().sum::<Decimal>();
    Footed {
        dp,
        baseline: b,
        steps: shown,
        reference: r,
        rounding,
    }
}

/// The displayed bridge of one comparison at one precision for the whole table.
pub fn foot_comparison(c: &Comparison) -> Footed {
    let amounts = std::iter::once(&c.baseline.cost)
        .chain(c.bridge.iter().map(|s| &s.cost))
        .chain(std::iter::once(&c.reference.cost));
    let dp = precision(amounts);
    let steps: Vec<Decimal> = c.bridge.iter().map(|s| s.cost).collect();
    foot(c.baseline.cost, &steps, c.reference.cost, dp)
}

/// A step with nothing in it (named under the table rather than given a row).
pub fn is_empty_step(s: &Step) -> bool {
    s.cause != "unexplained" && s.records == 0 && s.cost.is_zero() && s.tokens.is_zero()
}

/// The report's zone (UTC when the name is not a zone).
pub fn zone(r: &Report) -> Tz {
    r.window.timezone.parse().unwrap_or(chrono_tz::UTC)
}

fn is_midnight(t: &DateTime<Tz>) -> bool {
    t.time() == NaiveTime::MIN
}

/// The report window for people, in its zone with the zone named: `October 2026, Asia/Shanghai`,
/// `2026-10-05, UTC`, `2026-10-01 – 2026-10-15, UTC` (last day inclusive), else local times.
pub fn window_label(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> String {
    let (s, e) = (start.with_timezone(&tz), end.with_timezone(&tz));
    let name = tz.name();
    if is_midnight(&s) && is_midnight(&e) {
        let (sd, ed) = (s.date_naive(), e.date_naive());
        if sd.day() == 1 && sd.checked_add_months(Months::new(1)) == Some(ed) {
            return format!("{}, {name}", sd.format("%B %Y"));
        }
        if sd.day() == 1 && ed.day() == 1 && ed > sd {
            let last = ed.pred_opt().unwrap_or(ed);
            return format!("{} – {}, {name}", sd.format("%B %Y"), last.format("%B %Y"));
        }
        let last = ed.pred_opt().unwrap_or(ed);
        if last == sd {
            return format!("{sd}, {name}");
        }
        return format!("{sd} – {last}, {name}");
    }
    format!(
        "{} – {}, {name}",
        s.format("%Y-%m-%d %H:%M"),
        e.format("%Y-%m-%d %H:%M")
    )
}

/// The report's window for people, or `no window` when the run had none.
pub fn report_window_label(r: &Report) -> String {
    match (r.window.start, r.window.end) {
        (Some(s), Some(e)) => window_label(s, e, zone(r)),
        _ => "no window".to_string(),
    }
}

/// A group's start for people, in the report's zone: `2026-10` (month buckets), `2026-10-12`
/// (a day starting at local midnight), else `2026-10-12 08:00`.
pub fn group_label(start: DateTime<Utc>, bucket: &str, tz: Tz) -> String {
    let s = start.with_timezone(&tz);
    if is_midnight(&s) && bucket == "1mo" && s.day() == 1 {
        return s.format("%Y-%m").to_string();
    }
    if is_midnight(&s) && bucket != "1h" {
        return s.format("%Y-%m-%d").to_string();
    }
    s.format("%Y-%m-%d %H:%M").to_string()
}

/// What the group column is headed with: `day (Asia/Shanghai)`.
pub fn group_heading(bucket: &str, tz: Tz) -> String {
    let what = match bucket {
        "1h" => "hour",
        "1mo" => "month",
        _ => "day",
    };
    format!("{what} from ({})", tz.name())
}

/// Why the Sources figure differs from the bridge's, one sentence per source that differs.
pub fn source_gap_lines(r: &Report) -> Vec<String> {
    let window = report_window_label(r);
    r.sources
        .iter()
        .filter_map(|s| source_gap(r, &s.name))
        .filter(|g| !g.cost.is_zero() || g.tokens != 0)
        .map(|g| {
            let dp = precision([&g.sources_cost, &g.bridge_cost, &g.cost]);
            format!(
                "{}: Sources shows {} {cur}, every row read; the {} bridge counts {} {cur}, the rows inside its window ({window}); the other {} {cur} ({} tokens) are rows dated outside it.",
                g.source,
                money_dp(g.sources_cost, dp),
                g.comparison,
                money_dp(g.bridge_cost, dp),
                money_dp(g.cost, dp),
                super::count(g.tokens),
                cur = r.currency,
            )
        })
        .collect()
}

/// Wraps prose without ever splitting a word (timestamps, ids and keys stay whole so they can be
/// copied), the first line indented by `indent` and the rest by two more spaces.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let rest = format!("{indent}  ");
    let opts = textwrap::Options::new(width)
        .initial_indent(indent)
        .subsequent_indent(&rest)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    textwrap::wrap(text, opts)
        .into_iter()
        .map(|c| c.into_owned())
        .collect()
}

/// How a source's Sources figure relates to the first bridge side that counts it: the Sources
/// table counts every row read, a comparison only what falls inside its compared span.
pub struct SourceGap {
    pub source: String,
    pub sources_cost: Decimal,
    /// The bridge side's figure, and the comparison it is in (`dify → openai`).
    pub bridge_cost: Decimal,
    pub comparison: String,
    /// Sources − bridge side.
    pub cost: Decimal,
    pub tokens: i64,
}

pub fn source_gap(report: &Report, source: &str) -> Option<SourceGap> {
    let s = report.sources.iter().find(|s| s.name == source)?;
    let (side, within) = report.comparisons.iter().find_map(|c| {
        if c.baseline == source {
            Some((&c.totals.baseline, c))
        } else if c.reference == source {
            Some((&c.totals.reference, c))
        } else {
            None
        }
    })?;
    Some(SourceGap {
        source: source.to_string(),
        sources_cost: s.cost,
        bridge_cost: side.cost,
        comparison: format!("{} → {}", within.baseline, within.reference),
        cost: s.cost - side.cost,
        tokens: s.tokens.total() - side.tokens.total(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn footed_steps_add_up_to_the_displayed_total() {
        // The case: exact steps rounded one by one show 25.74 against a 25.73 total.
        let base = dec!(30.5551);
        let steps = [
            dec!(1.0549),
            dec!(7.6049),
            dec!(-10.2851),
            dec!(0.0049),
            dec!(1.8000),
        ];
        let reference = base + steps.iter().copied().sum::<Decimal>();
        let f = foot(base, &steps, reference, 2);
        assert_eq!(f.baseline, dec!(30.56));
        assert_eq!(reference, dec!(30.7347));
        assert_eq!(f.reference, dec!(30.73));
        // Each shown step is its exact value rounded down or up, never further.
        for (shown, exact) in f.steps.iter().zip(steps) {
            assert!((*shown - exact).abs() < dec!(0.01), "{shown} vs {exact}");
        }
        assert_eq!(
            f.baseline + f.steps.iter().copied().sum::<Decimal>(),
            f.reference
        );
        assert!(f.rounding.is_zero());
        // Rounded one by one they would not foot: 30.56 + 1.05 + 7.60 - 10.29 + 0.00 + 1.80 = 30.72.
        let naive: Decimal = steps.iter().map(|s| round(*s, 2)).sum();
        assert_ne!(f.baseline + naive, f.reference);
    }

    #[test]
    fn steps_that_do_not_add_up_get_a_rounding_line() {
        let f = foot(dec!(1), &[dec!(0.5)], dec!(2), 2);
        assert_eq!(f.steps, vec![dec!(0.50)]);
        assert_eq!(f.rounding, dec!(0.50));
    }

    #[test]
    fn precision_keeps_small_amounts_visible() {
        assert_eq!(precision(&[dec!(25.73), dec!(0.02)]), 2);
        // An 11,000-token bill on a $0.40 / 1M model: $0.0044.
        assert_eq!(precision(&[dec!(0.0044)]), 3);
        assert_eq!(money_dp(dec!(0.0044), 3), "0.004");
        assert_eq!(precision(&[dec!(0.0002), dec!(12)]), 4);
        assert_eq!(money_dp(dec!(0.0002), 4), "0.0002");
        assert_eq!(precision(&[dec!(0.00000001)]), 6);
        assert_eq!(money_dp(dec!(0.00000001), 6), "<0.000001");
        assert_eq!(money_dp(dec!(-0.00000001), 6), "-<0.000001");
        assert_eq!(money_dp(dec!(-1234567.125), 2), "-1,234,567.13");
        assert_eq!(money_dp(Decimal::ZERO, 2), "0.00");
        assert_eq!(signed_money_dp(dec!(0.3), 2), "+0.30");
    }

    #[test]
    fn windows_read_in_the_report_zone() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let sh = chrono_tz::Asia::Shanghai;
        assert_eq!(
            window_label(t("2026-09-30T16:00:00Z"), t("2026-10-31T16:00:00Z"), sh),
            "October 2026, Asia/Shanghai"
        );
        assert_eq!(
            window_label(t("2026-10-04T16:00:00Z"), t("2026-10-05T16:00:00Z"), sh),
            "2026-10-05, Asia/Shanghai"
        );
        assert_eq!(
            window_label(
                t("2026-10-01T00:00:00Z"),
                t("2026-10-16T00:00:00Z"),
                chrono_tz::UTC
            ),
            "2026-10-01 – 2026-10-15, UTC"
        );
        assert_eq!(
            window_label(t("2026-10-01T00:00:00Z"), t("2026-10-02T00:00:00Z"), sh),
            "2026-10-01 08:00 – 2026-10-02 08:00, Asia/Shanghai"
        );
        assert_eq!(group_label(t("2026-09-30T16:00:00Z"), "1mo", sh), "2026-10");
        assert_eq!(
            group_label(t("2026-10-11T16:00:00Z"), "1d", sh),
            "2026-10-12"
        );
        // A UTC bill day seen from Shanghai starts at 08:00.
        assert_eq!(
            group_label(t("2026-10-12T00:00:00Z"), "1d", sh),
            "2026-10-12 08:00"
        );
    }

    #[test]
    fn wrapping_never_splits_a_timestamp() {
        let text = "note: dify → langfuse: 162 baseline records fall outside 2026-09-30T16:00:00+00:00 … 2026-10-31T16:00:00+00:00";
        for line in wrap(text, 60, "") {
            assert!(!line.ends_with('-'), "{line:?}");
        }
        assert!(
            wrap(text, 60, "")
                .iter()
                .any(|l| l.contains("2026-09-30T16:00:00+00:00"))
        );
    }
}
