//! `--format markdown`: the bridge and sources as GitHub-flavoured tables, for PRs and wikis.

use super::model::Report;
use super::{count, money, signed_count, signed_money};
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# llm-recon report\n\nWindow {} ({}, buckets {}), currency {}.\n",
        r.window.shown(|t| t.to_rfc3339()),
        r.window.timezone,
        r.window.bucket,
        r.currency
    );
    for c in &r.comparisons {
        let t = &c.totals;
        let _ = writeln!(out, "## {} → {}\n", c.baseline, c.reference);
        let _ = writeln!(out, "| step | tokens | cost | records | method | note |");
        let _ = writeln!(out, "|---|---:|---:|---:|---|---|");
        let _ = writeln!(
            out,
            "| **{} (baseline)** | {} | {} | {} | | |",
            c.baseline,
            count(t.baseline.tokens.total()),
            money(t.baseline.cost),
            t.baseline.records
        );
        for s in &t.bridge {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                s.cause,
                signed_count(s.tokens.total()),
                signed_money(s.cost),
                s.records,
                s.method,
                s.note.replace('|', "\\|")
            );
        }
        let _ = writeln!(
            out,
            "| **{} (reference)** | {} | {} | {} | | |\n",
            c.reference,
            count(t.reference.tokens.total()),
            money(t.reference.cost),
            t.reference.records
        );
        let _ = writeln!(
            out,
            "Variance {} tokens, {} ({:+.2}%); unexplained {:+.3}%.\n",
            signed_count(t.variance.tokens.total()),
            signed_money(t.variance.cost),
            t.variance.pct,
            t.unexplained_pct
        );
    }
    let _ = writeln!(
        out,
        "## Sources\n\n| source | role | rows | used | rejected | tokens | cost | unpriced |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|");
    for s in &r.sources {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            s.role,
            s.rows_read,
            s.rows_used,
            s.rows_rejected,
            count(s.tokens.total()),
            money(s.cost),
            s.unpriced_records
        );
    }
    if !r.verdict.failures.is_empty() {
        let _ = writeln!(out, "\n**FAIL**: {}", r.verdict.failures.join("; "));
    }
    out
}
