//! `discounts_and_credits` end to end: a Dify app against bills whose lines carry credits and
//! discounts no call causes (the GCP, FOCUS, AWS CUR and Azure fixtures). The step is the exact
//! sum of those lines, the bridge still ties out, and `unexplained` is what it is for the same
//! bill without them: the step takes out exactly their money.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(p)
}

const DIFY_HEAD: &str = "id,app_id,model_provider,model_id,override_model_configs,conversation_id,inputs,query,message,message_tokens,message_unit_price,message_price_unit,answer,answer_tokens,answer_unit_price,answer_price_unit,parent_message_id,provider_response_latency,total_price,currency,from_source,from_end_user_id,from_account_id,created_at,updated_at,agent_based,workflow_run_id,status,error,message_metadata,invoke_from,app_mode";

/// One Dify chat message: `prompt` / `completion` tokens at the unit prices (per token, 1e-6
/// price unit), recorded at `total`.
fn dify_message(
    id: &str,
    provider: &str,
    model: &str,
    at: &str,
    (prompt, p_price): (u64, &str),
    (completion, c_price): (u64, &str),
    total: &str,
) -> String {
    format!(
        "{id},8e2d4c1a-5b6f-4e3a-9c7d-1a2b3c4d5e99,{provider},{model},,c1c1c1c1-aaaa-4bbb-8ccc-{id},{{}},Hi,\"[{{\"\"role\"\": \"\"user\"\", \"\"text\"\": \"\"Hi\"\", \"\"files\"\": []}}]\",{prompt},{p_price},0.0000010,Hello.,{completion},{c_price},0.0000010,,1.0,{total},USD,api,e0e0e0e0-1111-4222-8333-444455556699,,{at},{at},f,,normal,,\"{{\"\"usage\"\": {{\"\"prompt_tokens\"\": {prompt}, \"\"completion_tokens\"\": {completion}, \"\"total_tokens\"\": {}, \"\"total_price\"\": \"\"{total}\"\", \"\"currency\"\": \"\"USD\"\"}}}}\",service-api,chat",
        prompt + completion
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `dify → BILL` totals for a Dify export and a bill file.
fn totals(dify: &Path, bill: &Path, bill_name: &str) -> serde_json::Value {
    let r = reconcile_json(&[dify, bill]);
    comparison(&r, "dify", bill_name)["totals"].clone()
}

/// GCP `billing_export.jsonl`: one hour of Gemini 2.5 Flash with a free-tier credit of −$0.05
/// (line 1, type FREE_TIER) and a committed use discount of −$0.02 (line 4, type
/// COMMITTED_USAGE_DISCOUNT): the step is −0.05 − 0.02 = −0.07, by kind.
#[test]
fn gcp_credits_are_the_step_and_leave_unexplained_as_without_them() {
    let dir = tempfile::tempdir().unwrap();
    // The app's one call of that hour: 1.2M + 400K prompt, 80K + 150K completion, at
    // $0.30 / $2.50: 1.6M × 0.3e-6 + 230K × 2.5e-6 = 0.48 + 0.575 = 1.055.
    let dify = write(
        dir.path(),
        "messages.csv",
        &format!(
            "{DIFY_HEAD}\n{}\n",
            dify_message(
                "000000000001",
                "langgenius/gemini/google",
                "gemini-2.5-flash",
                "2026-10-01 07:30:00.000000",
                (1_600_000, "0.3000"),
                (230_000, "2.5000"),
                "1.0550000",
            )
        ),
    );
    let text = std::fs::read_to_string(fixture("gcp/billing_export.jsonl")).unwrap();
    let with = write(dir.path(), "billing_export.jsonl", &text);
    let free = r#""credits": [{"name": "Free tier", "amount": -0.05, "full_name": "Free tier", "id": "FreeTier-VertexAI", "type": "FREE_TIER"}]"#;
    let cud = r#""credits": [{"name": "Committed use discount: Vertex AI", "amount": -0.02, "full_name": "Committed use discount: Vertex AI", "id": "CUD-VertexAI-1", "type": "COMMITTED_USAGE_DISCOUNT"}]"#;
    assert!(text.contains(free) && text.contains(cud));
    let bare = text
        .replace(free, r#""credits": []"#)
        .replace(cud, r#""credits": []"#);
    let bare_dir = dir.path().join("bare");
    std::fs::create_dir(&bare_dir).unwrap();
    let without = write(&bare_dir, "billing_export.jsonl", &bare);
    let t = totals(&dify, &with, "gcp");

    let s = step(&t, "discounts_and_credits");
    assert_eq!(dec(&s["cost"]), d("-0.07"));
    assert_eq!(s["records"], 2);
    assert_eq!(tokens(&s["tokens"], "total"), 0);
    let note = s["note"].as_str().unwrap();
    assert!(
        note.contains("1 promotion -0.05") && note.contains("1 commitment -0.02"),
        "{note}"
    );
    let remedy = s["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("book them separately") && remedy.contains("what the contract saves"),
        "{remedy}"
    );
    // The bill: usage 0.36 + 0.20 + 0.375 + 0.012 = 0.947, credits −0.07: 0.877.
    assert_eq!(dec(&t["reference"]["cost"]), d("0.877"));
    assert_eq!(dec(&t["baseline"]["cost"]), d("1.055"));
    ties_out(&t, "dify → gcp");
    // No other step took the credits' money.
    for other in t["bridge"].as_array().unwrap() {
        if other["cause"] != "discounts_and_credits" && other["cause"] != "unexplained" {
            let ev = other["evidence"].to_string();
            assert!(!ev.contains(":credit"), "{}: {ev}", other["cause"]);
        }
    }

    let bare = totals(&dify, &without, "gcp");
    assert_eq!(dec(&bare["reference"]["cost"]), d("0.947"));
    let b = step(&bare, "discounts_and_credits");
    assert_eq!(
        (dec(&b["cost"]), &b["records"]),
        (d("0"), &serde_json::json!(0))
    );
    assert!(b.get("remedy").is_none_or(|r| r.is_null()), "{b}");
    let (u, ub) = (step(&t, "unexplained"), step(&bare, "unexplained"));
    assert_eq!(dec(&u["cost"]), dec(&ub["cost"]));
    assert_eq!(u["tokens"], ub["tokens"]);
}

/// FOCUS 1.3 `focus_1_3_ai_tokens.csv`, 2026-10-09 on key cred-key-01: gpt-4.1 1M input ($2),
/// 500K cached ($0.25), 100K output ($0.80), 2.5M output under a commitment (billed 0, effective
/// and list 20), a `Credit` of −$1.50. As delivered the commitment costs its list price: the
/// step is the credit alone. With the committed row at EffectiveCost 16 (a 20 % commitment
/// discount off its list 20), the step is −1.50 − 4 = −5.50.
#[test]
fn focus_credit_and_commitment_discount_are_the_step() {
    let dir = tempfile::tempdir().unwrap();
    // The app's gpt-4.1 calls of that day: 1.5M prompt, 2.6M completion at $2 / $8:
    // 3 + 20.8 = 23.8.
    let dify = write(
        dir.path(),
        "messages.csv",
        &format!(
            "{DIFY_HEAD}\n{}\n",
            dify_message(
                "000000000002",
                "langgenius/openai/openai",
                "gpt-4.1",
                "2026-10-09 10:00:00.000000",
                (1_500_000, "2.0000"),
                (2_600_000, "8.0000"),
                "23.8000000",
            )
        ),
    );
    let text = std::fs::read_to_string(fixture("focus/focus_1_3_ai_tokens.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[7].contains(",Credit,,Promotional credit,"));
    let committed = "Tokens,20,8,cred-key-01,20,";
    assert!(lines[4].contains(committed));
    let join = |ls: &[String]| ls.join("\n") + "\n";
    let own: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let mut discounted = own.clone();
    discounted[4] = own[4].replace(committed, "Tokens,16,6.4,cred-key-01,16,");
    // The same bill without the credit line: what the usage alone leaves unexplained.
    let mut bare = own.clone();
    bare.remove(7);

    let t = totals(&dify, &write(dir.path(), "focus.csv", &join(&own)), "focus");
    let s = step(&t, "discounts_and_credits");
    assert_eq!(dec(&s["cost"]), d("-1.5"));
    assert_eq!(s["records"], 1);
    ties_out(&t, "dify → focus");
    // 2 + 0.25 + 0.8 + 20 + 0.05 (another key's model) − 1.5 = 21.6.
    assert_eq!(dec(&t["reference"]["cost"]), d("21.6"));

    let bare_dir = dir.path().join("bare");
    std::fs::create_dir(&bare_dir).unwrap();
    let b = totals(&dify, &write(&bare_dir, "focus.csv", &join(&bare)), "focus");
    assert_eq!(dec(&b["reference"]["cost"]), d("23.1"));
    assert_eq!(dec(&step(&b, "discounts_and_credits")["cost"]), d("0"));
    let unexplained = |t: &serde_json::Value| dec(&step(t, "unexplained")["cost"]);
    assert_eq!(unexplained(&t), unexplained(&b));

    let disc_dir = dir.path().join("discounted");
    std::fs::create_dir(&disc_dir).unwrap();
    let t2 = totals(
        &dify,
        &write(&disc_dir, "focus.csv", &join(&discounted)),
        "focus",
    );
    let s2 = step(&t2, "discounts_and_credits");
    // The credit −1.50 and the commitment's 16 − 20 = −4.
    assert_eq!(dec(&s2["cost"]), d("-5.5"));
    assert_eq!(s2["records"], 2);
    let note = s2["note"].as_str().unwrap();
    assert!(
        note.contains("1 commitment -4") && note.contains("1 credit -1.5"),
        "{note}"
    );
    // The bill is $4 cheaper, and the step, not unexplained, says why.
    assert_eq!(dec(&t2["reference"]["cost"]), d("17.6"));
    assert_eq!(unexplained(&t2), unexplained(&b));
    ties_out(&t2, "dify → focus (discounted)");
}

/// AWS CUR 2.0 `cur2_bedrock_credits.csv`, 2026-10-01 00:00–01:00 on account 123456789012:
/// Claude 3.7 Sonnet 100,000 input ($0.30) and 20,000 output ($0.30), a `Credit` of −$0.05, a
/// `Refund` of −$0.02 and an `EdpDiscount` of −$0.009; a monthly Tax line ($0.04) and an EC2
/// Credit line (−$1.00) are not Bedrock money. The step is −0.05 − 0.02 − 0.009 = −0.079: two
/// credits (−0.07) and one discount (−0.009).
#[test]
fn aws_cur_credit_refund_and_edp_discount_are_the_step() {
    let dir = tempfile::tempdir().unwrap();
    // The app's one call of that hour through Bedrock: 100K prompt, 20K completion at $3 / $15
    // per 1M: 100,000 × 3e-6 + 20,000 × 15e-6 = 0.30 + 0.30 = 0.60.
    let dify = write(
        dir.path(),
        "messages.csv",
        &format!(
            "{DIFY_HEAD}\n{}\n",
            dify_message(
                "000000000003",
                "langgenius/bedrock/bedrock",
                "anthropic.claude-3-7-sonnet-20250219-v1:0",
                "2026-10-01 00:30:00.000000",
                (100_000, "3.0000"),
                (20_000, "15.0000"),
                "0.6000000",
            )
        ),
    );
    let text = std::fs::read_to_string(fixture("aws/cur2_bedrock_credits.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[3].contains(",Credit,") && lines[3].contains(",AmazonBedrock,"));
    assert!(lines[4].contains(",Refund,") && lines[5].contains(",EdpDiscount,"));
    // The same bill without its three Bedrock adjustment lines.
    let mut bare: Vec<&str> = lines.clone();
    bare.drain(3..=5);
    let bare_dir = dir.path().join("bare");
    std::fs::create_dir(&bare_dir).unwrap();
    let without = write(&bare_dir, "cur2.csv", &(bare.join("\n") + "\n"));
    let with = write(dir.path(), "cur2.csv", &text);

    let t = totals(&dify, &with, "aws");
    let s = step(&t, "discounts_and_credits");
    assert_eq!(dec(&s["cost"]), d("-0.079"));
    assert_eq!(s["records"], 3);
    assert_eq!(tokens(&s["tokens"], "total"), 0);
    let note = s["note"].as_str().unwrap();
    assert!(
        note.contains("2 credit -0.07") && note.contains("1 discount -0.009"),
        "{note}"
    );
    // The bill: usage 0.30 + 0.30 = 0.60, adjustments −0.079: 0.521 (no tax, no EC2).
    assert_eq!(dec(&t["reference"]["cost"]), d("0.521"));
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.6"));
    assert_eq!(tokens(&t["reference"]["tokens"], "input"), 100_000);
    assert_eq!(tokens(&t["reference"]["tokens"], "output"), 20_000);
    ties_out(&t, "dify → aws");
    // No other step took the adjustments' money.
    for other in t["bridge"].as_array().unwrap() {
        if other["cause"] != "discounts_and_credits" && other["cause"] != "unexplained" {
            let ev = other["evidence"].to_string();
            assert!(!ev.contains(":type="), "{}: {ev}", other["cause"]);
        }
    }

    let b = totals(&dify, &without, "aws");
    assert_eq!(dec(&b["reference"]["cost"]), d("0.6"));
    assert_eq!(dec(&step(&b, "discounts_and_credits")["cost"]), d("0"));
    ties_out(&b, "dify → aws (bare)");
    let (u, ub) = (step(&t, "unexplained"), step(&b, "unexplained"));
    assert_eq!(dec(&u["cost"]), dec(&ub["cost"]));
    assert_eq!(u["tokens"], ub["tokens"]);
}

/// Azure EA `ea_refund_unused_reservation.csv`, 10/08/2026 on `aoai-chat-eastus2`: gpt-4o 0513
/// 6 × 1K input ($0.03) and 2 × 1K output ($0.03), a `Refund` of −$0.012 (line 4, a credit) and
/// an `UnusedReservation` of 0.5 hours at $0.04 = $0.02 (line 5, a commitment): the step is
/// −0.012 + 0.02 = 0.008, by kind.
#[test]
fn azure_refund_and_unused_reservation_are_the_step() {
    let dir = tempfile::tempdir().unwrap();
    // The app's one call of that day through Azure OpenAI: 6K prompt, 2K completion at $5 / $15
    // per 1M: 6,000 × 5e-6 + 2,000 × 15e-6 = 0.03 + 0.03 = 0.06.
    let dify = write(
        dir.path(),
        "messages.csv",
        &format!(
            "{DIFY_HEAD}\n{}\n",
            dify_message(
                "000000000004",
                "langgenius/azure_openai/azure_openai",
                "gpt-4o",
                "2026-10-08 09:30:00.000000",
                (6_000, "5.0000"),
                (2_000, "15.0000"),
                "0.0600000",
            )
        ),
    );
    let text = std::fs::read_to_string(fixture("azure/ea_refund_unused_reservation.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[3].contains(",Refund,") && lines[3].contains(",-0.012,"));
    assert!(lines[4].contains(",UnusedReservation,") && lines[4].contains(",0.02,"));
    // The same bill without its two adjustment rows (BOM and CRLF kept).
    let mut bare: Vec<&str> = lines.clone();
    bare.drain(3..=4);
    let bare_dir = dir.path().join("bare");
    std::fs::create_dir(&bare_dir).unwrap();
    let without = write(&bare_dir, "azure.csv", &(bare.join("\r\n") + "\r\n"));
    let with = write(dir.path(), "azure.csv", &text);

    let t = totals(&dify, &with, "azure");
    let s = step(&t, "discounts_and_credits");
    assert_eq!(dec(&s["cost"]), d("0.008"));
    assert_eq!(s["records"], 2);
    assert_eq!(tokens(&s["tokens"], "total"), 0);
    let note = s["note"].as_str().unwrap();
    assert!(
        note.contains("1 credit -0.012") && note.contains("1 commitment 0.02"),
        "{note}"
    );
    // The bill: usage 0.03 + 0.03 = 0.06, adjustments 0.008: 0.068.
    assert_eq!(dec(&t["reference"]["cost"]), d("0.068"));
    assert_eq!(dec(&t["baseline"]["cost"]), d("0.06"));
    assert_eq!(tokens(&t["reference"]["tokens"], "input"), 6_000);
    assert_eq!(tokens(&t["reference"]["tokens"], "output"), 2_000);
    ties_out(&t, "dify → azure");
    // No other step took the adjustments' money.
    for other in t["bridge"].as_array().unwrap() {
        if other["cause"] != "discounts_and_credits" && other["cause"] != "unexplained" {
            let ev = other["evidence"].to_string();
            assert!(!ev.contains(":charge="), "{}: {ev}", other["cause"]);
        }
    }

    let b = totals(&dify, &without, "azure");
    assert_eq!(dec(&b["reference"]["cost"]), d("0.06"));
    assert_eq!(dec(&step(&b, "discounts_and_credits")["cost"]), d("0"));
    ties_out(&b, "dify → azure (bare)");
    let (u, ub) = (step(&t, "unexplained"), step(&b, "unexplained"));
    assert_eq!(dec(&u["cost"]), dec(&ub["cost"]));
    assert_eq!(u["tokens"], ub["tokens"]);
}

/// `normalize --format csv` names what kind of money each credit line is: the GCP fixture's
/// free-tier credit (−0.05) is a promotion, its committed-use discount (−0.02) a commitment;
/// usage lines leave the column empty.
#[test]
fn normalize_names_each_credit_lines_kind() {
    let out = assert_cmd::Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["normalize", "--format", "csv"])
        .arg(fixture("gcp/billing_export.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rd = csv::Reader::from_reader(&out.stdout[..]);
    let head = rd.headers().unwrap().clone();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (adj, cost, only) = (col("adjustment"), col("reported_cost"), col("cost_only"));
    let mut kinds: Vec<(String, String)> = Vec::new();
    for row in rd.records() {
        let row = row.unwrap();
        if row[only] == *"true" {
            kinds.push((row[adj].to_string(), row[cost].to_string()));
        } else {
            assert_eq!(&row[adj], "", "{row:?}");
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("commitment".to_string(), "-0.02".to_string()),
            ("promotion".to_string(), "-0.05".to_string())
        ]
    );
}
