//! `--format html`: one self-contained page to share — inline CSS and SVG, no script, font,
//! image or stylesheet from anywhere else — readable on a phone and printed. The headline as
//! cards, then per comparison a waterfall of its bridge, a daily baseline-vs-reference chart,
//! the bridge table and its groups; the chargeback by team (with `--teams`), the anomalies, the
//! change against an earlier report (with `--previous`), the sources and the notes.
//!
//! Every chart carries the exact numbers it draws in `data-` attributes (the JSON report's
//! decimal strings), so a test can hold the picture to the report.

use super::count;
use super::display::{self, money_dp, signed_money_dp};
use super::headline::{self, Headline};
use super::model::{ComparisonReport, Report};
use super::view::{self, BridgeView, Grid};
use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Text for HTML: `&`, `<`, `>` and quotes escaped (safe in elements and attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The exact decimal, as the JSON report writes it.
fn exact(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A coordinate for SVG: geometry only, never a figure shown.
fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

const CSS: &str = r#"
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f8fafc;--accent:#1d4ed8;--up:#c2410c;--down:#0f766e;--rest:#94a3b8;--side:#334155}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#fff;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:28px 24px 48px}
header.top{border-bottom:2px solid var(--ink);padding-bottom:12px;margin-bottom:20px}
header.top .brand{font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
h1{font-size:26px;line-height:1.2;margin:4px 0 6px}
h2{font-size:19px;margin:36px 0 4px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:22px 0 6px}
.meta{color:var(--muted);font-size:13px;margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:14px;margin:14px 0}
.card{border:1px solid var(--line);border-radius:10px;padding:14px 16px;background:#fff;break-inside:avoid}
.card.trust{background:var(--soft);border-color:#cbd5e1}
.kicker{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.big{font-size:28px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.25;margin:2px 0}
.big small{font-size:14px;font-weight:500;color:var(--muted)}
.card p{margin:6px 0 0;font-size:13px}
.card dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:8px 0 0;font-size:13px}
.card dt{color:var(--muted)}
.card dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
.card ol{margin:8px 0 0;padding-left:18px;font-size:13px}
.card ol li{margin:2px 0}
.pos{color:var(--up)}.neg{color:var(--down)}
.explained{height:6px;border-radius:3px;background:var(--line);margin-top:10px;overflow:hidden}
.explained span{display:block;height:100%;background:var(--accent)}
figure{margin:14px 0;padding:0}
figure svg{display:block;width:100%;height:auto;max-width:100%}
figcaption{font-size:13px;color:var(--muted);margin:4px 0 0}
.charts{display:grid;grid-template-columns:1fr;gap:6px}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
svg .axis{stroke:var(--line)}
svg .tick{font-size:11px;fill:var(--muted)}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:8px 0}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{font-weight:600;background:var(--soft);border-bottom:1px solid #cbd5e1}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.strong td{font-weight:650;border-bottom-color:#cbd5e1}
.summary{font-size:14px;margin:8px 0}
ul.lines{margin:6px 0;padding-left:18px;font-size:13px;color:#334155}
ul.lines li{margin:2px 0}
.notes li{overflow-wrap:anywhere}
.verdict{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:650}
.verdict.pass{background:#dcfce7;color:#166534}.verdict.fail{background:#fee2e2;color:#991b1b}
footer{margin-top:40px;padding-top:10px;border-top:1px solid var(--line);font-size:12px;color:var(--muted)}
@media (max-width:640px){main{padding:18px 14px 36px}h1{font-size:21px}.big{font-size:24px}th,td{padding:5px 7px}}
@media print{
@page{size:A4;margin:14mm}
body{font-size:10.5pt}
main{max-width:none;padding:0}
h2{break-after:avoid;margin-top:20px}
figure,.card,table,tr{break-inside:avoid}
.table-wrap{overflow:visible}
th{background:#f1f5f9;-webkit-print-color-adjust:exact;print-color-adjust:exact}
svg{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

fn money_class(d: Decimal) -> &'static str {
    if d > Decimal::ZERO {
        "pos"
    } else if d < Decimal::ZERO {
        "neg"
    } else {
        ""
    }
}

fn table(out: &mut String, g: &Grid) {
    out.push_str("<div class=\"table-wrap\"><table><thead><tr>");
    for (i, h) in g.header.iter().enumerate() {
        let cls = if g.right.contains(&i) {
            " class=\"num\""
        } else {
            ""
        };
        let _ = write!(out, "<th{cls}>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for (r, row) in g.rows.iter().enumerate() {
        if g.strong.contains(&r) {
            out.push_str("<tr class=\"strong\">");
        } else {
            out.push_str("<tr>");
        }
        for (i, c) in row.iter().enumerate() {
            let cls = if g.right.contains(&i) {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{cls}>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
}

fn list(out: &mut String, class: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let _ = write!(out, "<ul class=\"{class}\">");
    for l in lines {
        let _ = write!(out, "<li>{}</li>", esc(l));
    }
    out.push_str("</ul>\n");
}

fn headline_cards(out: &mut String, h: &Headline, currency: &str) {
    let dp = display::precision(
        std::iter::once(&h.settlement_cost).chain(
            h.against
                .iter()
                .flat_map(|a| [&a.cost, &a.variance, &a.explained, &a.unexplained]),
        ),
    );
    let m = |d: Decimal| money_dp(d, dp);
    let sm = |d: Decimal| signed_money_dp(d, dp);
    out.push_str("<div class=\"cards\">");
    let _ = write!(
        out,
        "<div class=\"card trust\" data-source=\"{src}\" data-cost=\"{cost}\"><div class=\"kicker\">Trust · {src} {role}</div>\
         <div class=\"big\">{shown} <small>{cur}</small></div>\
         <p>{tokens} tokens. {why}.</p></div>",
        src = esc(&h.settlement),
        role = h.settlement_role,
        cost = exact(h.settlement_cost),
        shown = m(h.settlement_cost),
        cur = esc(currency),
        tokens = count(h.settlement_tokens),
        why = esc(&capitalized(h.why)),
    );
    for a in &h.against {
        let share = headline::explained_pct(a);
        let _ = write!(
            out,
            "<div class=\"card\" data-source=\"{src}\" data-cost=\"{cost}\" data-variance=\"{var}\" data-unexplained=\"{unx}\">\
             <div class=\"kicker\">{src} ({role})</div>\
             <div class=\"big\">{shown} <small>{cur}</small></div>\
             <dl><dt>variance to the {srole}</dt><dd class=\"{vc}\">{vshown} ({vpct:+.2}%)</dd>\
             <dt>explained</dt><dd>{eshown} ({share:.1}%)</dd>\
             <dt>unexplained</dt><dd class=\"{uc}\">{ushown} ({upct:+.2}% of the {srole})</dd></dl>\
             <div class=\"explained\" title=\"explained share of the variance\"><span style=\"width:{bar:.1}%\"></span></div>",
            src = esc(&a.source),
            role = esc(&a.role),
            cost = exact(a.cost),
            var = exact(a.variance),
            unx = exact(a.unexplained),
            shown = m(a.cost),
            cur = esc(currency),
            srole = h.settlement_role,
            vc = money_class(a.variance),
            vshown = sm(a.variance),
            vpct = a.variance_pct,
            eshown = sm(a.explained),
            uc = money_class(a.unexplained),
            ushown = sm(a.unexplained),
            upct = a.unexplained_pct,
            bar = share.clamp(0.0, 100.0),
        );
        if !a.top.is_empty() {
            out.push_str("<ol>");
            for (cause, words, cost) in &a.top {
                let _ = write!(
                    out,
                    "<li>{} <span class=\"{}\">{}</span> <small>({})</small></li>",
                    esc(&capitalized(words)),
                    money_class(*cost),
                    sm(*cost),
                    esc(cause)
                );
            }
            out.push_str("</ol>");
        }
        out.push_str("</div>");
    }
    out.push_str("</div>\n");
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Width of every chart's coordinate system (it scales to the page).
const W: f64 = 760.0;

/// The bridge as a horizontal waterfall: the baseline's bar, each non-empty step floating from
/// the running total, the reference's bar. Each bar carries its exact amount.
fn waterfall(out: &mut String, c: &ComparisonReport, currency: &str) {
    let t = &c.totals;
    let footed = display::foot_comparison(t);
    let dp = footed.dp;
    struct Bar {
        label: String,
        kind: &'static str,
        from: Decimal,
        to: Decimal,
        cost: Decimal,
        tokens: i64,
        shown: String,
    }
    let mut bars = vec![Bar {
        label: format!("{} (baseline)", c.baseline),
        kind: "baseline",
        from: Decimal::ZERO,
        to: t.baseline.cost,
        cost: t.baseline.cost,
        tokens: t.baseline.tokens.total(),
        shown: money_dp(footed.baseline, dp),
    }];
    let mut run = t.baseline.cost;
    for (s, shown) in t.bridge.iter().zip(&footed.steps) {
        if display::is_empty_step(s) {
            continue;
        }
        let next = run + s.cost;
        bars.push(Bar {
            label: s.cause.to_string(),
            kind: if s.cause == "unexplained" {
                "unexplained"
            } else {
                "step"
            },
            from: run,
            to: next,
            cost: s.cost,
            tokens: s.tokens.total(),
            shown: signed_money_dp(*shown, dp),
        });
        run = next;
    }
    bars.push(Bar {
        label: format!("{} (reference)", c.reference),
        kind: "reference",
        from: Decimal::ZERO,
        to: t.reference.cost,
        cost: t.reference.cost,
        tokens: t.reference.tokens.total(),
        shown: money_dp(footed.reference, dp),
    });
    let lo = bars
        .iter()
        .flat_map(|b| [b.from, b.to])
        .min()
        .unwrap_or_default()
        .min(Decimal::ZERO);
    let hi = bars
        .iter()
        .flat_map(|b| [b.from, b.to])
        .max()
        .unwrap_or_default()
        .max(Decimal::ZERO);
    let span = if hi == lo { 1.0 } else { f(hi - lo) };
    let (x0, x1) = (200.0, 660.0);
    let x = |d: Decimal| x0 + (f(d - lo) / span) * (x1 - x0);
    let (top, row_h, bar_h) = (10.0, 30.0, 18.0);
    let height = top + row_h * bars.len() as f64 + 26.0;
    let _ = write!(
        out,
        "<figure><svg class=\"waterfall\" viewBox=\"0 0 {W} {height:.0}\" role=\"img\" \
         aria-label=\"Waterfall of the bridge from {b} to {r}\" data-comparison=\"{b} → {r}\" \
         data-baseline=\"{bc}\" data-reference=\"{rc}\" data-currency=\"{cur}\">\
         <title>{b} → {r}: bridge in {cur}</title>",
        b = esc(&c.baseline),
        r = esc(&c.reference),
        bc = exact(t.baseline.cost),
        rc = exact(t.reference.cost),
        cur = esc(currency),
    );
    // Gridlines at nice amounts, and the zero line.
    let axis_y = top + row_h * bars.len() as f64 + 2.0;
    for tick in ticks(f(lo), f(hi), 5) {
        let tx = x0 + ((tick - f(lo)) / span) * (x1 - x0);
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{tx:.1}\" y1=\"{top}\" x2=\"{tx:.1}\" y2=\"{axis_y:.1}\"/>\
             <text class=\"tick\" x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{label}</text>",
            ty = axis_y + 15.0,
            label = tick_label(tick),
        );
    }
    let zx = x(Decimal::ZERO);
    let _ = write!(
        out,
        "<line x1=\"{zx:.1}\" y1=\"{top}\" x2=\"{zx:.1}\" y2=\"{axis_y:.1}\" stroke=\"#94a3b8\"/>"
    );
    for (i, b) in bars.iter().enumerate() {
        let y = top + row_h * i as f64 + (row_h - bar_h) / 2.0;
        let (a, z) = (x(b.from.min(b.to)), x(b.from.max(b.to)));
        // A step too small to see still gets a sliver.
        let w = (z - a).max(1.5);
        let fill = match b.kind {
            "baseline" | "reference" => "#334155",
            "unexplained" => "#94a3b8",
            _ if b.cost < Decimal::ZERO => "#0f766e",
            _ => "#c2410c",
        };
        let cause = if b.kind == "step" || b.kind == "unexplained" {
            format!(" data-cause=\"{}\"", esc(&b.label))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<g class=\"bar\" data-kind=\"{kind}\"{cause} data-cost=\"{cost}\" data-tokens=\"{tok}\">\
             <text x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"12.5\"{weight}>{label}</text>\
             <rect x=\"{a:.2}\" y=\"{y:.1}\" width=\"{w:.2}\" height=\"{bar_h}\" rx=\"2\" fill=\"{fill}\"/>\
             <text x=\"{vx}\" y=\"{ty:.1}\" text-anchor=\"end\" font-size=\"12.5\" font-variant-numeric=\"tabular-nums\"{weight}>{shown}</text></g>",
            kind = b.kind,
            cost = exact(b.cost),
            tok = b.tokens,
            lx = x0 - 10.0,
            ty = y + bar_h / 2.0 + 4.5,
            weight = if b.kind == "baseline" || b.kind == "reference" {
                " font-weight=\"650\""
            } else {
                ""
            },
            label = esc(&b.label),
            vx = W - 6.0,
            shown = esc(&b.shown),
        );
        // The running total carries on to the next bar.
        if i + 1 < bars.len() {
            let cx = x(b.to);
            let _ = write!(
                out,
                "<line x1=\"{cx:.2}\" y1=\"{y1:.1}\" x2=\"{cx:.2}\" y2=\"{y2:.1}\" stroke=\"#64748b\" stroke-dasharray=\"2 2\"/>",
                y1 = y + bar_h,
                y2 = y + row_h,
            );
        }
    }
    out.push_str("</svg>");
    let _ = writeln!(
        out,
        "<figcaption>The bridge in {cur}: each step moves the running total from the baseline's figure \
         to the reference's (orange adds, green takes away, grey is unexplained). Amounts as in the table.</figcaption></figure>",
        cur = esc(currency)
    );
}

/// About `n` round amounts between `lo` and `hi` (1, 2 or 5 times a power of ten apart).
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if span <= 0.0 || !span.is_finite() {
        return vec![lo];
    }
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut t = (lo / step).ceil() * step;
    while t <= hi + step * 1e-9 && out.len() < 50 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn tick_label(t: f64) -> String {
    if t == t.trunc() && t.abs() < 1e15 {
        super::count(t as i64)
    } else {
        let s = format!("{t:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Per day of the report's zone: (baseline cost, reference cost) summed over the groups that
/// start on that day.
pub fn daily(c: &ComparisonReport, tz: Tz) -> BTreeMap<NaiveDate, (Decimal, Decimal)> {
    let mut days: BTreeMap<NaiveDate, (Decimal, Decimal)> = BTreeMap::new();
    for g in &c.groups {
        let day = g.key.window_start.with_timezone(&tz).date_naive();
        let e = days.entry(day).or_default();
        e.0 += g.comparison.baseline.cost;
        e.1 += g.comparison.reference.cost;
    }
    days
}

/// Reference per day as bars, baseline per day as a line over them.
fn daily_chart(out: &mut String, c: &ComparisonReport, currency: &str, tz: Tz) {
    let days = daily(c, tz);
    if days.len() < 2 {
        return;
    }
    let (left, right, top, bottom, h) = (64.0, 14.0, 30.0, 34.0, 250.0);
    let plot_w = W - left - right;
    let plot_h = h - top - bottom;
    let max = days
        .values()
        .flat_map(|(b, r)| [*b, *r])
        .max()
        .unwrap_or_default()
        .max(Decimal::ZERO);
    let min = days
        .values()
        .flat_map(|(b, r)| [*b, *r])
        .min()
        .unwrap_or_default()
        .min(Decimal::ZERO);
    let ts = ticks(f(min), f(max), 4);
    let (lo, hi) = (
        ts.first().copied().unwrap_or(0.0).min(f(min)),
        ts.last().copied().unwrap_or(1.0).max(f(max)),
    );
    let span = if hi > lo { hi - lo } else { 1.0 };
    let y = |v: f64| top + plot_h - (v - lo) / span * plot_h;
    let n = days.len() as f64;
    let slot = plot_w / n;
    let _ = write!(
        out,
        "<figure><svg class=\"daily\" viewBox=\"0 0 {W} {h}\" role=\"img\" \
         aria-label=\"Cost per day, {b} against {r}\" data-comparison=\"{b} → {r}\" data-currency=\"{cur}\">\
         <title>Cost per day ({zone}): {b} against {r}</title>",
        b = esc(&c.baseline),
        r = esc(&c.reference),
        cur = esc(currency),
        zone = esc(tz.name()),
    );
    for t in &ts {
        let ty = y(*t);
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{x2}\" y2=\"{ty:.1}\"/>\
             <text class=\"tick\" x=\"{lx}\" y=\"{tty:.1}\" text-anchor=\"end\">{label}</text>",
            x2 = W - right,
            lx = left - 6.0,
            tty = ty + 4.0,
            label = tick_label(*t),
        );
    }
    // Legend.
    let _ = write!(
        out,
        "<rect x=\"{left}\" y=\"8\" width=\"12\" height=\"10\" fill=\"#cbd5e1\"/>\
         <text x=\"{l1}\" y=\"17\" font-size=\"12\">{r} (reference)</text>\
         <line x1=\"{l2}\" y1=\"13\" x2=\"{l3}\" y2=\"13\" stroke=\"#1d4ed8\" stroke-width=\"2\"/>\
         <circle cx=\"{l4}\" cy=\"13\" r=\"3\" fill=\"#1d4ed8\"/>\
         <text x=\"{l5}\" y=\"17\" font-size=\"12\">{b} (baseline)</text>\
         <text x=\"{rx}\" y=\"17\" font-size=\"12\" text-anchor=\"end\" class=\"tick\">{cur} per day, {zone}</text>",
        l1 = left + 17.0,
        l2 = left + 190.0,
        l3 = left + 210.0,
        l4 = left + 200.0,
        l5 = left + 216.0,
        r = esc(&c.reference),
        b = esc(&c.baseline),
        rx = W - right,
        cur = esc(currency),
        zone = esc(tz.name()),
    );
    let label_every = (days.len() as f64 / 8.0).ceil().max(1.0) as usize;
    let mut points = Vec::new();
    for (i, (day, (b, r))) in days.iter().enumerate() {
        let cx = left + slot * (i as f64 + 0.5);
        let bw = (slot * 0.64).max(1.0);
        let (ya, yb) = (y(f(*r)), y(0f64.max(lo)));
        let _ = write!(
            out,
            "<rect class=\"day\" data-series=\"reference\" data-day=\"{day}\" data-cost=\"{cost}\" \
             x=\"{bx:.2}\" y=\"{ry:.2}\" width=\"{bw:.2}\" height=\"{rh:.2}\" fill=\"#cbd5e1\"/>",
            cost = exact(*r),
            bx = cx - bw / 2.0,
            ry = ya.min(yb),
            rh = (yb - ya).abs(),
        );
        points.push((cx, y(f(*b)), *day, *b));
        if i % label_every == 0 {
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{cx:.1}\" y=\"{ty}\" text-anchor=\"middle\">{}</text>",
                day.format("%m-%d"),
                ty = h - bottom + 16.0,
            );
        }
    }
    let path: Vec<String> = points
        .iter()
        .map(|(x, y, _, _)| format!("{x:.2},{y:.2}"))
        .collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1d4ed8\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
        path.join(" ")
    );
    for (x, y, day, b) in &points {
        let _ = write!(
            out,
            "<circle class=\"day\" data-series=\"baseline\" data-day=\"{day}\" data-cost=\"{cost}\" \
             cx=\"{x:.2}\" cy=\"{y:.2}\" r=\"2.6\" fill=\"#1d4ed8\"/>",
            cost = exact(*b),
        );
    }
    let _ = writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{zy:.1}\" x2=\"{x2}\" y2=\"{zy:.1}\" stroke=\"#94a3b8\"/></svg>\
         <figcaption>Cost per day in {zone} ({cur}), summed over the groups that start that day.</figcaption></figure>",
        zy = y(0f64.max(lo)),
        x2 = W - right,
        zone = esc(tz.name()),
        cur = esc(currency),
    );
}

fn bridge_section(out: &mut String, c: &ComparisonReport, b: &BridgeView, currency: &str, tz: Tz) {
    let _ = writeln!(out, "<section class=\"bridge\"><h2>{}</h2>", esc(&b.title));
    out.push_str("<div class=\"charts\">");
    waterfall(out, c, currency);
    daily_chart(out, c, currency, tz);
    out.push_str("</div>");
    table(out, &b.table);
    let _ = writeln!(
        out,
        "<p class=\"summary\">{}.</p>",
        esc(&capitalized(&b.summary))
    );
    list(out, "lines", &b.lines);
    if let Some((caption, g)) = &b.groups {
        let _ = writeln!(
            out,
            "<h3>{}</h3>",
            esc(&capitalized(caption.trim_end_matches(':')))
        );
        table(out, g);
    }
    out.push_str("</section>\n");
}

pub fn render(r: &Report) -> String {
    let v = view::build(r);
    let tz = display::zone(r);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>LLM spend reconciliation · {}</title><style>{CSS}</style></head>\n<body><main>\n",
        esc(&v.window)
    );
    let _ = writeln!(
        out,
        "<header class=\"top\"><div class=\"brand\">llm-recon report</div>\
         <h1>LLM spend reconciliation · {}</h1><p class=\"meta\">{} · currency {}</p></header>",
        esc(&v.window),
        esc(&v.settings),
        esc(&v.currency)
    );
    for h in headline::build(r) {
        out.push_str("<section class=\"headline\">");
        headline_cards(&mut out, &h, &v.currency);
        out.push_str("</section>\n");
    }
    if let Some((pass, failures)) = &v.verdict {
        let _ = write!(
            out,
            "<p>Verdict: <span class=\"verdict {}\">{}</span></p>",
            if *pass { "pass" } else { "fail" },
            if *pass { "PASS" } else { "FAIL" }
        );
        list(&mut out, "lines", failures);
    }
    for (c, b) in r.comparisons.iter().zip(&v.bridges) {
        bridge_section(&mut out, c, b, &v.currency, tz);
    }
    if let Some(cb) = &v.chargeback {
        out.push_str("<section class=\"chargeback\"><h2>Chargeback</h2>");
        let _ = write!(out, "<p class=\"meta\">{}</p>", esc(&cb.rule));
        for (title, g) in &cb.sources {
            let _ = write!(out, "<h3>{}</h3>", esc(title));
            table(&mut out, g);
        }
        for (title, g, lines) in &cb.bills {
            let _ = write!(out, "<h3>{}</h3>", esc(title));
            table(&mut out, g);
            list(&mut out, "lines", lines);
        }
        out.push_str("</section>\n");
    }
    out.push_str("<section class=\"anomalies\"><h2>Anomalies</h2>");
    let _ = write!(out, "<p class=\"meta\">{}</p>", esc(&v.anomalies.0));
    if let Some(g) = &v.anomalies.1 {
        table(&mut out, g);
    }
    out.push_str("</section>\n");
    if let Some((title, grids)) = &v.previous {
        out.push_str("<section class=\"previous\"><h2>Month over month</h2>");
        let _ = write!(out, "<p class=\"meta\">{}</p>", esc(title));
        for (t, g) in grids {
            let _ = write!(out, "<h3>{}</h3>", esc(t));
            table(&mut out, g);
        }
        out.push_str("</section>\n");
    }
    out.push_str(
        "<section><h2>Sources</h2><p class=\"meta\">Every row read, in and outside the window.</p>",
    );
    table(&mut out, &v.sources);
    list(&mut out, "lines", &v.source_lines);
    out.push_str("</section>\n");
    if v.rejected_total > 0 {
        let _ = write!(
            out,
            "<section><h2>Rejected rows: {} (first {} shown)</h2>",
            count(v.rejected_total as i64),
            v.rejected.len()
        );
        list(&mut out, "lines notes", &v.rejected);
        out.push_str("</section>\n");
    }
    if !v.notes.is_empty() {
        out.push_str("<section><h2>Notes</h2>");
        list(&mut out, "lines notes", &v.notes);
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "<footer>Made by llm-recon from the same run as its JSON report (<code>--format json</code>), \
         which holds every amount exactly; amounts here are rounded so each bridge adds up as shown.</footer>\n</main></body></html>\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn ticks_are_round_amounts_within_the_range() {
        // 0..31 in about 5 steps: raw 6.2 → step 10.
        assert_eq!(ticks(0.0, 31.0, 5), vec![0.0, 10.0, 20.0, 30.0]);
        // -10.3..30.6: raw 8.18 → step 10.
        assert_eq!(ticks(-10.3, 30.6, 5), vec![-10.0, 0.0, 10.0, 20.0, 30.0]);
        // 0..0.9 in about 4: raw 0.225 → 0.2 is too small, 0.5.
        assert_eq!(ticks(0.0, 0.9, 4), vec![0.0, 0.5]);
    }
}
