//! The report laid out for people, once, for every human-readable format (table, markdown,
//! HTML): sections of prose and grids of already formatted cells. Money is footed and shown at
//! a precision that never hides a non-zero amount; times are in the report's zone.

use super::display::{self, money_dp, signed_money_dp};
use super::model::{Comparison, ComparisonReport, Group, Report};
use super::{count, headline, signed_count};
use chrono_tz::Tz;

/// Groups shown per comparison (the JSON report has all).
pub const TOP_GROUPS: usize = 10;
/// Rejected rows listed (the JSON report lists up to its own limit).
pub const REJECTED_SHOWN: usize = 10;

/// A table of formatted cells.
#[derive(Clone, Debug, Default)]
pub struct Grid {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns aligned right (numbers).
    pub right: Vec<usize>,
    /// Rows set apart (the bridge's two ends).
    pub strong: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct BridgeView {
    /// `dify → openai · evidence: langfuse · bill buckets 1d`.
    pub title: String,
    pub table: Grid,
    /// Variance and unexplained in one sentence.
    pub summary: String,
    /// Empty steps by name, each step's note, the attribution.
    pub lines: Vec<String>,
    /// Caption and table of the groups with the largest |variance|.
    pub groups: Option<(String, Grid)>,
}

#[derive(Clone, Debug)]
pub struct View {
    /// `October 2026, Asia/Shanghai`.
    pub window: String,
    /// The window's instants and settings in one line.
    pub settings: String,
    pub currency: String,
    /// One block of sentences per settlement figure.
    pub headlines: Vec<Vec<String>>,
    pub bridges: Vec<BridgeView>,
    pub sources: Grid,
    /// Why Sources figures differ from the bridges', and unpriced volume.
    pub source_lines: Vec<String>,
    pub rejected_total: u64,
    pub rejected: Vec<String>,
    pub notes: Vec<String>,
    /// PASS/FAIL and the failures, when a threshold was given.
    pub verdict: Option<(bool, Vec<String>)>,
    /// With `--teams`: each source's usage by team and each bill's shares.
    pub chargeback: Option<ChargebackView>,
    /// The anomaly rule and the flagged days (none: `None`).
    pub anomalies: (String, Option<Grid>),
    /// With `--previous`: the earlier report, and per comparison its title and changes.
    pub previous: Option<(String, Vec<(String, Grid)>)>,
}

#[derive(Clone, Debug)]
pub struct ChargebackView {
    /// The rule, in words, and the teams file.
    pub rule: String,
    /// `dify (app) by team, USD:` and its table, per source.
    pub sources: Vec<(String, Grid)>,
    /// `openai bill by team …` and its table, and what the lines mean, per bill.
    pub bills: Vec<(String, Grid, Vec<String>)>,
}

pub fn build(r: &Report) -> View {
    let tz = display::zone(r);
    let currency = r.currency.to_string();
    let headlines = headline::build(r)
        .iter()
        .map(|h| {
            let dp = display::precision(
                std::iter::once(&h.settlement_cost).chain(
                    h.against
                        .iter()
                        .flat_map(|a| [&a.cost, &a.variance, &a.explained, &a.unexplained]),
                ),
            );
            headline::lines(h, &currency, &|d| money_dp(d, dp))
        })
        .collect();
    let rejected_total = r.sources.iter().map(|s| s.rows_rejected).sum();
    let v = &r.verdict;
    View {
        window: display::report_window_label(r),
        settings: format!(
            "window {} · buckets {}",
            match (r.window.start, r.window.end) {
                (Some(s), Some(e)) => format!(
                    "[{}, {}) UTC",
                    s.format("%Y-%m-%dT%H:%M:%SZ"),
                    e.format("%Y-%m-%dT%H:%M:%SZ")
                ),
                _ => r.window.shown(|t| t.to_string()),
            },
            r.window.bucket
        ),
        currency: currency.clone(),
        headlines,
        bridges: r
            .comparisons
            .iter()
            .map(|c| bridge(c, &currency, &r.window.bucket, tz))
            .collect(),
        sources: sources(r),
        source_lines: source_lines(r),
        rejected_total,
        rejected: r
            .rejected
            .iter()
            .take(REJECTED_SHOWN)
            .map(|x| format!("{} {}: {}", x.source, x.origin, x.reason))
            .collect(),
        notes: r.notes.clone(),
        chargeback: r.chargeback.as_ref().map(|c| chargeback(c, &currency)),
        anomalies: anomalies(r, &currency),
        previous: r.previous.as_ref().map(|p| previous(p, &currency)),
        verdict: (v.max_variance_pct.is_some()
            || v.max_unexplained_pct.is_some()
            || v.max_anomalies.is_some())
        .then(|| {
            (
                v.pass,
                v.failures.iter().map(|f| f.message.clone()).collect(),
            )
        }),
    }
}

fn strings<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

fn bridge(c: &ComparisonReport, currency: &str, bucket: &str, tz: Tz) -> BridgeView {
    let title = format!(
        "{} → {}{}{}",
        c.baseline,
        c.reference,
        c.evidence
            .as_ref()
            .map(|e| format!(" · evidence: {e}"))
            .unwrap_or_default(),
        c.reference_buckets
            .as_ref()
            .map(|b| format!(" · bill buckets {b}"))
            .unwrap_or_default()
    );
    let t = &c.totals;
    let f = display::foot_comparison(t);
    let mut g = Grid {
        header: strings([
            "step",
            "tokens",
            &format!("cost {currency}"),
            "records",
            "method",
        ]),
        right: vec![1, 2, 3],
        ..Grid::default()
    };
    g.strong.push(g.rows.len());
    g.rows.push(vec![
        format!("{} (baseline)", c.baseline),
        count(t.baseline.tokens.total()),
        money_dp(f.baseline, f.dp),
        count(t.baseline.records as i64),
        String::new(),
    ]);
    // Steps with nothing in them are named under the table instead of taking a row each.
    for (s, shown) in t
        .bridge
        .iter()
        .zip(&f.steps)
        .filter(|(s, _)| !display::is_empty_step(s))
    {
        let last = s.cause == "unexplained";
        g.rows.push(vec![
            s.cause.to_string(),
            signed_count(s.tokens.total()),
            signed_money_dp(*shown, f.dp),
            if last {
                String::new()
            } else {
                count(s.records as i64)
            },
            if last {
                String::new()
            } else {
                s.method.to_string()
            },
        ]);
    }
    if !f.rounding.is_zero() {
        g.rows.push(vec![
            "rounding".to_string(),
            String::new(),
            signed_money_dp(f.rounding, f.dp),
            String::new(),
            String::new(),
        ]);
    }
    g.strong.push(g.rows.len());
    g.rows.push(vec![
        format!("{} (reference)", c.reference),
        count(t.reference.tokens.total()),
        money_dp(f.reference, f.dp),
        count(t.reference.records as i64),
        String::new(),
    ]);
    let summary = format!(
        "variance {} tokens, {} {currency} ({:+.2}% of reference); unexplained {:+.3}%",
        signed_count(t.variance.tokens.total()),
        signed_money_dp(f.reference - f.baseline, f.dp),
        t.variance.pct,
        t.unexplained_pct
    );
    let mut lines = Vec::new();
    let names = |method_is: fn(&str) -> bool| {
        t.bridge
            .iter()
            .filter(|s| display::is_empty_step(s) && method_is(s.method))
            .map(|s| s.cause)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (zero, unmeasured) = (
        names(|m| m != "not_measured"),
        names(|m| m == "not_measured"),
    );
    if !zero.is_empty() {
        lines.push(format!("zero: {zero}"));
    }
    if !unmeasured.is_empty() {
        lines.push(format!(
            "not measured (their evidence is not among the inputs): {unmeasured}"
        ));
    }
    for s in &t.bridge {
        if s.cause != "unexplained" && (s.records > 0 || !s.cost.is_zero()) {
            lines.push(format!("{}: {}", s.cause, s.note));
        }
    }
    for s in &t.bridge {
        if let Some(r) = &s.remedy {
            lines.push(format!("what to do ({}): {r}", s.cause));
        }
    }
    if !c.attribution.unattributed_api_keys.is_empty()
        || !c.attribution.unattributed_projects.is_empty()
    {
        lines.push(format!(
            "attribution ({}): baseline keys [{}] projects [{}]",
            c.attribution.method,
            crate::report::model::listed(&c.attribution.api_keys),
            crate::report::model::listed(&c.attribution.projects)
        ));
    }
    BridgeView {
        title,
        table: g,
        summary,
        lines,
        groups: groups(c, currency, bucket, tz),
    }
}

/// The unexplained step's money of a comparison.
pub fn unexplained(c: &Comparison) -> rust_decimal::Decimal {
    c.bridge
        .iter()
        .find(|s| s.cause == "unexplained")
        .map(|s| s.cost)
        .unwrap_or_default()
}

/// Groups by |variance|, largest first (ties in report order).
pub fn by_variance(c: &ComparisonReport) -> Vec<&Group> {
    let mut gs: Vec<&Group> = c.groups.iter().collect();
    gs.sort_by_key(|g| std::cmp::Reverse(g.comparison.variance.cost.abs()));
    gs
}

fn groups(c: &ComparisonReport, currency: &str, bucket: &str, tz: Tz) -> Option<(String, Grid)> {
    if c.groups.len() <= 1 {
        return None;
    }
    let gs = by_variance(c);
    let shown = &gs[..gs.len().min(TOP_GROUPS)];
    let amounts: Vec<_> = shown
        .iter()
        .flat_map(|g| {
            let c = &g.comparison;
            [
                c.baseline.cost,
                c.reference.cost,
                c.variance.cost,
                unexplained(c),
            ]
        })
        .collect();
    let dp = display::precision(&amounts);
    let mut grid = Grid {
        header: strings([
            &display::group_heading(bucket, tz),
            "model",
            "baseline",
            "reference",
            "variance",
            "unexplained",
        ]),
        right: vec![2, 3, 4, 5],
        ..Grid::default()
    };
    for g in shown {
        let x = &g.comparison;
        grid.rows.push(vec![
            display::group_label(g.key.window_start, bucket, tz),
            if g.key.model.is_empty() {
                "(none)".to_string()
            } else {
                g.key.model.clone()
            },
            money_dp(x.baseline.cost, dp),
            money_dp(x.reference.cost, dp),
            signed_money_dp(x.variance.cost, dp),
            signed_money_dp(unexplained(x), dp),
        ]);
    }
    let caption = format!(
        "groups by |variance| ({} of {}, {currency}; --format json has all):",
        shown.len(),
        gs.len()
    );
    Some((caption, grid))
}

fn sources(r: &Report) -> Grid {
    let mut g = Grid {
        header: strings([
            "source", "role", "rows", "used", "rejected", "requests", "tokens", "cost", "unpriced",
        ]),
        right: vec![2, 3, 4, 5, 6, 7, 8],
        ..Grid::default()
    };
    let dp = display::precision(r.sources.iter().map(|s| &s.cost));
    for s in &r.sources {
        g.rows.push(vec![
            s.name.clone(),
            s.role.to_string(),
            count(s.rows_read as i64),
            count(s.rows_used as i64),
            count(s.rows_rejected as i64),
            count(s.requests as i64),
            count(s.tokens.total()),
            money_dp(s.cost, dp),
            count(s.unpriced_records as i64),
        ]);
    }
    g
}

fn source_lines(r: &Report) -> Vec<String> {
    let mut out = display::source_gap_lines(r);
    for s in &r.sources {
        if s.unpriced_records > 0 {
            out.push(format!(
                "{}: {} unpriced records, {} tokens (models: {})",
                s.name,
                s.unpriced_records,
                count(s.unpriced_tokens.total()),
                s.unpriced_models.join(", ")
            ));
        }
    }
    out
}

/// Amounts at one precision, rounded so that the shown parts add up to the shown total (their
/// exact sum): the parts, then the total.
fn footed(parts: &[rust_decimal::Decimal], dp: u32) -> (Vec<String>, String) {
    let total: rust_decimal::Decimal = parts.iter().copied().sum();
    let f = display::foot(rust_decimal::Decimal::ZERO, parts, total, dp);
    (
        f.steps.iter().map(|x| money_dp(*x, dp)).collect(),
        money_dp(f.reference, dp),
    )
}

fn chargeback(c: &super::model::Chargeback, currency: &str) -> ChargebackView {
    let sources = c
        .sources
        .iter()
        .map(|s| {
            let mut parts: Vec<(&str, &str, &super::model::TeamMeasure)> = s
                .teams
                .iter()
                .map(|t| (t.team.as_str(), t.cost_center.as_str(), &t.measured))
                .collect();
            parts.push(("(unmapped)", "", &s.unmapped));
            let costs: Vec<_> = parts.iter().map(|p| p.2.cost).collect();
            let dp = display::precision(&costs);
            let (shown, total) = footed(&costs, dp);
            let mut g = Grid {
                header: strings(["team", "cost center", "records", "tokens", "cost"]),
                right: vec![2, 3, 4],
                ..Grid::default()
            };
            for ((team, cc, x), cost) in parts.iter().zip(shown) {
                g.rows.push(vec![
                    team.to_string(),
                    cc.to_string(),
                    count(x.records as i64),
                    count(x.tokens.total()),
                    cost,
                ]);
            }
            g.strong.push(g.rows.len());
            g.rows.push(vec![
                "total".to_string(),
                String::new(),
                count(s.total.records as i64),
                count(s.total.tokens.total()),
                total,
            ]);
            (
                format!(
                    "{} ({}) by team, {currency}, in the window",
                    s.source, s.role
                ),
                g,
            )
        })
        .collect();
    let bills = c
        .bills
        .iter()
        .map(|b| {
            let label = |l: &super::model::BillShare| match l.kind {
                "team" => l.team.clone().unwrap_or_default(),
                k => format!("({k})"),
            };
            let measured: Vec<_> = b.lines.iter().map(|l| l.measured.cost).collect();
            let direct: Vec<_> = b.lines.iter().map(|l| l.billed_directly.cost).collect();
            let allocated: Vec<_> = b.lines.iter().map(|l| l.allocated).collect();
            let dp = display::precision(measured.iter().chain(&direct).chain(&allocated));
            let (m_shown, m_total) = footed(&measured, dp);
            let (d_shown, d_total) = footed(&direct, dp);
            let (a_shown, a_total) = footed(&allocated, dp);
            let share_dp = b.minor_unit;
            let mut g = Grid {
                header: strings([
                    "line",
                    "cost center",
                    &format!("{} calls", b.basis.as_deref().unwrap_or("basis")),
                    "their cost",
                    "billed directly",
                    "allocated",
                    &format!("share {}", b.currency),
                ]),
                right: vec![2, 3, 4, 5, 6],
                ..Grid::default()
            };
            for (i, l) in b.lines.iter().enumerate() {
                g.rows.push(vec![
                    label(l),
                    l.cost_center.clone().unwrap_or_default(),
                    count(l.measured.records as i64),
                    m_shown[i].clone(),
                    d_shown[i].clone(),
                    a_shown[i].clone(),
                    money_dp(l.share, share_dp),
                ]);
            }
            g.strong.push(g.rows.len());
            g.rows.push(vec![
                format!("{} bill", b.bill),
                String::new(),
                count(b.lines.iter().map(|l| l.measured.records as i64).sum()),
                m_total,
                d_total,
                a_total,
                money_dp(b.total_rounded, share_dp),
            ]);
            let mut lines = vec![format!(
                "The pooled {} {} (lines on {}'s own keys and projects that no rule names) is allocated by {}; (unmapped) is the part of {}'s calls no rule matches, (unattributed) the bill's lines on other keys and projects no rule names{}.",
                money_dp(b.pooled.cost, dp),
                b.currency,
                b.basis.as_deref().unwrap_or("no baseline"),
                match b.allocated_by {
                    "cost" => format!("each team's share of {}'s cost of the calls routed to this bill", b.basis.as_deref().unwrap_or("")),
                    "tokens" => "each team's share of the tokens of the calls routed to this bill (their cost is zero)".to_string(),
                    _ => "nothing (no call is routed to this bill): it is unattributed".to_string(),
                },
                b.basis.as_deref().unwrap_or("the baseline"),
                if b.total != b.total_rounded {
                    format!(
                        "; shares are whole minor units and add up to the bill {} rounded from {}",
                        money_dp(b.total_rounded, share_dp),
                        b.total.normalize()
                    )
                } else {
                    String::new()
                }
            )];
            lines.retain(|l| !l.is_empty());
            (
                format!(
                    "{} bill by team, {} ({})",
                    b.bill,
                    b.currency,
                    display::window_label(b.span.start, b.span.end, chrono_tz::UTC)
                ),
                g,
                lines,
            )
        })
        .collect();
    ChargebackView {
        rule: format!("{} (teams file {})", c.rule, c.teams_file),
        sources,
        bills,
    }
}

fn anomalies(r: &Report, currency: &str) -> (String, Option<Grid>) {
    let a = &r.anomalies;
    let rule = format!("Rule: {}", a.rule);
    if a.flagged.is_empty() {
        return (format!("none flagged. {rule}"), None);
    }
    let mut g = Grid {
        header: strings([
            "app",
            &format!("day ({})", r.window.timezone),
            "metric",
            "value",
            "trailing median",
            "change",
            "calls",
        ]),
        right: vec![3, 4, 5, 6],
        ..Grid::default()
    };
    for x in &a.flagged {
        let (value, median) = if x.metric == "cost_per_call" {
            let dp = display::precision([&x.value, &x.baseline_median]);
            (
                format!("{} {currency}", money_dp(x.value, dp)),
                format!("{} {currency}", money_dp(x.baseline_median, dp)),
            )
        } else {
            (
                x.value.round_dp(0).normalize().to_string(),
                x.baseline_median.round_dp(0).normalize().to_string(),
            )
        };
        g.rows.push(vec![
            if x.app.is_empty() {
                "(none)".to_string()
            } else {
                x.app.clone()
            },
            x.day.clone(),
            x.metric.replace('_', " "),
            value,
            median,
            format!("{:+.0}%", x.change_pct),
            count(x.calls as i64),
        ]);
    }
    (format!("{} flagged. {rule}", a.flagged.len()), Some(g))
}

fn previous(p: &super::model::Previous, currency: &str) -> (String, Vec<(String, Grid)>) {
    let title = format!(
        "against {} (window {} → {})",
        p.file,
        p.window_start.as_deref().unwrap_or("none"),
        p.window_end.as_deref().unwrap_or("none")
    );
    let grids = p
        .comparisons
        .iter()
        .map(|c| {
            let rows: Vec<&super::model::Change> = c
                .figures
                .iter()
                .chain(&c.steps)
                .filter(|x| x.unit == "cost")
                .filter(|x| {
                    x.status != "both"
                        || !x.previous.unwrap_or_default().is_zero()
                        || !x.current.unwrap_or_default().is_zero()
                })
                .collect();
            let amounts: Vec<rust_decimal::Decimal> = rows
                .iter()
                .flat_map(|x| [x.previous, x.current, x.change])
                .flatten()
                .collect();
            let dp = display::precision(&amounts);
            let mut g = Grid {
                header: strings([
                    "figure",
                    &format!("previous {currency}"),
                    &format!("current {currency}"),
                    "change",
                    "change %",
                ]),
                right: vec![1, 2, 3, 4],
                ..Grid::default()
            };
            for x in rows {
                let shown = |d: Option<rust_decimal::Decimal>| {
                    d.map(|d| money_dp(d, dp))
                        .unwrap_or_else(|| "—".to_string())
                };
                g.rows.push(vec![
                    x.name.clone(),
                    shown(x.previous),
                    shown(x.current),
                    match x.status {
                        "new" => "new".to_string(),
                        "gone" => "gone".to_string(),
                        _ => x.change.map(|d| signed_money_dp(d, dp)).unwrap_or_default(),
                    },
                    x.change_pct
                        .map(|p| format!("{p:+.2}%"))
                        .unwrap_or_else(|| "—".to_string()),
                ]);
            }
            let status = match c.status {
                "new" => " (new: not in the earlier report)",
                "gone" => " (gone: only in the earlier report)",
                _ => "",
            };
            (format!("{}{status}", c.comparison), g)
        })
        .collect();
    (title, grids)
}
