//! Every human-readable output of the demo, checked against the JSON report: displayed steps add
//! up to the displayed totals, each shown amount is its exact value rounded, times are in the
//! report's zone, and the Sources figures are explained.

mod common;
use common::*;

use assert_cmd::Command;
use rust_decimal::Decimal;
use serde_json::Value;

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn demo(args: &[&str]) -> String {
    let out = bin().arg("demo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn demo_json() -> Value {
    serde_json::from_str(&demo(&["--format", "json"])).unwrap()
}

/// A displayed amount: `-1,234.50`, `+0.07`.
fn shown(s: &str) -> Decimal {
    d(&s.trim().replace([',', '+'], ""))
}

/// The bridge tables of a rendering, as (first cell, cost cell) rows, split by `sep`.
fn bridge_tables(text: &str, sep: char, cost_col: usize) -> Vec<Vec<(String, String)>> {
    let mut tables = Vec::new();
    let mut cur: Option<Vec<(String, String)>> = None;
    for line in text.lines() {
        let cells: Vec<String> = line
            .trim_matches(|c| c == '│' || c == '|')
            .split(sep)
            .map(|c| c.trim().trim_matches('*').to_string())
            .collect();
        if cells.first().map(String::as_str) == Some("step") {
            cur = Some(Vec::new());
            continue;
        }
        if let Some(rows) = cur.as_mut() {
            if cells.len() <= cost_col || cells[0].starts_with("---") || cells[0].is_empty() {
                continue;
            }
            rows.push((cells[0].clone(), cells[cost_col].clone()));
            if cells[0].ends_with("(reference)") {
                tables.push(cur.take().unwrap());
            }
        }
    }
    tables
}

/// Each displayed bridge foots, and each displayed step is its exact JSON value within one unit
/// of the last place shown.
fn check_bridges(report: &Value, tables: &[Vec<(String, String)>], what: &str) {
    let comps = report["comparisons"].as_array().unwrap();
    assert_eq!(
        tables.len(),
        comps.len(),
        "{what}: one bridge per comparison"
    );
    for (rows, c) in tables.iter().zip(comps) {
        let t = &c["totals"];
        let name = format!("{what} {} → {}", c["baseline"], c["reference"]);
        let (first, last) = (&rows[0], rows.last().unwrap());
        let dp = first.1.split('.').nth(1).map_or(0, str::len) as u32;
        let unit = Decimal::new(1, dp);
        let sum: Decimal = rows[1..rows.len() - 1].iter().map(|(_, v)| shown(v)).sum();
        assert_eq!(
            shown(&first.1) + sum,
            shown(&last.1),
            "{name}: displayed steps add up to the displayed reference"
        );
        assert_eq!(
            shown(&first.1),
            dec(&t["baseline"]["cost"]).round_dp(dp),
            "{name}"
        );
        assert_eq!(
            shown(&last.1),
            dec(&t["reference"]["cost"]).round_dp(dp),
            "{name}"
        );
        for (cause, v) in &rows[1..rows.len() - 1] {
            let exact = dec(&step(t, cause)["cost"]);
            assert!(
                (shown(v) - exact).abs() < unit,
                "{name} {cause}: shown {v}, exact {exact}"
            );
        }
    }
}

#[test]
fn table_bridges_foot_and_match_the_json_report() {
    let report = demo_json();
    let text = demo(&[]);
    check_bridges(&report, &bridge_tables(&text, '┆', 2), "table");
    // The window in the report's zone, named; its instants for the audit trail.
    let first = text.lines().next().unwrap();
    assert!(first.contains("October 2026, Asia/Shanghai"), "{first}");
    assert!(text.contains("[2026-09-30T16:00:00Z, 2026-10-31T16:00:00Z) UTC"));
    // Group times are local, the zone in the heading: a UTC bill day starts at 08:00 in
    // Shanghai, the trace's groups at local midnight.
    assert!(text.contains("day from (Asia/Shanghai)"));
    assert!(text.contains("│ 2026-10-12 08:00 "), "{text}");
    assert!(text.contains("│ 2026-10-15 "), "{text}");
    // No word is cut at a hyphen: every RFC 3339 instant of the notes stays on one line.
    for line in text.lines() {
        assert!(!line.trim_end().ends_with("-09-"), "{line}");
        assert!(!line.trim_end().ends_with("2026-"), "{line}");
    }
    assert!(text.contains("2026-09-30T16:00:00+00:00 … 2026-10-31T16:00:00+00:00"));
}

#[test]
fn markdown_keeps_every_section_and_foots() {
    let report = demo_json();
    let md = demo(&["--format", "markdown"]);
    check_bridges(&report, &bridge_tables(&md, '|', 2), "markdown");
    for section in [
        "# llm-recon report: October 2026, Asia/Shanghai",
        "## Headline",
        "## dify → openai",
        "## langfuse → openai",
        "## dify → langfuse",
        "### groups by |variance|",
        "| day from (Asia/Shanghai) |",
        "## Sources",
        "## Notes",
        "USD",
    ] {
        assert!(md.contains(section), "markdown lacks {section:?}");
    }
}

#[test]
fn headline_names_the_bill_and_the_figures_of_the_json_report() {
    let report = demo_json();
    let text = demo(&[]);
    let head: String = text
        .split("\nHeadline\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let c = comparison(&report, "dify", "openai")["totals"].clone();
    let r2 = |v: &Value| dec(v).round_dp(2).to_string();
    assert!(
        head.starts_with(&format!(
            "Trust the openai bill: {} USD",
            r2(&c["reference"]["cost"])
        )),
        "{head}"
    );
    assert!(head.contains("settlement figure"), "{head}");
    assert!(
        head.contains(&format!("dify (app): {} USD", r2(&c["baseline"]["cost"]))),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "variance to the bill {} USD",
            r2(&c["variance"]["cost"])
        )),
        "{head}"
    );
    let unexplained = dec(&step(&c, "unexplained")["cost"]);
    let explained = dec(&c["variance"]["cost"]) - unexplained;
    assert!(
        head.contains(&format!("{} explained", explained.round_dp(2))),
        "{head}"
    );
    assert!(
        head.contains(&format!("+{} unexplained", unexplained.round_dp(2))),
        "{head}"
    );
    // The largest cause by |cost| leads, in plain words and by name.
    let mut steps: Vec<&Value> = c["bridge"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["cause"] != "unexplained")
        .collect();
    steps.sort_by_key(|s| std::cmp::Reverse(dec(&s["cost"]).abs()));
    let top = steps[0]["cause"].as_str().unwrap();
    assert_eq!(top, "price_mismatch");
    assert!(
        head.contains("Top causes: the app's recorded prices differ from the price list (price_mismatch, -10.29)"),
        "{head}"
    );
}

/// The Sources table counts every row read; the bridge only the window's. With a window that
/// holds every row, the two agree exactly: the gap the report explains is the rows outside it.
#[test]
fn sources_and_bridge_differ_only_by_rows_outside_the_window() {
    let report = demo_json();
    let text = demo(&[]);
    let src = |r: &Value, name: &str| {
        r["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["cost"]
            .clone()
    };
    let base = &comparison(&report, "dify", "openai")["totals"]["baseline"]["cost"];
    let gap = dec(&src(&report, "dify")) - dec(base);
    assert!(!gap.is_zero());
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "dify: Sources shows {} USD, every row read; the dify → openai bridge counts {} USD, the rows inside its window (October 2026, Asia/Shanghai); the other {} USD",
            dec(&src(&report, "dify")).round_dp(2),
            dec(base).round_dp(2),
            gap.round_dp(2)
        )),
        "{flat}"
    );

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let files = [
        "dify_messages.csv",
        "dify_node_executions.csv",
        "langfuse_observations.csv",
    ];
    let out = bin()
        .arg("reconcile")
        .args(files.iter().map(|f| dir.join(f)))
        .args([
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-01",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let wide: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = comparison(&wide, "dify", "langfuse");
    assert_eq!(
        dec(&c["totals"]["baseline"]["cost"]),
        dec(&src(&wide, "dify"))
    );
    assert_eq!(
        dec(&c["totals"]["reference"]["cost"]),
        dec(&src(&wide, "langfuse"))
    );
    assert_eq!(dec(&src(&wide, "dify")), dec(&src(&report, "dify")));
}

#[test]
fn output_format_follows_the_file_extension() {
    let dir = tempfile::tempdir().unwrap();
    for (name, starts) in [
        ("r.json", "{"),
        ("r.md", "# llm-recon report"),
        ("r.csv", "baseline,reference,level,window_start"),
        ("r.txt", "llm-recon report"),
    ] {
        let path = dir.path().join(name);
        bin()
            .args(["demo", "-o", &path.display().to_string()])
            .assert()
            .success();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(starts), "{name}: {}", &text[..60]);
    }
    // --format wins over the extension; an extension that names no format is refused.
    let path = dir.path().join("r.txt");
    bin()
        .args([
            "demo",
            "--format",
            "json",
            "-o",
            &path.display().to_string(),
        ])
        .assert()
        .success();
    assert!(std::fs::read_to_string(&path).unwrap().starts_with('{'));
    let bad = dir.path().join("r.report");
    bin()
        .args(["demo", "-o", &bad.display().to_string()])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("give --format"));
    assert!(!bad.exists());
}

/// The CSV's rows are the JSON report's steps, each with its currency; a total row has an empty
/// window_start, a group row an RFC 3339 instant.
#[test]
fn csv_rows_are_the_json_reports_steps_with_their_currency() {
    let report = demo_json();
    let text = demo(&["--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header = rdr.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (mut totals, mut groups) = (0, 0);
    for row in rdr.records() {
        let row = row.unwrap();
        assert_eq!(&row[col("currency")], "USD");
        let c = comparison(&report, &row[col("baseline")], &row[col("reference")]);
        let cmp = match &row[col("level")] {
            "total" => {
                totals += 1;
                assert_eq!(&row[col("window_start")], "");
                &c["totals"]
            }
            "group" => {
                groups += 1;
                let ws = &row[col("window_start")];
                assert!(ws.parse::<chrono::DateTime<chrono::Utc>>().is_ok(), "{ws}");
                c["groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|g| {
                        g["key"]["window_start"] == ws
                            && g["key"]["model"] == row[col("model")]
                            && g["key"]["provider"] == row[col("provider")]
                    })
                    .unwrap()
            }
            other => panic!("level {other}"),
        };
        let cause = &row[col("cause")];
        let exact = match cause {
            "baseline" | "reference" => dec(&cmp[cause]["cost"]),
            _ => dec(&step(cmp, cause)["cost"]),
        };
        assert_eq!(d(&row[col("cost")]), exact, "{cause}");
    }
    let comps = report["comparisons"].as_array().unwrap();
    let steps = comps[0]["totals"]["bridge"].as_array().unwrap().len() + 2;
    assert_eq!(totals, comps.len() * steps);
    let all_groups: usize = comps
        .iter()
        .map(|c| c["groups"].as_array().unwrap().len())
        .sum();
    assert_eq!(groups, all_groups * steps);
}

fn spot(args: &[&str]) -> std::process::Output {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    bin()
        .arg("reconcile")
        .arg(dir.join("dify_node_executions.csv"))
        .arg(dir.join("langfuse_observations.csv"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn spot_check_shows_costs_takes_id_prefixes_and_names_missing_ids() {
    let window = [
        "--from",
        "2026-10-05",
        "--to",
        "2026-10-06",
        "--tz",
        "Asia/Shanghai",
    ];
    let out = spot(&[&window[..], &["--spot-check", "--limit", "5"]].concat());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("app USD") && text.contains("trace USD"),
        "{text}"
    );
    // Every cause name is whole on its line.
    for cause in ["retries", "double_counting"] {
        assert!(text.contains(&format!(" {cause} ")), "{text}");
    }
    // The id the table prints is a prefix --call accepts, and it finds that call.
    let json: Value = serde_json::from_slice(
        &spot(&[&window[..], &["--spot-check", "--format", "json"]].concat()).stdout,
    )
    .unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with('│') && l.contains("double_counting"))
        .unwrap();
    let prefix = row.split('┆').nth(1).unwrap().trim().to_string();
    assert!(prefix.len() >= 8 && prefix.len() < 36, "{prefix}");
    let one: Value =
        serde_json::from_slice(&spot(&["--call", &prefix, "--format", "json"]).stdout).unwrap();
    let rows = one["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    let id = rows[0]["app"]["id"].as_str().unwrap();
    assert!(id.starts_with(&prefix));
    // Its cost in the table is the JSON's, at the table's precision.
    let same = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"]["id"] == id)
        .unwrap();
    let cost = d(same["app"]["reported_cost"].as_str().unwrap());
    let cell = row.split('┆').nth(6).unwrap().trim();
    let dp = cell.split('.').nth(1).unwrap().len() as u32;
    assert_eq!(d(cell), cost.round_dp(dp), "{row}");
    // Not found, and ambiguous: exit 2 with a reason.
    let missing = spot(&["--call", "no-such-call"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("--call no-such-call: no app or trace call")
    );
    let many = spot(&["--call", "0"]);
    assert_eq!(many.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&many.stderr).contains("give more characters"));
}
