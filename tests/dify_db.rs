//! `pull dify --db` and `reconcile --dify-db` against a real PostgreSQL (`.ci/run` starts one on
//! loopback and exports `LLM_RECON_TEST_PG`, a superuser URL). The fixture rows are loaded into
//! Dify's real column types; the report read from the database must equal the report read from
//! the same rows exported by `psql \copy … csv header`.

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

fn pg_url() -> Option<String> {
    match std::env::var("LLM_RECON_TEST_PG") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "skipped: LLM_RECON_TEST_PG is not set (.ci/run starts a PostgreSQL on loopback and sets it)"
            );
            None
        }
    }
}

fn psql(url: &str, args: &[&str]) {
    let out = std::process::Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q"])
        .args(args)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh database for this test; its URL.
fn fresh_db(base: &str, name: &str) -> String {
    psql(base, &["-c", &format!("DROP DATABASE IF EXISTS {name}")]);
    psql(base, &["-c", &format!("CREATE DATABASE {name}")]);
    let (head, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{head}/{name}")
}

/// The fixture rows Postgres can hold: the rows the fixtures keep to test rejections (a token
/// count saved as `1,024`, a date re-saved as `01/10/2026 13:06`) cannot be in a typed column.
fn loadable_copy(src: &Path, dst: &Path) {
    // Raw byte ranges of the kept records: rewriting them would lose psql's `""` (an empty
    // string) against an empty field (NULL).
    let bytes = std::fs::read(src).unwrap();
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let mut starts = Vec::new();
    let mut keep = Vec::new();
    let mut rec = csv::StringRecord::new();
    r.headers().unwrap();
    loop {
        let pos = r.position().byte() as usize;
        if !r.read_record(&mut rec).unwrap() {
            starts.push(bytes.len());
            break;
        }
        starts.push(pos);
        keep.push(
            !rec.iter()
                .any(|f| f == "1,024" || f.starts_with("01/10/2026")),
        );
    }
    let header_end = starts[0];
    let mut out = bytes[..header_end].to_vec();
    for (i, k) in keep.iter().enumerate() {
        if *k {
            out.extend_from_slice(&bytes[starts[i]..starts[i + 1]]);
        }
    }
    std::fs::write(dst, out).unwrap();
}

fn reconcile_json(args: &[String]) -> Value {
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .arg("reconcile")
        .args(args)
        .args(["--format", "json"])
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The report without where its files were (paths differ, contents must not).
fn without_paths(mut v: Value) -> Value {
    for s in v["sources"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("files");
    }
    for r in v["rejected"].as_array_mut().unwrap() {
        let o = r["origin"].as_str().unwrap();
        let base = o.rsplit('/').next().unwrap().to_string();
        r["origin"] = Value::String(base);
    }
    v
}

#[test]
fn dify_database_report_equals_the_psql_csv_report() {
    let Some(base) = pg_url() else { return };
    let url = fresh_db(&base, "llm_recon_dify_test");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let messages = tmp.path().join("messages_in.csv");
    let nodes = tmp.path().join("nodes_in.csv");
    loadable_copy(&root.join("fixtures/dify/messages.csv"), &messages);
    loadable_copy(&root.join("fixtures/dify/node_executions.csv"), &nodes);
    let schema = root.join("tests/sql/dify_schema.sql");
    psql(&url, &["-f", schema.to_str().unwrap()]);
    psql(
        &url,
        &[
            "-c",
            &format!("\\copy messages from '{}' csv header", messages.display()),
        ],
    );
    psql(
        &url,
        &[
            "-c",
            &format!(
                "\\copy workflow_node_executions from '{}' csv header",
                nodes.display()
            ),
        ],
    );
    // The runs the node executions belong to, started with their first node; a workspace
    // owner in Shanghai, and a second (normal) member elsewhere, whose zone does not count.
    psql(
        &url,
        &[
            "-c",
            "INSERT INTO workflow_runs (id, tenant_id, app_id, workflow_id, type, triggered_from, version, status, created_by_role, created_by, created_at) \
             SELECT workflow_run_id, min(tenant_id::text)::uuid, min(app_id::text)::uuid, min(workflow_id::text)::uuid, 'chat', 'app-run', '1', 'succeeded', 'account', min(created_by::text)::uuid, min(created_at) \
             FROM workflow_node_executions WHERE workflow_run_id IS NOT NULL GROUP BY workflow_run_id; \
             INSERT INTO accounts (id, name, email, timezone) VALUES \
             ('a0000000-0000-4000-8000-000000000001', 'Owner', 'owner@example.com', 'Asia/Shanghai'), \
             ('a0000000-0000-4000-8000-000000000002', 'Member', 'member@example.com', 'Europe/Berlin'); \
             INSERT INTO tenant_account_joins (id, tenant_id, account_id, role) VALUES \
             ('b0000000-0000-4000-8000-000000000001', 'c0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000001', 'owner'), \
             ('b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000002', 'normal');",
        ],
    );

    // The CSV side: the same rows as psql exports them.
    let csv_dir = tmp.path().join("psql");
    std::fs::create_dir(&csv_dir).unwrap();
    let m_csv = csv_dir.join("dify_messages.csv");
    let n_csv = csv_dir.join("dify_node_executions.csv");
    psql(
        &url,
        &[
            "-c",
            &format!(
                "\\copy (select * from messages order by created_at, id) to '{}' csv header",
                m_csv.display()
            ),
        ],
    );
    psql(
        &url,
        &[
            "-c",
            &format!(
                "\\copy (select * from workflow_node_executions order by created_at, id) to '{}' csv header",
                n_csv.display()
            ),
        ],
    );

    // pull dify: the owner's zone, the window's rows, byte for byte what psql wrote.
    let out_dir = tmp.path().join("pulled");
    let pulled = Command::cargo_bin("llm-recon")
        .unwrap()
        .args([
            "pull",
            "dify",
            "--db",
            &url,
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-03",
        ])
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(
        pulled.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    for (f, psql_file) in [
        ("dify_messages.csv", &m_csv),
        ("dify_node_executions.csv", &n_csv),
    ] {
        assert_eq!(
            std::fs::read_to_string(out_dir.join(f)).unwrap(),
            std::fs::read_to_string(psql_file).unwrap(),
            "{f}"
        );
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["runs"][0]["tz"], "Asia/Shanghai");
    assert_eq!(manifest["runs"][0]["window_start"], "2026-09-30T16:00:00Z");
    assert_eq!(
        manifest["pages"][0]["rows"], 4,
        "five fixture messages less the `1,024` one"
    );

    // Reports: from the database (the owner's zone) and from the psql CSV with that zone.
    let window = ["--from", "2026-10-01", "--to", "2026-10-03"].map(String::from);
    let mut db_args = window.to_vec();
    db_args.extend(["--dify-db".to_string(), url.clone()]);
    let from_db = reconcile_json(&db_args);
    let mut csv_args = window.to_vec();
    csv_args.extend(["--tz".to_string(), "Asia/Shanghai".to_string()]);
    csv_args.extend([m_csv.display().to_string(), n_csv.display().to_string()]);
    let from_csv = reconcile_json(&csv_args);
    assert_eq!(from_db["window"]["timezone"], "Asia/Shanghai");
    assert!(from_csv["sources"][0]["rows_read"].as_u64().unwrap() > 0);
    assert_eq!(without_paths(from_db), without_paths(from_csv));
}

#[test]
fn dify_database_errors_name_the_server_without_the_password() {
    let Some(base) = pg_url() else { return };
    let (head, _) = base.rsplit_once('/').unwrap();
    // A user that does not exist, with a password in the URL: refused, and not shown.
    let bad = head.replacen("://", "://nobody:hunter2-secret@", 1);
    let bad = if bad.matches('@').count() > 1 {
        // The base URL already had a user: rebuild from its host part.
        let host = head.rsplit_once('@').unwrap().1;
        format!("postgres://nobody:hunter2-secret@{host}")
    } else {
        bad
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("llm-recon")
        .unwrap()
        .args(["pull", "dify", "--db", &format!("{bad}/postgres")])
        .args([
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
            "--tz",
            "UTC",
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[redacted]@"), "{err}");
    assert!(!err.contains("hunter2-secret"), "{err}");
}
