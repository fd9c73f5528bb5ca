//! What a bill's lines say about the comparisons they frame — the span of their buckets, their
//! grid, the clouds they serve, the keys and projects they name — gathered in a first read, so
//! the lines themselves are never held: a bill of any length is read twice in flat memory.

use super::route::Route;
use super::window::{Grid, Span};
use crate::record::UsageRecord;
use crate::source::System;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct Frame {
    /// Distinct bucket extents and how many lines each has: a month of hourly lines is 744.
    buckets: BTreeMap<(DateTime<Utc>, DateTime<Utc>), usize>,
    served: BTreeSet<&'static str>,
    pub keys: BTreeSet<String>,
    pub projects: BTreeSet<String>,
    /// The earliest start and latest end of any record.
    extent: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Frame {
    pub fn add(&mut self, r: &UsageRecord) {
        if r.is_bucket() {
            *self.buckets.entry((r.start, r.end)).or_default() += 1;
        }
        if !r.serving.is_empty() {
            self.served.insert(r.serving);
        }
        for (set, v) in [
            (&mut self.keys, &r.scope.api_key),
            (&mut self.projects, &r.scope.project),
        ] {
            if let Some(v) = v
                && !set.contains(v)
            {
                set.insert(v.clone());
            }
        }
        self.extent = Some(self.extent.map_or((r.start, r.end), |(lo, hi)| {
            (lo.min(r.start), hi.max(r.end))
        }));
    }

    /// Adds what another part of the same source's read saw.
    pub fn merge(&mut self, o: Frame) {
        for (span, n) in o.buckets {
            *self.buckets.entry(span).or_default() += n;
        }
        self.served.extend(o.served);
        self.keys.extend(o.keys);
        self.projects.extend(o.projects);
        self.extent = match (self.extent, o.extent) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
    }

    /// The hull of the bucket lines.
    pub fn bucket_hull(&self) -> Option<Span> {
        let start = self.buckets.keys().map(|(s, _)| *s).min()?;
        let end = self.buckets.keys().map(|(_, e)| *e).max()?;
        Some(Span { start, end })
    }

    /// The earliest start and latest end of any record (calls or lines).
    pub fn extent(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.extent
    }

    pub fn grid(&self) -> Option<Grid> {
        Grid::infer_counted(self.buckets.iter().map(|(&span, &n)| (span, n)))
    }

    /// The window widened to the whole buckets that overlap it.
    pub fn span_around(&self, window: Span) -> Span {
        self.buckets
            .keys()
            .filter(|(s, e)| window.overlaps(*s, *e))
            .fold(window, |w, &(start, end)| w.hull(&Span { start, end }))
    }

    pub fn route(&self, system: System) -> Route {
        Route::of_served(system, self.served.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Origin;
    use chrono::TimeZone;

    fn line(day: u32, hours: i64, key: &str) -> UsageRecord {
        let start = Utc.with_ymd_and_hms(2026, 10, day, 0, 0, 0).unwrap();
        let mut r = UsageRecord::call(
            format!("l{day}-{hours}"),
            Origin { file: 0, line: 1 },
            start,
        );
        r.end = start + chrono::Duration::hours(hours);
        r.scope.api_key = Some(key.into());
        r
    }

    #[test]
    fn a_frame_is_what_the_held_lines_gave() {
        let mut f = Frame::default();
        // Three daily lines (two on Oct 2) and one 2-day line: the grid is the daily one.
        for r in [
            line(1, 24, "k1"),
            line(2, 24, "k1"),
            line(2, 24, "k2"),
            line(5, 48, "k1"),
        ] {
            f.add(&r);
        }
        let at = |d: u32| Utc.with_ymd_and_hms(2026, 10, d, 0, 0, 0).unwrap();
        assert_eq!(
            f.bucket_hull(),
            Some(Span {
                start: at(1),
                end: at(7)
            })
        );
        let g = f.grid().unwrap();
        assert_eq!((g.origin, g.width), (at(1), chrono::Duration::days(1)));
        // A window from Oct 2 12:00 to Oct 6 widens to the buckets it touches: Oct 2 … Oct 7.
        let w = Span {
            start: at(2) + chrono::Duration::hours(12),
            end: at(6),
        };
        assert_eq!(
            f.span_around(w),
            Span {
                start: at(2),
                end: at(7)
            }
        );
        assert_eq!(
            f.keys.iter().map(String::as_str).collect::<Vec<_>>(),
            ["k1", "k2"]
        );
        assert_eq!(f.extent(), Some((at(1), at(7))));
    }
}
