//! `--teams`: each team's usage per source and its share of the bill, on the demo month with its
//! teams file (fixtures/demo/teams.toml). Sums are checked with exact decimals.

mod common;
use common::*;

use assert_cmd::Command;
use rust_decimal::Decimal;
use serde_json::Value;

const TEAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo/teams.toml");

fn demo(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("demo")
        .args(args)
        .output()
        .unwrap()
}

fn demo_json(teams: &str) -> Value {
    let out = demo(&["--teams", teams, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn comparison<'a>(r: &'a Value, base: &str, reference: &str) -> &'a Value {
    r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["baseline"] == base && c["reference"] == reference)
        .unwrap()
}

fn step_cost(c: &Value, cause: &str) -> Decimal {
    dec(&c["totals"]["bridge"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["cause"] == cause)
        .unwrap()["cost"])
}

#[test]
fn every_source_by_team_adds_up_to_its_total() {
    let r = demo_json(TEAMS);
    let cb = &r["chargeback"];
    let sources = cb["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 3);
    for s in sources {
        let teams = s["teams"].as_array().unwrap();
        let cost: Decimal =
            teams.iter().map(|t| dec(&t["cost"])).sum::<Decimal>() + dec(&s["unmapped"]["cost"]);
        assert_eq!(cost, dec(&s["total"]["cost"]), "{}", s["source"]);
        for class in CLASSES {
            let n: i64 = teams
                .iter()
                .map(|t| t["tokens"][class].as_i64().unwrap_or(0))
                .sum::<i64>()
                + s["unmapped"]["tokens"][class].as_i64().unwrap_or(0);
            assert_eq!(
                n,
                s["total"]["tokens"][class].as_i64().unwrap_or(0),
                "{} {class}",
                s["source"]
            );
        }
    }
    let by = |source: &str| sources.iter().find(|s| s["source"] == source).unwrap();
    // The app's total is its calls in the window counted once: the bridge's baseline (its rows
    // as they add up) plus double_counting (the repeated rows taken out).
    let app_trace = comparison(&r, "dify", "langfuse");
    assert_eq!(
        dec(&by("dify")["total"]["cost"]),
        dec(&app_trace["totals"]["baseline"]["cost"]) + step_cost(app_trace, "double_counting")
    );
    // Every demo call of the app is the chatflow app's: the app rule leaves nothing unmapped,
    // and the two sales users' calls are sales's, not support's (their rules come first).
    let dify = by("dify");
    assert_eq!(dify["unmapped"]["records"], 0);
    let names: Vec<&str> = dify["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sales", "support"]);
    // The trace's calls find support through the Langfuse project (workspace rule), sales's
    // through the same two users.
    assert_eq!(by("langfuse")["unmapped"]["records"], 0);
    assert_eq!(by("langfuse")["teams"][0]["team"], "sales");
    // The trace's total is the trace → bill baseline (the same calls in the same window).
    assert_eq!(
        dec(&by("langfuse")["total"]["cost"]),
        dec(&comparison(&r, "langfuse", "openai")["totals"]["baseline"]["cost"])
    );
    assert_eq!(
        dec(&by("openai")["total"]["cost"]),
        dec(&comparison(&r, "dify", "openai")["totals"]["reference"]["cost"])
    );
}

#[test]
fn the_bill_is_shared_by_usage_and_foots_to_the_cent() {
    let r = demo_json(TEAMS);
    let bills = r["chargeback"]["bills"].as_array().unwrap();
    assert_eq!(bills.len(), 1);
    let b = &bills[0];
    let bridge = comparison(&r, "dify", "openai");
    // The bill's total is the bridge's reference; research's key, which a rule names, is billed
    // to research directly: exactly the bridge's unattributed_traffic (the other key).
    let total = dec(&b["total"]);
    assert_eq!(total, dec(&bridge["totals"]["reference"]["cost"]));
    assert_eq!(total, d("26.39802812"));
    assert_eq!(dec(&b["total_rounded"]), d("26.40"));
    let lines = b["lines"].as_array().unwrap();
    let line = |kind: &str, team: Option<&str>| {
        lines
            .iter()
            .find(|l| l["kind"] == kind && l["team"].as_str() == team)
            .unwrap()
    };
    let research = line("team", Some("research"));
    assert_eq!(
        dec(&research["billed_directly"]["cost"]),
        step_cost(bridge, "unattributed_traffic")
    );
    // Pool = 26.39802812 − 7.603958 = 18.79407012 (the app key's calls, the priority-served
    // ones at their priority price), shared by the app's cost of its calls: sales 0.7226586
    // and support 29.1047274 of 29.827386.
    assert_eq!(dec(&b["pooled"]["cost"]), d("18.79407012"));
    let sales = line("team", Some("sales"));
    let support = line("team", Some("support"));
    assert_eq!(dec(&sales["measured"]["cost"]), d("0.7226586"));
    assert_eq!(dec(&support["measured"]["cost"]), d("29.1047274"));
    // sales: 18.79407012 × 0.7226586 / 29.827386 = 0.45534316… → 0.46;
    // support: the rest of the pool, 18.33872695… → 18.34; research 7.603958 → 7.60;
    // 0.46 + 18.34 + 7.60 = 26.40, the bill to the cent (no unit to hand out).
    assert_eq!(dec(&sales["share"]), d("0.46"));
    assert_eq!(dec(&support["share"]), d("18.34"));
    assert_eq!(dec(&research["share"]), d("7.60"));
    assert_eq!(
        dec(&sales["allocated"]) + dec(&support["allocated"]),
        d("18.79407012")
    );
    // Unmapped and unattributed are lines of their own, here zero.
    assert_eq!(dec(&line("unmapped", None)["share"]), Decimal::ZERO);
    assert_eq!(dec(&line("unattributed", None)["share"]), Decimal::ZERO);
    let shares: Decimal = lines.iter().map(|l| dec(&l["share"])).sum();
    let exact: Decimal = lines.iter().map(|l| dec(&l["exact"])).sum();
    assert_eq!(shares, dec(&b["total_rounded"]));
    assert_eq!(exact, total);
}

#[test]
fn a_csv_teams_file_says_what_the_toml_says() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("teams.csv");
    std::fs::write(
        &csv,
        "match,value,team,cost_center\n\
         user,caa32117-1f2c-49d9-8224-e7f2474cd307,sales,CC-2100\n\
         user,8c64e2d9-38d5-48cc-9ab9-60dd895372e5,sales,CC-2100\n\
         app,76e4c27f-c004-462f-b9a7-12152caada3f,support,CC-1001\n\
         workspace,cmeykm6zwwgqitypxdv8tnzsk,support,CC-1001\n\
         api_key,key_RVUXndifjbwDDKE5,research,CC-3300\n",
    )
    .unwrap();
    let (mut a, mut b) = (demo_json(TEAMS), demo_json(csv.to_str().unwrap()));
    a["chargeback"]["teams_file"] = Value::Null;
    b["chargeback"]["teams_file"] = Value::Null;
    assert_eq!(a["chargeback"], b["chargeback"]);
}

#[test]
fn table_and_markdown_show_the_shares() {
    for format in ["table", "markdown"] {
        let out = demo(&["--teams", TEAMS, "--format", format]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Chargeback"), "{format}");
        let row = |team: &str| {
            text.lines()
                .find(|l| {
                    l.contains(team) && l.contains("CC-") && l.matches(['│', '┆', '|']).count() > 7
                })
                .unwrap_or_else(|| panic!("{format}: no bill row for {team}\n{text}"))
                .to_string()
        };
        // The last cell of each bill row is its share.
        let share = |team: &str| {
            row(team)
                .trim_end_matches(['│', '|', ' '])
                .rsplit(['┆', '|'])
                .next()
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(share("sales"), "0.46", "{format}");
        assert_eq!(share("support"), "18.34", "{format}");
        assert_eq!(share("research"), "7.60", "{format}");
        assert!(text.contains("(unattributed)") && text.contains("(unmapped)"));
    }
}

#[test]
fn without_teams_there_is_no_chargeback_and_a_bad_file_names_its_line() {
    let out = demo(&["--format", "json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r.get("chargeback").is_none());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("teams.csv");
    std::fs::write(&bad, "match,value,team\napp,a,x\nuser,,y\n").unwrap();
    let out = demo(&["--teams", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("teams.csv: line 3: the rule has no value"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn the_html_page_shows_the_shares() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let out = demo(&["--teams", TEAMS, "-o", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&path).unwrap();
    let start = html
        .find("<section class=\"chargeback\">")
        .expect("a chargeback section");
    let section = &html[start..start + html[start..].find("</section>").unwrap()];
    // The bill's rows: seven cells (line, cost center, calls, their cost, billed directly,
    // allocated, share); the share is the last.
    let cells = |row: &str| -> Vec<String> {
        row.split("<td")
            .skip(1)
            .map(|c| {
                let c = &c[c.find('>').unwrap() + 1..];
                c[..c.find("</td>").unwrap()].to_string()
            })
            .collect()
    };
    let share = |team: &str| {
        section
            .split("<tr")
            .map(cells)
            .find(|c| c.len() == 7 && c[0] == team)
            .unwrap_or_else(|| panic!("no bill row for {team}"))[6]
            .clone()
    };
    assert_eq!(share("sales"), "0.46");
    assert_eq!(share("support"), "18.34");
    assert_eq!(share("research"), "7.60");
    assert!(section.contains("(unattributed)") && section.contains("(unmapped)"));
}
