//! `price`, `pricing list` and `pricing check` from the command line. Expected costs are worked
//! out by hand from the listed prices (arithmetic in the comments), not copied from the output.

use assert_cmd::Command;
use serde_json::Value;

fn cmd(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("llm-recon").unwrap().args(args).assert()
}

/// Runs `price --format json` and returns the parsed object (exit 0 expected).
fn price_json(args: &[&str]) -> Value {
    let mut argv = vec!["price", "--format", "json"];
    argv.extend_from_slice(args);
    let out = cmd(&argv).success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

/// (class, quantity, unit_price, cost) of each line.
fn lines(v: &Value) -> Vec<(String, i64, String, String)> {
    v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["class"].as_str().unwrap().to_string(),
                l["quantity"].as_i64().unwrap(),
                l["unit_price"].as_str().unwrap().to_string(),
                l["cost"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn line(class: &str, q: i64, unit: &str, cost: &str) -> (String, i64, String, String) {
    (class.into(), q, unit.into(), cost.into())
}

#[test]
fn gpt_4o_mini_with_cached_input() {
    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per 1M (OpenAI pricing page).
    // 1,000,000 × 0.15/1M = 0.15; 500,000 × 0.075/1M = 0.0375; 200,000 × 0.60/1M = 0.12;
    // 0.15 + 0.0375 + 0.12 = 0.3075.
    let v = price_json(&[
        "--model",
        "gpt-4o-mini",
        "--at",
        "2025-03-01T12:00:00Z",
        "--usage",
        "input=1000000,input_cache_read=500000,output=200000",
    ]);
    assert_eq!(v["cost"], "0.3075");
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["entry"], "openai/gpt-4o-mini@2024-07-18");
    assert_eq!(v["effective_from"], "2024-07-18T00:00:00Z");
    assert!(v["source"].as_str().unwrap().contains("openai.com"));
    assert_eq!(
        lines(&v),
        vec![
            line("input", 1_000_000, "0.00000015", "0.15"),
            line("input_cache_read", 500_000, "0.000000075", "0.0375"),
            line("output", 200_000, "0.0000006", "0.12"),
        ]
    );

    // The table shows the same lines and the total; the dated snapshot finds the same entry.
    let out = cmd(&[
        "price",
        "-m",
        "gpt-4o-mini-2024-07-18",
        "--at",
        "2025-03-01",
        "--usage",
        "input=1_000_000, input_cache_read=500000 ,output=200000",
    ])
    .success()
    .get_output()
    .stdout
    .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("openai/gpt-4o-mini@2024-07-18"), "{text}");
    assert!(text.contains("1,000,000"), "{text}");
    assert!(text.contains("0.000000075"), "{text}");
    assert!(
        text.lines().last().unwrap().ends_with("0.3075 USD"),
        "{text}"
    );
}

#[test]
fn claude_sonnet_4_5_with_5m_and_1h_cache_writes() {
    // Claude Sonnet 4.5 per 1M: input $3, 5m cache write $3.75 (1.25×), 1h cache write $6 (2×),
    // cache hit $0.30 (0.1×), output $15.
    // 2,000 × 3/1M = 0.006; 10,000 × 3.75/1M = 0.0375; 20,000 × 6/1M = 0.12;
    // 50,000 × 0.30/1M = 0.015; 1,000 × 15/1M = 0.015; sum = 0.1935.
    let v = price_json(&[
        "--model",
        "claude-sonnet-4-5-20250929",
        "--at",
        "2025-10-15T08:00:00Z",
        "--usage",
        "input=2000,input_cache_write_5m=10000,input_cache_write_1h=20000,input_cache_read=50000,output=1000",
    ]);
    assert_eq!(v["entry"], "anthropic/claude-sonnet-4-5@2025-09-29");
    assert_eq!(v["provider"], "anthropic");
    assert_eq!(v["cost"], "0.1935");
    assert_eq!(
        lines(&v),
        vec![
            line("input", 2_000, "0.000003", "0.006"),
            line("input_cache_read", 50_000, "0.0000003", "0.015"),
            line("input_cache_write_5m", 10_000, "0.00000375", "0.0375"),
            line("input_cache_write_1h", 20_000, "0.000006", "0.12"),
            line("output", 1_000, "0.000015", "0.015"),
        ]
    );
    // Batch halves the whole call: 0.1935 × 0.5 = 0.09675.
    let b = price_json(&[
        "--model",
        "claude-sonnet-4-5",
        "--provider",
        "anthropic",
        "--at",
        "2025-10-15T08:00:00Z",
        "--usage",
        "input=2000,input_cache_write_5m=10000,input_cache_write_1h=20000,input_cache_read=50000,output=1000",
        "--tier",
        "batch",
    ]);
    assert_eq!(b["subtotal"], "0.1935");
    assert_eq!(b["batch_discount"], "0.5");
    assert_eq!(b["cost"], "0.09675");
}

#[test]
fn batch_on_gpt_4o() {
    // gpt-4o from 2024-10-02: $2.50 input, $10 output per 1M; Batch API 50% off.
    // 1,000,000 × 2.50/1M + 1,000,000 × 10/1M = 12.50; × 0.5 = 6.25.
    let args = [
        "--model",
        "gpt-4o",
        "--at",
        "2024-11-01T00:00:00Z",
        "--usage",
        "input=1000000,output=1000000",
    ];
    let std = price_json(&args);
    assert_eq!(std["cost"], "12.5");
    assert_eq!(std["tier"], "standard");
    let mut batch = args.to_vec();
    batch.extend(["--tier", "batch"]);
    let v = price_json(&batch);
    assert_eq!(v["tier"], "batch");
    assert_eq!(v["subtotal"], "12.5");
    assert_eq!(v["cost"], "6.25");
    // Azure's gpt-4o is grouped and priced as OpenAI's, as records from Azure are.
    let mut azure = batch.clone();
    azure.extend(["--provider", "azure_openai"]);
    assert_eq!(price_json(&azure)["entry"], "openai/gpt-4o@2024-10-02");
    // Another provider's tables do not price it.
    let mut other = vec!["price"];
    other.extend_from_slice(&args);
    other.extend(["--provider", "anthropic"]);
    cmd(&other)
        .code(2)
        .stderr(predicates::str::contains("of provider 'anthropic'"));
    // gpt-4o offers no flex tier: no cost rather than a wrong one.
    let mut flex = vec!["price"];
    flex.extend_from_slice(&args);
    flex.extend(["--tier", "flex"]);
    cmd(&flex)
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("flex tier is not priced"));
}

#[test]
fn gpt_4o_alias_before_and_after_the_august_2024_cut() {
    // The alias pointed at gpt-4o-2024-05-13 ($5/$15) until 2024-10-02, then at 2024-08-06
    // ($2.50/$10). 1M input + 1M output: 5 + 15 = 20 before; 2.5 + 10 = 12.5 after.
    let usage = ["--usage", "input=1000000,output=1000000"];
    let before = price_json(
        &[
            &["-m", "gpt-4o", "--at", "2024-09-15T00:00:00Z"][..],
            &usage,
        ]
        .concat(),
    );
    assert_eq!(before["entry"], "openai/gpt-4o@2024-05-13");
    assert_eq!(before["cost"], "20");
    let after = price_json(
        &[
            &["-m", "gpt-4o", "--at", "2024-10-15T00:00:00Z"][..],
            &usage,
        ]
        .concat(),
    );
    assert_eq!(after["entry"], "openai/gpt-4o@2024-10-02");
    assert_eq!(after["effective_from"], "2024-10-02T00:00:00Z");
    assert_eq!(after["cost"], "12.5");

    // Before 2024-10-02 the alias had no cached price: cached tokens are priced as input and
    // the line says so. 1,000 × 5/1M = 0.005.
    let v = price_json(&[
        "-m",
        "gpt-4o",
        "--at",
        "2024-09-15",
        "--usage",
        "input_cache_read=1000",
    ]);
    assert_eq!(v["lines"][0]["priced_as"], "input");
    assert_eq!(v["cost"], "0.005");
}

#[test]
fn qwen_in_cny_per_1k() {
    // qwen-max-2024-09-19: ¥0.02 input, ¥0.06 output per 1K tokens = ¥0.00002 and ¥0.00006 per
    // token. 1,500 × 0.00002 = 0.03; 500 × 0.00006 = 0.03; total ¥0.06.
    let v = price_json(&[
        "-m",
        "qwen-max-2024-09-19",
        "--at",
        "2025-01-01",
        "--usage",
        "input=1500,output=500",
    ]);
    assert_eq!(v["currency"], "CNY");
    assert_eq!(v["lines"][0]["unit_price"], "0.00002");
    assert_eq!(v["lines"][0]["unit_price_per_1m"], "20");
    assert_eq!(v["cost"], "0.06");
}

#[test]
fn unpriced_calls_exit_2_and_never_print_zero() {
    cmd(&[
        "price",
        "-m",
        "no-such-model",
        "--at",
        "2025-01-01",
        "--usage",
        "input=10",
    ])
    .code(2)
    .stdout("")
    .stderr(predicates::str::contains(
        "no price table lists model 'no-such-model'",
    ));
    // Known model, before its first entry.
    cmd(&[
        "price",
        "-m",
        "gpt-4o",
        "--at",
        "2024-01-15",
        "--usage",
        "input=10",
    ])
    .code(2)
    .stdout("")
    .stderr(predicates::str::contains(
        "first entry for 'gpt-4o' is openai/gpt-4o@2024-05-13",
    ));
    // A class the entry has no price for (gpt-4o lists no audio).
    cmd(&[
        "price",
        "-m",
        "gpt-4o",
        "--at",
        "2024-11-15",
        "--usage",
        "input=10,output_audio=5",
    ])
    .code(2)
    .stdout("")
    .stderr(predicates::str::contains("has no price for output_audio"));
    // Bad usage and time are usage errors.
    for bad in [
        ["--usage", "input=ten"],
        ["--usage", "cached=5"],
        ["--usage", "input=-1"],
        ["--usage", "input=1,input=2"],
    ] {
        cmd(&[
            &["price", "-m", "gpt-4o", "--at", "2024-11-15"][..],
            &bad[..],
        ]
        .concat())
        .code(2)
        .stderr(predicates::str::contains("--usage"));
    }
    cmd(&[
        "price",
        "-m",
        "gpt-4o",
        "--at",
        "yesterday",
        "--usage",
        "input=1",
    ])
    .code(2)
    .stderr(predicates::str::contains(
        "--at yesterday: expected an RFC 3339 time",
    ));
}

fn list_json(args: &[&str]) -> Vec<Value> {
    let mut argv = vec!["pricing", "list", "--format", "json"];
    argv.extend_from_slice(args);
    let out = cmd(&argv).success().get_output().stdout.clone();
    serde_json::from_slice::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Entries of a list that price `name`.
fn listing<'a>(list: &'a [Value], name: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|e| e["names"].as_array().unwrap().iter().any(|n| n == name))
        .map(|e| e["entry"].as_str().unwrap())
        .collect()
}

#[test]
fn pricing_list_filters_by_time_and_provider() {
    let all = list_json(&[]);
    // Without --at: the whole history, both gpt-4o alias entries.
    assert_eq!(
        listing(&all, "gpt-4o"),
        ["openai/gpt-4o@2024-05-13", "openai/gpt-4o@2024-10-02"]
    );
    let sept = list_json(&["--provider", "openai", "--at", "2024-09-15"]);
    assert_eq!(listing(&sept, "gpt-4o"), ["openai/gpt-4o@2024-05-13"]);
    assert!(sept.iter().all(|e| e["provider"] == "openai"));
    let oct = list_json(&["--provider", "openai", "--at", "2024-10-15T00:00:00Z"]);
    assert_eq!(listing(&oct, "gpt-4o"), ["openai/gpt-4o@2024-10-02"]);
    let mini = oct
        .iter()
        .find(|e| e["entry"] == "openai/gpt-4o-mini@2024-07-18")
        .unwrap();
    // $0.15 / $0.075 / $0.60 per 1M as listed.
    assert_eq!(mini["prices_per_1m"]["input"], "0.15");
    assert_eq!(mini["prices_per_1m"]["input_cache_read"], "0.075");
    assert_eq!(mini["prices_per_1m"]["output"], "0.6");
    // One entry per name at any instant, and nothing before it exists.
    for e in &oct {
        for n in e["names"].as_array().unwrap() {
            assert_eq!(listing(&oct, n.as_str().unwrap()).len(), 1, "{n}");
        }
        assert!(e["effective_from"].as_str().unwrap() <= "2024-10-15T00:00:00Z");
    }
    assert!(oct.len() < all.len());
    // Claude Sonnet 4.5 (2025-09-29) is not yet listed in October 2024.
    let anth = list_json(&["--provider", "anthropic", "--at", "2024-10-15"]);
    assert!(listing(&anth, "claude-sonnet-4-5").is_empty());
    assert!(!listing(&all, "claude-sonnet-4-5").is_empty());

    cmd(&[
        "pricing",
        "list",
        "--provider",
        "openai",
        "--at",
        "2024-10-15",
    ])
    .success()
    .stdout(predicates::str::contains("gpt-4o-mini"))
    .stdout(predicates::str::contains(
        "in force at 2024-10-15T00:00:00Z",
    ));
    cmd(&["pricing", "list", "--provider", "nowhere"]).code(2);
}

const GOOD: &str = r#"
[[entry]]
provider = "openai"
model = "m1"
names = ["m1"]
effective_from = "2026-01-01"
unit = "1M"
currency = "USD"
source = "https://example.invalid/pricing (read 2026-11-23)"
[entry.prices]
input = "1"
output = "2"
"#;

#[test]
fn pricing_check_passes_on_the_bundled_tables() {
    cmd(&["pricing", "check"])
        .success()
        .stdout(predicates::str::contains("ok: no problems"));
}

#[test]
fn pricing_check_reports_every_problem_in_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    // The same name from the same instant twice.
    std::fs::write(dir.path().join("dup.toml"), format!("{GOOD}{GOOD}")).unwrap();
    cmd(&["pricing", "check", dir.path().to_str().unwrap()])
        .code(2)
        .stdout(predicates::str::contains(
            "prices 'm1' from the same instant",
        ))
        .stderr(predicates::str::contains("1 problem in the price tables"));

    // Every bad entry is reported, not just the first; a single-class entry is fine.
    let dir = tempfile::tempdir().unwrap();
    let other_model = GOOD
        .replace("model = \"m1\"", "model = \"m9\"")
        .replace("2026-01-01", "2026-02-01");
    let unknown = GOOD
        .replace("m1", "m2")
        .replace("input = ", "input_cached = ");
    let no_input = GOOD.replace("m1", "m3").replace("input = \"1\"\n", "");
    let batch = GOOD.replace("m1", "m4").replace(
        "currency = \"USD\"",
        "currency = \"USD\"\nbatch_discount = \"1.5\"",
    );
    let image_only = GOOD
        .replace("m1", "img1")
        .replace("input = \"1\"\noutput = \"2\"", "output_image = \"40\"");
    std::fs::write(dir.path().join("a.toml"), format!("{GOOD}{other_model}")).unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        format!("{unknown}{no_input}{batch}{image_only}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a table").unwrap();
    let out = cmd(&["pricing", "check", dir.path().to_str().unwrap()])
        .code(2)
        .stderr(predicates::str::contains("4 problems"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("name 'm1' is listed by entries of different models"),
        "{text}"
    );
    assert!(
        text.contains("b.toml: entry #1 (openai/m2@2026-01-01)"),
        "{text}"
    );
    assert!(
        text.contains("unknown usage class 'input_cached'"),
        "{text}"
    );
    assert!(
        text.contains("b.toml: entry #2 (openai/m3@2026-01-01): prices: expected an 'input' price"),
        "{text}"
    );
    assert!(
        text.contains("batch_discount: expected a multiplier in (0, 1], got 1.5"),
        "{text}"
    );
    assert!(!text.contains("img1"), "{text}");
    assert_eq!(text.matches("error: ").count(), 4, "{text}");

    // A user table that overrides a bundled entry is a note, not a problem.
    let dir = tempfile::tempdir().unwrap();
    let over = GOOD
        .replace("model = \"m1\"", "model = \"gpt-4o-mini\"")
        .replace("[\"m1\"]", "[\"gpt-4o-mini\"]")
        .replace("2026-01-01", "2024-07-18");
    std::fs::write(dir.path().join("mine.toml"), over).unwrap();
    cmd(&["pricing", "check", dir.path().to_str().unwrap()])
        .success()
        .stdout(predicates::str::contains(
            "overrides the bundled pricing/openai.toml: entry #",
        ))
        .stdout(predicates::str::contains(
            "(openai/gpt-4o-mini@2024-07-18) for 'gpt-4o-mini'",
        ));
    cmd(&["pricing", "check", "/nonexistent/dir"]).code(2);
}
