//! `llm-recon pull` against a local HTTP server started by each test on 127.0.0.1, replaying the
//! response shapes the APIs document: several pages, 429 with Retry-After, a 500 then success, a
//! malformed page, a refused key. Asserts the pages written (byte for byte), the manifest, the
//! resume, the records read back, and that the key appears nowhere in stdout, stderr or DIR.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

const OPENAI_KEY: &str = "sk-admin-TESTKEY-never-printed-7f3a";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HashMap<String, String>,
    /// The request body (LangSmith's run query is a POST with a JSON body).
    body: String,
}

impl Seen {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn ok(body: impl Into<String>) -> Reply {
    Reply {
        status: 200,
        headers: Vec::new(),
        body: body.into(),
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A minimal HTTP/1.1 server: one request per connection (`Connection: close`). The handler gets
/// the request and how many times the same path + query was asked before.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn start(handler: Box<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let handler: Arc<Handler> = Arc::from(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let log = log.clone();
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let method = line.split_whitespace().next().unwrap_or("GET").to_string();
                    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let mut headers = HashMap::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.trim_end().split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                        }
                    }
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v: &String| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; length];
                    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                        return;
                    }
                    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
                    let query = q
                        .split('&')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, v) = p.split_once('=').unwrap_or((p, ""));
                            (decode(k), decode(v))
                        })
                        .collect();
                    let req = Seen {
                        method,
                        path: path.to_string(),
                        query,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let before = {
                        let mut log = log.lock().unwrap();
                        let n = log
                            .iter()
                            .filter(|s| {
                                s.path == req.path && s.query == req.query && s.body == req.body
                            })
                            .count();
                        log.push(req.clone());
                        n
                    };
                    let reply = handler(&req, before);
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (k, v) in &reply.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(reply.body.as_bytes());
                    let _ = stream.flush();
                });
            }
        });
        Server { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Percent-decoding of a query component (`+` is a space in a form-encoded query).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn llm_recon() -> Command {
    let mut c = Command::cargo_bin("llm-recon").unwrap();
    for var in [
        "OPENAI_ADMIN_KEY",
        "ANTHROPIC_ADMIN_KEY",
        "LANGFUSE_HOST",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "LITELLM_PROXY_API_KEY",
        "LITELLM_PROXY_API_BASE",
    ] {
        c.env_remove(var);
    }
    c
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The key appears in no output and no file of the directory.
fn assert_secret_nowhere(secret: &str, outs: &[&Outcome], dir: &Path) {
    for o in outs {
        assert!(!o.stdout.contains(secret), "key in stdout: {}", o.stdout);
        assert!(!o.stderr.contains(secret), "key in stderr: {}", o.stderr);
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "key in {}",
            path.display()
        );
    }
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Every file of the directory, for `reconcile DIR/*` / `normalize DIR/*`.
fn dir_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    v.sort();
    v
}

/// Records of `normalize DIR/*` (one JSON object per line).
fn normalized(dir: &Path) -> Vec<Value> {
    let o = run(llm_recon().arg("normalize").args(dir_files(dir)));
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sum_usage(records: &[Value], class: &str) -> i64 {
    records
        .iter()
        .map(|r| r["usage"][class].as_i64().unwrap_or(0))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// OpenAI

/// 2026-10-01T00:00:00Z and the next two UTC midnights.
const D1: i64 = 1_790_812_800;
const D2: i64 = D1 + 86_400;
const D3: i64 = D2 + 86_400;

fn openai_bucket(start: i64, results: &str) -> String {
    format!(
        r#"{{"object": "bucket", "start_time": {start}, "end_time": {}, "results": [{results}]}}"#,
        start + 86_400
    )
}

fn openai_page(buckets: &[String], next: Option<&str>) -> String {
    format!(
        r#"{{"object": "page", "data": [{}], "has_more": {}, "next_page": {}}}"#,
        buckets.join(", "),
        next.is_some(),
        next.map_or("null".to_string(), |n| format!("\"{n}\""))
    )
}

fn completions_result(input: i64, cached: i64, output: i64, requests: i64) -> String {
    format!(
        r#"{{"object": "organization.usage.completions.result", "input_tokens": {input}, "output_tokens": {output}, "input_cached_tokens": {cached}, "num_model_requests": {requests}, "project_id": "proj_app", "user_id": null, "api_key_id": "key_app", "model": "gpt-4o-mini-2024-07-18", "batch": false, "service_tier": "default"}}"#
    )
}

fn cost_result(value: &str, line_item: &str) -> String {
    format!(
        r#"{{"object": "organization.costs.result", "amount": {{"value": {value}, "currency": "usd"}}, "line_item": "{line_item}", "project_id": "proj_app"}}"#
    )
}

/// Completions: page 1 (day 1) then page 2 (day 2) by cursor; every other usage endpoint one
/// page of empty buckets; costs one page. `first_429` / `second_500` make the first attempt of
/// each page fail.
fn openai_pages(seen: &Seen, before: usize) -> Reply {
    assert_eq!(
        seen.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    let start: i64 = seen.param("start_time").unwrap().parse().unwrap();
    assert_eq!(start, D1);
    match (seen.path.as_str(), seen.param("page")) {
        ("/v1/organization/usage/completions", None) => {
            if before == 0 {
                return Reply {
                    status: 429,
                    headers: vec![("Retry-After", "1".to_string())],
                    body: r#"{"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}}"#.into(),
                };
            }
            ok(openai_page(
                &[openai_bucket(
                    D1,
                    &completions_result(10_000, 4_000, 1_000, 7),
                )],
                Some("cursor-2"),
            ))
        }
        ("/v1/organization/usage/completions", Some("cursor-2")) => {
            if before == 0 {
                return Reply {
                    status: 500,
                    headers: Vec::new(),
                    body: r#"{"error": {"message": "The server had an error"}}"#.into(),
                };
            }
            ok(openai_page(
                &[openai_bucket(D2, &completions_result(20_000, 0, 3_000, 11))],
                None,
            ))
        }
        ("/v1/organization/costs", None) => ok(openai_page(
            &[
                openai_bucket(
                    D1,
                    &[
                        cost_result("0.0012", "gpt-4o-mini-2024-07-18, input"),
                        cost_result("0.0006", "gpt-4o-mini-2024-07-18, output"),
                    ]
                    .join(", "),
                ),
                openai_bucket(D2, ""),
            ],
            None,
        )),
        (p, None) if p.starts_with("/v1/organization/usage/") => ok(openai_page(
            &[openai_bucket(D1, ""), openai_bucket(D2, "")],
            None,
        )),
        other => panic!("unexpected request {other:?}"),
    }
}

fn pull_openai(base: &str, dir: &Path) -> Outcome {
    run(llm_recon()
        .args([
            "pull",
            "openai",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-03",
        ])
        .args(["--base-url", base, "--retry-base-ms", "10", "--out"])
        .arg(dir)
        .env("OPENAI_ADMIN_KEY", OPENAI_KEY))
}

#[test]
fn openai_pages_retries_manifest_records_and_resume() {
    let server = Server::start(Box::new(openai_pages));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let first = pull_openai(&server.base, &dir);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Stderr is not a terminal here: no progress.
    assert_eq!(first.stderr, "");

    // The completions chain: a 429 and the page, then a 500 and the page: 4 requests.
    let seen = server.seen();
    let completions: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path.ends_with("/completions"))
        .collect();
    assert_eq!(completions.len(), 4);
    assert_eq!(completions[3].param("page"), Some("cursor-2"));
    let q = &completions[0].query;
    assert!(q.contains(&("end_time".into(), D3.to_string())));
    assert!(q.contains(&("bucket_width".into(), "1d".into())));
    for g in ["model", "project_id", "api_key_id", "batch", "service_tier"] {
        assert!(q.contains(&("group_by".into(), g.into())), "group_by {g}");
    }
    // 8 usage endpoints + costs.
    let paths: std::collections::BTreeSet<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths.len(), 9, "{paths:?}");

    // Pages exactly as received.
    let p1 = std::fs::read_to_string(dir.join("openai_usage_completions_p0001.json")).unwrap();
    assert_eq!(
        p1,
        openai_page(
            &[openai_bucket(
                D1,
                &completions_result(10_000, 4_000, 1_000, 7)
            )],
            Some("cursor-2")
        )
    );
    assert!(dir.join("openai_usage_completions_p0002.json").exists());
    assert!(dir.join("openai_costs_p0001.json").exists());

    let m = manifest(&dir);
    assert_eq!(m["schema"], "llm-recon/pull-manifest/v1");
    let pages = m["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 10);
    for p in pages {
        let bytes = std::fs::read(dir.join(p["file"].as_str().unwrap())).unwrap();
        assert_eq!(p["bytes"].as_u64().unwrap(), bytes.len() as u64);
        assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(p["complete"], true, "October is over");
    }
    let run0 = &m["runs"][0];
    assert_eq!(run0["status"], "complete");
    assert_eq!(run0["pages_fetched"], 10);
    assert_eq!(run0["requested_start"], "2026-10-01T00:00:00Z");
    assert_eq!(run0["requested_end"], "2026-10-03T00:00:00Z");

    // Read back: completions input = input_tokens − cached (10,000 − 4,000 + 20,000), cache
    // reads 4,000, output 1,000 + 3,000; two cost lines.
    let records = normalized(&dir);
    let usage: Vec<&Value> = records.iter().filter(|r| r["cost_only"] == false).collect();
    assert_eq!(usage.len(), 2);
    let usage: Vec<Value> = usage.into_iter().cloned().collect();
    assert_eq!(sum_usage(&usage, "input"), 26_000);
    assert_eq!(sum_usage(&usage, "input_cache_read"), 4_000);
    assert_eq!(sum_usage(&usage, "output"), 4_000);
    assert_eq!(records.iter().filter(|r| r["cost_only"] == true).count(), 2);

    // A second run: every page is complete and intact, nothing is fetched.
    let asked = server.seen().len();
    let second = pull_openai(&server.base, &dir);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(server.seen().len(), asked);
    assert!(
        second
            .stdout
            .contains("0 pages fetched, 10 already complete"),
        "{}",
        second.stdout
    );
    assert_eq!(manifest(&dir)["runs"].as_array().unwrap().len(), 2);

    // A page whose bytes changed on disk is fetched again.
    std::fs::write(dir.join("openai_costs_p0001.json"), "{}").unwrap();
    let third = pull_openai(&server.base, &dir);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(server.seen().len(), asked + 1);

    assert_secret_nowhere(OPENAI_KEY, &[&first, &second, &third], &dir);
}

#[test]
fn openai_unfinished_day_is_fetched_again_and_the_newer_page_is_read() {
    let today = chrono::Utc::now().date_naive();
    let midnight = today.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let server = Server::start(Box::new(move |seen: &Seen, _| {
        if seen.path.ends_with("/completions") {
            let mut n = c.lock().unwrap();
            *n += 1;
            // Today's bucket grows between the two runs.
            let input = if *n == 1 { 1_000 } else { 5_000 };
            ok(openai_page(
                &[
                    openai_bucket(midnight - 86_400, &completions_result(100, 0, 10, 1)),
                    openai_bucket(midnight, &completions_result(input, 0, 10, 1)),
                ],
                None,
            ))
        } else {
            ok(openai_page(&[], None))
        }
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let from = (today - chrono::Duration::days(1)).to_string();
    let to = (today + chrono::Duration::days(1)).to_string();
    let pull = || {
        run(llm_recon()
            .args(["pull", "openai", "--from", &from, "--to", &to])
            .args(["--base-url", &server.base, "--out"])
            .arg(&dir)
            .env("OPENAI_ADMIN_KEY", OPENAI_KEY))
    };
    let first = pull();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = pull();
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(*calls.lock().unwrap(), 2, "today's page is fetched again");
    // Empty pages (no buckets) cover the requested span, which ends tomorrow: fetched again too.
    let m = manifest(&dir);
    let pages = m["pages"].as_array().unwrap();
    let completions: Vec<&Value> = pages
        .iter()
        .filter(|p| {
            p["file"]
                .as_str()
                .unwrap()
                .starts_with("openai_usage_completions")
        })
        .collect();
    assert_eq!(completions.len(), 2);
    assert_eq!(completions[0]["complete"], false);
    assert_eq!(
        completions[0]["file"],
        "openai_usage_completions_p0001.json"
    );
    assert_eq!(
        completions[0]["superseded_by"],
        "openai_usage_completions_p0001.2.json"
    );
    // Both are kept as received; `normalize DIR/*` reads the newer one only.
    assert!(dir.join("openai_usage_completions_p0001.json").exists());
    let records = normalized(&dir);
    assert_eq!(sum_usage(&records, "input"), 100 + 5_000);
    // And `reconcile DIR/*` notes what it did not read.
    let r = run(llm_recon()
        .args(["reconcile", "--format", "json"])
        .args(dir_files(&dir)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("manifest.json: not read: pull manifest"),
        "{notes}"
    );
    assert!(
        notes.contains("openai_usage_completions_p0001.json: not read: page fetched again later"),
        "{notes}"
    );
    assert_secret_nowhere(OPENAI_KEY, &[&first, &second, &r], &dir);
}

#[test]
fn openai_malformed_page_stops_with_exit_2_and_keeps_the_pages_before_it() {
    let broken = Arc::new(Mutex::new(true));
    let b = broken.clone();
    let server = Server::start(Box::new(move |seen: &Seen, _| {
        match (seen.path.as_str(), seen.param("page")) {
            ("/v1/organization/usage/completions", None) => ok(openai_page(
                &[openai_bucket(D1, &completions_result(10, 0, 1, 1))],
                Some("p2"),
            )),
            ("/v1/organization/usage/completions", Some("p2")) if *b.lock().unwrap() => {
                ok(r#"{"object": "page", "data": [{"object": "bucket", "start_time": 17908"#)
            }
            ("/v1/organization/usage/completions", Some("p2")) => ok(openai_page(
                &[openai_bucket(D2, &completions_result(20, 0, 2, 1))],
                None,
            )),
            _ => ok(openai_page(&[openai_bucket(D1, "")], None)),
        }
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let first = pull_openai(&server.base, &dir);
    assert_eq!(first.code, 2);
    assert!(
        first
            .stderr
            .contains("page 2 is not what the API documents: not JSON"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("/v1/organization/usage/completions"),
        "{}",
        first.stderr
    );
    assert!(dir.join("openai_usage_completions_p0001.json").exists());
    assert!(!dir.join("openai_usage_completions_p0002.json").exists());
    let m = manifest(&dir);
    assert_eq!(m["pages"].as_array().unwrap().len(), 1);
    assert!(
        m["runs"][0]["status"]
            .as_str()
            .unwrap()
            .starts_with("failed: ")
    );

    // Fixed upstream: the run resumes at page 2.
    *broken.lock().unwrap() = false;
    let before = server.seen().len();
    let second = pull_openai(&server.base, &dir);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let again: Vec<Seen> = server.seen()[before..].to_vec();
    assert!(
        !again
            .iter()
            .any(|s| s.path.ends_with("/completions") && s.param("page").is_none()),
        "page 1 is not fetched again"
    );
    assert!(dir.join("openai_usage_completions_p0002.json").exists());
    assert_secret_nowhere(OPENAI_KEY, &[&first, &second], &dir);
}

#[test]
fn openai_refused_key_exits_2_with_a_clear_message() {
    // The server echoes the key, as some error bodies do: it must not reach the terminal.
    let server = Server::start(Box::new(|_: &Seen, _| Reply {
        status: 401,
        headers: Vec::new(),
        body: format!(
            r#"{{"error": {{"message": "Incorrect API key provided: {OPENAI_KEY}.", "type": "invalid_request_error", "code": "invalid_api_key"}}}}"#
        ),
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let o = pull_openai(&server.base, &dir);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("HTTP 401"), "{}", o.stderr);
    assert!(
        o.stderr.contains("the key in OPENAI_ADMIN_KEY was refused"),
        "{}",
        o.stderr
    );
    assert_eq!(server.seen().len(), 1, "a refused key is not retried");
    assert_secret_nowhere(OPENAI_KEY, &[&o], &dir);
}

#[test]
fn missing_key_is_a_usage_error_naming_the_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(llm_recon()
        .args([
            "pull",
            "openai",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
            "--out",
        ])
        .arg(tmp.path()));
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("OPENAI_ADMIN_KEY is not set"),
        "{}",
        o.stderr
    );
}

#[test]
fn key_file_is_read_instead_of_the_environment() {
    let server = Server::start(Box::new(|seen: &Seen, _| {
        assert_eq!(
            seen.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {OPENAI_KEY}").as_str())
        );
        ok(openai_page(&[openai_bucket(D1, "")], None))
    }));
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("{OPENAI_KEY}\n")).unwrap();
    let dir = tmp.path().join("pull");
    let o = run(llm_recon()
        .args([
            "pull",
            "openai",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
        ])
        .args(["--base-url", &server.base, "--key-file"])
        .arg(&key_file)
        .arg("--out")
        .arg(&dir));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(server.seen().len(), 9);
    assert_secret_nowhere(OPENAI_KEY, &[&o], &dir);
}

// ---------------------------------------------------------------------------------------------
// Anthropic

const ANTHROPIC_KEY: &str = "sk-ant-admin01-TESTKEY-never-printed-c41d";

fn anthropic_usage_result(uncached: i64, write_5m: i64, read: i64, output: i64) -> String {
    format!(
        r#"{{"account_id": null, "api_key_id": "apikey_01App", "cache_creation": {{"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": {write_5m}}}, "cache_read_input_tokens": {read}, "context_window": "0-200k", "inference_geo": null, "model": "claude-sonnet-4-5-20250929", "output_tokens": {output}, "server_tool_use": {{"web_search_requests": 0}}, "service_account_id": null, "service_tier": "standard", "uncached_input_tokens": {uncached}, "workspace_id": "wrkspc_01App"}}"#
    )
}

fn anthropic_page(day: &str, next_day: &str, results: &str, next: Option<&str>) -> String {
    format!(
        r#"{{"data": [{{"ending_at": "{next_day}T00:00:00Z", "results": [{results}], "starting_at": "{day}T00:00:00Z"}}], "has_more": {}, "next_page": {}}}"#,
        next.is_some(),
        next.map_or("null".to_string(), |n| format!("\"{n}\""))
    )
}

#[test]
fn anthropic_usage_and_cost_pages() {
    let server = Server::start(Box::new(|seen: &Seen, _| {
        assert_eq!(
            seen.headers.get("x-api-key").map(String::as_str),
            Some(ANTHROPIC_KEY)
        );
        assert_eq!(
            seen.headers.get("anthropic-version").map(String::as_str),
            Some("2023-06-01")
        );
        assert_eq!(seen.param("starting_at"), Some("2026-10-01T00:00:00Z"));
        assert_eq!(seen.param("ending_at"), Some("2026-10-03T00:00:00Z"));
        match (seen.path.as_str(), seen.param("page")) {
            ("/v1/organizations/usage_report/messages", None) => {
                let groups: Vec<&str> = seen
                    .query
                    .iter()
                    .filter(|(k, _)| k == "group_by[]")
                    .map(|(_, v)| v.as_str())
                    .collect();
                assert_eq!(
                    groups,
                    ["api_key_id", "workspace_id", "model", "service_tier"]
                );
                ok(anthropic_page(
                    "2026-10-01",
                    "2026-10-02",
                    &anthropic_usage_result(4_000, 2_000, 8_000, 1_000),
                    Some("page_MjAyNi0xMC0wMlQwMDowMDowMFo="),
                ))
            }
            (
                "/v1/organizations/usage_report/messages",
                Some("page_MjAyNi0xMC0wMlQwMDowMDowMFo="),
            ) => ok(anthropic_page(
                "2026-10-02",
                "2026-10-03",
                &anthropic_usage_result(6_000, 0, 0, 2_000),
                None,
            )),
            ("/v1/organizations/cost_report", None) => ok(anthropic_page(
                "2026-10-01",
                "2026-10-02",
                r#"{"amount": "1.2", "context_window": "0-200k", "cost_type": "tokens", "currency": "USD", "description": "Claude Sonnet 4.5 Usage - Input Tokens", "inference_geo": null, "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "token_type": "uncached_input_tokens", "workspace_id": "wrkspc_01App"}"#,
                None,
            )),
            other => panic!("unexpected request {other:?}"),
        }
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let o = run(llm_recon()
        .args([
            "pull",
            "anthropic",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-03",
        ])
        .args(["--base-url", &server.base, "--out"])
        .arg(&dir)
        .env("ANTHROPIC_ADMIN_KEY", ANTHROPIC_KEY));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(server.seen().len(), 3);
    for f in [
        "anthropic_usage_report_p0001.json",
        "anthropic_usage_report_p0002.json",
        "anthropic_cost_report_p0001.json",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let records = normalized(&dir);
    let usage: Vec<Value> = records
        .iter()
        .filter(|r| r["cost_only"] == false)
        .cloned()
        .collect();
    assert_eq!(usage.len(), 2);
    assert_eq!(sum_usage(&usage, "input"), 10_000);
    assert_eq!(sum_usage(&usage, "input_cache_write_5m"), 2_000);
    assert_eq!(sum_usage(&usage, "input_cache_read"), 8_000);
    assert_eq!(sum_usage(&usage, "output"), 3_000);
    // The cost line: "1.2" cents is $0.012.
    let cost: Vec<&Value> = records.iter().filter(|r| r["cost_only"] == true).collect();
    assert_eq!(cost.len(), 1);
    assert_eq!(cost[0]["reported_cost"]["amount"], "0.012");
    assert_secret_nowhere(ANTHROPIC_KEY, &[&o], &dir);
}

// ---------------------------------------------------------------------------------------------
// Langfuse

const LANGFUSE_SECRET: &str = "sk-lf-SECRET-never-printed-91c2";
/// base64("pk-lf-test-public:" + LANGFUSE_SECRET).
const LANGFUSE_BASIC: &str =
    "Basic cGstbGYtdGVzdC1wdWJsaWM6c2stbGYtU0VDUkVULW5ldmVyLXByaW50ZWQtOTFjMg==";

fn langfuse_generation(id: &str, start: &str, input: i64, output: i64) -> String {
    format!(
        r#"{{"id": "{id}", "traceId": "tr-{id}", "startTime": "{start}", "endTime": "{start}", "projectId": "cm1proj", "parentObservationId": null, "type": "GENERATION", "name": "llm", "level": "DEFAULT", "statusMessage": null, "version": null, "environment": "default", "userId": null, "sessionId": null, "providedModelName": "gpt-4o-mini", "internalModelId": null, "modelParameters": null, "usageDetails": {{"input": "{input}", "output": "{output}", "total": "{}"}}, "costDetails": {{}}, "totalCost": null, "usagePricingTierName": null, "modelId": null, "inputPrice": null, "outputPrice": null, "totalPrice": null}}"#,
        input + output
    )
}

fn pull_langfuse(base: &str, dir: &Path, extra: &[&str]) -> Outcome {
    run(llm_recon()
        .args([
            "pull",
            "langfuse",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-03",
            "--out",
        ])
        .arg(dir)
        .args(extra)
        .env("LANGFUSE_HOST", base)
        .env("LANGFUSE_PUBLIC_KEY", "pk-lf-test-public")
        .env("LANGFUSE_SECRET_KEY", LANGFUSE_SECRET))
}

#[test]
fn langfuse_v2_cursor_pages_per_day() {
    let server = Server::start(Box::new(|seen: &Seen, _| {
        assert_eq!(seen.path, "/api/public/v2/observations");
        assert_eq!(
            seen.headers.get("authorization").map(String::as_str),
            Some(LANGFUSE_BASIC)
        );
        assert!(seen.param("fields").unwrap().contains("usage"));
        match (seen.param("fromStartTime"), seen.param("cursor")) {
            (Some("2026-10-01T00:00:00Z"), None) => ok(format!(
                r#"{{"data": [{}], "meta": {{"cursor": "eyJsYXN0IjoiZzEifQ=="}}}}"#,
                langfuse_generation("g1", "2026-10-01T08:00:00.000Z", 1_000, 100)
            )),
            (Some("2026-10-01T00:00:00Z"), Some("eyJsYXN0IjoiZzEifQ==")) => ok(format!(
                r#"{{"data": [{}], "meta": {{}}}}"#,
                langfuse_generation("g2", "2026-10-01T09:00:00.000Z", 2_000, 200)
            )),
            (Some("2026-10-02T00:00:00Z"), None) => {
                assert_eq!(seen.param("toStartTime"), Some("2026-10-03T00:00:00Z"));
                ok(r#"{"data": [], "meta": {}}"#)
            }
            other => panic!("unexpected request {other:?}"),
        }
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let o = pull_langfuse(&server.base, &dir, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(server.seen().len(), 3);
    assert!(
        dir.join("langfuse_observations_v2_2026-10-01_p0002.json")
            .exists()
    );
    assert!(
        dir.join("langfuse_observations_v2_2026-10-02_p0001.json")
            .exists()
    );
    let records = normalized(&dir);
    assert_eq!(records.len(), 2);
    assert_eq!(sum_usage(&records, "input"), 3_000);
    assert_eq!(sum_usage(&records, "output"), 300);
    // Resume: October is over (and its 15 minutes of ingestion delay): nothing is fetched.
    let again = pull_langfuse(&server.base, &dir, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.seen().len(), 3);
    assert_secret_nowhere(LANGFUSE_SECRET, &[&o, &again], &dir);
}

#[test]
fn langfuse_v1_page_numbers() {
    let server = Server::start(Box::new(|seen: &Seen, _| {
        assert_eq!(seen.path, "/api/public/observations");
        let page: u32 = seen.param("page").unwrap_or("1").parse().unwrap();
        let day = &seen.param("fromStartTime").unwrap()[..10];
        if day == "2026-10-02" {
            return ok(
                r#"{"data": [], "meta": {"page": 1, "limit": 100, "totalItems": 0, "totalPages": 0}}"#,
            );
        }
        ok(format!(
            r#"{{"data": [{}], "meta": {{"page": {page}, "limit": 100, "totalItems": 2, "totalPages": 2}}}}"#,
            langfuse_generation(&format!("v1-{page}"), "2026-10-01T10:00:00.000Z", 500, 50)
        ))
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let o = pull_langfuse(&server.base, &dir, &["--langfuse-api", "v1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let pages: Vec<Option<String>> = server
        .seen()
        .iter()
        .filter(|s| s.param("fromStartTime").unwrap().starts_with("2026-10-01"))
        .map(|s| s.param("page").map(str::to_string))
        .collect();
    assert_eq!(pages, [None, Some("2".to_string())]);
    let records = normalized(&dir);
    assert_eq!(records.len(), 2);
    assert_eq!(sum_usage(&records, "input"), 1_000);
    assert_secret_nowhere(LANGFUSE_SECRET, &[&o], &dir);
}

// ---------------------------------------------------------------------------------------------
// LiteLLM

const LITELLM_KEY: &str = "sk-litellm-master-TESTKEY-4b1d";

fn spend_log(id: &str, start: &str, prompt: i64, completion: i64) -> String {
    format!(
        r#"{{"request_id": "{id}", "call_type": "acompletion", "api_key": "88dc28d0f030c55e", "spend": 0.00027, "total_tokens": {}, "prompt_tokens": {prompt}, "completion_tokens": {completion}, "startTime": "{start}", "endTime": "{start}", "model": "gpt-4o-mini", "model_group": "gpt-4o-mini", "custom_llm_provider": "openai", "metadata": {{"user_api_key_alias": "dify-prod"}}, "cache_hit": "False", "status": "success"}}"#,
        prompt + completion
    )
}

#[test]
fn litellm_spend_log_pages_per_day() {
    let server = Server::start(Box::new(|seen: &Seen, _| {
        assert_eq!(seen.path, "/spend/logs/v2");
        assert_eq!(
            seen.headers.get("authorization").map(String::as_str),
            Some(format!("Bearer {LITELLM_KEY}").as_str())
        );
        let page: u32 = seen.param("page").unwrap_or("1").parse().unwrap();
        match (seen.param("start_date"), page) {
            (Some("2026-10-01 00:00:00"), 1) => {
                assert_eq!(seen.param("end_date"), Some("2026-10-02 00:00:00"));
                ok(format!(
                    r#"{{"data": [{}], "total": 2, "page": 1, "page_size": 1, "total_pages": 2}}"#,
                    spend_log("r1", "2026-10-01T06:00:00.31", 1_000, 200)
                ))
            }
            (Some("2026-10-01 00:00:00"), 2) => ok(format!(
                r#"{{"data": [{}], "total": 2, "page": 2, "page_size": 1, "total_pages": 2}}"#,
                spend_log("r2", "2026-10-01T09:30:00", 3_000, 600)
            )),
            (Some("2026-10-02 00:00:00"), 1) => {
                ok(r#"{"data": [], "total": 0, "page": 1, "page_size": 100, "total_pages": 0}"#)
            }
            other => panic!("unexpected request {other:?}"),
        }
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let pull = || {
        run(llm_recon()
            .args([
                "pull",
                "litellm",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-03",
                "--out",
            ])
            .arg(&dir)
            .env("LITELLM_PROXY_API_BASE", &server.base)
            .env("LITELLM_PROXY_API_KEY", LITELLM_KEY))
    };
    let o = pull();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(server.seen().len(), 3);
    assert!(
        dir.join("litellm_spend_logs_2026-10-01_p0002.json")
            .exists()
    );
    let records = normalized(&dir);
    assert_eq!(records.len(), 2);
    assert_eq!(sum_usage(&records, "input"), 4_000);
    assert_eq!(sum_usage(&records, "output"), 800);
    // October 1–2 are over: nothing is fetched again.
    let again = pull();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.seen().len(), 3);
    assert_secret_nowhere(LITELLM_KEY, &[&o, &again], &dir);
}

#[test]
fn litellm_without_an_address_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(llm_recon()
        .args([
            "pull",
            "litellm",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
            "--out",
        ])
        .arg(tmp.path().join("pull"))
        .env("LITELLM_PROXY_API_KEY", LITELLM_KEY));
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("LITELLM_PROXY_API_BASE"), "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------------
// LangSmith

const LANGSMITH_KEY: &str = "lsv2_pt_TESTKEY_0c9e2f_never_printed";
const LANGSMITH_PROJECT: &str = "5f0c2a4e-8b1d-4c6f-9e3a-7d2b1c0e9f11";

fn llm_run(id: &str, start: &str, prompt: i64, completion: i64) -> String {
    format!(
        r#"{{"id": "{id}", "name": "ChatOpenAI", "run_type": "llm", "start_time": "{start}", "end_time": "{start}", "status": "success", "error": null, "extra": {{"metadata": {{"ls_provider": "openai", "ls_model_name": "gpt-4o-mini"}}}}, "parent_run_id": null, "trace_id": "{id}", "session_id": "{LANGSMITH_PROJECT}", "prompt_tokens": {prompt}, "completion_tokens": {completion}, "total_tokens": {}, "prompt_token_details": null, "completion_token_details": null, "prompt_cost": null, "completion_cost": null, "total_cost": "0.0003"}}"#,
        prompt + completion
    )
}

#[test]
fn langsmith_run_query_posts_its_filter_and_cursor_in_the_body() {
    let server = Server::start(Box::new(|seen: &Seen, _| {
        assert_eq!(
            (seen.method.as_str(), seen.path.as_str()),
            ("POST", "/api/v1/runs/query")
        );
        assert_eq!(
            seen.headers.get("x-api-key").map(String::as_str),
            Some(LANGSMITH_KEY)
        );
        assert!(seen.query.is_empty(), "{:?}", seen.query);
        let body: Value = serde_json::from_str(&seen.body).unwrap();
        assert_eq!(body["session"], serde_json::json!([LANGSMITH_PROJECT]));
        match (body["start_time"].as_str(), body["cursor"].as_str()) {
            (Some("2026-10-01T00:00:00.000000"), None) => {
                assert_eq!(
                    body["filter"],
                    "lt(start_time, \"2026-10-02T00:00:00.000000\")"
                );
                ok(format!(
                    r#"{{"runs": [{}], "cursors": {{"next": "cur-2", "prev": null}}}}"#,
                    llm_run(
                        "0b7e4d2a-1c3f-4a5e-8d9b-2f6a1c3e5d71",
                        "2026-10-01T06:00:00.310000",
                        1_000,
                        200
                    )
                ))
            }
            (Some("2026-10-01T00:00:00.000000"), Some("cur-2")) => ok(format!(
                r#"{{"runs": [{}], "cursors": {{"next": null, "prev": "cur-1"}}}}"#,
                llm_run(
                    "1c8f5e3b-2d4a-4b6f-9e0c-3a7b2d4f6e82",
                    "2026-10-01T09:30:00.000000",
                    3_000,
                    600
                )
            )),
            (Some("2026-10-02T00:00:00.000000"), None) => {
                ok(r#"{"runs": [], "cursors": {"next": null, "prev": null}}"#)
            }
            other => panic!("unexpected request {other:?}"),
        }
    }));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pull");
    let pull = || {
        run(llm_recon()
            .args([
                "pull",
                "langsmith",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-03",
                "--langsmith-project",
                LANGSMITH_PROJECT,
                "--out",
            ])
            .arg(&dir)
            .env("LANGSMITH_ENDPOINT", &server.base)
            .env("LANGSMITH_API_KEY", LANGSMITH_KEY))
    };
    let o = pull();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(server.seen().len(), 3);
    assert!(dir.join("langsmith_runs_2026-10-01_p0002.json").exists());
    // Read back as the trace: 1,000 + 3,000 input and 200 + 600 output tokens.
    let records = normalized(&dir);
    assert_eq!(records.len(), 2);
    assert_eq!(sum_usage(&records, "input"), 4_000);
    assert_eq!(sum_usage(&records, "output"), 800);
    // October 1–2 are over: nothing is fetched again.
    let again = pull();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(server.seen().len(), 3);
    assert_secret_nowhere(LANGSMITH_KEY, &[&o, &again], &dir);

    // Without a project, or with a project name instead of its id: usage errors.
    for extra in [&[][..], &["--langsmith-project", "my-project"][..]] {
        let o = run(llm_recon()
            .args([
                "pull",
                "langsmith",
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-02",
                "--out",
            ])
            .arg(tmp.path().join("none"))
            .args(extra)
            .env("LANGSMITH_API_KEY", LANGSMITH_KEY));
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert!(o.stderr.contains("--langsmith-project"), "{}", o.stderr);
    }
}
