//! `llm-recon pull`: fetch the usage and cost data from where it lives into a directory that
//! `reconcile DIR/*` reads.
//!
//! One module per API (`openai`, `anthropic`, `langfuse`, `litellm`) implementing [`Api`]; the driver here
//! walks each request's pages to the end, writes every page exactly as received, and keeps
//! `manifest.json` up to date after each page.
//!
//! Resume: a page whose data ended before it was fetched is complete and is not fetched again
//! while its file is intact (same SHA-256). A page that covers time not yet over when it was
//! fetched (today's bucket) is fetched again on the next run, into a new file; the manifest
//! marks the old one superseded and `reconcile` reads the newer.

pub mod anthropic;
pub mod dify_db;
pub mod http;
pub mod langfuse;
pub mod langsmith;
pub mod litellm;
pub mod manifest;
pub mod openai;

use crate::reconcile::window::{Span, parse_bound};
use crate::source::Format;
use chrono::{DateTime, Duration, DurationRound, Utc};
use clap::{Args, ValueEnum};
use http::{Auth, RetryPolicy, Secret};
use manifest::{Manifest, Page, Run};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Why a pull stopped. Every kind exits 2; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Db(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PullSource {
    Openai,
    Anthropic,
    Langfuse,
    Litellm,
    Langsmith,
    Dify,
}

#[derive(Args, Debug, Clone)]
pub struct PullArgs {
    /// Where to pull from.
    #[arg(value_enum)]
    pub source: PullSource,
    /// Start of the window: YYYY-MM-DD (midnight in --tz) or an RFC 3339 instant.
    #[arg(long)]
    pub from: String,
    /// End of the window (exclusive), same forms as --from.
    #[arg(long)]
    pub to: String,
    /// Time zone of the dates (IANA name; default UTC; Dify: the workspace owner's).
    #[arg(long)]
    pub tz: Option<String>,
    /// Directory the pages and manifest.json are written to (created if
    /// missing).
    #[arg(long)]
    pub out: PathBuf,
    /// The API's address instead of the default (a proxy, self-hosted Langfuse, a test server).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Read the key (Langfuse: the secret key) from this file's first line instead of the
    /// environment.
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Bucket width of the usage pages: 1d or 1h (cost pages are always daily).
    #[arg(long, default_value = "1d", value_parser = ["1d", "1h"])]
    pub bucket: String,
    /// Dify: the PostgreSQL URL (postgres://user@host:port/dbname?sslmode=prefer|require|disable).
    /// Leave the password out of it: PGPASSWORD or --db-password-file.
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Dify: read the database password from this file's first line.
    #[arg(long, value_name = "PATH")]
    pub db_password_file: Option<PathBuf>,
    /// Langfuse: the observations API version (v1 for self-hosted servers before v4).
    #[arg(long, value_enum, default_value_t = langfuse::Version::V2)]
    pub langfuse_api: langfuse::Version,
    /// LangSmith: the id (UUID) of a tracing project to pull the runs of; repeat for several.
    #[arg(long, value_name = "UUID")]
    pub langsmith_project: Vec<String>,
    /// Attempts per request, the first included (429, 5xx, timeouts).
    #[arg(long, default_value_t = 6, hide = true)]
    pub attempts: u32,
    /// First retry backoff in milliseconds (doubles per retry, with jitter).
    #[arg(long, default_value_t = 500, hide = true)]
    pub retry_base_ms: u64,
    /// Longest wait between attempts, seconds (also caps Retry-After).
    #[arg(long, default_value_t = 60, hide = true)]
    pub max_delay_secs: u64,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

impl PullArgs {
    fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.attempts.max(1),
            base: std::time::Duration::from_millis(self.retry_base_ms),
            max_delay: std::time::Duration::from_secs(self.max_delay_secs),
            timeout: std::time::Duration::from_secs(self.timeout.max(1)),
        }
    }

    fn tz(&self) -> Result<chrono_tz::Tz, PullError> {
        let name = self.tz.as_deref().unwrap_or("UTC");
        name.parse().map_err(|_| {
            PullError::Usage(format!(
                "--tz {name}: expected an IANA time zone like UTC or Asia/Shanghai"
            ))
        })
    }
}

/// The window `[from, to)` as instants.
pub fn window(from: &str, to: &str, tz: chrono_tz::Tz) -> Result<Span, PullError> {
    let parse = |flag: &str, s: &str| {
        parse_bound(s, tz).ok_or_else(|| {
            PullError::Usage(format!(
                "{flag} {s:?}: expected a date YYYY-MM-DD (midnight in --tz) or an RFC 3339 instant"
            ))
        })
    };
    let (start, end) = (parse("--from", from)?, parse("--to", to)?);
    if end <= start {
        return Err(PullError::Usage(format!(
            "--to {to} is not after --from {from}"
        )));
    }
    Ok(Span { start, end })
}

/// The whole UTC buckets of `width` that cover `span` (provider buckets start at UTC
/// boundaries; the reconcile step cuts the report window out of them).
pub fn whole_buckets(span: Span, width: Duration) -> Span {
    let start = span.start.duration_trunc(width).unwrap_or(span.start);
    let mut end = span.end.duration_trunc(width).unwrap_or(span.end);
    if end < span.end {
        end += width;
    }
    Span { start, end }
}

/// The UTC days `span` touches, each as its midnight and the part of `span` inside it: the
/// APIs pulled one request chain per day (Langfuse, LangSmith, LiteLLM).
pub fn utc_days(span: Span) -> Vec<(DateTime<Utc>, Span)> {
    let mut days = Vec::new();
    let mut day = span
        .start
        .duration_trunc(Duration::days(1))
        .unwrap_or(span.start);
    while day < span.end {
        let part = Span {
            start: day.max(span.start),
            end: (day + Duration::days(1)).min(span.end),
        };
        days.push((day, part));
        day += Duration::days(1);
    }
    days
}

/// A self-hosted API's address: `--base-url`, else the environment variable `var`, trimmed and
/// without a trailing `/`; none when both are unset or empty.
pub fn base_url_from(base_url: Option<&str>, var: &str) -> Option<String> {
    base_url
        .map(str::to_string)
        .or_else(|| std::env::var(var).ok())
        .map(|b| b.trim().trim_end_matches('/').to_string())
        .filter(|b| !b.is_empty())
}

/// One chain of pages: an endpoint with its query, followed through its cursors.
pub struct Chain {
    pub endpoint: String,
    /// The query without the cursor.
    pub query: Vec<(String, String)>,
    /// File name stem of its pages.
    pub stem: String,
    pub format: Format,
    /// End of the span the chain asks for: what a page without buckets covers.
    pub span_end: DateTime<Utc>,
}

impl Chain {
    /// The manifest's name of the chain: endpoint and query.
    fn key(&self) -> String {
        let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", self.endpoint, q.join("&"))
    }
}

/// What the driver needs to know of a page after checking its shape.
pub struct PageInfo {
    /// The cursor of the next page; none when the chain ends.
    pub next: Option<String>,
    pub rows: u64,
    /// End of the last bucket on the page (none: the page has none).
    pub covers_until: Option<DateTime<Utc>>,
}

/// One API: its requests, authentication and page shape.
pub trait Api {
    fn name(&self) -> &'static str;
    fn default_base_url(&self) -> String;
    /// Where the key came from, for the message of a refused key.
    fn key_name(&self) -> &'static str;
    /// The span requested for a window (whole buckets for bucketed APIs).
    fn requested_span(&self, window: Span) -> Span;
    fn chains(&self, span: Span) -> Vec<Chain>;
    /// The query parameter that carries the cursor.
    fn cursor_param(&self) -> &'static str;
    fn auth(&self) -> Auth<'_>;
    fn headers(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
    /// The JSON body of a POST request for the chain's page at `cursor`, for an API that takes
    /// its query and cursor in the body; `None` (the default) is a GET with the query string.
    fn post_body(&self, _chain: &Chain, _cursor: Option<&str>) -> Option<Vec<u8>> {
        None
    }
    /// Checks a page's shape and finds its next cursor; `Err` says what was expected.
    fn read_page(&self, chain: &Chain, body: &[u8]) -> Result<PageInfo, String>;
}

/// What a pull did.
#[derive(Debug, Default)]
pub struct Summary {
    pub pages_fetched: u64,
    pub pages_reused: u64,
    pub rows: u64,
}

/// Runs `llm-recon pull`.
pub fn run(args: &PullArgs) -> Result<i32, PullError> {
    let tz = args.tz()?;
    let policy = args.policy();
    let bucket = if args.bucket == "1h" {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    let (summary, name) = match args.source {
        PullSource::Openai => {
            let key = Secret::load("OPENAI_ADMIN_KEY", args.key_file.as_deref())?;
            let api = openai::OpenAi { key, bucket };
            (pull_api(&api, args, tz, &policy)?, api.name())
        }
        PullSource::Anthropic => {
            let key = Secret::load("ANTHROPIC_ADMIN_KEY", args.key_file.as_deref())?;
            let api = anthropic::Anthropic { key, bucket };
            (pull_api(&api, args, tz, &policy)?, api.name())
        }
        PullSource::Langfuse => {
            let api = langfuse::Langfuse::from_env(args.key_file.as_deref(), args.langfuse_api)?;
            (pull_api(&api, args, tz, &policy)?, api.name())
        }
        PullSource::Litellm => {
            let api =
                litellm::Litellm::from_env(args.base_url.as_deref(), args.key_file.as_deref())?;
            (pull_api(&api, args, tz, &policy)?, api.name())
        }
        PullSource::Langsmith => {
            let api = langsmith::Langsmith::from_env(
                args.base_url.as_deref(),
                args.key_file.as_deref(),
                &args.langsmith_project,
            )?;
            (pull_api(&api, args, tz, &policy)?, api.name())
        }
        PullSource::Dify => (dify_db::pull(args)?, "dify"),
    };
    println!(
        "{name}: {} pages fetched, {} already complete, {} rows in {}",
        summary.pages_fetched,
        summary.pages_reused,
        summary.rows,
        args.out.display()
    );
    Ok(0)
}

/// Progress on stderr when it is a terminal; quiet otherwise.
struct Progress {
    on: bool,
    started: std::time::Instant,
    name: &'static str,
}

impl Progress {
    fn new(name: &'static str) -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
            name,
        }
    }
    fn show(&self, s: &Summary) {
        if self.on {
            eprint!(
                "\r{}: {} pages ({} already complete), {} rows, {:.1} s ",
                self.name,
                s.pages_fetched,
                s.pages_reused,
                s.rows,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
    fn done(&self) {
        if self.on {
            eprintln!();
        }
    }
}

fn create_dir(dir: &Path) -> Result<(), PullError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| PullError::Io(format!("{}: cannot create: {e}", dir.display())))
}

/// Starts a run in the manifest of `args.out`.
fn begin_run(
    args: &PullArgs,
    source: &str,
    base_url: &str,
    tz: chrono_tz::Tz,
    window: Span,
    requested: Span,
) -> Result<Manifest, PullError> {
    create_dir(&args.out)?;
    let mut m = Manifest::load_or_new(&args.out)?;
    m.runs.push(Run {
        source: source.to_string(),
        base_url: http::redact_url(base_url),
        from: args.from.clone(),
        to: args.to.clone(),
        tz: tz.name().to_string(),
        window_start: window.start,
        window_end: window.end,
        requested_start: requested.start,
        requested_end: requested.end,
        started_at: Utc::now(),
        finished_at: None,
        status: "running".to_string(),
        pages_fetched: 0,
        pages_reused: 0,
    });
    m.save(&args.out)?;
    Ok(m)
}

/// Closes the run (complete or failed) and saves the manifest.
fn end_run<T>(
    m: &mut Manifest,
    dir: &Path,
    s: &Summary,
    result: Result<T, PullError>,
) -> Result<T, PullError> {
    if let Some(run) = m.runs.last_mut() {
        run.finished_at = Some(Utc::now());
        run.pages_fetched = s.pages_fetched;
        run.pages_reused = s.pages_reused;
        run.status = match &result {
            Ok(_) => "complete".to_string(),
            Err(e) => format!("failed: {e}"),
        };
    }
    let saved = m.save(dir);
    let value = result?;
    saved?;
    Ok(value)
}

fn pull_api(
    api: &dyn Api,
    args: &PullArgs,
    tz: chrono_tz::Tz,
    policy: &RetryPolicy,
) -> Result<Summary, PullError> {
    let window = window(&args.from, &args.to, tz)?;
    let requested = api.requested_span(window);
    let base = args
        .base_url
        .clone()
        .unwrap_or_else(|| api.default_base_url());
    let base = base.trim_end_matches('/').to_string();
    let mut m = begin_run(args, api.name(), &base, tz, window, requested)?;
    let mut s = Summary::default();
    let progress = Progress::new(api.name());
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PullError::Io(format!("cannot start the HTTP runtime: {e}")))
        .and_then(|rt| {
            rt.block_on(fetch_chains(
                api, &base, requested, policy, &args.out, &mut m, &mut s, &progress,
            ))
        });
    progress.done();
    end_run(&mut m, &args.out, &s, result)?;
    Ok(s)
}

/// A page already on disk is reused when it is complete and its bytes are what the manifest
/// says.
fn reusable(dir: &Path, p: &Page) -> bool {
    p.complete
        && std::fs::read(dir.join(&p.file)).is_ok_and(|b| manifest::sha256_hex(&b) == p.sha256)
}

/// Pages of one chain past this many are taken for a server that never ends its cursor chain.
const MAX_PAGES_PER_CHAIN: u32 = 100_000;

#[allow(clippy::too_many_arguments)]
async fn fetch_chains(
    api: &dyn Api,
    base: &str,
    span: Span,
    policy: &RetryPolicy,
    dir: &Path,
    m: &mut Manifest,
    s: &mut Summary,
    progress: &Progress,
) -> Result<(), PullError> {
    let client = reqwest::Client::builder()
        .connect_timeout(policy.timeout)
        .user_agent(concat!("llm-recon/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PullError::Io(format!("cannot start the HTTP client: {e}")))?;
    let auth = api.auth();
    let headers = api.headers();
    let shown_base = http::redact_url(base);
    for chain in api.chains(span) {
        let key = chain.key();
        let mut cursor: Option<String> = None;
        for number in 1..=MAX_PAGES_PER_CHAIN {
            if let Some(p) = m.current(&key, cursor.as_deref())
                && reusable(dir, p)
            {
                s.pages_reused += 1;
                s.rows += p.rows;
                progress.show(s);
                match p.next_cursor.clone() {
                    Some(next) => {
                        cursor = Some(next);
                        continue;
                    }
                    None => break,
                }
            }
            let body = api.post_body(&chain, cursor.as_deref());
            let mut query = Vec::new();
            if body.is_none() {
                query = chain.query.clone();
                if let Some(c) = &cursor {
                    query.push((api.cursor_param().to_string(), c.clone()));
                }
            }
            let method = if body.is_some() { "POST" } else { "GET" };
            let shown = format!(
                "{method} {shown_base}{}",
                chain_shown(&chain, cursor.as_deref())
            );
            let url = format!("{base}{}", chain.endpoint);
            let resp = http::get(
                &client,
                &url,
                &query,
                body.as_deref(),
                &headers,
                &auth,
                policy,
                &shown,
                api.key_name(),
            )
            .await?;
            let fetched_at = Utc::now();
            let info = api.read_page(&chain, &resp.body).map_err(|why| {
                PullError::Malformed(format!(
                    "{shown}: page {number} is not what the API documents: {why}; not written (the {} pages before it are kept in {}; run again to resume)",
                    s.pages_fetched + s.pages_reused,
                    dir.display()
                ))
            })?;
            if info.next.is_some() && info.next == cursor {
                return Err(PullError::Malformed(format!(
                    "{shown}: page {number} names itself as the next page; stopped"
                )));
            }
            let file = m.free_name(dir, &chain.stem, number);
            manifest::write_atomic(&dir.join(&file), &resp.body)?;
            let covers_until = info.covers_until.unwrap_or(chain.span_end);
            m.put(Page {
                file,
                format: chain.format.name().to_string(),
                request: key.clone(),
                endpoint: chain.endpoint.clone(),
                query: chain.query.clone(),
                cursor: cursor.clone(),
                next_cursor: info.next.clone(),
                page_number: number,
                fetched_at,
                complete: covers_until <= fetched_at,
                covers_until,
                rows: info.rows,
                bytes: resp.body.len() as u64,
                sha256: manifest::sha256_hex(&resp.body),
                superseded_by: None,
            });
            m.save(dir)?;
            s.pages_fetched += 1;
            s.rows += info.rows;
            progress.show(s);
            match info.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(())
}

/// Path and query of a request as shown in messages (they carry no secret).
fn chain_shown(chain: &Chain, cursor: Option<&str>) -> String {
    let mut q: Vec<String> = chain
        .query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(c) = cursor {
        q.push(format!("cursor={c}"));
    }
    format!("{}?{}", chain.endpoint, q.join("&"))
}

/// RFC 3339 with a `Z`, seconds precision: how the APIs take instants.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A JSON page body as an object, or what was wrong with it.
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("expected a JSON object".to_string()),
        Err(e) => Err(format!("not JSON ({e})")),
    }
}

/// `has_more` / `next_page` of the OpenAI and Anthropic envelopes.
pub fn next_page_cursor(
    page: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<String>, String> {
    use serde_json::Value;
    let has_more = match page.get("has_more") {
        Some(Value::Bool(b)) => *b,
        other => return Err(format!("has_more: expected true or false, got {other:?}")),
    };
    match (has_more, page.get("next_page")) {
        (false, _) => Ok(None),
        (true, Some(Value::String(s))) if !s.is_empty() => Ok(Some(s.clone())),
        (true, other) => Err(format!(
            "has_more is true but next_page is {}",
            other.map_or("missing".to_string(), |v| v.to_string())
        )),
    }
}
