//! Chargeback: each team's usage as every source measures it, and each team's share of each
//! bill, allocated by its measured usage. Nothing is spread silently: bill traffic no call of the
//! baseline explains (`unattributed`) and calls no team rule matches (`unmapped`) are lines of
//! their own.

pub mod teams_file;

use crate::record::{Currency, Usage, UsageRecord};
use crate::report::model as m;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, HashMap};

/// What a rule matches a record by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// Dify's `app_id`.
    App,
    /// Dify's workspace (`tenant_id`) or Langfuse's project (`projectId`).
    Workspace,
    /// A bill's API key id (OpenAI `api_key_id`, Anthropic `api_key_id`, …).
    ApiKey,
    /// A bill's project / workspace / account id (OpenAI `project_id`, Anthropic
    /// `workspace_id`, …).
    Project,
    /// A tag of the call's Langfuse trace.
    Tag,
    /// The end user (Dify `from_end_user_id` / `created_by`, Langfuse `userId`, OpenAI `user_id`).
    User,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::App,
        Field::Workspace,
        Field::ApiKey,
        Field::Project,
        Field::Tag,
        Field::User,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::App => "app",
            Field::Workspace => "workspace",
            Field::ApiKey => "api_key",
            Field::Project => "project",
            Field::Tag => "tag",
            Field::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    pub cost_center: String,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub field: Field,
    pub value: String,
    pub team: u32,
}

/// The rules of a teams file, indexed so a record's team is a few lookups, whatever the number
/// of rules.
#[derive(Clone, Debug)]
pub struct Teams {
    pub file: String,
    teams: Vec<Team>,
    /// Per field, value → (rule position, team): the first rule in file order wins.
    index: HashMap<(Field, String), (usize, u32)>,
}

/// A team by its index in the file; `None` = no rule matched.
pub type TeamId = Option<u32>;

impl Teams {
    pub fn new(file: String, teams: Vec<Team>, rules: Vec<Rule>) -> Teams {
        let mut index = HashMap::with_capacity(rules.len());
        for (i, r) in rules.into_iter().enumerate() {
            index.entry((r.field, r.value)).or_insert((i, r.team));
        }
        Teams { file, teams, index }
    }

    pub fn teams(&self) -> &[Team] {
        &self.teams
    }

    fn first(&self, candidates: impl IntoIterator<Item = (Field, Option<String>)>) -> TeamId {
        candidates
            .into_iter()
            .filter_map(|(f, v)| self.index.get(&(f, v?)))
            .min_by_key(|(pos, _)| *pos)
            .map(|&(_, team)| team)
    }

    /// The team of a record: the first rule (in file order) that matches any of its fields.
    pub fn team_of(&self, r: &UsageRecord) -> TeamId {
        let s = &r.scope;
        let mut c = vec![
            (Field::App, s.app.clone()),
            (Field::Workspace, s.workspace.clone()),
            (Field::ApiKey, s.api_key.clone()),
            (Field::Project, s.project.clone()),
            (Field::User, s.user.clone()),
        ];
        c.extend(s.tags.iter().map(|t| (Field::Tag, Some(t.clone()))));
        self.first(c)
    }

    /// The team a bill line's key or project names (a bill line has no app or user of its own).
    pub fn team_of_line(&self, key: &Option<String>, project: &Option<String>) -> TeamId {
        self.first([
            (Field::ApiKey, key.clone()),
            (Field::Project, project.clone()),
        ])
    }

    fn label(&self, t: TeamId) -> Option<&Team> {
        t.and_then(|i| self.teams.get(i as usize))
    }
}

/// Usage and money summed per team.
#[derive(Clone, Debug, Default)]
pub struct Tallies(pub BTreeMap<TeamId, Measure>);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measure {
    pub records: u64,
    pub requests: u64,
    pub usage: Usage,
    pub money: Decimal,
    pub unpriced: u64,
}

impl Measure {
    pub fn add(&mut self, r: &UsageRecord, money: Option<Decimal>) {
        self.records += 1;
        self.requests += r.requests;
        self.usage += r.usage;
        match money {
            Some(x) => self.money += x,
            None => self.unpriced += 1,
        }
    }

    pub fn merge(&mut self, o: &Measure) {
        self.records += o.records;
        self.requests += o.requests;
        self.usage += o.usage;
        self.money += o.money;
        self.unpriced += o.unpriced;
    }

    fn report(&self) -> m::TeamMeasure {
        m::TeamMeasure {
            records: self.records,
            requests: self.requests,
            tokens: self.usage,
            cost: self.money,
            unpriced_records: self.unpriced,
        }
    }
}

impl Tallies {
    pub fn add(&mut self, team: TeamId, r: &UsageRecord, money: Option<Decimal>) {
        self.0.entry(team).or_default().add(r, money);
    }

    pub fn merge(&mut self, o: Tallies) {
        for (t, x) in o.0 {
            self.0.entry(t).or_default().merge(&x);
        }
    }

    fn total(&self) -> Measure {
        let mut t = Measure::default();
        self.0.values().for_each(|x| t.merge(x));
        t
    }
}

/// What the report says about how records find their team and how a bill is shared.
pub const RULE: &str = "A record belongs to the team of the first rule in the teams file that matches one of its fields (app, workspace, api_key, project, tag, user); a record no rule matches is unmapped. Each source's figures are its records in the report window (a bill's lines in the compared span; app rows that repeat other rows' usage, double_counting, left out). A bill is shared as follows: lines whose API key or project a rule matches go to that team directly; lines on the baseline's own keys and projects are shared among the teams in proportion to the baseline's cost of the calls routed to that bill (by tokens when that cost is zero), the part of calls no rule matches shown as unmapped; lines on other keys and projects that no rule matches are unattributed. The shares are rounded to the currency's minor unit by largest remainder, so they add up exactly to the bill rounded to that unit.";

/// One source's usage per team.
pub fn source_report(
    teams: &Teams,
    source: &str,
    role: &'static str,
    tallies: &Tallies,
) -> m::SourceChargeback {
    let lines = teams
        .teams
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            tallies.0.get(&Some(i as u32)).map(|x| m::TeamUsage {
                team: t.name.clone(),
                cost_center: t.cost_center.clone(),
                measured: x.report(),
            })
        })
        .collect();
    m::SourceChargeback {
        source: source.to_string(),
        role,
        teams: lines,
        unmapped: tallies.0.get(&None).cloned().unwrap_or_default().report(),
        total: tallies.total().report(),
    }
}

/// The decimals of a currency's minor unit (ISO 4217): 0 for the yen, won, …; 3 for the
/// dinars of Bahrain, Iraq, Jordan, Kuwait, Libya, Tunisia and Oman's rial; else 2.
pub fn minor_unit(c: Currency) -> u32 {
    match c.as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Rounds `exact` amounts to `dp` decimals so that they add up to their sum rounded to `dp`
/// (half away from zero): every amount is first rounded down, then one unit each goes to the
/// amounts with the largest remainders (ties: the larger amount, then the earlier one).
pub fn largest_remainder(exact: &[Decimal], dp: u32) -> Vec<Decimal> {
    let unit = Decimal::new(1, dp);
    let total: Decimal = exact.iter().copied().sum();
    let target = total.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    let floors: Vec<Decimal> = exact
        .iter()
        .map(|x| x.round_dp_with_strategy(dp, RoundingStrategy::ToNegativeInfinity))
        .collect();
    let mut shown = floors.clone();
    // Σ floors ≤ Σ exact, and the units missing are fewer than the amounts with a remainder.
    let missing = target - floors.iter().copied().sum::<Decimal>();
    let mut units = (missing / unit)
        .round()
        .to_string()
        .parse::<usize>()
        .unwrap_or(0);
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&i, &j| {
        let (ri, rj) = (exact[i] - floors[i], exact[j] - floors[j]);
        rj.cmp(&ri)
            .then(exact[j].abs().cmp(&exact[i].abs()))
            .then(i.cmp(&j))
    });
    for i in order {
        if units == 0 {
            break;
        }
        if exact[i] != floors[i] {
            shown[i] += unit;
            units -= 1;
        }
    }
    shown
}

/// Splits `pool` in proportion to `weights` (all ≥ 0, not all zero): each share is
/// pool × weight / Σ weights, and the last non-zero weight takes what is left, so the shares add
/// up to the pool exactly.
pub fn pro_rata(pool: Decimal, weights: &[Decimal]) -> Vec<Decimal> {
    let sum: Decimal = weights.iter().copied().sum();
    let mut out = vec![Decimal::ZERO; weights.len()];
    let Some(last) = weights.iter().rposition(|w| !w.is_zero()) else {
        return out;
    };
    let mut given = Decimal::ZERO;
    for (i, w) in weights.iter().enumerate().take(last) {
        // pool × weight first (exact when it fits), else the ratio first (weight ≤ sum: no
        // overflow).
        let share = pool
            .checked_mul(*w)
            .and_then(|x| x.checked_div(sum))
            .unwrap_or((*w / sum) * pool);
        out[i] = share;
        given += share;
    }
    out[last] = pool - given;
    out
}

/// One bill's lines per (API key, project), in the compared span.
pub type BillScopes = BTreeMap<(Option<String>, Option<String>), Measure>;

/// What a bill's share needs: its lines, who the baseline is on it, and the baseline's calls
/// routed to it per team.
pub struct BillInput<'a> {
    pub bill: &'a str,
    pub span: m::WindowSpan,
    pub scopes: &'a BillScopes,
    /// The comparison whose baseline weights the shares (app → bill, else trace → bill).
    pub basis: Option<(&'a str, &'a m::Attribution, &'a Tallies)>,
    pub currency: Currency,
}

pub fn bill_report(teams: &Teams, b: &BillInput) -> m::BillChargeback {
    let n = teams.teams.len();
    // Lines: teams in file order, then unmapped, then unattributed.
    let (unmapped, unattributed) = (n, n + 1);
    let mut direct = vec![Measure::default(); n + 2];
    let mut pool = Measure::default();
    let on_other_keys = |k: &Option<String>, p: &Option<String>| {
        b.basis.is_none_or(|(_, a, _)| {
            k.as_ref()
                .is_some_and(|k| a.unattributed_api_keys.contains(k))
                || p.as_ref()
                    .is_some_and(|p| a.unattributed_projects.contains(p))
        })
    };
    for ((k, p), x) in b.scopes {
        match teams.team_of_line(k, p) {
            Some(t) => direct[t as usize].merge(x),
            None if on_other_keys(k, p) => direct[unattributed].merge(x),
            None => pool.merge(x),
        }
    }
    let empty = Tallies::default();
    let tallies = b.basis.map(|(_, _, t)| t).unwrap_or(&empty);
    let measured: Vec<Measure> = (0..n + 2)
        .map(|i| {
            let id = match i {
                i if i < n => Some(Some(i as u32)),
                i if i == unmapped => Some(None),
                _ => None,
            };
            id.and_then(|id| tallies.0.get(&id).cloned())
                .unwrap_or_default()
        })
        .collect();
    // Weights: the baseline's cost of the calls routed here, else its tokens.
    let by_cost: Vec<Decimal> = measured.iter().map(|x| x.money).collect();
    let by_tokens: Vec<Decimal> = measured
        .iter()
        .map(|x| Decimal::from(x.usage.total()))
        .collect();
    let usable =
        |w: &[Decimal]| w.iter().all(|x| !x.is_sign_negative()) && w.iter().any(|x| !x.is_zero());
    let (weights, by) = if usable(&by_cost) {
        (by_cost, "cost")
    } else if usable(&by_tokens) {
        (by_tokens, "tokens")
    } else {
        // No call of the baseline explains the pool: it is unattributed.
        let mut w = vec![Decimal::ZERO; n + 2];
        w[unattributed] = Decimal::ONE;
        (w, "none")
    };
    let allocated = pro_rata(pool.money, &weights);
    let exact: Vec<Decimal> = (0..n + 2).map(|i| direct[i].money + allocated[i]).collect();
    let dp = minor_unit(b.currency);
    let shares = largest_remainder(&exact, dp);
    let total: Decimal = exact.iter().copied().sum();
    let lines = (0..n + 2)
        .filter(|&i| {
            i >= n || direct[i].records > 0 || measured[i].records > 0 || !exact[i].is_zero()
        })
        .map(|i| {
            let team = teams.label((i < n).then_some(i as u32));
            m::BillShare {
                kind: match i {
                    i if i < n => "team",
                    i if i == unmapped => "unmapped",
                    _ => "unattributed",
                },
                team: team.map(|t| t.name.clone()),
                cost_center: team.map(|t| t.cost_center.clone()),
                measured: measured[i].report(),
                billed_directly: direct[i].report(),
                allocated: allocated[i],
                exact: exact[i],
                share: shares[i],
            }
        })
        .collect();
    m::BillChargeback {
        bill: b.bill.to_string(),
        basis: b.basis.map(|(s, _, _)| s.to_string()),
        allocated_by: by,
        span: b.span.clone(),
        currency: b.currency,
        minor_unit: dp,
        pooled: pool.report(),
        total,
        total_rounded: total.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn largest_remainder_foots_to_the_rounded_total() {
        // 10.00 in three parts: 3.333…3 (28 places), twice, and the rest 3.333…4; floors
        // 3.33 × 3 = 9.99, the missing cent to the largest remainder, the last.
        let third = dec!(10) / dec!(3);
        let exact = [third, third, dec!(10) - third - third];
        let r = largest_remainder(&exact, 2);
        assert_eq!(r, vec![dec!(3.33), dec!(3.33), dec!(3.34)]);
        assert_eq!(r.iter().copied().sum::<Decimal>(), dec!(10.00));
        // Equal remainders and amounts: the earlier one. 0.005 + 0.005 = 0.01.
        let r = largest_remainder(&[dec!(0.005), dec!(0.005)], 2);
        assert_eq!(r, vec![dec!(0.01), dec!(0.00)]);
        // 1.005 + 2.004 + 0.001 = 3.010 → floors 1.00 + 2.00 + 0.00 = 3.00, one cent missing,
        // to the largest remainder (0.005, the first).
        let r = largest_remainder(&[dec!(1.005), dec!(2.004), dec!(0.001)], 2);
        assert_eq!(r, vec![dec!(1.01), dec!(2.00), dec!(0.00)]);
        // Yen: no minor unit. 100.6 + 200.6 = 301.2 → 301: floors 100 + 200, one yen to the
        // first of two equal remainders, the larger amount (200.6).
        let r = largest_remainder(&[dec!(100.6), dec!(200.6)], 0);
        assert_eq!(r, vec![dec!(100), dec!(201)]);
        // A credit: -1.006 + 0.003 = -1.003 → -1.00; floors -1.01 + 0.00 = -1.01, one cent to
        // the largest remainder (-1.006 - -1.01 = 0.004 > 0.003).
        let r = largest_remainder(&[dec!(-1.006), dec!(0.003)], 2);
        assert_eq!(r, vec![dec!(-1.00), dec!(0.00)]);
    }

    #[test]
    fn pro_rata_adds_up_to_the_pool_exactly() {
        let s = pro_rata(dec!(10), &[dec!(1), dec!(1), dec!(1), dec!(0)]);
        assert_eq!(s.iter().copied().sum::<Decimal>(), dec!(10));
        assert_eq!(s[3], Decimal::ZERO);
        assert_eq!(
            pro_rata(dec!(6), &[dec!(2), dec!(1)]),
            vec![dec!(4), dec!(2)]
        );
    }

    fn demo_teams() -> Teams {
        let team = |name: &str, cc: &str| Team {
            name: name.into(),
            cost_center: cc.into(),
        };
        let rule = |field, value: &str, team| Rule {
            field,
            value: value.into(),
            team,
        };
        Teams::new(
            "teams.toml".into(),
            vec![
                team("sales", "CC-2"),
                team("support", "CC-1"),
                team("research", "CC-3"),
            ],
            vec![
                rule(Field::User, "u-s", 0),
                rule(Field::App, "app-1", 1),
                rule(Field::ApiKey, "k-r", 2),
            ],
        )
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let t = demo_teams();
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let origin = crate::record::Origin { file: 0, line: 1 };
        let mut r = UsageRecord::call("c1".into(), origin, at);
        r.scope.app = Some("app-1".into());
        assert_eq!(t.team_of(&r), Some(1));
        // The user rule comes first in the file: sales, though the app is support's.
        r.scope.user = Some("u-s".into());
        assert_eq!(t.team_of(&r), Some(0));
        r.scope = Default::default();
        r.scope.user = Some("u-other".into());
        assert_eq!(t.team_of(&r), None);
        assert_eq!(t.team_of_line(&Some("k-r".into()), &None), Some(2));
    }

    #[test]
    fn a_bill_is_shared_exactly_with_unmapped_and_unattributed_on_lines_of_their_own() {
        let t = demo_teams();
        let money = |x: Decimal| Measure {
            records: 1,
            requests: 1,
            money: x,
            ..Measure::default()
        };
        let scope = |k: &str, p: &str| (Some(k.to_string()), Some(p.to_string()));
        let mut scopes = BillScopes::new();
        // The app's own key: 10.00, shared by usage.
        scopes.insert(scope("k-app", "p-app"), money(dec!(10)));
        // Research's key, named by a rule: 2.005, billed to research directly.
        scopes.insert(scope("k-r", "p-r"), money(dec!(2.005)));
        // Another key no rule names: 0.004, unattributed.
        scopes.insert(scope("k-x", "p-x"), money(dec!(0.004)));
        let attribution = m::Attribution {
            method: "explicit",
            api_keys: vec!["k-app".into()],
            projects: Vec::new(),
            unattributed_api_keys: vec!["k-r".into(), "k-x".into()],
            unattributed_projects: Vec::new(),
        };
        // The app's calls routed to this bill cost 1 each for sales, support and no team.
        let mut tallies = Tallies::default();
        for team in [Some(0), Some(1), None] {
            tallies.0.insert(team, money(dec!(1)));
        }
        let b = bill_report(
            &t,
            &BillInput {
                bill: "openai",
                span: m::WindowSpan {
                    start: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                    end: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                },
                scopes: &scopes,
                basis: Some(("dify", &attribution, &tallies)),
                currency: Currency::USD,
            },
        );
        // Total: 10 + 2.005 + 0.004 = 12.009, rounded 12.01.
        assert_eq!(b.total, dec!(12.009));
        assert_eq!(b.total_rounded, dec!(12.01));
        assert_eq!(b.allocated_by, "cost");
        let by = |kind: &str, team: Option<&str>| {
            b.lines
                .iter()
                .find(|l| l.kind == kind && l.team.as_deref() == team)
                .unwrap()
        };
        // The pool of 10 in thirds (weights 1 : 1 : 1): 3.333… each, the last taking the rest.
        let third = by("team", Some("sales")).allocated;
        assert_eq!(third, by("team", Some("support")).allocated);
        assert_eq!(
            third + third + by("unmapped", None).allocated,
            dec!(10),
            "the pool is shared exactly"
        );
        assert_eq!(
            by("team", Some("research")).billed_directly.cost,
            dec!(2.005)
        );
        assert_eq!(by("unattributed", None).billed_directly.cost, dec!(0.004));
        // Floors: 3.33 + 3.33 + 2.00 + 3.33 + 0.00 = 11.99; two cents to the largest
        // remainders: research (0.005) and unattributed (0.004), ahead of the thirds' 0.0033….
        assert_eq!(by("team", Some("sales")).share, dec!(3.33));
        assert_eq!(by("team", Some("support")).share, dec!(3.33));
        assert_eq!(by("team", Some("research")).share, dec!(2.01));
        assert_eq!(by("unmapped", None).share, dec!(3.33));
        assert_eq!(by("unattributed", None).share, dec!(0.01));
        // 3.33 + 3.33 + 2.01 + 3.33 + 0.01 = 12.01, the bill to the cent; the exact amounts
        // add up to the exact bill.
        assert_eq!(
            b.lines.iter().map(|l| l.share).sum::<Decimal>(),
            dec!(12.01)
        );
        assert_eq!(
            b.lines.iter().map(|l| l.exact).sum::<Decimal>(),
            dec!(12.009)
        );
        assert_eq!(b.lines.len(), 5);
    }

    #[test]
    fn without_calls_to_weigh_by_the_pool_is_unattributed() {
        let t = demo_teams();
        let mut scopes = BillScopes::new();
        scopes.insert(
            (Some("k-app".into()), None),
            Measure {
                records: 1,
                money: dec!(4.2),
                ..Measure::default()
            },
        );
        let b = bill_report(
            &t,
            &BillInput {
                bill: "openai",
                span: m::WindowSpan {
                    start: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                    end: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
                },
                scopes: &scopes,
                basis: None,
                currency: Currency::USD,
            },
        );
        // No baseline: every line no rule names is on "other" keys.
        let un = b.lines.iter().find(|l| l.kind == "unattributed").unwrap();
        assert_eq!(un.share, dec!(4.20));
        assert_eq!(b.total_rounded, dec!(4.2));
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(minor_unit(Currency::USD), 2);
        assert_eq!(minor_unit(Currency::parse("JPY").unwrap()), 0);
        assert_eq!(minor_unit(Currency::parse("KWD").unwrap()), 3);
    }
}
