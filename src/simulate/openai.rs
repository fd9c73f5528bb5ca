//! OpenAI's bill: Usage API pages (`/v1/organization/usage/completions`, `bucket_width=1d`,
//! `group_by=model,api_key_id,project_id,service_tier`; `/embeddings` by
//! `model,api_key_id,project_id`) and Costs API pages
//! (`/v1/organization/costs`, `group_by=line_item,project_id,api_key_id`), each endpoint's pages
//! saved one file per page (`_p1.json`, `_p2.json`, …), as a script paging through them (`has_more`/`next_page`) would.
//! Every billed request on every key is counted; buckets are UTC days. Shapes:
//! openai/openai-openapi `openapi.yaml` (`UsageCompletionsResult`, `UsageEmbeddingsResult`,
//! `CostsResult`); after 2026-07-15 `input_tokens` includes cached tokens and
//! `input_uncached_tokens`/`input_cached_tokens` split them. Grouped by service tier, a result
//! states the tier that served its requests (`default`, `priority`); `batch` stays null (not
//! grouped). The Costs API has no service-tier grouping and OpenAI documents no separate line
//! items for priority processing, so a call served at priority adds its tokens to the model's
//! usual line items (`gpt-4.1-2025-04-14, input`) at the priority price: the line's `amount` is
//! what was billed, its `quantity` the tokens of both tiers.

use super::fmt::{J, plain};
use super::world::{CR, IMG, IN, OUT, RSN, Role, World};
use super::{create, io_err};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub const COMPLETIONS: &str = "openai_usage_completions";
pub const EMBEDDINGS: &str = "openai_usage_embeddings";
pub const COSTS: &str = "openai_costs";

/// Buckets per page (the API's maximum for `1d`).
pub const PAGE_BUCKETS: usize = 31;

#[derive(Default)]
struct Agg {
    input: i64,
    cached: i64,
    /// Image input, inside `input`.
    image: i64,
    output: i64,
    requests: i64,
}

pub fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for ch in bytes.chunks(3) {
        let n = (ch[0] as u32) << 16
            | (*ch.get(1).unwrap_or(&0) as u32) << 8
            | *ch.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= ch.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Day buckets of the span, paged; `f(day)` gives a bucket's results.
pub fn pages(w: &World, mut f: impl FnMut(i64) -> Vec<J>) -> J {
    let days = (w.span.1 - w.span.0).num_days();
    let bucket = |d: i64| {
        let s = w.span.0 + Duration::days(d);
        (s.timestamp(), (s + Duration::days(1)).timestamp())
    };
    let mut out = Vec::new();
    let mut d = 0;
    while d < days {
        let end = (d + PAGE_BUCKETS as i64).min(days);
        let data = (d..end)
            .map(|k| {
                let (s, e) = bucket(k);
                J::Obj(vec![
                    ("object", J::s("bucket")),
                    ("start_time", J::Int(s)),
                    ("end_time", J::Int(e)),
                    ("results", J::Arr(f(k))),
                ])
            })
            .collect();
        let more = end < days;
        let next = more.then(|| {
            let mut b = bucket(end).0.to_be_bytes().to_vec();
            b.extend(w.span.0.timestamp().to_be_bytes());
            format!("page_{}", b64(&b))
        });
        out.push(J::Obj(vec![
            ("object", J::s("page")),
            ("data", J::Arr(data)),
            ("has_more", J::Bool(more)),
            ("next_page", J::opt_s(next)),
        ]));
        d = end;
    }
    J::Arr(out)
}

pub fn day(w: &World, t: DateTime<Utc>) -> i64 {
    (t - w.span.0).num_days()
}

/// Saves each page as `{stem}_p{N}.json` (N = its place in the listing), as a script paging
/// through the endpoint would. A page whose buckets are all empty says nothing (and names no
/// result type to recognize it by), so it is not saved.
fn save(out: &Path, stem: &str, pages: &J) -> Result<Vec<String>, String> {
    let J::Arr(list) = pages else {
        return Ok(vec![]);
    };
    let mut names = Vec::new();
    for (i, page) in list.iter().enumerate() {
        let empty = match page {
            J::Obj(kv) => kv.iter().any(|(k, v)| {
                *k == "data"
                    && matches!(v, J::Arr(b) if b.iter().all(|b| matches!(b,
                        J::Obj(f) if f.iter().all(|(k, v)| *k != "results" || matches!(v, J::Arr(r) if r.is_empty())))))
            }),
            _ => true,
        };
        if empty {
            continue;
        }
        let name = format!("{stem}_p{}.json", i + 1);
        let mut s = String::new();
        page.pretty(&mut s, 0);
        s.push('\n');
        let mut f = create(out, &name)?;
        f.write_all(s.as_bytes()).map_err(io_err(&name))?;
        f.flush().map_err(io_err(&name))?;
        names.push(name);
    }
    Ok(names)
}

pub fn write(w: &World, out: &Path) -> Result<Vec<String>, String> {
    let ids = &w.ids;
    let key_of = |r: Role| {
        if r == Role::Other {
            (ids.other_key.as_str(), ids.other_project.as_str())
        } else {
            (ids.app_key.as_str(), ids.app_project.as_str())
        }
    };
    let mut comp: BTreeMap<(i64, &str, &str, &str, &str), Agg> = BTreeMap::new();
    let mut emb: BTreeMap<(i64, &str, &str, &str), Agg> = BTreeMap::new();
    // (tokens, money) per line item.
    let mut cost: BTreeMap<(i64, String, &str, &str), (i64, Decimal)> = BTreeMap::new();
    for c in &w.calls {
        let d = day(w, c.t);
        let m = &w.models[c.model];
        let (key, proj) = key_of(c.role);
        let (tier, price) = match (c.priority, &m.priority) {
            (true, Some(p)) => ("priority", p),
            _ => ("default", &m.price),
        };
        let mut line = |kind: &str, k: usize| {
            let e = cost
                .entry((d, format!("{}, {kind}", m.bill_name), proj, key))
                .or_default();
            e.0 += c.u[k];
            e.1 += Decimal::from(c.u[k]) * price[k];
        };
        if c.role == Role::Embedding {
            let a = emb.entry((d, m.bill_name, key, proj)).or_default();
            a.input += c.u[IN];
            a.requests += 1;
            line("input", IN);
            continue;
        }
        let a = comp.entry((d, m.bill_name, key, proj, tier)).or_default();
        a.input += c.u[IN] + c.u[CR] + c.u[IMG];
        a.cached += c.u[CR];
        a.image += c.u[IMG];
        // Thinking is inside `output_tokens`: the usage pages have no reasoning field.
        a.output += c.u[OUT] + c.u[RSN];
        a.requests += 1;
        line("input", IN);
        // The Costs API bills image input on the input line.
        line("input", IMG);
        line("cached input", CR);
        line("output", OUT);
        // The Costs API bills thinking on the output line.
        line("output", RSN);
    }
    let opt = |s: &str| J::s(s);
    let comp_pages = pages(w, |d| {
        comp.range((d, "", "", "", "")..(d + 1, "", "", "", ""))
            .map(|((_, model, key, proj, tier), r)| {
                J::Obj(vec![
                    ("object", J::s("organization.usage.completions.result")),
                    ("input_tokens", J::Int(r.input)),
                    ("input_cached_tokens", J::Int(r.cached)),
                    ("input_cache_write_tokens", J::Int(0)),
                    ("input_uncached_tokens", J::Int(r.input - r.cached)),
                    ("output_tokens", J::Int(r.output)),
                    // uncached text, per the spec
                    ("input_text_tokens", J::Int(r.input - r.cached - r.image)),
                    ("output_text_tokens", J::Int(r.output)),
                    ("input_cached_text_tokens", J::Int(r.cached)),
                    ("input_audio_tokens", J::Int(0)),
                    ("input_cached_audio_tokens", J::Int(0)),
                    ("output_audio_tokens", J::Int(0)),
                    ("input_image_tokens", J::Int(r.image)),
                    ("input_cached_image_tokens", J::Int(0)),
                    ("output_image_tokens", J::Int(0)),
                    ("num_model_requests", J::Int(r.requests)),
                    ("project_id", opt(proj)),
                    ("user_id", J::Null),
                    ("api_key_id", opt(key)),
                    ("model", opt(model)),
                    ("batch", J::Null),
                    ("service_tier", opt(tier)),
                ])
            })
            .collect()
    });
    let mut names = save(out, COMPLETIONS, &comp_pages)?;
    if !emb.is_empty() {
        let emb_pages = pages(w, |d| {
            emb.range((d, "", "", "")..(d + 1, "", "", ""))
                .map(|((_, model, key, proj), r)| {
                    J::Obj(vec![
                        ("object", J::s("organization.usage.embeddings.result")),
                        ("input_tokens", J::Int(r.input)),
                        ("num_model_requests", J::Int(r.requests)),
                        ("project_id", opt(proj)),
                        ("user_id", J::Null),
                        ("api_key_id", opt(key)),
                        ("model", opt(model)),
                    ])
                })
                .collect()
        });
        names.extend(save(out, EMBEDDINGS, &emb_pages)?);
    }
    let cost_pages = pages(w, |d| {
        cost.range((d, String::new(), "", "")..(d + 1, String::new(), "", ""))
            .filter(|(_, (q, _))| *q != 0)
            .map(|((_, li, proj, key), (q, money))| {
                J::Obj(vec![
                    ("object", J::s("organization.costs.result")),
                    (
                        "amount",
                        J::Obj(vec![
                            ("value", J::Num(plain(*money))),
                            ("currency", J::s("usd")),
                        ]),
                    ),
                    ("line_item", J::s(li.as_str())),
                    ("project_id", opt(proj)),
                    ("api_key_id", opt(key)),
                    ("quantity", J::Int(*q)),
                    ("quantity_unit", J::s("tokens")),
                ])
            })
            .collect()
    });
    names.extend(save(out, COSTS, &cost_pages)?);
    Ok(names)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_by_hand() {
        // RFC 4648 test vectors: "f" → "Zg==", "fo" → "Zm8=", "foo" → "Zm9v", "foob" → "Zm9vYg==".
        assert_eq!(super::b64(b"f"), "Zg==");
        assert_eq!(super::b64(b"fo"), "Zm8=");
        assert_eq!(super::b64(b"foo"), "Zm9v");
        assert_eq!(super::b64(b"foob"), "Zm9vYg==");
    }
}
