//! `--format table`: for a terminal of 100 columns; leads with the bridge.

use super::model::{Comparison, ComparisonReport, Report};
use super::{count, money, signed_count, signed_money};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write;

const WIDTH: u16 = 100;

/// Writes `text` wrapped to the terminal width, first line indented by `indent`, the rest by two
/// more spaces.
fn wrapped(out: &mut String, indent: &str, text: &str) {
    let rest = format!("{indent}  ");
    let opts = textwrap::Options::new(WIDTH as usize)
        .initial_indent(indent)
        .subsequent_indent(&rest);
    for line in textwrap::wrap(text, opts) {
        let _ = writeln!(out, "{line}");
    }
}
const TOP_GROUPS: usize = 10;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(header.to_vec());
    t
}

fn right(t: &mut Table, cols: &[usize]) {
    for &c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "llm-recon · window {} · {} · buckets {} · {}",
        match (r.window.start, r.window.end) {
            (Some(s), Some(e)) => format!(
                "{} → {}",
                s.format("%Y-%m-%d %H:%M"),
                e.format("%Y-%m-%d %H:%M UTC")
            ),
            _ => r.window.shown(|t| t.to_string()),
        },
        r.window.timezone,
        r.window.bucket,
        r.currency
    );
    for c in &r.comparisons {
        out.push('\n');
        bridge(&mut out, c, &r.currency.to_string());
    }
    out.push('\n');
    sources(&mut out, r);
    if !r.rejected.is_empty() {
        let total: u64 = r.sources.iter().map(|s| s.rows_rejected).sum();
        let _ = writeln!(
            out,
            "\nRejected rows: {total} (first {} shown)",
            r.rejected.len().min(10)
        );
        for x in r.rejected.iter().take(10) {
            wrapped(
                &mut out,
                "  ",
                &format!("{} {}: {}", x.source, x.origin, x.reason),
            );
        }
    }
    for n in &r.notes {
        out.push('\n');
        wrapped(&mut out, "", &format!("note: {n}"));
    }
    let v = &r.verdict;
    if v.max_variance_pct.is_some() || v.max_unexplained_pct.is_some() {
        let _ = writeln!(out, "\nVerdict: {}", if v.pass { "PASS" } else { "FAIL" });
        for f in &v.failures {
            wrapped(&mut out, "  ", f);
        }
    }
    out
}

fn bridge(out: &mut String, c: &ComparisonReport, currency: &str) {
    let _ = writeln!(
        out,
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
    let mut tb = table(&[
        "step",
        "tokens",
        &format!("cost {currency}"),
        "records",
        "method",
    ]);
    tb.add_row(vec![
        format!("{} (baseline)", c.baseline),
        count(t.baseline.tokens.total()),
        money(t.baseline.cost),
        count(t.baseline.records as i64),
        String::new(),
    ]);
    // Steps with nothing in them are named under the table instead of taking a row each.
    let is_empty = |s: &crate::report::model::Step| {
        s.cause != "unexplained" && s.records == 0 && s.cost.is_zero() && s.tokens.is_zero()
    };
    for s in t.bridge.iter().filter(|s| !is_empty(s)) {
        tb.add_row(vec![
            s.cause.to_string(),
            signed_count(s.tokens.total()),
            signed_money(s.cost),
            if s.cause == "unexplained" {
                String::new()
            } else {
                count(s.records as i64)
            },
            if s.cause == "unexplained" {
                String::new()
            } else {
                s.method.to_string()
            },
        ]);
    }
    tb.add_row(vec![
        format!("{} (reference)", c.reference),
        count(t.reference.tokens.total()),
        money(t.reference.cost),
        count(t.reference.records as i64),
        String::new(),
    ]);
    right(&mut tb, &[1, 2, 3]);
    let _ = writeln!(out, "{tb}");
    let _ = writeln!(
        out,
        "variance {} tokens, {} {currency} ({:+.2}% of reference); unexplained {:+.3}%",
        signed_count(t.variance.tokens.total()),
        signed_money(t.variance.cost),
        t.variance.pct,
        t.unexplained_pct
    );
    let names = |method_is: fn(&str) -> bool| {
        t.bridge
            .iter()
            .filter(|s| is_empty(s) && method_is(s.method))
            .map(|s| s.cause)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (zero, unmeasured) = (
        names(|m| m != "not_measured"),
        names(|m| m == "not_measured"),
    );
    if !zero.is_empty() {
        wrapped(out, "", &format!("zero: {zero}"));
    }
    if !unmeasured.is_empty() {
        wrapped(
            out,
            "",
            &format!("not measured (their evidence is not among the inputs): {unmeasured}"),
        );
    }
    for s in &t.bridge {
        if s.cause != "unexplained" && (s.records > 0 || !s.cost.is_zero()) {
            wrapped(out, "  ", &format!("{}: {}", s.cause, s.note));
        }
    }
    if !c.attribution.unattributed_api_keys.is_empty()
        || !c.attribution.unattributed_projects.is_empty()
    {
        let line = format!(
            "attribution ({}): baseline keys {:?} projects {:?}",
            c.attribution.method, c.attribution.api_keys, c.attribution.projects
        );
        wrapped(out, "  ", &line);
    }
    groups(out, c, currency);
}

fn groups(out: &mut String, c: &ComparisonReport, currency: &str) {
    if c.groups.len() <= 1 {
        return;
    }
    let mut gs: Vec<_> = c.groups.iter().collect();
    let unexplained = |g: &Comparison| {
        g.bridge
            .iter()
            .find(|s| s.cause == "unexplained")
            .map(|s| s.cost)
            .unwrap_or_default()
    };
    gs.sort_by_key(|g| std::cmp::Reverse(g.comparison.variance.cost.abs()));
    let mut tb = table(&[
        "window",
        "model",
        "baseline",
        "reference",
        "variance",
        "unexplained",
    ]);
    for g in gs.iter().take(TOP_GROUPS) {
        tb.add_row(vec![
            g.key.window_start.format("%Y-%m-%d %H:%M").to_string(),
            if g.key.model.is_empty() {
                "(none)".to_string()
            } else {
                g.key.model.clone()
            },
            money(g.comparison.baseline.cost),
            money(g.comparison.reference.cost),
            signed_money(g.comparison.variance.cost),
            signed_money(unexplained(&g.comparison)),
        ]);
    }
    right(&mut tb, &[2, 3, 4, 5]);
    let _ = writeln!(
        out,
        "groups by |variance| ({} of {}, {currency}; --format json has all):",
        gs.len().min(TOP_GROUPS),
        gs.len()
    );
    let _ = writeln!(out, "{tb}");
}

fn sources(out: &mut String, r: &Report) {
    let mut tb = table(&[
        "source", "role", "rows", "used", "rejected", "requests", "tokens", "cost", "unpriced",
    ]);
    for s in &r.sources {
        tb.add_row(vec![
            s.name.clone(),
            s.role.to_string(),
            count(s.rows_read as i64),
            count(s.rows_used as i64),
            count(s.rows_rejected as i64),
            count(s.requests as i64),
            count(s.tokens.total()),
            money(s.cost),
            count(s.unpriced_records as i64),
        ]);
    }
    right(&mut tb, &[2, 3, 4, 5, 6, 7, 8]);
    let _ = writeln!(out, "Sources");
    let _ = writeln!(out, "{tb}");
    for s in &r.sources {
        if s.unpriced_records > 0 {
            let line = format!(
                "{}: {} unpriced records, {} tokens (models: {})",
                s.name,
                s.unpriced_records,
                count(s.unpriced_tokens.total()),
                s.unpriced_models.join(", ")
            );
            wrapped(out, "  ", &line);
        }
    }
}
