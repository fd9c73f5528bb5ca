//! Time windows: the report window, the reference's bucket grid, and display buckets in `--tz`.
//!
//! Instants are UTC throughout; the time zone only decides where days and months begin.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Display bucket size (`--bucket`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketSize {
    Hour,
    Day,
    Month,
}

impl BucketSize {
    pub fn parse(s: &str) -> Option<BucketSize> {
        match s {
            "1h" | "hour" => Some(BucketSize::Hour),
            "1d" | "day" => Some(BucketSize::Day),
            "1mo" | "month" => Some(BucketSize::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BucketSize::Hour => "1h",
            BucketSize::Day => "1d",
            BucketSize::Month => "1mo",
        }
    }

    /// Nominal length, to compare with a bill's bucket width.
    pub fn nominal(self) -> Duration {
        match self {
            BucketSize::Hour => Duration::hours(1),
            BucketSize::Day => Duration::days(1),
            BucketSize::Month => Duration::days(28),
        }
    }
}

/// Display buckets in a time zone.
#[derive(Clone, Copy, Debug)]
pub struct Calendar {
    pub tz: Tz,
    pub bucket: BucketSize,
}

impl Calendar {
    /// Start (UTC) of the display bucket that contains `t`.
    pub fn floor(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let local = t.with_timezone(&self.tz);
        match self.bucket {
            BucketSize::Hour => {
                // Floor in local time so zones with :30/:45 offsets get local hours.
                let l = local
                    .with_minute(0)
                    .and_then(|l| l.with_second(0))
                    .and_then(|l| l.with_nanosecond(0));
                l.map(|l| l.with_timezone(&Utc)).unwrap_or(t)
            }
            BucketSize::Day => local_midnight(self.tz, local.date_naive()).unwrap_or(t),
            BucketSize::Month => {
                let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1);
                first.and_then(|d| local_midnight(self.tz, d)).unwrap_or(t)
            }
        }
    }
}

/// [`Calendar::floor`] kept per UTC hour: a month of calls falls into a few hundred hours, in
/// any order, and an hour's calls share their bucket unless a bucket starts inside that hour
/// (a :30 zone's midnight), which is checked once per hour (the floor is monotonic: an hour
/// whose first and last instants floor alike floors alike throughout). Such hours, and hours
/// past the bound, are answered by the calendar itself.
#[derive(Clone, Debug, Default)]
pub struct FloorMemo(rustc_hash::FxHashMap<i64, Option<DateTime<Utc>>>);

impl FloorMemo {
    const KEPT: usize = 1 << 16;

    pub fn floor(&mut self, cal: &Calendar, t: DateTime<Utc>) -> DateTime<Utc> {
        let hour = t.timestamp().div_euclid(3600);
        if let Some(known) = self.0.get(&hour) {
            return known.unwrap_or_else(|| cal.floor(t));
        }
        let whole = DateTime::from_timestamp(hour * 3600, 0).and_then(|first| {
            let last = first.checked_add_signed(Duration::hours(1) - Duration::microseconds(1))?;
            let start = cal.floor(first);
            (cal.floor(last) == start).then_some(start)
        });
        if self.0.len() < Self::KEPT {
            self.0.insert(hour, whole);
        }
        whole.unwrap_or_else(|| cal.floor(t))
    }
}

/// Midnight of a local date as a UTC instant (the earliest one where DST makes it ambiguous,
/// the first valid instant where a DST gap skips midnight).
pub fn local_midnight(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(0, 0, 0)?;
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        chrono::LocalResult::None => (1..=3)
            .filter_map(|h| date.and_hms_opt(h, 0, 0))
            .find_map(|n| tz.from_local_datetime(&n).earliest())
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// Parses `--from` / `--to`: a date `YYYY-MM-DD` (midnight in `tz`) or an RFC 3339 instant.
pub fn parse_bound(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    local_midnight(tz, d)
}

/// A half-open interval `[start, end)` of instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    /// Every instant: the frame of a comparison whose window is not known until its
    /// reference has streamed.
    pub const UNBOUNDED: Span = Span {
        start: DateTime::<Utc>::MIN_UTC,
        end: DateTime::<Utc>::MAX_UTC,
    };

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        start < self.end && end > self.start
    }
    pub fn hull(&self, other: &Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A bill's regular bucket grid: buckets of `width` starting at `origin + k·width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    pub origin: DateTime<Utc>,
    pub width: Duration,
}

impl Grid {
    /// The grid of a set of bucket spans: the most common width, anchored at the earliest start.
    /// `None` when there are no buckets.
    pub fn infer<I: IntoIterator<Item = (DateTime<Utc>, DateTime<Utc>)>>(spans: I) -> Option<Grid> {
        Grid::infer_counted(spans.into_iter().map(|s| (s, 1)))
    }

    /// [`Grid::infer`] of spans given with how many buckets have each.
    pub fn infer_counted<I: IntoIterator<Item = ((DateTime<Utc>, DateTime<Utc>), usize)>>(
        spans: I,
    ) -> Option<Grid> {
        let mut widths: std::collections::HashMap<i64, usize> = Default::default();
        let mut origin: Option<DateTime<Utc>> = None;
        for ((s, e), n) in spans {
            let w = (e - s).num_seconds();
            if w <= 0 {
                continue;
            }
            *widths.entry(w).or_default() += n;
            origin = Some(origin.map_or(s, |o| o.min(s)));
        }
        // Ties go to the wider bucket: a 1d costs page beside 1d usage pages must not be split.
        let width = widths
            .into_iter()
            .max_by_key(|&(w, n)| (n, w))
            .map(|(w, _)| w)?;
        Some(Grid {
            origin: origin?,
            width: Duration::seconds(width),
        })
    }

    /// Start of the grid bucket containing `t`.
    pub fn floor(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let w = self.width.num_seconds().max(1);
        let k = (t - self.origin).num_seconds().div_euclid(w);
        self.origin + Duration::seconds(k * w)
    }
}

/// Names the bucket width of a grid the way the report does.
pub fn width_name(width: Duration) -> String {
    let s = width.num_seconds();
    match s {
        60 => "1m".into(),
        3600 => "1h".into(),
        86400 => "1d".into(),
        _ if s % 86400 == 0 => format!("{}d", s / 86400),
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo answers as `Calendar::floor` does, through DST days of 23 and 25 hours, a zone
    /// with a :45 offset and its 30-minute DST shift (Lord Howe), and times out of order.
    #[test]
    fn the_floor_memo_is_the_floor() {
        for (zone, bucket) in [
            ("Europe/Berlin", BucketSize::Day),
            ("Europe/Berlin", BucketSize::Hour),
            ("Australia/Lord_Howe", BucketSize::Hour),
            ("Australia/Lord_Howe", BucketSize::Day),
            ("Asia/Kathmandu", BucketSize::Day),
            ("America/Sao_Paulo", BucketSize::Month),
            ("Pacific/Apia", BucketSize::Day),
        ] {
            let cal = Calendar {
                tz: zone.parse().unwrap(),
                bucket,
            };
            let mut memo = FloorMemo::default();
            let start = Utc.with_ymd_and_hms(2011, 3, 20, 0, 0, 0).unwrap();
            // Every 7 minutes over a year, then a few steps back in time.
            let mut t = start;
            for i in 0..80_000 {
                assert_eq!(memo.floor(&cal, t), cal.floor(t), "{zone} {t}");
                t += if i % 1000 == 999 {
                    Duration::hours(-30)
                } else {
                    Duration::minutes(7)
                };
            }
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn day_and_month_floors_follow_the_time_zone() {
        let shanghai = Calendar {
            tz: chrono_tz::Asia::Shanghai,
            bucket: BucketSize::Day,
        };
        // 2026-10-05T17:00Z is 2026-10-06 01:00 in Shanghai: its day starts 2026-10-05T16:00Z.
        assert_eq!(
            shanghai.floor(utc("2026-10-05T17:00:00Z")),
            utc("2026-10-05T16:00:00Z")
        );
        let month = Calendar {
            tz: chrono_tz::Asia::Shanghai,
            bucket: BucketSize::Month,
        };
        assert_eq!(
            month.floor(utc("2026-09-30T16:30:00Z")),
            utc("2026-09-30T16:00:00Z")
        );
        let kolkata = Calendar {
            tz: chrono_tz::Asia::Kolkata,
            bucket: BucketSize::Hour,
        };
        // UTC+5:30: local hours start at :30 UTC.
        assert_eq!(
            kolkata.floor(utc("2026-10-05T10:10:00Z")),
            utc("2026-10-05T09:30:00Z")
        );
    }

    #[test]
    fn bounds_are_local_midnights() {
        assert_eq!(
            parse_bound("2026-10-01", chrono_tz::Asia::Shanghai),
            Some(utc("2026-09-30T16:00:00Z"))
        );
        assert_eq!(
            parse_bound("2026-10-01T00:00:00Z", chrono_tz::Asia::Shanghai),
            Some(utc("2026-10-01T00:00:00Z"))
        );
        // New York DST ends 2026-11-01: midnight is still EDT (UTC-4).
        assert_eq!(
            parse_bound("2026-11-01", chrono_tz::America::New_York),
            Some(utc("2026-11-01T04:00:00Z"))
        );
        assert_eq!(parse_bound("10/01/2026", chrono_tz::UTC), None);
    }

    #[test]
    fn grid_is_inferred_from_bill_buckets_and_floors_any_instant() {
        let d = |s| utc(s);
        let g = Grid::infer([
            (d("2026-10-02T00:00:00Z"), d("2026-10-03T00:00:00Z")),
            (d("2026-09-30T00:00:00Z"), d("2026-10-01T00:00:00Z")),
        ])
        .unwrap();
        assert_eq!(g.width, Duration::days(1));
        assert_eq!(
            g.floor(d("2026-10-01T23:59:59Z")),
            d("2026-10-01T00:00:00Z")
        );
        assert_eq!(
            g.floor(d("2026-09-29T12:00:00Z")),
            d("2026-09-29T00:00:00Z")
        );
        assert_eq!(width_name(g.width), "1d");
    }
}
