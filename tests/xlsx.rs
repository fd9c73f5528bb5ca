//! `--format xlsx` on the demo, read back with calamine and compared with the JSON report of
//! the same run: every bridge amount (Summary and Groups) to the cent as a number cell, and
//! exactly in its `exact amount` text cell; Records holds every normalized record with its
//! origin, the same as `normalize` writes.

mod common;
use common::*;

use assert_cmd::Command;
use calamine::{Data, Range, Reader, Xlsx, open_workbook};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn run(args: &[&str]) -> Vec<u8> {
    let out = bin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn text(c: &Data) -> String {
    match c {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// A money cell: a number (never text), as a decimal rounded to the cent.
fn cents(c: &Data, what: &str) -> Decimal {
    match c {
        Data::Float(f) => Decimal::from_f64(*f).unwrap().round_dp(2),
        Data::Int(i) => Decimal::from(*i),
        other => panic!("{what}: money cell is not a number: {other:?}"),
    }
}

fn number(c: &Data, what: &str) -> f64 {
    match c {
        Data::Float(f) => *f,
        Data::Int(i) => *i as f64,
        other => panic!("{what}: not a number: {other:?}"),
    }
}

/// The bridge lines the JSON has for one comparison (or group): label, tokens, exact cost.
fn json_lines(baseline: &str, reference: &str, c: &Value) -> Vec<(String, i64, Decimal)> {
    let mut out = vec![(
        format!("{baseline} (baseline)"),
        tokens(&c["baseline"]["tokens"], "total"),
        dec(&c["baseline"]["cost"]),
    )];
    for s in c["bridge"].as_array().unwrap() {
        out.push((
            s["cause"].as_str().unwrap().to_string(),
            tokens(&s["tokens"], "total"),
            dec(&s["cost"]),
        ));
    }
    out.push((
        format!("{reference} (reference)"),
        tokens(&c["reference"]["tokens"], "total"),
        dec(&c["reference"]["cost"]),
    ));
    out
}

/// The demo as a workbook (its path) and as the JSON report.
fn demo_workbook() -> (tempfile::TempDir, PathBuf, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xlsx");
    // The format follows the extension.
    run(&["demo", "-o", path.to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&run(&["demo", "--format", "json"])).unwrap();
    (dir, path, report)
}

fn sheet(path: &Path, name: &str) -> Range<Data> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.worksheet_range(name).unwrap()
}

#[test]
fn workbook_bridges_equal_the_json_report() {
    let (_dir, path, report) = demo_workbook();
    let wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        vec!["Summary", "Groups", "Records"],
        "sheets in order"
    );

    // Summary: each comparison's bridge under its `step` header, in the JSON's order.
    let summary = sheet(&path, "Summary");
    let rows: Vec<&[Data]> = summary.rows().collect();
    let comps = report["comparisons"].as_array().unwrap();
    let headers: Vec<usize> = (0..rows.len())
        .filter(|&i| text(&rows[i][0]) == "step")
        .collect();
    assert_eq!(headers.len(), comps.len(), "one bridge per comparison");
    assert_eq!(text(&rows[headers[0]][2]), "amount USD");
    for (&h, c) in headers.iter().zip(comps) {
        let (b, r) = (
            c["baseline"].as_str().unwrap(),
            c["reference"].as_str().unwrap(),
        );
        let want = json_lines(b, r, &c["totals"]);
        let reference = dec(&c["totals"]["reference"]["cost"]);
        for (k, (label, tok, cost)) in want.iter().enumerate() {
            let row = rows[h + 1 + k];
            let what = format!("Summary {b} → {r} {label}");
            assert_eq!(&text(&row[0]), label, "{what}");
            assert_eq!(number(&row[1], &what), *tok as f64, "{what} tokens");
            assert_eq!(cents(&row[2], &what), cost.round_dp(2), "{what}");
            assert_eq!(text(&row[6]), cost.normalize().to_string(), "{what} exact");
            // % of reference: the amount over the reference's amount.
            let pct = Decimal::from_f64(number(&row[3], &what)).unwrap();
            assert!(
                (pct - cost / reference).abs() < Decimal::new(1, 9),
                "{what}: {pct}"
            );
        }
        // The bridge ends at the reference: nothing else in its table.
        assert!(text(&rows[h + 1 + want.len()][1]).is_empty());
    }
    // The headline opens the sheet, in the report's words.
    let all: Vec<String> = rows.iter().map(|r| text(&r[0])).collect();
    assert!(all[0].contains("October 2026, Asia/Shanghai"), "{}", all[0]);
    assert!(
        all.iter()
            .any(|l| l.starts_with("Trust the openai bill: ") && l.contains("settlement")),
        "{all:?}"
    );

    // Groups: every group of every comparison, each bridge line a row.
    let groups = sheet(&path, "Groups");
    let mut rows = groups.rows();
    let head: Vec<String> = rows.next().unwrap().iter().map(text).collect();
    assert_eq!(head[1], "day from (Asia/Shanghai)");
    let mut expected = Vec::new();
    for c in comps {
        let (b, r) = (
            c["baseline"].as_str().unwrap(),
            c["reference"].as_str().unwrap(),
        );
        for g in c["groups"].as_array().unwrap() {
            for line in json_lines(b, r, g) {
                expected.push((format!("{b} → {r}"), g["key"]["model"].clone(), line));
            }
        }
    }
    let got: Vec<&[Data]> = rows.collect();
    assert_eq!(got.len(), expected.len(), "one row per group line");
    for (row, (name, model, (label, tok, cost))) in got.iter().zip(&expected) {
        let what = format!("Groups {name} {model} {label}");
        assert_eq!(&text(&row[0]), name);
        assert_eq!(text(&row[4]), model.as_str().unwrap(), "{what}");
        assert_eq!(&text(&row[5]), label, "{what}");
        assert_eq!(number(&row[6], &what), *tok as f64, "{what}");
        assert_eq!(cents(&row[7], &what), cost.round_dp(2), "{what}");
        assert_eq!(text(&row[11]), cost.normalize().to_string(), "{what}");
    }
}

#[test]
fn records_sheet_holds_every_normalized_record_with_its_origin() {
    let (_dir, path, _) = demo_workbook();
    // `normalize` on the demo's files, named as the demo names them, gives the same records.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let args = std::fs::read_to_string(demo.join("demo.args")).unwrap();
    let files: Vec<String> = args
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .map(|f| demo.join(f).display().to_string())
        .collect();
    assert_eq!(files.len(), 9, "{files:?}");
    let mut argv = vec!["normalize", "--format", "csv"];
    argv.extend(files.iter().map(String::as_str));
    let csv_out = run(&argv);
    let mut rd = csv::Reader::from_reader(csv_out.as_slice());
    let hdr = rd.headers().unwrap().clone();
    let col = |n: &str| hdr.iter().position(|h| h == n).unwrap();
    let (origin, id, input, reported) =
        (col("origin"), col("id"), col("input"), col("reported_cost"));
    // (origin, id) → (input tokens, reported cost)
    let mut want: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for r in rd.records() {
        let r = r.unwrap();
        want.insert(
            (r[origin].to_string(), r[id].to_string()),
            (r[input].to_string(), r[reported].to_string()),
        );
    }
    assert!(want.len() > 1000, "the demo has thousands of records");

    let records = sheet(&path, "Records");
    let mut rows = records.rows();
    let head: Vec<String> = rows.next().unwrap().iter().map(text).collect();
    let at = |n: &str| {
        head.iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let (o, i, inp, rep, rep_exact) = (
        at("origin"),
        at("id"),
        at("input"),
        at("reported_cost"),
        at("reported_cost_exact"),
    );
    let mut got = BTreeMap::new();
    for row in rows {
        let key = (text(&row[o]), text(&row[i]));
        // Origins are `file:line` of a demo file.
        let (file, line) = key.0.rsplit_once(':').unwrap();
        assert!(files.iter().any(|f| f == file), "{file}");
        assert!(line.parse::<u64>().unwrap() >= 1);
        let tokens = number(&row[inp], &key.0) as i64;
        if !text(&row[rep_exact]).is_empty() {
            let exact = text(&row[rep_exact]);
            assert_eq!(cents(&row[rep], &key.0), d(&exact).round_dp(2), "{key:?}");
        }
        got.insert(key, (tokens.to_string(), text(&row[rep_exact])));
    }
    assert_eq!(got.len(), want.len(), "every record, once");
    assert_eq!(got, want);
}

#[test]
fn workbook_to_a_pipe_is_the_zip_and_the_spot_check_refuses_it() {
    let out = bin().args(["demo", "--format", "xlsx"]).output().unwrap();
    // Not a terminal here: the workbook goes to stdout as its bytes (a zip).
    assert!(out.status.success());
    assert_eq!(&out.stdout[..2], b"PK");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let out = bin()
        .arg("reconcile")
        .arg(demo.join("dify_node_executions.csv"))
        .arg(demo.join("langfuse_observations.csv"))
        .args(["--spot-check", "--from", "2026-10-05", "--to", "2026-10-06"])
        .args(["--format", "xlsx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--spot-check and --call write"), "{err}");
}

#[test]
fn chargeback_sheet_holds_each_teams_share_as_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.xlsx");
    let teams = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/teams.toml");
    run(&["demo", "--teams", teams, "-o", path.to_str().unwrap()]);
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        ["Summary", "Groups", "Chargeback", "Records"]
    );
    let sheet = wb.worksheet_range("Chargeback").unwrap();
    // The bill's lines: bill, line kind, team, …, share (column 9) as a money number. The
    // shares are the ones tests/chargeback.rs checks by hand: 0.46 + 18.34 + 7.60.
    let share = |team: &str| {
        let row = sheet
            .rows()
            .find(|r| r.len() > 9 && text(&r[1]) == "team" && text(&r[2]) == team)
            .unwrap_or_else(|| panic!("no bill line for {team}"));
        cents(&row[9], team)
    };
    assert_eq!(share("sales"), Decimal::new(46, 2));
    assert_eq!(share("support"), Decimal::new(1834, 2));
    assert_eq!(share("research"), Decimal::new(760, 2));
    let total = sheet
        .rows()
        .find(|r| r.len() > 9 && text(&r[1]) == "total")
        .expect("the bill's total row");
    assert_eq!(cents(&total[9], "total"), Decimal::new(2640, 2));
    // Without --teams there is no such sheet.
    let plain = dir.path().join("plain.xlsx");
    run(&["demo", "-o", plain.to_str().unwrap()]);
    let wb: Xlsx<_> = open_workbook(&plain).unwrap();
    assert_eq!(wb.sheet_names(), ["Summary", "Groups", "Records"]);
}
