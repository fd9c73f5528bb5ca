//! `--format html` on the demo: one self-contained page whose charts draw exactly the JSON
//! report's numbers (read back from their `data-` attributes), and, where Chromium is
//! installed, a screenshot of it that shows the charts.

mod common;
use common::*;

use assert_cmd::Command;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn run(args: &[&str]) -> Vec<u8> {
    let out = bin().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The demo as a page written to `dir` (the format from the extension), and its JSON report.
fn demo_page(dir: &Path) -> (PathBuf, String, Value) {
    let path = dir.join("report.html");
    run(&["demo", "-o", path.to_str().unwrap()]);
    let html = std::fs::read_to_string(&path).unwrap();
    let report: Value = serde_json::from_slice(&run(&["demo", "--format", "json"])).unwrap();
    (path, html, report)
}

/// The attributes of the tag that starts at `tag` (`name="value"` pairs up to its `>`), with
/// the page's escapes undone.
fn attrs(tag: &str) -> BTreeMap<String, String> {
    let end = tag.find('>').unwrap();
    let mut out = BTreeMap::new();
    let mut rest = &tag[..end];
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].rsplit([' ', '<']).next().unwrap().to_string();
        let after = &rest[eq + 2..];
        let close = after.find('"').unwrap();
        let value = after[..close]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        out.insert(name, value);
        rest = &after[close + 1..];
    }
    out
}

/// Every tag of `html` that begins with `start`, as its attributes.
fn tags(html: &str, start: &str) -> Vec<BTreeMap<String, String>> {
    html.match_indices(start)
        .map(|(i, _)| attrs(&html[i..]))
        .collect()
}

/// The `<svg class="CLASS" …>…</svg>` elements of the page, in order.
fn svgs<'a>(html: &'a str, class: &str) -> Vec<&'a str> {
    let open = format!("<svg class=\"{class}\"");
    html.match_indices(&open)
        .map(|(i, _)| {
            let end = html[i..].find("</svg>").unwrap();
            &html[i..i + end]
        })
        .collect()
}

/// A step the page leaves out of the waterfall: nothing in it (the table names it below).
fn empty_step(s: &Value) -> bool {
    s["cause"] != "unexplained"
        && s["records"] == 0
        && dec(&s["cost"]).is_zero()
        && CLASSES.iter().all(|c| tokens(&s["tokens"], c) == 0)
}

#[test]
fn page_is_self_contained_and_its_charts_equal_the_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_, html, report) = demo_page(dir.path());

    // Nothing is loaded from anywhere: no script, stylesheet, font, image or frame.
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=http",
        "src=\"http",
        "src='http",
        "src=\"//",
        "<link",
        "@import",
        "url(",
        "<script",
        "<img",
        "<iframe",
        "href=\"http",
        "@font-face",
    ] {
        assert!(!lower.contains(bad), "the page references {bad:?}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(html.contains("@media print"), "print styles");
    assert!(html.contains("@media (max-width:640px)"), "phone styles");
    assert!(
        html.contains("<div class=\"table-wrap\">"),
        "tables scroll on a phone"
    );

    let comps = report["comparisons"].as_array().unwrap();
    let falls = svgs(&html, "waterfall");
    assert_eq!(falls.len(), comps.len(), "one waterfall per comparison");
    for (svg, c) in falls.iter().zip(comps) {
        let (b, r) = (
            c["baseline"].as_str().unwrap(),
            c["reference"].as_str().unwrap(),
        );
        let t = &c["totals"];
        let head = attrs(svg);
        assert_eq!(head["data-comparison"], format!("{b} → {r}"));
        let bars = tags(svg, "<g class=\"bar\"");
        let cost = |a: &BTreeMap<String, String>| d(&a["data-cost"]);
        let (first, last) = (&bars[0], bars.last().unwrap());
        assert_eq!(first["data-kind"], "baseline");
        assert_eq!(last["data-kind"], "reference");
        assert_eq!(
            cost(first),
            dec(&t["baseline"]["cost"]),
            "{b} → {r} baseline"
        );
        assert_eq!(
            cost(last),
            dec(&t["reference"]["cost"]),
            "{b} → {r} reference"
        );
        // Every step with something in it, in the JSON's order, with its exact amount.
        let steps: Vec<&Value> = t["bridge"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !empty_step(s))
            .collect();
        let drawn = &bars[1..bars.len() - 1];
        assert_eq!(drawn.len(), steps.len(), "{b} → {r}: one bar per step");
        for (bar, s) in drawn.iter().zip(&steps) {
            let what = format!("{b} → {r} {}", s["cause"]);
            assert_eq!(bar["data-cause"], s["cause"].as_str().unwrap(), "{what}");
            assert_eq!(cost(bar), dec(&s["cost"]), "{what}");
            assert_eq!(
                bar["data-tokens"].parse::<i64>().unwrap(),
                tokens(&s["tokens"], "total"),
                "{what}"
            );
        }
        // The bars drawn walk from the baseline to the reference exactly.
        let walked: Decimal = drawn.iter().map(cost).sum::<Decimal>() + cost(first);
        assert_eq!(walked, cost(last), "{b} → {r}");
    }

    // Daily chart: per day in the report's zone, the groups' costs summed, both series.
    let tz: chrono_tz::Tz = report["window"]["timezone"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let daily = svgs(&html, "daily");
    assert_eq!(daily.len(), comps.len(), "one daily chart per comparison");
    for (svg, c) in daily.iter().zip(comps) {
        let mut want: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        for g in c["groups"].as_array().unwrap() {
            let start: DateTime<Utc> = g["key"]["window_start"].as_str().unwrap().parse().unwrap();
            let day: NaiveDate = start.with_timezone(&tz).date_naive();
            for series in ["baseline", "reference"] {
                *want.entry((day.to_string(), series.into())).or_default() +=
                    dec(&g[series]["cost"]);
            }
        }
        let mut got = BTreeMap::new();
        for a in tags(svg, "<rect class=\"day\"")
            .into_iter()
            .chain(tags(svg, "<circle class=\"day\""))
        {
            let key = (a["data-day"].clone(), a["data-series"].clone());
            assert!(
                got.insert(key, d(&a["data-cost"])).is_none(),
                "one mark per day and series"
            );
        }
        assert!(
            got.len() >= 60,
            "a month of days, two series: {}",
            got.len()
        );
        assert_eq!(got, want, "{} → {}", c["baseline"], c["reference"]);
    }

    // The headline's settlement card is the bill's figure.
    let trust = tags(&html, "<div class=\"card trust\"");
    assert_eq!(trust.len(), 1);
    let bill = comparison(&report, "dify", "openai");
    assert_eq!(trust[0]["data-source"], "openai");
    assert_eq!(
        d(&trust[0]["data-cost"]),
        dec(&bill["totals"]["reference"]["cost"])
    );
    for section in ["Sources", "Notes", "Groups by |variance|"] {
        assert!(html.contains(section), "the page lacks {section}");
    }
}

/// Where Chromium is: `LLM_RECON_CHROMIUM`, else Debian's `/usr/bin/chromium`.
fn chromium() -> Option<PathBuf> {
    let p = std::env::var_os("LLM_RECON_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    p.exists().then_some(p)
}

#[test]
fn page_renders_in_headless_chromium_with_its_charts() {
    let Some(browser) = chromium() else {
        // CI installs Chromium and sets this, so a missing browser fails there instead.
        assert!(
            std::env::var_os("LLM_RECON_REQUIRE_CHROMIUM").is_none(),
            "LLM_RECON_REQUIRE_CHROMIUM is set but Chromium is not installed"
        );
        eprintln!(
            "skipped: no Chromium (/usr/bin/chromium or LLM_RECON_CHROMIUM); `apt-get install chromium` runs this test"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, _, _) = demo_page(dir.path());
    let shot = dir.path().join("out.png");
    let profile = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,1600")
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bounded: a browser that hangs fails the test rather than the run.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("chromium wrote the screenshot"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 1600));
    let channels = info.color_type.samples();
    let pixel = |x: u32, y: u32| {
        let i = (y as usize * info.width as usize + x as usize) * channels;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    // The waterfall of the first bridge sits in the middle of the first screen: its baseline
    // and reference bars are slate (#334155), the steps orange (#c2410c) and green (#0f766e).
    let (mut ink, mut slate, mut orange, mut green) = (0, 0, 0, 0);
    for y in 0..info.height {
        for x in 0..info.width {
            let (r, g, b) = pixel(x, y);
            if (r, g, b) != (255, 255, 255) {
                ink += 1;
            }
            let near = |c: (u8, u8, u8)| {
                r.abs_diff(c.0) < 12 && g.abs_diff(c.1) < 12 && b.abs_diff(c.2) < 12
            };
            if near((0x33, 0x41, 0x55)) {
                slate += 1;
            }
            if near((0xc2, 0x41, 0x0c)) {
                orange += 1;
            }
            if near((0x0f, 0x76, 0x6e)) {
                green += 1;
            }
        }
    }
    let total = 1200 * 1600;
    assert!(
        ink > total / 20,
        "the page is nearly blank: {ink} of {total} pixels not white"
    );
    // Two bars of about 470 × 22 px each, at this width.
    assert!(
        slate > 8_000,
        "baseline and reference bars not drawn: {slate} slate pixels"
    );
    assert!(orange > 1_000, "steps that add not drawn: {orange}");
    assert!(green > 1_000, "steps that take away not drawn: {green}");
}
