//! `--previous REPORT.json`: the change of each headline figure and bridge step against an
//! earlier run's JSON report (contract `llm-recon/report/v1`).

use super::model::{self as m, Report};
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::Path;
use std::str::FromStr;

/// A report is a few megabytes at most; anything far larger is not one.
pub const MAX_BYTES: u64 = 256 << 20;

/// One comparison's figures as a report states them: (name, unit, amount) in display order.
type Figures = Vec<(String, &'static str, Decimal)>;

/// The comparisons of an earlier report, by `baseline → reference`.
pub struct Earlier {
    pub file: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    comparisons: Vec<(String, Figures, Figures)>,
}

pub fn load(path: &Path) -> Result<Earlier, String> {
    let file = path.display().to_string();
    let err = |what: String| format!("--previous {file}: {what}");
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if meta.len() > MAX_BYTES {
        return Err(err(format!(
            "{} bytes is more than a report ({MAX_BYTES} at most): not an {} report",
            meta.len(),
            m::SCHEMA
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| err(format!("not an {} report: not JSON ({e})", m::SCHEMA)))?;
    match v.get("schema").and_then(Value::as_str) {
        Some(s) if s == m::SCHEMA => {}
        Some(s) => {
            return Err(err(format!(
                "not an {} report (its schema is \"{s}\")",
                m::SCHEMA
            )));
        }
        None => return Err(err(format!("not an {} report (no schema)", m::SCHEMA))),
    }
    let comps = v
        .get("comparisons")
        .and_then(Value::as_array)
        .ok_or_else(|| err("comparisons: expected an array".into()))?;
    let mut comparisons = Vec::with_capacity(comps.len());
    for (i, c) in comps.iter().enumerate() {
        let at = |p: &str| format!("comparisons[{i}].{p}");
        let name = |k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| err(format!("{}: expected a source name", at(k))))
        };
        let label = format!("{} → {}", name("baseline")?, name("reference")?);
        let t = c
            .get("totals")
            .ok_or_else(|| err(format!("{}: missing", at("totals"))))?;
        let money = |v: Option<&Value>, p: &str| {
            v.and_then(Value::as_str)
                .and_then(|s| Decimal::from_str(s).ok())
                .ok_or_else(|| err(format!("{}: expected a decimal string", at(p))))
        };
        let tokens = |v: Option<&Value>, p: &str| {
            v.and_then(Value::as_i64)
                .map(Decimal::from)
                .ok_or_else(|| err(format!("{}: expected a token count", at(p))))
        };
        let mut figures = Vec::new();
        for side in ["baseline", "reference", "variance"] {
            let s = t.get(side);
            figures.push((
                side.to_string(),
                "cost",
                money(
                    s.and_then(|s| s.get("cost")),
                    &format!("totals.{side}.cost"),
                )?,
            ));
            figures.push((
                side.to_string(),
                "tokens",
                tokens(
                    s.and_then(|s| s.get("tokens")).and_then(|t| t.get("total")),
                    &format!("totals.{side}.tokens.total"),
                )?,
            ));
        }
        let mut steps = Vec::new();
        let bridge = t
            .get("bridge")
            .and_then(Value::as_array)
            .ok_or_else(|| err(format!("{}: expected an array", at("totals.bridge"))))?;
        for (j, s) in bridge.iter().enumerate() {
            let p = |k: &str| format!("totals.bridge[{j}].{k}");
            let cause = s
                .get("cause")
                .and_then(Value::as_str)
                .ok_or_else(|| err(format!("{}: expected a cause", at(&p("cause")))))?
                .to_string();
            steps.push((cause.clone(), "cost", money(s.get("cost"), &p("cost"))?));
            steps.push((
                cause,
                "tokens",
                tokens(
                    s.get("tokens").and_then(|t| t.get("total")),
                    &p("tokens.total"),
                )?,
            ));
        }
        comparisons.push((label, figures, steps));
    }
    let window = |k: &str| {
        v.get("window")
            .and_then(|w| w.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(Earlier {
        file,
        window_start: window("start"),
        window_end: window("end"),
        comparisons,
    })
}

fn figures_of(c: &m::ComparisonReport) -> (Figures, Figures) {
    let t = &c.totals;
    let mut figures = Vec::new();
    for (side, cost, tokens) in [
        ("baseline", t.baseline.cost, t.baseline.tokens.total()),
        ("reference", t.reference.cost, t.reference.tokens.total()),
        ("variance", t.variance.cost, t.variance.tokens.total()),
    ] {
        figures.push((side.to_string(), "cost", cost));
        figures.push((side.to_string(), "tokens", Decimal::from(tokens)));
    }
    let steps = t
        .bridge
        .iter()
        .flat_map(|s| {
            [
                (s.cause.to_string(), "cost", s.cost),
                (
                    s.cause.to_string(),
                    "tokens",
                    Decimal::from(s.tokens.total()),
                ),
            ]
        })
        .collect();
    (figures, steps)
}

/// current − previous, and that in percent of |previous| (none when previous is zero).
fn change(name: &str, unit: &'static str, p: Option<Decimal>, c: Option<Decimal>) -> m::Change {
    let status = match (p, c) {
        (Some(_), Some(_)) => "both",
        (None, _) => "new",
        (_, None) => "gone",
    };
    let delta = p.zip(c).map(|(p, c)| c - p);
    let pct = p.zip(delta).and_then(|(p, d)| {
        (!p.is_zero())
            .then(|| d.checked_div(p.abs()))
            .flatten()
            .and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED))
            .and_then(|x| x.round_dp(4).to_string().parse::<f64>().ok())
    });
    m::Change {
        name: name.to_string(),
        unit,
        status,
        previous: p,
        current: c,
        change: delta,
        change_pct: pct,
    }
}

/// Pairs up two lists of (name, unit, amount): the current order, then what only the earlier
/// report has.
fn pair(prev: &Figures, cur: &Figures) -> Vec<m::Change> {
    let find = |list: &Figures, n: &str, u: &str| {
        list.iter()
            .find(|(name, unit, _)| name == n && *unit == u)
            .map(|x| x.2)
    };
    let mut out: Vec<m::Change> = cur
        .iter()
        .map(|(n, u, c)| change(n, u, find(prev, n, u), Some(*c)))
        .collect();
    for (n, u, p) in prev {
        if find(cur, n, u).is_none() {
            out.push(change(n, u, Some(*p), None));
        }
    }
    out
}

pub fn compare(report: &Report, earlier: &Earlier) -> m::Previous {
    let mut comparisons = Vec::new();
    for c in &report.comparisons {
        let label = format!("{} → {}", c.baseline, c.reference);
        let (figures, steps) = figures_of(c);
        let before = earlier.comparisons.iter().find(|(l, _, _)| *l == label);
        let empty = Vec::new();
        let (pf, ps) = before.map(|(_, f, s)| (f, s)).unwrap_or((&empty, &empty));
        comparisons.push(m::ComparisonChange {
            comparison: label,
            status: if before.is_some() { "both" } else { "new" },
            figures: pair(pf, &figures),
            steps: pair(ps, &steps),
        });
    }
    for (label, f, s) in &earlier.comparisons {
        if !comparisons.iter().any(|c| c.comparison == *label) {
            comparisons.push(m::ComparisonChange {
                comparison: label.clone(),
                status: "gone",
                figures: pair(f, &Vec::new()),
                steps: pair(s, &Vec::new()),
            });
        }
    }
    m::Previous {
        file: earlier.file.clone(),
        window_start: earlier.window_start.clone(),
        window_end: earlier.window_end.clone(),
        comparisons,
    }
}
