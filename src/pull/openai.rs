//! OpenAI: the Usage API (one chain per endpoint the OpenAI adapter reads) and the Costs API.
//!
//! Requests as the API reference documents them (`GET /v1/organization/usage/{endpoint}` and
//! `/v1/organization/costs`): `start_time` (unix seconds, inclusive), `end_time` (exclusive),
//! `bucket_width`, `group_by` repeated per field, `limit` (buckets per page: at most 31 daily or
//! 168 hourly), and `page` = the previous page's `next_page` while `has_more` is true. The key is
//! an Admin key, sent as `Authorization: Bearer`.

use super::http::{Auth, Secret};
use super::{Api, Chain, PageInfo, json_object, next_page_cursor, whole_buckets};
use crate::reconcile::window::Span;
use crate::source::Format;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

pub struct OpenAi {
    pub key: Secret,
    /// Usage bucket width: one day or one hour.
    pub bucket: Duration,
}

/// Usage endpoints and the `group_by` fields each supports that the adapter keeps (the API
/// reference lists them per endpoint; `user_id` is left out: the reconcile scope is key and
/// project).
const USAGE: [(&str, &[&str]); 8] = [
    (
        "completions",
        &["model", "project_id", "api_key_id", "batch", "service_tier"],
    ),
    ("embeddings", &["model", "project_id", "api_key_id"]),
    ("moderations", &["model", "project_id", "api_key_id"]),
    ("images", &["model", "project_id", "api_key_id"]),
    ("audio_speeches", &["model", "project_id", "api_key_id"]),
    (
        "audio_transcriptions",
        &["model", "project_id", "api_key_id"],
    ),
    ("vector_stores", &["project_id"]),
    ("code_interpreter_sessions", &["project_id"]),
];

/// Costs: daily buckets only; grouped by project and line item (a line item names the model
/// and the kind of token, which the adapter maps to a usage class).
const COSTS_GROUP_BY: [&str; 2] = ["project_id", "line_item"];

impl OpenAi {
    fn bucket_name(&self) -> &'static str {
        if self.bucket == Duration::hours(1) {
            "1h"
        } else {
            "1d"
        }
    }
    /// The most buckets a page may hold for the width (the API's maximum `limit`).
    fn limit(&self) -> u32 {
        if self.bucket == Duration::hours(1) {
            168
        } else {
            31
        }
    }
}

fn span_query(span: Span) -> Vec<(String, String)> {
    vec![
        ("start_time".into(), span.start.timestamp().to_string()),
        ("end_time".into(), span.end.timestamp().to_string()),
    ]
}

impl Api for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }
    fn default_base_url(&self) -> String {
        "https://api.openai.com".to_string()
    }
    fn key_name(&self) -> &'static str {
        "OPENAI_ADMIN_KEY"
    }
    fn requested_span(&self, window: Span) -> Span {
        // The costs chain is daily whatever the usage width: cover whole UTC days.
        whole_buckets(window, Duration::days(1))
    }
    fn chains(&self, span: Span) -> Vec<Chain> {
        let mut chains = Vec::new();
        for (endpoint, group_by) in USAGE {
            let mut query = span_query(span);
            query.push(("bucket_width".into(), self.bucket_name().into()));
            query.extend(group_by.iter().map(|g| ("group_by".into(), g.to_string())));
            query.push(("limit".into(), self.limit().to_string()));
            chains.push(Chain {
                endpoint: format!("/v1/organization/usage/{endpoint}"),
                query,
                stem: format!("openai_usage_{endpoint}"),
                format: Format::OpenaiUsageJson,
                span_end: span.end,
            });
        }
        let mut query = span_query(span);
        query.push(("bucket_width".into(), "1d".into()));
        query.extend(
            COSTS_GROUP_BY
                .iter()
                .map(|g| ("group_by".into(), g.to_string())),
        );
        query.push(("limit".into(), "31".into()));
        chains.push(Chain {
            endpoint: "/v1/organization/costs".to_string(),
            query,
            stem: "openai_costs".to_string(),
            format: Format::OpenaiCostsJson,
            span_end: span.end,
        });
        chains
    }
    fn cursor_param(&self) -> &'static str {
        "page"
    }
    fn auth(&self) -> Auth<'_> {
        Auth::Bearer(&self.key)
    }
    fn read_page(&self, _chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
        read_page(body)
    }
}

/// `{"object": "page", "data": [{"object": "bucket", "start_time", "end_time", "results":
/// [...]}], "has_more", "next_page"}`.
fn read_page(body: &[u8]) -> Result<PageInfo, String> {
    let page = json_object(body)?;
    if page.get("object").and_then(Value::as_str) != Some("page") {
        return Err("expected {\"object\": \"page\", …}".to_string());
    }
    let Some(Value::Array(buckets)) = page.get("data") else {
        return Err("data: expected an array of buckets".to_string());
    };
    let mut rows = 0u64;
    let mut until: Option<DateTime<Utc>> = None;
    for (i, b) in buckets.iter().enumerate() {
        let end = b
            .get("end_time")
            .and_then(Value::as_i64)
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| format!("bucket {}: end_time: expected unix seconds", i + 1))?;
        if b.get("start_time").and_then(Value::as_i64).is_none() {
            return Err(format!(
                "bucket {}: start_time: expected unix seconds",
                i + 1
            ));
        }
        // The API returns `results`; the SDK models call it `result` (the adapter takes both).
        let results = b
            .get("results")
            .or_else(|| b.get("result"))
            .and_then(Value::as_array)
            .ok_or_else(|| format!("bucket {}: results: expected an array", i + 1))?;
        rows += results.len() as u64;
        until = until.max(Some(end));
    }
    Ok(PageInfo {
        next: next_page_cursor(&page)?,
        rows,
        covers_until: until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_pages_are_read() {
        // The API reference's example response (GET /v1/organization/usage/completions).
        let body = br#"{"object": "page", "data": [{"object": "bucket", "start_time": 1730419200,
            "end_time": 1730505600, "results": [{"object": "organization.usage.completions.result",
            "input_tokens": 1000, "output_tokens": 500, "input_cached_tokens": 800,
            "num_model_requests": 5, "project_id": null, "user_id": null, "api_key_id": null,
            "model": null, "batch": null}]}], "has_more": true,
            "next_page": "AAAAAGdGxdEiJdKOAAAAAGcqsYA="}"#;
        let info = read_page(body).unwrap();
        assert_eq!(info.next.as_deref(), Some("AAAAAGdGxdEiJdKOAAAAAGcqsYA="));
        assert_eq!(info.rows, 1);
        assert_eq!(info.covers_until.unwrap().timestamp(), 1_730_505_600);
    }

    #[test]
    fn bad_envelopes_say_what_was_expected() {
        let e = read_page(br#"{"object":"page","data":[],"has_more":true,"next_page":null}"#)
            .err()
            .unwrap();
        assert!(e.contains("next_page"), "{e}");
        let e = read_page(br#"{"error":{"message":"x"}}"#).err().unwrap();
        assert!(e.contains("\"page\""), "{e}");
        assert!(read_page(b"<html>").err().unwrap().starts_with("not JSON"));
    }

    #[test]
    fn requests_cover_whole_utc_days() {
        let api = OpenAi {
            key: Secret::new("k".into()),
            bucket: Duration::days(1),
        };
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let w = super::super::window("2026-10-01", "2026-10-02", tz).unwrap();
        let span = api.requested_span(w);
        // Shanghai's 1 October is 30 Sep 16:00Z … 1 Oct 16:00Z: UTC days 30 Sep and 1 Oct.
        assert_eq!(super::super::rfc3339(span.start), "2026-09-30T00:00:00Z");
        assert_eq!(super::super::rfc3339(span.end), "2026-10-02T00:00:00Z");
        let chains = api.chains(span);
        assert_eq!(chains.len(), 9);
        let q = &chains[0].query;
        assert!(q.contains(&("start_time".into(), "1790726400".into())));
        assert_eq!(q.iter().filter(|(k, _)| k == "group_by").count(), 5);
        assert_eq!(chains[8].endpoint, "/v1/organization/costs");
    }
}
