//! Which app and trace records a comparison sees: each bill only the calls it served.
//!
//! A call's serving bill is what its source recorded (`UsageRecord::serving`, from Dify's
//! `model_provider` or Langfuse's metadata, else the catalog's vendor of the model). A bill
//! comparison sees only the calls of its own bill; `app → trace` sees every call. Calls whose
//! bill is not among the inputs are counted per provider (`Unbilled`) and never compared
//! against another provider's bill.

use super::bridge::ComparisonAcc;
use crate::record::{Usage, UsageRecord};
use crate::report::{self, model as m};
use crate::source::System;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The records a comparison sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Every record (`app → trace`).
    All,
    /// Records served by one of these bills (the bill source's name; a FOCUS export may hold
    /// several clouds' lines).
    Bill(Vec<&'static str>),
}

impl Route {
    /// The route of a bill source, given the `serving` names on its own lines (only FOCUS,
    /// which may be any cloud's export, takes them from its lines).
    /// The route of a bill whose lines name `served` clouds (a FOCUS export holds several).
    pub fn of_served(system: System, served: impl Iterator<Item = &'static str>) -> Route {
        if system != System::Focus {
            return Route::Bill(vec![system.name()]);
        }
        let mut served: Vec<&'static str> = served.filter(|s| !s.is_empty()).collect();
        served.sort_unstable();
        served.dedup();
        Route::Bill(served)
    }

    pub fn sees(&self, r: &UsageRecord) -> bool {
        self.sees_serving(r.serving)
    }

    pub fn sees_serving(&self, serving: &str) -> bool {
        match self {
            Route::All => true,
            Route::Bill(served) => served.contains(&serving),
        }
    }

    pub fn is_bill(&self) -> bool {
        matches!(self, Route::Bill(_))
    }
}

/// The app a record belongs to, for routing the calls that name no provider (Dify's iteration
/// containers, a chatflow `messages` row read without its node executions, a model the catalog
/// does not know): `scope.app`, or one app for a source that names none (a Langfuse project).
fn app_of(r: &UsageRecord) -> &str {
    r.scope.app.as_deref().unwrap_or("")
}

/// The bills each app's calls name. A call that names none goes to its app's bill when the app's
/// other calls all name one and the same; otherwise it is counted under no bill.
#[derive(Clone, Debug, Default)]
pub struct ServedByApp {
    served: BTreeMap<String, Vec<&'static str>>,
}

impl ServedByApp {
    pub fn learn(&mut self, r: &UsageRecord) {
        if r.serving.is_empty() {
            return;
        }
        match self.served.get_mut(app_of(r)) {
            Some(v) if v.contains(&r.serving) => {}
            Some(v) => v.push(r.serving),
            None => {
                self.served.insert(app_of(r).to_string(), vec![r.serving]);
            }
        }
    }

    pub fn merge(&mut self, o: ServedByApp) {
        for (app, v) in o.served {
            let mine = self.served.entry(app).or_default();
            for s in v {
                if !mine.contains(&s) {
                    mine.push(s);
                }
            }
        }
    }

    /// The one bill an app's calls name, if they name exactly one.
    pub fn only_bill_of(&self, app: &str) -> Option<&'static str> {
        match self.served.get(app).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        }
    }

    /// Gives every record that names no bill its app's only bill, where there is one; returns
    /// how many were routed so.
    pub fn fill_in(&self, recs: &mut [(UsageRecord, super::bridge::Valuation)]) -> u64 {
        let mut n = 0;
        for (r, _) in recs.iter_mut() {
            if r.serving.is_empty()
                && let Some(s) = self.only_bill_of(app_of(r))
            {
                r.serving = s;
                n += 1;
            }
        }
        n
    }
}

/// App calls that name no bill, streamed before their app's bill is known: held per app as the
/// bill comparisons' groups would hold them (never as rows), and handed to the app's bill at
/// the end.
#[derive(Default)]
pub struct Pending {
    by_app: BTreeMap<String, PendingApp>,
}

struct PendingApp {
    /// One accumulator per comparison (only the bill comparisons' are fed).
    comps: Vec<ComparisonAcc>,
    calls: u64,
    unbilled: Unbilled,
}

impl Pending {
    /// The accumulators for `r`'s app, created like `comps` on first use.
    pub fn comps_for(&mut self, r: &UsageRecord, comps: &[ComparisonAcc]) -> &mut [ComparisonAcc] {
        let p = self.app_entry(r, comps);
        p.calls += r.requests;
        &mut p.comps
    }

    /// Counts a call that would be unbilled should its app name no single bill.
    pub fn add_unbilled(
        &mut self,
        source: &'static str,
        r: &UsageRecord,
        money: Option<Decimal>,
        comps: &[ComparisonAcc],
    ) {
        self.app_entry(r, comps).unbilled.add(source, r, money);
    }

    fn app_entry(&mut self, r: &UsageRecord, comps: &[ComparisonAcc]) -> &mut PendingApp {
        if !self.by_app.contains_key(app_of(r)) {
            self.by_app.insert(
                app_of(r).to_string(),
                PendingApp {
                    comps: comps.iter().map(ComparisonAcc::empty_like).collect(),
                    calls: 0,
                    unbilled: Unbilled::default(),
                },
            );
        }
        self.by_app.get_mut(app_of(r)).expect("inserted above")
    }

    pub fn merge(&mut self, o: Pending) {
        for (app, p) in o.by_app {
            match self.by_app.get_mut(&app) {
                Some(mine) => {
                    for (a, b) in mine.comps.iter_mut().zip(p.comps) {
                        a.merge(b);
                    }
                    mine.calls += p.calls;
                    mine.unbilled.merge(p.unbilled);
                }
                None => {
                    self.by_app.insert(app, p);
                }
            }
        }
    }

    /// Hands each app's held calls to the comparisons of its only bill, or counts them as
    /// unbilled; returns (bill, calls routed to it) for the report's notes.
    pub fn settle(
        self,
        served: &ServedByApp,
        comps: &mut [ComparisonAcc],
        unbilled: &mut Unbilled,
    ) -> BTreeMap<&'static str, u64> {
        let mut routed = BTreeMap::new();
        for (app, p) in self.by_app {
            let only = served.only_bill_of(&app);
            let bill = only.filter(|s| {
                comps
                    .iter()
                    .any(|c| c.setup.route.is_bill() && c.setup.route.sees_serving(s))
            });
            match bill {
                Some(s) => {
                    for (c, held) in comps.iter_mut().zip(p.comps) {
                        if c.setup.route.is_bill() && c.setup.route.sees_serving(s) {
                            c.merge(held);
                        }
                    }
                    *routed.entry(s).or_default() += p.calls;
                }
                None => unbilled.merge_as(p.unbilled, only),
            }
        }
        routed
    }
}

/// App and trace calls no bill among the inputs served, per source and provider.
#[derive(Clone, Debug, Default)]
pub struct Unbilled {
    by: BTreeMap<(&'static str, &'static str), Tally>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    calls: u64,
    usage: Usage,
    money: Decimal,
    unpriced: u64,
}

impl Unbilled {
    pub fn add(&mut self, source: &'static str, r: &UsageRecord, money: Option<Decimal>) {
        let t = self.by.entry((source, r.serving)).or_default();
        t.calls += r.requests;
        t.usage += r.usage;
        match money {
            Some(x) => t.money += x,
            None => t.unpriced += 1,
        }
    }

    pub fn merge(&mut self, o: Unbilled) {
        self.merge_as(o, None);
    }

    /// Adds `o`, its calls counted under `provider` when given (calls that named no provider
    /// but whose app's other calls name one).
    fn merge_as(&mut self, o: Unbilled, provider: Option<&'static str>) {
        for ((source, p), t) in o.by {
            let e = self.by.entry((source, provider.unwrap_or(p))).or_default();
            e.calls += t.calls;
            e.usage += t.usage;
            e.money += t.money;
            e.unpriced += t.unpriced;
        }
    }

    /// The report's list and one note per source and provider
    /// (`dify: no bill for anthropic: 1,204 calls, $13.59`).
    pub fn finish(self, currency: &str) -> (Vec<m::Unbilled>, Vec<String>) {
        let mut list = Vec::new();
        let mut notes = Vec::new();
        for ((source, provider), t) in self.by {
            let who = if provider.is_empty() {
                "an unknown provider (no provider recorded, model not in the catalog)"
            } else {
                provider
            };
            let unpriced = if t.unpriced > 0 {
                format!(" ({} unpriced)", report::count(t.unpriced as i64))
            } else {
                String::new()
            };
            notes.push(format!(
                "{source}: no bill for {who}: {} call{}, {} tokens, {}{unpriced}; not compared with any bill",
                report::count(t.calls as i64),
                if t.calls == 1 { "" } else { "s" },
                report::count(t.usage.total()),
                money_text(t.money, currency),
            ));
            list.push(m::Unbilled {
                source: source.to_string(),
                provider: provider.to_string(),
                calls: t.calls,
                tokens: t.usage,
                cost: t.money,
                unpriced_records: t.unpriced,
            });
        }
        (list, notes)
    }
}

/// Money for a note: cents, or the exact amount when it is less than a cent.
fn money_text(d: Decimal, currency: &str) -> String {
    let shown = if !d.is_zero() && d.abs() < Decimal::new(1, 2) {
        d.normalize().to_string()
    } else {
        report::money(d)
    };
    if currency == "USD" {
        format!("${shown}")
    } else {
        format!("{shown} {currency}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Origin;

    fn call(serving: &'static str, tokens: i64) -> UsageRecord {
        let mut r = UsageRecord::call(
            "x".into(),
            Origin { file: 0, line: 1 },
            chrono::DateTime::UNIX_EPOCH,
        );
        r.serving = serving;
        r.usage[crate::record::UsageClass::Input] = tokens;
        r
    }

    #[test]
    fn a_bill_sees_only_its_own_calls() {
        let openai = Route::of_served(System::Openai, std::iter::empty());
        assert!(openai.sees(&call("openai", 1)));
        assert!(!openai.sees(&call("anthropic", 1)));
        assert!(!openai.sees(&call("", 1)));
        assert!(Route::All.sees(&call("", 1)));
        let lines = [call("azure", 0), call("aws", 0), call("azure", 0)];
        assert_eq!(
            Route::of_served(System::Focus, lines.iter().map(|r| r.serving)),
            Route::Bill(vec!["aws", "azure"])
        );
    }

    #[test]
    fn unbilled_calls_are_counted_and_named() {
        let mut u = Unbilled::default();
        for _ in 0..1204 {
            u.add("dify", &call("anthropic", 10), Some(Decimal::new(1129, 5)));
        }
        u.add("dify", &call("", 5), None);
        let (list, notes) = u.finish("USD");
        assert_eq!(list.len(), 2);
        // 1,204 × $0.01129 = $13.59316
        assert_eq!(list[1].cost, Decimal::new(1359316, 5));
        assert_eq!(
            notes[1],
            "dify: no bill for anthropic: 1,204 calls, 12,040 tokens, $13.59; not compared with any bill"
        );
        assert!(notes[0].contains("unknown provider") && notes[0].contains("(1 unpriced)"));
    }
}
