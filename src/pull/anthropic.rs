//! Anthropic Admin API: `usage_report/messages` and `cost_report`.
//!
//! Requests as the API reference documents them: `starting_at` / `ending_at` (RFC 3339; buckets
//! snapped to UTC), `bucket_width` (usage: 1d or 1h; the cost report is daily only),
//! `group_by[]` repeated per field, `limit` (buckets per page: at most 31 daily, 168 hourly),
//! and `page` = the previous page's `next_page` while `has_more` is true. Headers `x-api-key`
//! (an Admin key) and `anthropic-version: 2023-06-01`.

use super::http::{Auth, Secret};
use super::{Api, Chain, PageInfo, json_object, next_page_cursor, rfc3339, whole_buckets};
use crate::reconcile::window::Span;
use crate::source::Format;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

pub struct Anthropic {
    pub key: Secret,
    pub bucket: Duration,
}

/// The usage dimensions the adapter keeps: key, workspace (its project), model, service tier.
const USAGE_GROUP_BY: [&str; 4] = ["api_key_id", "workspace_id", "model", "service_tier"];
/// The cost report groups by workspace and description (the description names model and token
/// type, which the adapter maps to a usage class).
const COST_GROUP_BY: [&str; 2] = ["workspace_id", "description"];

fn span_query(span: Span) -> Vec<(String, String)> {
    vec![
        ("starting_at".into(), rfc3339(span.start)),
        ("ending_at".into(), rfc3339(span.end)),
    ]
}

impl Api for Anthropic {
    fn name(&self) -> &'static str {
        "anthropic"
    }
    fn default_base_url(&self) -> String {
        "https://api.anthropic.com".to_string()
    }
    fn key_name(&self) -> &'static str {
        "ANTHROPIC_ADMIN_KEY"
    }
    fn requested_span(&self, window: Span) -> Span {
        whole_buckets(window, Duration::days(1))
    }
    fn chains(&self, span: Span) -> Vec<Chain> {
        let hourly = self.bucket == Duration::hours(1);
        let mut usage = span_query(span);
        usage.push((
            "bucket_width".into(),
            if hourly { "1h" } else { "1d" }.to_string(),
        ));
        usage.extend(
            USAGE_GROUP_BY
                .iter()
                .map(|g| ("group_by[]".to_string(), g.to_string())),
        );
        usage.push((
            "limit".into(),
            if hourly { "168" } else { "31" }.to_string(),
        ));
        let mut cost = span_query(span);
        cost.push(("bucket_width".into(), "1d".into()));
        cost.extend(
            COST_GROUP_BY
                .iter()
                .map(|g| ("group_by[]".to_string(), g.to_string())),
        );
        cost.push(("limit".into(), "31".into()));
        vec![
            Chain {
                endpoint: "/v1/organizations/usage_report/messages".into(),
                query: usage,
                stem: "anthropic_usage_report".into(),
                format: Format::AnthropicUsageJson,
                span_end: span.end,
            },
            Chain {
                endpoint: "/v1/organizations/cost_report".into(),
                query: cost,
                stem: "anthropic_cost_report".into(),
                format: Format::AnthropicCostJson,
                span_end: span.end,
            },
        ]
    }
    fn cursor_param(&self) -> &'static str {
        "page"
    }
    fn auth(&self) -> Auth<'_> {
        Auth::Header("x-api-key", &self.key)
    }
    fn headers(&self) -> Vec<(&'static str, &'static str)> {
        vec![("anthropic-version", "2023-06-01")]
    }
    fn read_page(&self, _chain: &Chain, body: &[u8]) -> Result<PageInfo, String> {
        read_page(body)
    }
}

/// `{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more", "next_page"}`.
fn read_page(body: &[u8]) -> Result<PageInfo, String> {
    let page = json_object(body)?;
    let Some(Value::Array(buckets)) = page.get("data") else {
        return Err("data: expected an array of buckets".to_string());
    };
    let mut rows = 0u64;
    let mut until: Option<DateTime<Utc>> = None;
    for (i, b) in buckets.iter().enumerate() {
        let time = |key: &str| {
            b.get(key)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("bucket {}: {key}: expected an RFC 3339 instant", i + 1))
        };
        time("starting_at")?;
        let end = time("ending_at")?;
        let results = b
            .get("results")
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
    fn documented_example_page_is_read() {
        // The API reference's example response shape (usage_report/messages), abridged results.
        let body = br#"{"data": [{"ending_at": "2025-08-02T00:00:00Z", "results": [{"api_key_id":
            "apikey_01Rj2N8SVvo6BePZj99NhmiT", "uncached_input_tokens": 1500, "output_tokens": 500}],
            "starting_at": "2025-08-01T00:00:00Z"}], "has_more": true,
            "next_page": "page_MjAyNS0wNS0xNFQwMDowMDowMFo="}"#;
        let info = read_page(body).unwrap();
        assert_eq!(
            info.next.as_deref(),
            Some("page_MjAyNS0wNS0xNFQwMDowMDowMFo=")
        );
        assert_eq!(info.rows, 1);
        assert_eq!(rfc3339(info.covers_until.unwrap()), "2025-08-02T00:00:00Z");
        let e = read_page(br#"{"data": [{"starting_at": 1, "results": []}], "has_more": false}"#)
            .err()
            .unwrap();
        assert!(e.contains("starting_at"), "{e}");
    }
}
