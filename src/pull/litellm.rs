//! LiteLLM proxy spend logs: `GET /spend/logs/v2` pages of the window, one chain per UTC day.
//!
//! `start_date` / `end_date` as `YYYY-MM-DD HH:MM:SS` (UTC, the spend logs' own zone),
//! `page` numbers until `total_pages`, `page_size` 100. `Authorization: Bearer` with the proxy's
//! admin key (`LITELLM_PROXY_API_KEY`, the variable LiteLLM's own client reads); the proxy's
//! address from `--base-url` or `LITELLM_PROXY_API_BASE` (a proxy is self-hosted: there is no
//! default). A request logged on a day's boundary may come in both days' pages: the same row
//! twice is a duplicate and counted once.
//!
//! A day is complete only a few minutes after it ends: the proxy writes spend logs in batches.

use super::http::{Auth, Secret};
use super::{Api, Chain, PageInfo, PullError, base_url_from, json_object, utc_days};
use crate::reconcile::window::Span;
use crate::source::Format;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use std::path::Path;

/// How long after its end a day's spend logs may still be written.
const WRITE_DELAY: Duration = Duration::minutes(10);

pub struct Litellm {
    pub base: String,
    pub key: Secret,
}

impl Litellm {
    pub fn from_env(base_url: Option<&str>, key_file: Option<&Path>) -> Result<Litellm, PullError> {
        let base = base_url_from(base_url, "LITELLM_PROXY_API_BASE").ok_or_else(|| {
                PullError::Usage(
                    "the proxy's address is not set: give --base-url or LITELLM_PROXY_API_BASE (e.g. http://litellm:4000)".into(),
                )
            })?;
        Ok(Litellm {
            base,
            key: Secret::load("LITELLM_PROXY_API_KEY", key_file)?,
        })
    }
}

fn sql_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

impl Api for Litellm {
    fn name(&self) -> &'static str {
        "litellm"
    }
    fn default_base_url(&self) -> String {
        self.base.clone()
    }
    fn key_name(&self) -> &'static str {
        "LITELLM_PROXY_API_KEY"
    }
    fn requested_span(&self, window: Span) -> Span {
        window
    }
    fn chains(&self, span: Span) -> Vec<Chain> {
        let mut chains = Vec::new();
        for (day, part) in utc_days(span) {
            let (from, to) = (part.start, part.end);
            chains.push(Chain {
                endpoint: "/spend/logs/v2".to_string(),
                query: vec![
                    ("start_date".to_string(), sql_time(from)),
                    ("end_date".to_string(), sql_time(to)),
                    ("page_size".to_string(), "100".to_string()),
                ],
                stem: format!("litellm_spend_logs_{}", day.format("%Y-%m-%d")),
                format: Format::LitellmSpendLogsJson,
                span_end: to,
            });
        }
        chains
    }
    fn cursor_param(&self) -> &'static str {
        "page"
    }
    fn auth(&self) -> Auth<'_> {
        Auth::Bearer(&self.key)
    }
    fn read_page(&self, chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
        read_page(chain, body)
    }
}

/// `{"data": [row, …], "total": …, "page": …, "page_size": …, "total_pages": …}`.
fn read_page(chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
    let page = json_object(body)?;
    let Some(Value::Array(data)) = page.get("data") else {
        return Err("data: expected an array of spend log rows".to_string());
    };
    for (i, row) in data.iter().enumerate() {
        if !row.get("request_id").is_some_and(Value::is_string) {
            return Err(format!(
                "data[{i}]: expected a spend log row with a \"request_id\""
            ));
        }
    }
    let n = |k: &str| {
        page.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{k}: expected a whole number"))
    };
    let (page_no, total) = (n("page")?, n("total_pages")?);
    Ok(PageInfo {
        next: (page_no < total).then(|| (page_no + 1).to_string()),
        rows: data.len() as u64,
        covers_until: Some(chain.span_end + WRITE_DELAY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chain_per_utc_day_in_the_proxys_time_format() {
        let api = Litellm {
            base: "http://127.0.0.1:1".into(),
            key: Secret::new("sk-1".into()),
        };
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let w = super::super::window("2026-10-01", "2026-10-02", tz).unwrap();
        let chains = api.chains(w);
        // 30 Sep 16:00Z … 1 Oct 16:00Z: two UTC days, each cut to the window.
        assert_eq!(chains.len(), 2);
        assert_eq!(chains[0].query[0].1, "2026-09-30 16:00:00");
        assert_eq!(chains[0].query[1].1, "2026-10-01 00:00:00");
        assert_eq!(chains[1].query[1].1, "2026-10-01 16:00:00");
        assert_eq!(chains[1].stem, "litellm_spend_logs_2026-10-01");
        let p = read_page(
            &chains[0],
            br#"{"data": [{"request_id": "r1"}], "total": 2, "page": 1, "page_size": 1, "total_pages": 2}"#,
        )
        .unwrap();
        assert_eq!(p.next.as_deref(), Some("2"));
        let e = read_page(
            &chains[0],
            br#"{"data": [{"id": "r1"}], "page": 1, "total_pages": 1}"#,
        )
        .err()
        .unwrap();
        assert!(e.contains("request_id"), "{e}");
    }
}
