//! Anthropic's bill: Admin API `GET /v1/organizations/usage_report/messages` pages
//! (`bucket_width=1d`, `group_by[]=model,api_key_id,workspace_id,service_tier,context_window`)
//! and `GET /v1/organizations/cost_report` pages (`group_by[]=workspace_id,description`;
//! `amount` a decimal string in cents), each endpoint's pages saved as one JSON array. Shapes:
//! the API reference examples in `shared/samples/anthropic_*` and `fixtures/anthropic/`. Usage
//! splits uncached input, 5m/1h cache writes, cache reads and output; buckets are UTC days.

use super::fmt::{J, plain, rfc3339};
use super::openai::{PAGE_BUCKETS, b64, day};
use super::world::{CR, IN, OUT, Role, Tokens, W1, W5, World, add_tokens};
use super::{create, io_err};
use chrono::Duration;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub const USAGE: &str = "anthropic_usage_report.json";
pub const COST: &str = "anthropic_cost_report.json";

/// Cost-report token types and description suffixes per class.
const LINES: [(usize, &str, &str); 5] = [
    (IN, "uncached_input_tokens", "Input Tokens"),
    (
        W5,
        "cache_creation.ephemeral_5m_input_tokens",
        "Cache Write (5m) Tokens",
    ),
    (
        W1,
        "cache_creation.ephemeral_1h_input_tokens",
        "Cache Write (1h) Tokens",
    ),
    (CR, "cache_read_input_tokens", "Cache Read Tokens"),
    (OUT, "output_tokens", "Output Tokens"),
];

fn pages(w: &World, mut f: impl FnMut(i64) -> Vec<J>) -> J {
    let days = (w.span.1 - w.span.0).num_days();
    let start = |d: i64| w.span.0 + Duration::days(d);
    let mut out = Vec::new();
    let mut d = 0;
    while d < days {
        let end = (d + PAGE_BUCKETS as i64).min(days);
        let data = (d..end)
            .map(|k| {
                J::Obj(vec![
                    ("ending_at", J::s(rfc3339(start(k + 1)))),
                    ("results", J::Arr(f(k))),
                    ("starting_at", J::s(rfc3339(start(k)))),
                ])
            })
            .collect();
        let more = end < days;
        out.push(J::Obj(vec![
            ("data", J::Arr(data)),
            ("has_more", J::Bool(more)),
            (
                "next_page",
                J::opt_s(more.then(|| format!("page_{}", b64(rfc3339(start(end)).as_bytes())))),
            ),
        ]));
        d = end;
    }
    J::Arr(out)
}

fn save(out: &Path, name: &str, j: &J) -> Result<(), String> {
    let mut s = String::new();
    j.pretty(&mut s, 0);
    s.push('\n');
    let mut f = create(out, name)?;
    f.write_all(s.as_bytes()).map_err(io_err(name))?;
    f.flush().map_err(io_err(name))
}

pub fn write(w: &World, out: &Path) -> Result<Vec<String>, String> {
    let ids = &w.ids;
    let mut usage: BTreeMap<(i64, &str, &str, &str), Tokens> = BTreeMap::new();
    let mut cost: BTreeMap<(i64, &str, usize, usize), i64> = BTreeMap::new();
    for c in &w.calls {
        let d = day(w, c.t);
        let m = &w.models[c.model];
        let (key, ws) = if c.role == Role::Other {
            (ids.other_key.as_str(), ids.other_project.as_str())
        } else {
            (ids.app_key.as_str(), ids.app_project.as_str())
        };
        let u = usage.entry((d, m.bill_name, key, ws)).or_default();
        add_tokens(u, &c.u, 1);
        for (li, (k, _, _)) in LINES.iter().enumerate() {
            *cost.entry((d, ws, c.model, li)).or_default() += c.u[*k];
        }
    }
    let usage_pages = pages(w, |d| {
        usage
            .range((d, "", "", "")..(d + 1, "", "", ""))
            .map(|((_, model, key, ws), u)| {
                J::Obj(vec![
                    ("account_id", J::Null),
                    ("api_key_id", J::s(*key)),
                    (
                        "cache_creation",
                        J::Obj(vec![
                            ("ephemeral_1h_input_tokens", J::Int(u[W1])),
                            ("ephemeral_5m_input_tokens", J::Int(u[W5])),
                        ]),
                    ),
                    ("cache_read_input_tokens", J::Int(u[CR])),
                    ("context_window", J::s("0-200k")),
                    ("inference_geo", J::Null),
                    ("model", J::s(*model)),
                    ("output_tokens", J::Int(u[OUT])),
                    (
                        "server_tool_use",
                        J::Obj(vec![("web_search_requests", J::Int(0))]),
                    ),
                    ("service_account_id", J::Null),
                    ("service_tier", J::s("standard")),
                    ("uncached_input_tokens", J::Int(u[IN])),
                    ("workspace_id", J::s(*ws)),
                ])
            })
            .collect()
    });
    save(out, USAGE, &usage_pages)?;
    let cost_pages = pages(w, |d| {
        cost.range((d, "", 0, 0)..(d + 1, "", 0, 0))
            .filter(|(_, q)| **q != 0)
            .map(|((_, ws, model, li), q)| {
                let m = &w.models[*model];
                let (k, token_type, what) = LINES[*li];
                let cents = Decimal::from(*q) * m.price[k] * Decimal::ONE_HUNDRED;
                J::Obj(vec![
                    ("amount", J::s(plain(cents))),
                    ("context_window", J::s("0-200k")),
                    ("cost_type", J::s("tokens")),
                    ("currency", J::s("USD")),
                    ("description", J::s(format!("{} Usage - {what}", m.display))),
                    ("inference_geo", J::Null),
                    ("model", J::s(m.bill_name)),
                    ("service_tier", J::s("standard")),
                    ("token_type", J::s(token_type)),
                    ("workspace_id", J::s(*ws)),
                ])
            })
            .collect()
    });
    save(out, COST, &cost_pages)?;
    Ok(vec![USAGE.to_string(), COST.to_string()])
}
