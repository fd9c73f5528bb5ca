//! Langfuse public API: observations of the window, one chain per UTC day.
//!
//! Default: `GET /api/public/v2/observations` (cursor pages: `meta.cursor` until it is absent;
//! `limit` at most 1000; `fields` = the groups the Langfuse adapter reads). `--langfuse-api v1`:
//! the older `GET /api/public/observations` (page numbers: `page` until `meta.totalPages`;
//! `limit` at most 100), which self-hosted servers before v4 have. Both filter on
//! `fromStartTime` / `toStartTime` (ISO 8601). Basic auth: public key as user, secret key as
//! password; `LANGFUSE_HOST` is the address.
//!
//! A day is complete only 15 minutes after it ends: the documentation says observations may
//! appear that much later.

use super::http::{Auth, Secret};
use super::{Api, Chain, PageInfo, PullError, json_object, rfc3339, utc_days};
use crate::reconcile::window::Span;
use crate::source::Format;
use chrono::Duration;
use serde_json::Value;
use std::path::Path;

/// How long after its end a day's observations may still arrive.
const INGESTION_DELAY: Duration = Duration::minutes(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    V1,
    V2,
}

pub struct Langfuse {
    pub host: String,
    pub public_key: String,
    pub secret_key: Secret,
    pub version: Version,
}

impl Langfuse {
    /// `LANGFUSE_HOST` (default Langfuse Cloud EU), `LANGFUSE_PUBLIC_KEY`, and the secret key from
    /// `LANGFUSE_SECRET_KEY` or the key file.
    pub fn from_env(key_file: Option<&Path>, version: Version) -> Result<Langfuse, PullError> {
        let public_key = std::env::var("LANGFUSE_PUBLIC_KEY")
            .unwrap_or_default()
            .trim()
            .to_string();
        if public_key.is_empty() {
            return Err(PullError::Usage(
                "LANGFUSE_PUBLIC_KEY is not set: export the project's public key (pk-lf-…)".into(),
            ));
        }
        Ok(Langfuse {
            host: std::env::var("LANGFUSE_HOST")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "https://cloud.langfuse.com".to_string()),
            public_key,
            secret_key: Secret::load("LANGFUSE_SECRET_KEY", key_file)?,
            version,
        })
    }
}

impl Api for Langfuse {
    fn name(&self) -> &'static str {
        "langfuse"
    }
    fn default_base_url(&self) -> String {
        self.host.clone()
    }
    fn key_name(&self) -> &'static str {
        "LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY"
    }
    fn requested_span(&self, window: Span) -> Span {
        // Observations carry their own times: the window as asked.
        window
    }
    fn chains(&self, span: Span) -> Vec<Chain> {
        let mut chains = Vec::new();
        for (day, part) in utc_days(span) {
            let (from, to) = (part.start, part.end);
            let mut query = vec![
                ("fromStartTime".to_string(), rfc3339(from)),
                ("toStartTime".to_string(), rfc3339(to)),
            ];
            let (endpoint, stem) = match self.version {
                Version::V2 => {
                    query.push(("fields".into(), "core,basic,time,model,usage".into()));
                    query.push(("limit".into(), "1000".into()));
                    ("/api/public/v2/observations", "langfuse_observations_v2")
                }
                Version::V1 => {
                    query.push(("limit".into(), "100".into()));
                    ("/api/public/observations", "langfuse_observations")
                }
            };
            chains.push(Chain {
                endpoint: endpoint.to_string(),
                query,
                stem: format!("{stem}_{}", day.format("%Y-%m-%d")),
                format: Format::LangfuseApiJson,
                span_end: to,
            });
        }
        chains
    }
    fn cursor_param(&self) -> &'static str {
        match self.version {
            Version::V2 => "cursor",
            Version::V1 => "page",
        }
    }
    fn auth(&self) -> Auth<'_> {
        Auth::Basic(&self.public_key, &self.secret_key)
    }
    fn read_page(&self, chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
        read_page(self.version, chain, body)
    }
}

/// `{"data": [observation, …], "meta": {…}}`: v2 `meta.cursor` (absent or null at the end), v1
/// `meta.page` / `meta.totalPages`.
fn read_page(version: Version, chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
    let page = json_object(body)?;
    let Some(Value::Array(data)) = page.get("data") else {
        return Err("data: expected an array of observations".to_string());
    };
    for (i, o) in data.iter().enumerate() {
        if !o.get("id").is_some_and(Value::is_string) {
            return Err(format!("data[{i}]: expected an observation with an \"id\""));
        }
    }
    let Some(Value::Object(meta)) = page.get("meta") else {
        return Err("meta: expected an object".to_string());
    };
    let next = match version {
        Version::V2 => match meta.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if c.is_empty() => None,
            Some(Value::String(c)) => Some(c.clone()),
            Some(v) => return Err(format!("meta.cursor: expected a string, got {v}")),
        },
        Version::V1 => {
            let n = |k: &str| {
                meta.get(k)
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("meta.{k}: expected a whole number"))
            };
            let (page_no, total) = (n("page")?, n("totalPages")?);
            (page_no < total).then(|| (page_no + 1).to_string())
        }
    };
    Ok(PageInfo {
        next,
        rows: data.len() as u64,
        covers_until: Some(chain.span_end + INGESTION_DELAY),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(version: Version) -> Langfuse {
        Langfuse {
            host: "http://127.0.0.1:1".into(),
            public_key: "pk-lf-1".into(),
            secret_key: Secret::new("sk-lf-1".into()),
            version,
        }
    }

    #[test]
    fn one_chain_per_utc_day_cut_to_the_window() {
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let w = super::super::window("2026-10-01", "2026-10-02", tz).unwrap();
        let chains = api(Version::V2).chains(w);
        // 30 Sep 16:00Z … 1 Oct 16:00Z: two UTC days, each cut to the window.
        assert_eq!(chains.len(), 2);
        assert_eq!(chains[0].query[0].1, "2026-09-30T16:00:00Z");
        assert_eq!(chains[0].query[1].1, "2026-10-01T00:00:00Z");
        assert_eq!(chains[1].query[1].1, "2026-10-01T16:00:00Z");
        assert_eq!(chains[1].stem, "langfuse_observations_v2_2026-10-01");
    }

    #[test]
    fn cursors_and_page_numbers() {
        let tz: chrono_tz::Tz = "UTC".parse().unwrap();
        let w = super::super::window("2026-10-01", "2026-10-02", tz).unwrap();
        let chain = &api(Version::V2).chains(w)[0];
        let v2 = read_page(
            Version::V2,
            chain,
            br#"{"data": [{"id": "o1"}], "meta": {"cursor": "eyJ0IjoxfQ=="}}"#,
        )
        .unwrap();
        assert_eq!(v2.next.as_deref(), Some("eyJ0IjoxfQ=="));
        let end = read_page(Version::V2, chain, br#"{"data": [], "meta": {}}"#).unwrap();
        assert_eq!(end.next, None);
        let v1 = read_page(
            Version::V1,
            chain,
            br#"{"data": [{"id": "o1"}], "meta": {"page": 1, "limit": 100, "totalItems": 150, "totalPages": 2}}"#,
        )
        .unwrap();
        assert_eq!(v1.next.as_deref(), Some("2"));
        let e = read_page(Version::V1, chain, br#"{"data": [{"x": 1}], "meta": {}}"#)
            .err()
            .unwrap();
        assert!(e.contains("\"id\""), "{e}");
    }
}
