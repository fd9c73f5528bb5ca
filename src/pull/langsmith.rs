//! LangSmith runs: `POST /api/v1/runs/query` pages of the window, one chain per UTC day.
//!
//! The run query takes its filter and cursor in a JSON body, not the query string: `session`
//! (the tracing projects' ids, `--langsmith-project`), `start_time` (runs started at or after),
//! a `filter` `lt(start_time, "…")` for the day's end, `limit` 100, `select` (the columns the
//! reader uses: ids, names, types, times, errors, `extra`, tokens and costs; never inputs or
//! outputs), and `cursor` from the previous page's `cursors.next`. The key goes in `x-api-key`
//! (`LANGSMITH_API_KEY`, the variable LangSmith's SDK reads); the address is `--base-url` or
//! `LANGSMITH_ENDPOINT`, else LangSmith's cloud API.
//!
//! A run is written to LangSmith when it ends and ingested within minutes: a day's pages count
//! as complete only some minutes after the day.

use super::http::{Auth, Secret};
use super::{Api, Chain, PageInfo, PullError, base_url_from, json_object, utc_days};
use crate::reconcile::window::Span;
use crate::source::Format;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::path::Path;

/// How long after its end a day's runs may still arrive.
const INGEST_DELAY: Duration = Duration::minutes(10);

const DEFAULT_BASE: &str = "https://api.smith.langchain.com";

/// The run columns the `langsmith-runs-json` reader uses.
const SELECT: &[&str] = &[
    "id",
    "name",
    "run_type",
    "start_time",
    "end_time",
    "status",
    "error",
    "extra",
    "parent_run_id",
    "trace_id",
    "session_id",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_token_details",
    "completion_token_details",
    "prompt_cost",
    "completion_cost",
    "total_cost",
];

pub struct Langsmith {
    pub base: String,
    pub key: Secret,
    pub projects: Vec<String>,
}

impl Langsmith {
    pub fn from_env(
        base_url: Option<&str>,
        key_file: Option<&Path>,
        projects: &[String],
    ) -> Result<Langsmith, PullError> {
        if projects.is_empty() {
            return Err(PullError::Usage(
                "give the tracing project to pull: --langsmith-project UUID (the project's id, shown in its settings; repeat for several)".into(),
            ));
        }
        for p in projects {
            if !is_uuid(p) {
                return Err(PullError::Usage(format!(
                    "--langsmith-project {p}: expected the project's id, a UUID like 9f3c2a1e-0b4d-4e5f-8a6b-7c8d9e0f1a2b"
                )));
            }
        }
        let base = base_url_from(base_url, "LANGSMITH_ENDPOINT")
            .unwrap_or_else(|| DEFAULT_BASE.to_string());
        Ok(Langsmith {
            base,
            key: Secret::load("LANGSMITH_API_KEY", key_file)?,
            projects: projects.to_vec(),
        })
    }
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Instants as LangSmith writes them: naive UTC with microseconds.
fn run_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

impl Api for Langsmith {
    fn name(&self) -> &'static str {
        "langsmith"
    }
    fn default_base_url(&self) -> String {
        self.base.clone()
    }
    fn key_name(&self) -> &'static str {
        "LANGSMITH_API_KEY"
    }
    fn requested_span(&self, window: Span) -> Span {
        window
    }
    fn chains(&self, span: Span) -> Vec<Chain> {
        let mut chains = Vec::new();
        for (day, part) in utc_days(span) {
            let (from, to) = (part.start, part.end);
            chains.push(Chain {
                endpoint: "/api/v1/runs/query".to_string(),
                // The body's fields as LangSmith takes them (the cursor apart): the manifest
                // records them, and `post_body` sends them.
                query: vec![
                    ("session".to_string(), self.projects.join(",")),
                    ("start_time".to_string(), run_time(from)),
                    (
                        "filter".to_string(),
                        format!("lt(start_time, \"{}\")", run_time(to)),
                    ),
                    ("limit".to_string(), "100".to_string()),
                ],
                stem: format!("langsmith_runs_{}", day.format("%Y-%m-%d")),
                format: Format::LangsmithRunsJson,
                span_end: to,
            });
        }
        chains
    }
    fn cursor_param(&self) -> &'static str {
        "cursor"
    }
    fn auth(&self) -> Auth<'_> {
        Auth::Header("x-api-key", &self.key)
    }
    fn post_body(&self, chain: &Chain, cursor: Option<&str>) -> Option<Vec<u8>> {
        let field = |k: &str| {
            chain
                .query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let mut body = json!({
            "session": self.projects,
            "start_time": field("start_time")?,
            "filter": field("filter")?,
            "limit": 100,
            "select": SELECT,
        });
        if let Some(c) = cursor {
            body["cursor"] = Value::String(c.to_string());
        }
        serde_json::to_vec(&body).ok()
    }
    fn read_page(&self, chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
        read_page(chain, body)
    }
}

/// `{"runs": [run, …], "cursors": {"next": "…" | null, "prev": …}}`.
fn read_page(chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
    let page = json_object(body)?;
    let Some(Value::Array(runs)) = page.get("runs") else {
        return Err("runs: expected an array of runs".to_string());
    };
    for (i, run) in runs.iter().enumerate() {
        if !run.get("id").is_some_and(Value::is_string) {
            return Err(format!("runs[{i}]: expected a run with an \"id\""));
        }
    }
    let next = match page.get("cursors").and_then(|c| c.get("next")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::String(_)) => None,
        Some(other) => return Err(format!("cursors.next: expected a string, got {other}")),
    };
    Ok(PageInfo {
        next,
        rows: runs.len() as u64,
        covers_until: Some(chain.span_end + INGEST_DELAY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str = "9f3c2a1e-0b4d-4e5f-8a6b-7c8d9e0f1a2b";

    #[test]
    fn one_chain_per_utc_day_with_the_query_in_the_body() {
        let api = Langsmith {
            base: "http://127.0.0.1:1".into(),
            key: Secret::new("lsv2_pt_1".into()),
            projects: vec![PROJECT.into()],
        };
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let w = super::super::window("2026-10-01", "2026-10-02", tz).unwrap();
        let chains = api.chains(w);
        // 30 Sep 16:00Z … 1 Oct 16:00Z: two UTC days, each cut to the window.
        assert_eq!(chains.len(), 2);
        assert_eq!(chains[1].stem, "langsmith_runs_2026-10-01");
        let body: Value =
            serde_json::from_slice(&api.post_body(&chains[0], Some("c2")).unwrap()).unwrap();
        assert_eq!(body["session"], json!([PROJECT]));
        assert_eq!(body["start_time"], "2026-09-30T16:00:00.000000");
        assert_eq!(
            body["filter"],
            "lt(start_time, \"2026-10-01T00:00:00.000000\")"
        );
        assert_eq!(body["cursor"], "c2");
        assert!(
            body["select"]
                .as_array()
                .unwrap()
                .contains(&json!("total_cost"))
        );
        assert!(
            !body["select"]
                .as_array()
                .unwrap()
                .contains(&json!("inputs"))
        );
        let p = read_page(
            &chains[0],
            br#"{"runs": [{"id": "r1"}], "cursors": {"next": "c3", "prev": null}}"#,
        )
        .unwrap();
        assert_eq!((p.next.as_deref(), p.rows), (Some("c3"), 1));
        let last = read_page(&chains[0], br#"{"runs": [], "cursors": {"next": null}}"#).unwrap();
        assert_eq!(last.next, None);
        let e = read_page(&chains[0], br#"{"runs": [{"name": "x"}]}"#)
            .err()
            .unwrap();
        assert!(e.contains("\"id\""), "{e}");
    }

    #[test]
    fn a_project_must_be_a_uuid() {
        assert!(is_uuid(PROJECT));
        assert!(!is_uuid("my-project"));
        assert!(!is_uuid("9f3c2a1e-0b4d-4e5f-8a6b-7c8d9e0f1a2g"));
    }
}
