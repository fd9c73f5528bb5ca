//! Dated exchange rates, so money in one currency can be stated in another at a given time.
//!
//! A rate file is CSV: `#` comment lines, among them `# base: EUR` (required), `# source: …`
//! and optionally `# max_age_days: N`; then a header `date,USD,JPY,…` and one row per
//! publication day `YYYY-MM-DD,1.1172,175.68,…`, each value being units of that currency per one
//! unit of the base (an empty cell: no rate that day). The bundled file is the European Central
//! Bank's euro reference rates (`pricing/fx/ecb-eurofxref.csv`, provenance in
//! `pricing/README.md`).
//!
//! The rate in force at an instant is the latest row published on or before that instant's UTC
//! day that quotes both currencies, so a weekend or holiday uses the last business day's rate.
//! A row older than the file's `max_age_days` (default 7) is stale: no rate. Both legs of a cross
//! rate come from the same row (CNY→USD via EUR = USD per EUR ÷ CNY per EUR). User files are
//! consulted before the bundled table, the last loaded first; the first file that can answer a
//! query answers it, so user rates override the bundled ones where they cover and extend them
//! elsewhere.

use crate::record::Currency;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::path::Path;
use std::str::FromStr;

const BUNDLED_FILE: &str = "pricing/fx/ecb-eurofxref.csv";
const BUNDLED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/pricing/fx/ecb-eurofxref.csv"
));

/// Default staleness limit: a rate older than this many days is not used.
pub const DEFAULT_MAX_AGE_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum FxError {
    #[error("{path}: cannot read exchange rates: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Syntax {
        file: String,
        line: usize,
        message: String,
    },
}

/// One rate with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRate {
    pub from: Currency,
    pub to: Currency,
    /// Units of `to` per one unit of `from`.
    pub rate: Decimal,
    /// Publication day of the row used (`None` for a currency to itself).
    pub date: Option<NaiveDate>,
    /// The file's `# source:` line (or its name).
    pub source: String,
    pub file: String,
    /// The file's base currency, and its published values for `from` and `to` on that day
    /// (units per one base; the base itself is 1).
    pub base: Currency,
    pub from_per_base: Decimal,
    pub to_per_base: Decimal,
}

impl FxRate {
    /// `1 CNY = 0.15031… USD (ECB …, 2026-10-30: 1 EUR = 1.1172 USD, 1 EUR = 7.4326 CNY)`.
    pub fn explain(&self) -> String {
        let Some(date) = self.date else {
            return format!("1 {} = 1 {} (same currency)", self.from, self.to);
        };
        let mut legs = Vec::new();
        for (c, v) in [(self.to, self.to_per_base), (self.from, self.from_per_base)] {
            if c != self.base {
                legs.push(format!("1 {} = {} {c}", self.base, v.normalize()));
            }
        }
        format!(
            "1 {} = {} {} ({}, {date}: {})",
            self.from,
            self.rate.normalize(),
            self.to,
            self.source,
            legs.join(", ")
        )
    }
}

/// One rate file.
#[derive(Clone, Debug)]
struct Series {
    file: String,
    source: String,
    base: Currency,
    max_age_days: i64,
    quotes: Vec<Currency>,
    /// Sorted by date, one row per date.
    rows: Vec<(NaiveDate, Vec<Option<Decimal>>)>,
}

impl Series {
    /// Units of `c` per one base in `row`.
    fn value(&self, row: &[Option<Decimal>], c: Currency) -> Option<Decimal> {
        if c == self.base {
            return Some(Decimal::ONE);
        }
        let i = self.quotes.iter().position(|&q| q == c)?;
        row.get(i).copied().flatten()
    }

    fn knows(&self, c: Currency) -> bool {
        c == self.base || self.quotes.contains(&c)
    }

    fn rate(&self, from: Currency, to: Currency, day: NaiveDate) -> Option<FxRate> {
        if !self.knows(from) || !self.knows(to) {
            return None;
        }
        let end = self.rows.partition_point(|(d, _)| *d <= day);
        for (date, row) in self.rows[..end].iter().rev() {
            if (day - *date).num_days() > self.max_age_days {
                return None;
            }
            if let (Some(f), Some(t)) = (self.value(row, from), self.value(row, to)) {
                // Values are validated positive when read.
                let rate = t.checked_div(f)?;
                return Some(FxRate {
                    from,
                    to,
                    rate,
                    date: Some(*date),
                    source: self.source.clone(),
                    file: self.file.clone(),
                    base: self.base,
                    from_per_base: f,
                    to_per_base: t,
                });
            }
        }
        None
    }
}

/// Exchange-rate tables: user files first, then the bundled ECB rates.
#[derive(Clone, Debug, Default)]
pub struct FxTable {
    /// In the order consulted.
    series: Vec<Series>,
}

impl FxTable {
    /// The bundled ECB euro reference rates.
    pub fn bundled() -> Result<FxTable, FxError> {
        FxTable::from_csv_str(BUNDLED_FILE, BUNDLED)
    }

    /// A table of one rate file's text (format in the module docs).
    pub fn from_csv_str(file: &str, text: &str) -> Result<FxTable, FxError> {
        Ok(FxTable {
            series: vec![parse(file, text)?],
        })
    }

    /// Adds a user rate file in front: its rates override the ones already loaded where it
    /// can answer.
    pub fn load_file(&mut self, path: &Path) -> Result<(), FxError> {
        let text = std::fs::read_to_string(path).map_err(|source| FxError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.push_front(FxTable::from_csv_str(&path.display().to_string(), &text)?);
        Ok(())
    }

    /// Puts `other`'s files in front of this table's.
    pub fn push_front(&mut self, other: FxTable) {
        let mut series = other.series;
        series.append(&mut self.series);
        self.series = series;
    }

    /// Units of `to` per one `from` in force at `at`: the latest rate published on or before
    /// `at`'s UTC day, if not older than the file's staleness limit. `None` when no file quotes
    /// both currencies then (before a table starts, after it ends plus the limit, or a
    /// currency it does not quote).
    pub fn rate(&self, from: Currency, to: Currency, at: DateTime<Utc>) -> Option<Decimal> {
        self.rate_info(from, to, at).map(|r| r.rate)
    }

    /// The rate with its day, source and the published values it was derived from.
    pub fn rate_info(&self, from: Currency, to: Currency, at: DateTime<Utc>) -> Option<FxRate> {
        if from == to {
            return Some(FxRate {
                from,
                to,
                rate: Decimal::ONE,
                date: None,
                source: "same currency".into(),
                file: String::new(),
                base: from,
                from_per_base: Decimal::ONE,
                to_per_base: Decimal::ONE,
            });
        }
        let day = at.date_naive();
        self.series.iter().find_map(|s| s.rate(from, to, day))
    }

    /// `amount` in `from` stated in `to` at `at`: exact product with the rate, not rounded.
    pub fn convert(
        &self,
        amount: Decimal,
        from: Currency,
        to: Currency,
        at: DateTime<Utc>,
    ) -> Option<Decimal> {
        self.rate(from, to, at).and_then(|r| amount.checked_mul(r))
    }

    /// Every currency some file quotes, sorted.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut v: Vec<Currency> = self
            .series
            .iter()
            .flat_map(|s| std::iter::once(s.base).chain(s.quotes.iter().copied()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Per file, in the order consulted: (file, source, base, first day, last day, currencies).
    pub fn files(&self) -> Vec<(String, String, Currency, NaiveDate, NaiveDate, usize)> {
        self.series
            .iter()
            .filter_map(|s| {
                let first = s.rows.first()?.0;
                let last = s.rows.last()?.0;
                Some((
                    s.file.clone(),
                    s.source.clone(),
                    s.base,
                    first,
                    last,
                    s.quotes.len(),
                ))
            })
            .collect()
    }

    /// The latest publication day in any file.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.series
            .iter()
            .filter_map(|s| s.rows.last())
            .map(|r| r.0)
            .max()
    }
}

fn parse(file: &str, text: &str) -> Result<Series, FxError> {
    let err = |line: usize, message: String| FxError::Syntax {
        file: file.to_string(),
        line,
        message,
    };
    let mut base = None;
    let mut source = None;
    let mut max_age_days = DEFAULT_MAX_AGE_DAYS;
    let mut quotes: Option<Vec<Currency>> = None;
    let mut rows: Vec<(NaiveDate, Vec<Option<Decimal>>)> = Vec::new();
    let mut seen: std::collections::HashMap<NaiveDate, usize> = std::collections::HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if let Some(v) = c.strip_prefix("base:") {
                base = Some(Currency::parse(v).ok_or_else(|| {
                    err(
                        n,
                        format!(
                            "base: expected a currency code like EUR, got '{}'",
                            v.trim()
                        ),
                    )
                })?);
            } else if let Some(v) = c.strip_prefix("source:") {
                source = Some(v.trim().to_string());
            } else if let Some(v) = c.strip_prefix("max_age_days:") {
                max_age_days = v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|d| (0..=366).contains(d))
                    .ok_or_else(|| {
                        err(
                            n,
                            format!(
                                "max_age_days: expected a number of days 0..366, got '{}'",
                                v.trim()
                            ),
                        )
                    })?;
            }
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let Some(q) = &quotes else {
            if !cells[0].eq_ignore_ascii_case("date") || cells.len() < 2 {
                return Err(err(
                    n,
                    format!("expected a header 'date,<CUR>,<CUR>,…', got '{line}'"),
                ));
            }
            let mut list = Vec::new();
            for c in &cells[1..] {
                // ECB's own file ends each line with a comma.
                if c.is_empty() {
                    continue;
                }
                let cur = Currency::parse(c).ok_or_else(|| {
                    err(n, format!("header: expected a currency code, got '{c}'"))
                })?;
                if list.contains(&cur) {
                    return Err(err(n, format!("header: {cur} appears twice")));
                }
                list.push(cur);
            }
            quotes = Some(list);
            continue;
        };
        let date = NaiveDate::parse_from_str(cells[0], "%Y-%m-%d")
            .map_err(|_| err(n, format!("date: expected YYYY-MM-DD, got '{}'", cells[0])))?;
        if let Some(first) = seen.insert(date, n) {
            return Err(err(
                n,
                format!("a second row for {date} (the first is line {first})"),
            ));
        }
        let mut values = Vec::with_capacity(q.len());
        for (k, cur) in q.iter().enumerate() {
            let cell = cells.get(k + 1).copied().unwrap_or("");
            if cell.is_empty() || cell.eq_ignore_ascii_case("N/A") {
                values.push(None);
                continue;
            }
            let v = Decimal::from_str(cell)
                .ok()
                .filter(rate_in_range)
                .ok_or_else(|| {
                    err(
                        n,
                        format!(
                            "{cur}: expected a positive rate like 1.1172, from {MIN_RATE} to \
                             {MAX_RATE} (a cross rate of two quotes stays exact and non-zero), got '{cell}'"
                        ),
                    )
                })?;
            values.push(Some(v));
        }
        if cells.len() > q.len() + 1 && cells[q.len() + 1..].iter().any(|c| !c.is_empty()) {
            return Err(err(
                n,
                format!(
                    "{} values for {} currencies in the header",
                    cells.len() - 1,
                    q.len()
                ),
            ));
        }
        rows.push((date, values));
    }
    let base = base.ok_or_else(|| {
        err(
            1,
            "expected a '# base: <CUR>' line naming the currency rates are quoted against".into(),
        )
    })?;
    let quotes = quotes.ok_or_else(|| err(1, "expected a header 'date,<CUR>,…'".into()))?;
    if quotes.contains(&base) {
        return Err(err(
            1,
            format!("the header quotes the base currency {base}"),
        ));
    }
    rows.sort_by_key(|r| r.0);
    Ok(Series {
        file: file.to_string(),
        source: source.unwrap_or_else(|| file.to_string()),
        base,
        max_age_days,
        quotes,
        rows,
    })
}

/// The range of a quoted rate (units of a currency per unit of the base). Every real quote lies
/// far inside it; bounding it keeps a cross rate (quote / quote, at least 1e-12) from rounding
/// to 0 and an amount times a rate (amounts are at most 1e15) from overflowing a `Decimal`.
pub const MIN_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 6);
pub const MAX_RATE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Whether a quoted or book rate lies in [`MIN_RATE`, `MAX_RATE`].
pub fn rate_in_range(v: &Decimal) -> bool {
    (MIN_RATE..=MAX_RATE).contains(v)
}
