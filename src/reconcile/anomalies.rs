//! Days whose calls look unlike the app's own recent days: tokens per call or cost per call far
//! from their trailing baseline (a debug mode left on, a crawler, an attack).
//!
//! The rule, per app and metric: the baseline of a day is the median of the metric over the
//! [`TRAILING_DAYS`] days before it that have at least [`MIN_CALLS`] calls (at least
//! [`MIN_BASELINE_DAYS`] of them, else the day is not judged), and its spread the median
//! absolute deviation (MAD) of those days. A day with at least [`MIN_CALLS`] calls is flagged
//! when it is more than [`K`] MADs from the median **and** differs from it by at least
//! [`MIN_CHANGE_PCT`] percent: the MAD alone would flag any wobble of a very steady app.

use crate::record::UsageRecord;
use crate::report::model as m;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// A metric's name, the day's value (none when it cannot be judged) and the trailing days'.
type Metric = (&'static str, Option<Decimal>, Vec<Option<Decimal>>);

pub const TRAILING_DAYS: usize = 7;
pub const MIN_BASELINE_DAYS: usize = 5;
pub const MIN_CALLS: u64 = 5;
pub const K: u32 = 5;
pub const MIN_CHANGE_PCT: u32 = 50;

pub fn rule() -> String {
    format!(
        "per app and day (in the report's zone): tokens per call and cost per call against the median of the {TRAILING_DAYS} days before it that have at least {MIN_CALLS} calls (at least {MIN_BASELINE_DAYS} such days, else the day is not judged); flagged when more than {K} median absolute deviations from that median and at least {MIN_CHANGE_PCT}% away from it, on a day with at least {MIN_CALLS} calls. Calls are the app's own calls with usage, in the window; rows that repeat others' usage are left out."
    )
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Day {
    pub calls: u64,
    pub tokens: i64,
    pub money: Decimal,
    /// Calls without a price: their day's cost per call is not judged.
    pub unpriced: u64,
}

/// The app source's calls per app and day.
#[derive(Clone, Debug, Default)]
pub struct Daily(FxHashMap<String, BTreeMap<DateTime<Utc>, Day>>);

impl Daily {
    pub fn add(&mut self, day: DateTime<Utc>, r: &UsageRecord, money: Option<Decimal>) {
        let app = r.scope.app.as_deref().unwrap_or("");
        let days = match self.0.get_mut(app) {
            Some(d) => d,
            None => self.0.entry(app.to_string()).or_default(),
        };
        let d = days.entry(day).or_default();
        d.calls += 1;
        d.tokens += r.usage.total();
        match money {
            Some(x) => d.money += x,
            None => d.unpriced += 1,
        }
    }

    pub fn merge(&mut self, o: Daily) {
        for (app, days) in o.0 {
            let mine = self.0.entry(app).or_default();
            for (day, d) in days {
                let x = mine.entry(day).or_default();
                x.calls += d.calls;
                x.tokens += d.tokens;
                x.money += d.money;
                x.unpriced += d.unpriced;
            }
        }
    }
}

fn median(sorted: &[Decimal]) -> Decimal {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / Decimal::TWO
    }
}

/// Median and median absolute deviation of `xs`.
pub fn median_mad(xs: &[Decimal]) -> (Decimal, Decimal) {
    let mut v = xs.to_vec();
    v.sort();
    let med = median(&v);
    let mut dev: Vec<Decimal> = v.iter().map(|x| (*x - med).abs()).collect();
    dev.sort();
    (med, median(&dev))
}

/// The verdict on one value against its trailing values: `Some(change in percent)` when it is
/// an anomaly.
pub fn judge(value: Decimal, trailing: &[Decimal]) -> Option<(Decimal, Decimal, f64)> {
    if trailing.len() < MIN_BASELINE_DAYS {
        return None;
    }
    let (med, mad) = median_mad(trailing);
    if med.is_zero() {
        return None;
    }
    let dev = (value - med).abs();
    let change = (value - med) / med * Decimal::ONE_HUNDRED;
    let far = dev > mad * Decimal::from(K);
    let large = change.abs() >= Decimal::from(MIN_CHANGE_PCT);
    (far && large).then(|| {
        (
            med,
            mad,
            change.round_dp(2).to_string().parse().unwrap_or(0.0),
        )
    })
}

/// Every flagged day of every app, in (app, day, metric) order.
pub fn find(source: &str, daily: &Daily, tz: chrono_tz::Tz) -> Vec<m::Anomaly> {
    let mut apps: Vec<_> = daily.0.iter().collect();
    apps.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (app, days) in apps {
        let judged: Vec<(&DateTime<Utc>, &Day)> =
            days.iter().filter(|(_, d)| d.calls >= MIN_CALLS).collect();
        for (i, (day, d)) in judged.iter().enumerate() {
            let before = &judged[i.saturating_sub(TRAILING_DAYS)..i];
            // Only days within the trailing week count (a gap shortens the baseline).
            let before: Vec<&(&DateTime<Utc>, &Day)> = before
                .iter()
                .filter(|(t, _)| **day - **t <= chrono::Duration::days(TRAILING_DAYS as i64))
                .collect();
            let calls = Decimal::from(d.calls);
            let metrics: [Metric; 2] = [
                (
                    "tokens_per_call",
                    Some(Decimal::from(d.tokens) / calls),
                    before
                        .iter()
                        .map(|(_, b)| Some(Decimal::from(b.tokens) / Decimal::from(b.calls)))
                        .collect(),
                ),
                (
                    "cost_per_call",
                    (d.unpriced == 0).then(|| d.money / calls),
                    before
                        .iter()
                        .map(|(_, b)| (b.unpriced == 0).then(|| b.money / Decimal::from(b.calls)))
                        .collect(),
                ),
            ];
            for (metric, value, trailing) in metrics {
                let Some(value) = value else { continue };
                let trailing: Vec<Decimal> = trailing.into_iter().flatten().collect();
                if let Some((median, mad, change_pct)) = judge(value, &trailing) {
                    out.push(m::Anomaly {
                        source: source.to_string(),
                        app: app.clone(),
                        day: day.with_timezone(&tz).date_naive().to_string(),
                        day_start: **day,
                        metric,
                        value: value.round_dp(6),
                        baseline_median: median.round_dp(6),
                        baseline_mad: mad.round_dp(6),
                        baseline_days: trailing.len() as u32,
                        change_pct,
                        calls: d.calls,
                        tokens: d.tokens,
                        cost: d.money,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn median_and_mad_by_hand() {
        // Sorted 1000 1010 1020 1030 2000: median 1020; deviations 20 10 0 10 980 → sorted
        // 0 10 10 20 980, MAD 10.
        let xs = [dec!(1000), dec!(2000), dec!(1010), dec!(1030), dec!(1020)];
        assert_eq!(median_mad(&xs), (dec!(1020), dec!(10)));
        // Even count: the mean of the middle two.
        assert_eq!(median_mad(&[dec!(1), dec!(3)]).0, dec!(2));
    }

    #[test]
    fn a_tripled_day_is_flagged_and_a_wobble_is_not() {
        let week = [
            dec!(1000),
            dec!(1010),
            dec!(990),
            dec!(1005),
            dec!(995),
            dec!(1000),
            dec!(1020),
        ];
        // Median 1000, MAD 5 (deviations 0 10 10 5 5 0 20 → 0 0 5 5 10 10 20).
        let (med, mad, pct) = judge(dec!(3000), &week).unwrap();
        assert_eq!((med, mad), (dec!(1000), dec!(5)));
        assert_eq!(pct, 200.0);
        // 1,040 is 8 MADs away but only +4%: not flagged.
        assert!(judge(dec!(1040), &week).is_none());
        // Four days are too few to judge by.
        assert!(judge(dec!(3000), &week[..4]).is_none());
    }
}
