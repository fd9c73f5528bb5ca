//! `--format table`: for a terminal of 100 columns; leads with the headline, then the bridges.

use super::display;
use super::model::Report;
use super::view::{self, Grid};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write;

const WIDTH: u16 = 100;

/// Writes `text` wrapped to the terminal width (never inside a word), first line indented by
/// `indent`, the rest by two more spaces.
fn wrapped(out: &mut String, indent: &str, text: &str) {
    for line in display::wrap(text, WIDTH as usize, indent) {
        let _ = writeln!(out, "{line}");
    }
}

fn table(g: &Grid) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(WIDTH)
        .set_header(g.header.clone());
    for row in &g.rows {
        t.add_row(row.clone());
    }
    for &c in &g.right {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

pub fn render(r: &Report) -> String {
    let v = view::build(r);
    let mut out = String::new();
    let _ = writeln!(out, "llm-recon report · {} · {}", v.window, v.currency);
    wrapped(&mut out, "", &v.settings);
    for h in &v.headlines {
        let _ = writeln!(out, "\nHeadline");
        for line in h {
            wrapped(&mut out, "  ", line);
        }
    }
    for b in &v.bridges {
        let _ = writeln!(out, "\n{}", b.title);
        let _ = writeln!(out, "{}", table(&b.table));
        let _ = writeln!(out, "{}", b.summary);
        for (i, line) in b.lines.iter().enumerate() {
            // The empty-step lists are flush left; the step notes are indented under them.
            let indent =
                if i == 0 && line.starts_with("zero: ") || line.starts_with("not measured ") {
                    ""
                } else {
                    "  "
                };
            wrapped(&mut out, indent, line);
        }
        if let Some((caption, g)) = &b.groups {
            let _ = writeln!(out, "{caption}");
            let _ = writeln!(out, "{}", table(g));
        }
    }
    if let Some(cb) = &v.chargeback {
        let _ = writeln!(out, "\nChargeback");
        wrapped(&mut out, "  ", &cb.rule);
        for (title, g) in &cb.sources {
            let _ = writeln!(out, "{title}:");
            let _ = writeln!(out, "{}", table(g));
        }
        for (title, g, lines) in &cb.bills {
            let _ = writeln!(out, "{title}:");
            let _ = writeln!(out, "{}", table(g));
            for l in lines {
                wrapped(&mut out, "  ", l);
            }
        }
    }
    let _ = writeln!(out, "\nAnomalies");
    wrapped(&mut out, "  ", &v.anomalies.0);
    if let Some(g) = &v.anomalies.1 {
        let _ = writeln!(out, "{}", table(g));
    }
    if let Some((title, grids)) = &v.previous {
        let _ = writeln!(out, "\nMonth over month");
        wrapped(&mut out, "  ", title);
        for (t, g) in grids {
            let _ = writeln!(out, "{t}:");
            let _ = writeln!(out, "{}", table(g));
        }
    }
    let _ = writeln!(out, "\nSources (every row read, in and outside the window)");
    let _ = writeln!(out, "{}", table(&v.sources));
    for line in &v.source_lines {
        wrapped(&mut out, "  ", line);
    }
    if v.rejected_total > 0 {
        let _ = writeln!(
            out,
            "\nRejected rows: {} (first {} shown)",
            v.rejected_total,
            v.rejected.len()
        );
        for line in &v.rejected {
            wrapped(&mut out, "  ", line);
        }
    }
    for n in &v.notes {
        out.push('\n');
        wrapped(&mut out, "", &format!("note: {n}"));
    }
    if let Some((pass, failures)) = &v.verdict {
        let _ = writeln!(out, "\nVerdict: {}", if *pass { "PASS" } else { "FAIL" });
        for f in failures {
            wrapped(&mut out, "  ", f);
        }
    }
    out
}
