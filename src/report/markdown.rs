//! `--format markdown`: every section of the table as GitHub-flavoured Markdown, for PRs and
//! wikis.

use super::model::Report;
use super::view::{self, Grid};
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn grid(out: &mut String, g: &Grid) {
    let _ = writeln!(
        out,
        "| {} |",
        g.header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let rule: Vec<&str> = (0..g.header.len())
        .map(|i| if g.right.contains(&i) { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "|{}|", rule.join("|"));
    for (i, row) in g.rows.iter().enumerate() {
        let strong = g.strong.contains(&i);
        let cells: Vec<String> = row
            .iter()
            .map(|c| match (strong, c.is_empty()) {
                (true, false) => format!("**{}**", cell(c)),
                _ => cell(c),
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

fn bullets(out: &mut String, lines: &[String]) {
    for l in lines {
        let _ = writeln!(out, "- {}", cell(l));
    }
    if !lines.is_empty() {
        out.push('\n');
    }
}

pub fn render(r: &Report) -> String {
    let v = view::build(r);
    let mut out = String::new();
    let _ = writeln!(out, "# llm-recon report: {}\n", v.window);
    let _ = writeln!(out, "{} · currency {}\n", v.settings, v.currency);
    for h in &v.headlines {
        let _ = writeln!(out, "## Headline\n");
        for line in h {
            let _ = writeln!(out, "{}\n", line.trim_start());
        }
    }
    for b in &v.bridges {
        let _ = writeln!(out, "## {}\n", b.title);
        grid(&mut out, &b.table);
        let _ = writeln!(out, "{}.\n", b.summary);
        bullets(&mut out, &b.lines);
        if let Some((caption, g)) = &b.groups {
            let _ = writeln!(out, "### {}\n", caption.trim_end_matches(':'));
            grid(&mut out, g);
        }
    }
    if let Some(cb) = &v.chargeback {
        let _ = writeln!(out, "## Chargeback\n\n{}\n", cell(&cb.rule));
        for (title, g) in &cb.sources {
            let _ = writeln!(out, "### {title}\n");
            grid(&mut out, g);
        }
        for (title, g, lines) in &cb.bills {
            let _ = writeln!(out, "### {title}\n");
            grid(&mut out, g);
            bullets(&mut out, lines);
        }
    }
    let _ = writeln!(out, "## Anomalies\n\n{}\n", cell(&v.anomalies.0));
    if let Some(g) = &v.anomalies.1 {
        grid(&mut out, g);
    }
    if let Some((title, grids)) = &v.previous {
        let _ = writeln!(out, "## Month over month\n\n{}\n", cell(title));
        for (t, g) in grids {
            let _ = writeln!(out, "### {t}\n");
            grid(&mut out, g);
        }
    }
    let _ = writeln!(
        out,
        "## Sources\n\nEvery row read, in and outside the window.\n"
    );
    grid(&mut out, &v.sources);
    bullets(&mut out, &v.source_lines);
    if v.rejected_total > 0 {
        let _ = writeln!(
            out,
            "## Rejected rows: {} (first {} shown)\n",
            v.rejected_total,
            v.rejected.len()
        );
        bullets(&mut out, &v.rejected);
    }
    if !v.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        bullets(&mut out, &v.notes);
    }
    if let Some((pass, failures)) = &v.verdict {
        let _ = writeln!(
            out,
            "## Verdict: {}\n",
            if *pass { "PASS" } else { "**FAIL**" }
        );
        bullets(&mut out, failures);
    }
    out
}
