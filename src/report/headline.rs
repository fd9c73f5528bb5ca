//! The headline: which number to trust and why, the app's and trace's figures against it, the
//! variance, how much of it the bridge explains, and the largest causes in plain words. Built
//! from the report alone, for every format that leads with it.

use super::model::{ComparisonReport, Report};
use rust_decimal::Decimal;

/// How many causes the headline names.
pub const TOP_CAUSES: usize = 3;

/// The figure to trust: the bill (what the provider charges), else the trace.
#[derive(Clone, Debug)]
pub struct Headline {
    pub settlement: String,
    pub settlement_role: &'static str,
    pub settlement_cost: Decimal,
    pub settlement_tokens: i64,
    /// Why this figure is the one to trust.
    pub why: &'static str,
    /// Each other source compared with the settlement figure.
    pub against: Vec<Against>,
}

#[derive(Clone, Debug)]
pub struct Against {
    pub source: String,
    pub role: String,
    pub cost: Decimal,
    pub tokens: i64,
    pub variance: Decimal,
    pub variance_pct: f64,
    pub explained: Decimal,
    pub unexplained: Decimal,
    pub unexplained_pct: f64,
    /// The largest steps by |cost|: (cause, plain words, cost).
    pub top: Vec<(&'static str, &'static str, Decimal)>,
}

/// Each cause in words a manager reads without the README.
pub fn plain(cause: &str) -> &'static str {
    match cause {
        "window_misalignment" => {
            "calls near the month's edges fall on the bill's days, not the app's"
        }
        "unattributed_traffic" => "other API keys or projects on the same bill",
        "embeddings" => "embedding calls the app does not record",
        "rerank" => "knowledge-base rerank calls the app does not record",
        "auxiliary_calls" => "conversation naming and suggested questions the app does not record",
        "retries" => "failed attempts the provider still charged",
        "double_counting" => "app rows that count the same usage twice",
        "streaming_interruption" => "answers the user stopped, billed in full",
        "tokenizer_drift" => "the app's token estimates differ from the provider's counts",
        "cache_write_folding" => "the app folds cache writes and reads into plain input",
        "cache_hits" => "cached input billed at the cache discount",
        "price_mismatch" => "the app's recorded prices differ from the price list",
        "service_tier" => "calls billed at a flex, priority or batch price the app does not know",
        "gateway_cache_hits" => "requests a gateway answered from its own cache, never billed",
        "discounts_and_credits" => "credits and discounts on the bill that no call causes",
        "fx" => "the books' exchange rate differs from the day's rate",
        "unexplained" => "not explained by any measured cause",
        _ => "another cause",
    }
}

fn role_of(r: &Report, name: &str) -> String {
    r.sources
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.role.to_string())
        .unwrap_or_default()
}

fn against(r: &Report, c: &ComparisonReport) -> Against {
    let t = &c.totals;
    let unexplained = t
        .bridge
        .iter()
        .find(|s| s.cause == "unexplained")
        .map(|s| s.cost)
        .unwrap_or_default();
    let mut steps: Vec<_> = t
        .bridge
        .iter()
        .filter(|s| s.cause != "unexplained" && !s.cost.is_zero())
        .collect();
    steps.sort_by_key(|s| std::cmp::Reverse(s.cost.abs()));
    Against {
        source: c.baseline.clone(),
        role: role_of(r, &c.baseline),
        cost: t.baseline.cost,
        tokens: t.baseline.tokens.total(),
        variance: t.variance.cost,
        variance_pct: t.variance.pct,
        explained: t.variance.cost - unexplained,
        unexplained,
        unexplained_pct: t.unexplained_pct,
        top: steps
            .iter()
            .take(TOP_CAUSES)
            .map(|s| (s.cause, plain(s.cause), s.cost))
            .collect(),
    }
}

/// The headline of each settlement figure: one per bill, or the trace when there is no bill.
pub fn build(r: &Report) -> Vec<Headline> {
    let bills: Vec<&str> = r
        .sources
        .iter()
        .filter(|s| s.role == "bill")
        .map(|s| s.name.as_str())
        .collect();
    let (refs, role, why): (Vec<&str>, &'static str, &'static str) = if bills.is_empty() {
        (
            r.sources
                .iter()
                .filter(|s| s.role == "trace")
                .map(|s| s.name.as_str())
                .collect(),
            "trace",
            "no bill among the inputs: the trace holds the provider-reported counts, the closest to what is charged",
        )
    } else {
        (
            bills,
            "bill",
            "the bill is the settlement figure: it is what the provider charges and what is paid",
        )
    };
    refs.into_iter()
        .filter_map(|name| {
            let mine: Vec<&ComparisonReport> = r
                .comparisons
                .iter()
                .filter(|c| c.reference == name)
                .collect();
            let first = mine.first()?;
            Some(Headline {
                settlement: name.to_string(),
                settlement_role: role,
                settlement_cost: first.totals.reference.cost,
                settlement_tokens: first.totals.reference.tokens.total(),
                why,
                against: mine.iter().map(|c| against(r, c)).collect(),
            })
        })
        .collect()
}

/// Explained share of the variance in percent (100 when there is no variance).
pub fn explained_pct(a: &Against) -> f64 {
    if a.variance.is_zero() {
        return 100.0;
    }
    let pct = a.explained / a.variance * Decimal::from(100);
    pct.round_dp(2).to_string().parse().unwrap_or(0.0)
}

/// The headline as lines of prose (table and markdown share it); `money` formats an amount.
pub fn lines(h: &Headline, currency: &str, money: &dyn Fn(Decimal) -> String) -> Vec<String> {
    let mut out = vec![format!(
        "Trust the {} {}: {} {currency}, {} tokens — {}.",
        h.settlement,
        h.settlement_role,
        money(h.settlement_cost),
        super::count(h.settlement_tokens),
        h.why
    )];
    for a in &h.against {
        out.push(format!(
            "{} ({}): {} {currency}; variance to the {} {} {currency} ({:+.2}%): {} explained ({:.1}%), {} unexplained ({:+.2}% of the {}).",
            a.source,
            a.role,
            money(a.cost),
            h.settlement_role,
            signed(money(a.variance), a.variance),
            a.variance_pct,
            signed(money(a.explained), a.explained),
            explained_pct(a),
            signed(money(a.unexplained), a.unexplained),
            a.unexplained_pct,
            h.settlement_role,
        ));
        if !a.top.is_empty() {
            let causes = a
                .top
                .iter()
                .map(|(cause, words, cost)| {
                    format!("{words} ({cause}, {})", signed(money(*cost), *cost))
                })
                .collect::<Vec<_>>()
                .join("; ");
            out.push(format!("  Top causes: {causes}."));
        }
    }
    out
}

fn signed(s: String, d: Decimal) -> String {
    if d > Decimal::ZERO {
        format!("+{s}")
    } else {
        s
    }
}
