//! Dify's PostgreSQL: `messages` and `workflow_node_executions` of the window, written as the CSV
//! that `psql \copy (select * from TABLE …) to 'FILE' csv header` writes, which the Dify adapter
//! reads (`dify_messages.csv`, `dify_node_executions.csv`).
//!
//! One read-only, repeatable-read transaction (one snapshot for every table); each table is
//! streamed with `COPY (SELECT * …) TO STDOUT (FORMAT csv, HEADER)`, the server's own CSV writer,
//! the same one `\copy` uses: the server sends rows as it reads them and the file is written
//! chunk by chunk, so memory stays flat on a year of rows. `created_at` is `timestamp without
//! time zone` holding UTC; the window is cut in UTC instants. Node executions are those of the
//! `workflow_runs` created in the window (a run's nodes stay together across midnight), plus
//! single-step runs (no run id) created in it.
//!
//! Without `--tz`, the window's dates are read in the workspace owner's time zone
//! (`accounts.timezone` of the `owner` in `tenant_account_joins`; Dify's console buckets days in
//! it). Several owners in different zones, or none with a zone, is an error asking for `--tz`.

use super::http::{Secret, redact_url};
use super::manifest::{self, Manifest, Page};
use super::{PullArgs, PullError, Summary};
use crate::reconcile::window::Span;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// The files one export writes, in the order they are written.
pub const MESSAGES_FILE: &str = "dify_messages.csv";
pub const NODES_FILE: &str = "dify_node_executions.csv";

/// What to read and where from.
pub struct DbRequest<'a> {
    pub url: &'a str,
    pub password_file: Option<&'a Path>,
    pub from: &'a str,
    pub to: &'a str,
    pub tz: Option<chrono_tz::Tz>,
}

/// What an export read.
pub struct Export {
    pub tz: chrono_tz::Tz,
    pub window: Span,
    pub files: Vec<(String, u64)>,
    pub workflow_runs: u64,
}

fn db_err(url: &str, what: &str, e: tokio_postgres::Error) -> PullError {
    // tokio-postgres's messages carry no password; the URL is shown without credentials.
    PullError::Db(format!("{}: {what}: {e}", redact_url(url)))
}

/// `pull dify --db URL --out DIR`.
pub fn pull(args: &PullArgs) -> Result<Summary, PullError> {
    let url = args
        .db
        .as_deref()
        .ok_or_else(|| PullError::Usage("pull dify needs --db postgres://…".into()))?;
    let tz = args.tz.as_deref().map(|_| args.tz()).transpose()?;
    super::create_dir(&args.out)?;
    let mut m = Manifest::load_or_new(&args.out)?;
    let started = Utc::now();
    let req = DbRequest {
        url,
        password_file: args.db_password_file.as_deref(),
        from: &args.from,
        to: &args.to,
        tz,
    };
    let export = export(&req, &args.out)?;
    let finished = Utc::now();
    let mut s = Summary::default();
    m.runs.push(manifest::Run {
        source: "dify".into(),
        base_url: redact_url(url),
        from: args.from.clone(),
        to: args.to.clone(),
        tz: export.tz.name().to_string(),
        window_start: export.window.start,
        window_end: export.window.end,
        requested_start: export.window.start,
        requested_end: export.window.end,
        started_at: started,
        finished_at: Some(finished),
        status: format!(
            "complete ({} workflow runs in the window)",
            export.workflow_runs
        ),
        pages_fetched: export.files.len() as u64,
        pages_reused: 0,
    });
    for (file, rows) in &export.files {
        let bytes = std::fs::read(args.out.join(file))
            .map_err(|e| PullError::Io(format!("{file}: {e}")))?;
        // A new snapshot replaces the previous export of the same file.
        m.pages.retain(|p| &p.file != file);
        m.pages.push(Page {
            file: file.clone(),
            format: if file == MESSAGES_FILE {
                crate::source::Format::DifyMessagesCsv
            } else {
                crate::source::Format::DifyNodeExecutionsCsv
            }
            .name()
            .to_string(),
            request: format!("COPY {file}"),
            endpoint: "postgres".into(),
            query: vec![
                ("from".into(), super::rfc3339(export.window.start)),
                ("to".into(), super::rfc3339(export.window.end)),
            ],
            cursor: None,
            next_cursor: None,
            page_number: 1,
            fetched_at: finished,
            complete: export.window.end <= started,
            covers_until: export.window.end,
            rows: *rows,
            bytes: bytes.len() as u64,
            sha256: manifest::sha256_hex(&bytes),
            superseded_by: None,
        });
        s.pages_fetched += 1;
        s.rows += rows;
    }
    m.save(&args.out)?;
    Ok(s)
}

/// The password: in the URL, else `--db-password-file`, else `PGPASSWORD`.
fn config(req: &DbRequest) -> Result<tokio_postgres::Config, PullError> {
    let mut cfg = tokio_postgres::Config::from_str(req.url).map_err(|e| {
        PullError::Usage(format!(
            "--db {}: expected postgres://user@host:port/dbname ({e})",
            redact_url(req.url)
        ))
    })?;
    if cfg.get_password().is_none() {
        if req.password_file.is_some() {
            let p = Secret::load("PGPASSWORD", req.password_file)?;
            cfg.password(p.expose());
        } else if let Ok(p) = std::env::var("PGPASSWORD")
            && !p.is_empty()
        {
            cfg.password(p);
        }
    }
    cfg.application_name("llm-recon");
    Ok(cfg)
}

/// TLS when the server offers it (`sslmode=prefer`, the default) or demands it
/// (`sslmode=require`); certificates are checked against the Mozilla root store.
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, PullError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PullError::Db(format!("TLS setup: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A timestamp literal for `timestamp without time zone` columns that hold UTC.
fn naive_literal(t: DateTime<Utc>) -> String {
    format!("'{}'", t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// Reads the window's rows into `dir` (files written whole or not at all).
pub fn export(req: &DbRequest, dir: &Path) -> Result<Export, PullError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PullError::Io(format!("cannot start the runtime: {e}")))?;
    rt.block_on(export_async(req, dir))
}

async fn export_async(req: &DbRequest<'_>, dir: &Path) -> Result<Export, PullError> {
    let url = req.url;
    let cfg = config(req)?;
    let (mut client, connection) = cfg
        .connect(tls()?)
        .await
        .map_err(|e| db_err(url, "cannot connect", e))?;
    let conn = tokio::spawn(connection);
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(|e| db_err(url, "cannot begin a read-only transaction", e))?;

    let tz = match req.tz {
        Some(tz) => tz,
        None => owner_time_zone(&tx, url).await?,
    };
    let window = super::window(req.from, req.to, tz)?;
    let (from, to) = (naive_literal(window.start), naive_literal(window.end));
    let in_window = format!("created_at >= {from} AND created_at < {to}");

    let count = |sql: String| {
        let tx = &tx;
        async move {
            tx.query_one(sql.as_str(), &[])
                .await
                .map(|r| r.get::<_, i64>(0) as u64)
                .map_err(|e| db_err(url, "cannot count rows", e))
        }
    };
    let runs_in_window = format!("SELECT id FROM workflow_runs WHERE {in_window}");
    let node_filter = format!(
        "workflow_run_id IN ({runs_in_window}) OR (workflow_run_id IS NULL AND {in_window})"
    );
    let workflow_runs = count(format!(
        "SELECT count(*) FROM workflow_runs WHERE {in_window}"
    ))
    .await?;
    let tables = [
        (
            MESSAGES_FILE,
            format!("SELECT * FROM messages WHERE {in_window} ORDER BY created_at, id"),
            format!("SELECT count(*) FROM messages WHERE {in_window}"),
        ),
        (
            NODES_FILE,
            format!(
                "SELECT * FROM workflow_node_executions WHERE {node_filter} ORDER BY created_at, id"
            ),
            format!("SELECT count(*) FROM workflow_node_executions WHERE {node_filter}"),
        ),
    ];
    let mut files = Vec::new();
    for (file, select, count_sql) in tables {
        let rows = count(count_sql).await?;
        let sql = format!("COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)");
        let stream = tx
            .copy_out(sql.as_str())
            .await
            .map_err(|e| db_err(url, &format!("cannot read {file}"), e))?;
        let path = dir.join(file);
        let tmp: PathBuf = path.with_extension("partial");
        let f = std::fs::File::create(&tmp)
            .map_err(|e| PullError::Io(format!("{}: cannot write: {e}", tmp.display())))?;
        let mut out = std::io::BufWriter::new(f);
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| db_err(url, &format!("reading {file}"), e))?;
            out.write_all(&chunk)
                .map_err(|e| PullError::Io(format!("{}: cannot write: {e}", tmp.display())))?;
        }
        out.flush()
            .map_err(|e| PullError::Io(format!("{}: cannot write: {e}", tmp.display())))?;
        drop(out);
        std::fs::rename(&tmp, &path)
            .map_err(|e| PullError::Io(format!("{}: cannot write: {e}", path.display())))?;
        files.push((file.to_string(), rows));
    }
    tx.commit()
        .await
        .map_err(|e| db_err(url, "cannot end the transaction", e))?;
    drop(client);
    let _ = conn.await;
    Ok(Export {
        tz,
        window,
        files,
        workflow_runs,
    })
}

/// The owners' time zone (`accounts.timezone`), when they agree on one.
async fn owner_time_zone(
    tx: &tokio_postgres::Transaction<'_>,
    url: &str,
) -> Result<chrono_tz::Tz, PullError> {
    let rows = tx
        .query(
            "SELECT DISTINCT a.timezone FROM accounts a \
             JOIN tenant_account_joins j ON j.account_id = a.id \
             WHERE j.role = 'owner' AND a.timezone IS NOT NULL AND a.timezone <> '' \
             ORDER BY 1",
            &[],
        )
        .await
        .map_err(|e| {
            db_err(
                url,
                "cannot read the owner's time zone (accounts.timezone)",
                e,
            )
        })?;
    let zones: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    match zones.as_slice() {
        [one] => one.parse().map_err(|_| {
            PullError::Usage(format!(
                "accounts.timezone of the owner is {one:?}, not an IANA time zone; give --tz"
            ))
        }),
        [] => Err(PullError::Usage(
            "no workspace owner has a time zone in accounts.timezone; give --tz".into(),
        )),
        many => Err(PullError::Usage(format!(
            "workspace owners have different time zones ({}); give --tz",
            many.join(", ")
        ))),
    }
}

/// A directory removed when dropped (for `reconcile --dify-db`).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir, PullError> {
        let path = std::env::temp_dir().join(format!(
            "llm-recon-dify-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| PullError::Io(format!("{}: cannot create: {e}", path.display())))?;
        Ok(TempDir(path))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_literals_are_naive_utc() {
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let w = super::super::window("2026-10-01", "2026-10-02", tz).unwrap();
        assert_eq!(naive_literal(w.start), "'2026-09-30 16:00:00.000000'");
    }
}
