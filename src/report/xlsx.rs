//! `--format xlsx`: a workbook to file with the month's close. Sheets: Summary (the headline and
//! each comparison's bridge), Groups (every group's bridge, one row per step, ready for a pivot
//! table), Chargeback (with `--teams`: each team's usage per source and its share of each bill)
//! and Records (every normalized record with its origin `file:line`).
//!
//! Money cells are numbers with a currency number format, so they sum and pivot. Excel holds a
//! number as an f64 (15 significant digits): exact to the cent for any amount below ten
//! trillion, but not always to the last decimal of a price table. So each amount also has an
//! `exact` text column with the decimal exactly as the JSON report writes it.

use super::display;
use super::model::{Chargeback, Comparison, Report, Step, TeamMeasure};
use super::view;
use crate::normalized::Row;
use crate::record::UsageClass;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_xlsxwriter::{Format, FormatBorder, Workbook, Worksheet, XlsxError};

/// Rows a worksheet holds, the header included.
pub const MAX_ROWS: u32 = 1_048_576;

/// Streams every normalized record of the run to the callback it is given.
pub type Records<'a> = dyn FnMut(&mut dyn FnMut(&Row)) -> Result<(), String> + 'a;

/// The cell formats of one workbook.
struct Styles {
    title: Format,
    heading: Format,
    header: Format,
    strong: Format,
    money: Format,
    money_strong: Format,
    /// An amount in a currency other than the report's (Records: the column beside says which).
    amount: Format,
    count: Format,
    count_strong: Format,
    pct: Format,
    time: Format,
    note: Format,
}

/// The number format of money in `currency`: two decimals at least, up to six when an amount
/// has them, so a $0.0002 call never shows as 0.00; the code in brackets makes Excel file it
/// under Currency.
fn money_format(currency: &str) -> String {
    format!("[${currency}] #,##0.00####")
}

impl Styles {
    fn new(currency: &str) -> Styles {
        let money = money_format(currency);
        let header = Format::new()
            .set_bold()
            .set_background_color(0xE8ECF1)
            .set_border_bottom(FormatBorder::Thin);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            heading: Format::new().set_bold().set_font_size(12),
            header,
            strong: Format::new().set_bold(),
            money: Format::new().set_num_format(&money),
            money_strong: Format::new().set_num_format(&money).set_bold(),
            amount: Format::new().set_num_format("#,##0.00####"),
            count: Format::new().set_num_format("#,##0"),
            count_strong: Format::new().set_num_format("#,##0").set_bold(),
            pct: Format::new().set_num_format("0.00%"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            note: Format::new().set_font_color(0x555555),
        }
    }
}

/// A decimal as the nearest f64 (what a spreadsheet cell holds).
fn num(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// The exact decimal, as the JSON report writes it.
fn exact(d: Decimal) -> String {
    d.normalize().to_string()
}

/// An instant as an Excel serial date (days since 1899-12-30, in UTC).
fn serial(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 86_400_000.0 + 25_569.0
}

/// `part` as a fraction of `whole`, when `whole` is not zero.
fn share(part: Decimal, whole: Decimal) -> Option<f64> {
    part.checked_div(whole).map(num)
}

fn header(ws: &mut Worksheet, row: u32, cells: &[&str], s: &Styles) -> Result<(), XlsxError> {
    for (c, h) in cells.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, &s.header)?;
    }
    Ok(())
}

fn widths(ws: &mut Worksheet, widths: &[f64]) -> Result<(), XlsxError> {
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    Ok(())
}

/// One line of a bridge: a side (baseline, reference) or a step.
struct Line<'a> {
    label: String,
    tokens: i64,
    cost: Decimal,
    records: Option<u64>,
    step: Option<&'a Step>,
}

/// The bridge's lines in order: baseline, every step (zero ones too, as in the JSON), reference.
fn bridge_lines<'a>(baseline: &str, reference: &str, x: &'a Comparison) -> Vec<Line<'a>> {
    let mut out = vec![Line {
        label: format!("{baseline} (baseline)"),
        tokens: x.baseline.tokens.total(),
        cost: x.baseline.cost,
        records: Some(x.baseline.records),
        step: None,
    }];
    out.extend(x.bridge.iter().map(|s| Line {
        label: s.cause.to_string(),
        tokens: s.tokens.total(),
        cost: s.cost,
        records: (s.cause != "unexplained").then_some(s.records),
        step: Some(s),
    }));
    out.push(Line {
        label: format!("{reference} (reference)"),
        tokens: x.reference.tokens.total(),
        cost: x.reference.cost,
        records: Some(x.reference.records),
        step: None,
    });
    out
}

const SUMMARY_COLUMNS: &[&str] = &[
    "step",
    "tokens",
    "amount",
    "% of reference",
    "records",
    "method",
    "exact amount",
    "note",
];

fn summary(
    ws: &mut Worksheet,
    r: &Report,
    v: &view::View,
    s: &Styles,
    records_note: &str,
) -> Result<(), XlsxError> {
    ws.set_name("Summary")?;
    widths(ws, &[34.0, 14.0, 16.0, 14.0, 10.0, 13.0, 22.0, 90.0])?;
    ws.set_landscape().set_print_fit_to_pages(1, 0);
    let mut row = 0u32;
    ws.write_string_with_format(
        row,
        0,
        format!("llm-recon report · {} · {}", v.window, v.currency),
        &s.title,
    )?;
    row += 1;
    ws.write_string_with_format(row, 0, &v.settings, &s.note)?;
    row += 1;
    ws.write_string_with_format(
        row,
        0,
        format!(
            "Amounts are numbers in {cur}, exact to the cent (a spreadsheet holds 15 significant digits); \
             the 'exact amount' column has each amount exactly as the JSON report does.",
            cur = v.currency
        ),
        &s.note,
    )?;
    row += 2;
    for h in &v.headlines {
        ws.write_string_with_format(row, 0, "Headline", &s.heading)?;
        row += 1;
        for line in h {
            ws.write_string(row, 0, line.trim_start())?;
            row += 1;
        }
        row += 1;
    }
    for (c, b) in r.comparisons.iter().zip(&v.bridges) {
        ws.write_string_with_format(row, 0, &b.title, &s.heading)?;
        row += 1;
        header(ws, row, SUMMARY_COLUMNS, s)?;
        ws.write_string_with_format(row, 2, format!("amount {}", v.currency), &s.header)?;
        row += 1;
        let reference = c.totals.reference.cost;
        for line in bridge_lines(&c.baseline, &c.reference, &c.totals) {
            let side = line.step.is_none();
            let (text, money, count) = if side {
                (&s.strong, &s.money_strong, &s.count_strong)
            } else {
                (&Format::new(), &s.money, &s.count)
            };
            ws.write_string_with_format(row, 0, &line.label, text)?;
            ws.write_number_with_format(row, 1, line.tokens as f64, count)?;
            ws.write_number_with_format(row, 2, num(line.cost), money)?;
            if let Some(p) = share(line.cost, reference) {
                ws.write_number_with_format(row, 3, p, &s.pct)?;
            }
            if let Some(n) = line.records {
                ws.write_number_with_format(row, 4, n as f64, count)?;
            }
            if let Some(st) = line.step {
                ws.write_string(row, 5, st.method)?;
                ws.write_string(row, 7, &st.note)?;
            }
            ws.write_string(row, 6, exact(line.cost))?;
            row += 1;
        }
        ws.write_string_with_format(row, 0, &b.summary, &s.note)?;
        row += 2;
    }
    ws.write_string_with_format(
        row,
        0,
        "Sources (every row read, in and outside the window)",
        &s.heading,
    )?;
    row += 1;
    header(
        ws,
        row,
        &[
            "source",
            "role",
            "rows read",
            "used",
            "rejected",
            "requests",
            "tokens",
            "cost",
            "unpriced records",
            "exact cost",
        ],
        s,
    )?;
    row += 1;
    for src in &r.sources {
        ws.write_string(row, 0, &src.name)?;
        ws.write_string(row, 1, src.role)?;
        for (col, n) in [
            (2, src.rows_read),
            (3, src.rows_used),
            (4, src.rows_rejected),
            (5, src.requests),
        ] {
            ws.write_number_with_format(row, col, n as f64, &s.count)?;
        }
        ws.write_number_with_format(row, 6, src.tokens.total() as f64, &s.count)?;
        ws.write_number_with_format(row, 7, num(src.cost), &s.money)?;
        ws.write_number_with_format(row, 8, src.unpriced_records as f64, &s.count)?;
        ws.write_string(row, 9, exact(src.cost))?;
        row += 1;
    }
    for line in &v.source_lines {
        ws.write_string_with_format(row, 0, line, &s.note)?;
        row += 1;
    }
    row += 1;
    let mut notes: Vec<String> = v.notes.clone();
    if v.rejected_total > 0 {
        notes.push(format!(
            "{} rejected rows (the JSON report lists them with file:line); first: {}",
            v.rejected_total,
            v.rejected.first().cloned().unwrap_or_default()
        ));
    }
    if !records_note.is_empty() {
        notes.push(records_note.to_string());
    }
    if let Some((pass, failures)) = &v.verdict {
        notes.push(format!("verdict: {}", if *pass { "PASS" } else { "FAIL" }));
        notes.extend(failures.iter().cloned());
    }
    if !notes.is_empty() {
        ws.write_string_with_format(row, 0, "Notes", &s.heading)?;
        row += 1;
        for n in notes {
            ws.write_string(row, 0, n)?;
            row += 1;
        }
    }
    Ok(())
}

const GROUP_COLUMNS: &[&str] = &[
    "comparison",
    "from",
    "start (UTC)",
    "provider",
    "model",
    "step",
    "tokens",
    "amount",
    "% of reference",
    "records",
    "method",
    "exact amount",
];

/// Every group's bridge, one row per line; returns how many groups did not fit.
fn groups(ws: &mut Worksheet, r: &Report, s: &Styles) -> Result<u64, XlsxError> {
    ws.set_name("Groups")?;
    widths(
        ws,
        &[
            22.0, 18.0, 20.0, 10.0, 24.0, 24.0, 13.0, 16.0, 14.0, 10.0, 13.0, 22.0,
        ],
    )?;
    let tz = display::zone(r);
    header(ws, 0, GROUP_COLUMNS, s)?;
    ws.write_string_with_format(
        0,
        1,
        display::group_heading(&r.window.bucket, tz),
        &s.header,
    )?;
    ws.write_string_with_format(0, 7, format!("amount {}", r.currency), &s.header)?;
    ws.set_freeze_panes(1, 0)?;
    let mut row = 1u32;
    let mut left_out = 0u64;
    for c in &r.comparisons {
        let name = format!("{} → {}", c.baseline, c.reference);
        for g in &c.groups {
            let lines = bridge_lines(&c.baseline, &c.reference, &g.comparison);
            if row + lines.len() as u32 > MAX_ROWS {
                left_out += 1;
                continue;
            }
            let reference = g.comparison.reference.cost;
            for line in lines {
                ws.write_string(row, 0, &name)?;
                ws.write_string(
                    row,
                    1,
                    display::group_label(g.key.window_start, &r.window.bucket, tz),
                )?;
                ws.write_number_with_format(row, 2, serial(g.key.window_start), &s.time)?;
                ws.write_string(row, 3, &g.key.provider)?;
                ws.write_string(row, 4, &g.key.model)?;
                ws.write_string(row, 5, &line.label)?;
                ws.write_number_with_format(row, 6, line.tokens as f64, &s.count)?;
                ws.write_number_with_format(row, 7, num(line.cost), &s.money)?;
                if let Some(p) = share(line.cost, reference) {
                    ws.write_number_with_format(row, 8, p, &s.pct)?;
                }
                if let Some(n) = line.records {
                    ws.write_number_with_format(row, 9, n as f64, &s.count)?;
                }
                if let Some(st) = line.step {
                    ws.write_string(row, 10, st.method)?;
                }
                ws.write_string(row, 11, exact(line.cost))?;
                row += 1;
            }
        }
    }
    if row > 1 {
        ws.autofilter(0, 0, row - 1, (GROUP_COLUMNS.len() - 1) as u16)?;
    }
    Ok(left_out)
}

const TEAM_COLUMNS: &[&str] = &[
    "source",
    "role",
    "team",
    "cost center",
    "records",
    "requests",
    "tokens",
    "cost",
    "unpriced records",
    "cost exact",
];

const SHARE_COLUMNS: &[&str] = &[
    "bill",
    "line",
    "team",
    "cost center",
    "basis calls",
    "their cost",
    "billed directly",
    "allocated",
    "exact",
    "share",
    "share exact",
];

/// `--teams`: one block per source (teams, unmapped, total) and one per bill (its lines and
/// their shares, which foot to the bill's rounded total). Amounts are the JSON report's.
fn chargeback(ws: &mut Worksheet, cb: &Chargeback, s: &Styles) -> Result<(), XlsxError> {
    ws.set_name("Chargeback")?;
    widths(
        ws,
        &[
            18.0, 16.0, 18.0, 14.0, 12.0, 14.0, 16.0, 14.0, 14.0, 14.0, 16.0,
        ],
    )?;
    ws.write_string_with_format(0, 0, "Chargeback by team", &s.title)?;
    ws.write_string_with_format(1, 0, format!("{} ({})", cb.rule, cb.teams_file), &s.note)?;
    let mut row = 3u32;
    header(ws, row, TEAM_COLUMNS, s)?;
    row += 1;
    let measure = |ws: &mut Worksheet,
                   row: u32,
                   label: (&str, &str, &str, &str),
                   m: &TeamMeasure,
                   strong: bool|
     -> Result<(), XlsxError> {
        let (money, count) = if strong {
            (&s.money_strong, &s.count_strong)
        } else {
            (&s.money, &s.count)
        };
        ws.write_string(row, 0, label.0)?;
        ws.write_string(row, 1, label.1)?;
        ws.write_string(row, 2, label.2)?;
        ws.write_string(row, 3, label.3)?;
        ws.write_number_with_format(row, 4, m.records as f64, count)?;
        ws.write_number_with_format(row, 5, m.requests as f64, count)?;
        ws.write_number_with_format(row, 6, m.tokens.total() as f64, count)?;
        ws.write_number_with_format(row, 7, num(m.cost), money)?;
        ws.write_number_with_format(row, 8, m.unpriced_records as f64, count)?;
        ws.write_string(row, 9, exact(m.cost))?;
        Ok(())
    };
    for src in &cb.sources {
        for t in &src.teams {
            let label = (
                src.source.as_str(),
                src.role,
                t.team.as_str(),
                t.cost_center.as_str(),
            );
            measure(ws, row, label, &t.measured, false)?;
            row += 1;
        }
        measure(
            ws,
            row,
            (&src.source, src.role, "(unmapped)", ""),
            &src.unmapped,
            false,
        )?;
        row += 1;
        measure(
            ws,
            row,
            (&src.source, src.role, "total", ""),
            &src.total,
            true,
        )?;
        row += 2;
    }
    for b in &cb.bills {
        // A bill's lines are in its own currency, which may differ from the report's.
        let money = Format::new().set_num_format(money_format(&b.currency.to_string()));
        let money_strong = money.clone().set_bold();
        ws.write_string_with_format(
            row,
            0,
            format!(
                "{} bill, shared by {} ({})",
                b.bill,
                b.basis.as_deref().unwrap_or("nothing"),
                b.allocated_by
            ),
            &s.heading,
        )?;
        row += 1;
        header(ws, row, SHARE_COLUMNS, s)?;
        row += 1;
        for l in &b.lines {
            ws.write_string(row, 0, &b.bill)?;
            ws.write_string(row, 1, l.kind)?;
            ws.write_string(row, 2, l.team.as_deref().unwrap_or(""))?;
            ws.write_string(row, 3, l.cost_center.as_deref().unwrap_or(""))?;
            ws.write_number_with_format(row, 4, l.measured.records as f64, &s.count)?;
            ws.write_number_with_format(row, 5, num(l.measured.cost), &s.money)?;
            ws.write_number_with_format(row, 6, num(l.billed_directly.cost), &money)?;
            ws.write_number_with_format(row, 7, num(l.allocated), &money)?;
            ws.write_number_with_format(row, 8, num(l.exact), &money)?;
            ws.write_number_with_format(row, 9, num(l.share), &money)?;
            ws.write_string(row, 10, exact(l.exact))?;
            row += 1;
        }
        ws.write_string_with_format(row, 0, &b.bill, &s.strong)?;
        ws.write_string_with_format(row, 1, "total", &s.strong)?;
        ws.write_number_with_format(row, 8, num(b.total), &money_strong)?;
        ws.write_number_with_format(row, 9, num(b.total_rounded), &money_strong)?;
        ws.write_string(row, 10, exact(b.total))?;
        row += 2;
    }
    Ok(())
}

const RECORD_COLUMNS: &[&str] = &[
    "source",
    "role",
    "origin",
    "id",
    "start (UTC)",
    "end (UTC)",
    "provider",
    "model_raw",
    "model",
    "operation",
    "status",
    "service_tier",
    "app",
    "workflow",
    "node",
    "project",
    "api_key",
    "user",
    "trace_id",
    "requests",
];

const RECORD_MONEY_COLUMNS: &[&str] = &[
    "reported_cost",
    "reported_currency",
    "computed_cost",
    "computed_currency",
    "price_entry",
    "cost_only",
    "reported_cost_exact",
    "computed_cost_exact",
];

/// Every normalized record; returns (records written, records that did not fit).
fn records(ws: &mut Worksheet, s: &Styles, each: &mut Records) -> Result<(u32, u64), String> {
    let x = |e: XlsxError| e.to_string();
    ws.set_name("Records").map_err(x)?;
    let mut cols: Vec<&str> = RECORD_COLUMNS.to_vec();
    cols.extend(UsageClass::ALL.iter().map(|c| c.name()));
    cols.extend(RECORD_MONEY_COLUMNS);
    for (c, _) in cols.iter().enumerate() {
        let w = match c {
            2..=5 => 22.0,
            _ => 14.0,
        };
        ws.set_column_width(c as u16, w).map_err(x)?;
    }
    header(ws, 0, &cols, s).map_err(x)?;
    ws.set_freeze_panes(1, 0).map_err(x)?;
    let first_class = RECORD_COLUMNS.len() as u16;
    let money_col = first_class + UsageClass::ALL.len() as u16;
    let mut row = 1u32;
    let mut left_out = 0u64;
    let mut failed: Option<XlsxError> = None;
    let write = |ws: &mut Worksheet, row: u32, r: &Row| -> Result<(), XlsxError> {
        let rec = r.record;
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let texts = [
            r.source.to_string(),
            r.role.name().to_string(),
            r.origin.clone(),
            rec.id.clone(),
        ];
        for (c, t) in texts.iter().enumerate() {
            ws.write_string(row, c as u16, t)?;
        }
        ws.write_number_with_format(row, 4, serial(rec.start), &s.time)?;
        ws.write_number_with_format(row, 5, serial(rec.end), &s.time)?;
        let texts = [
            rec.provider.clone(),
            rec.model_raw.clone(),
            rec.model.clone(),
            rec.operation.name().to_string(),
            rec.link.status.name().to_string(),
            o(&rec.service_tier),
            o(&rec.scope.app),
            o(&rec.scope.workflow),
            o(&rec.scope.node),
            o(&rec.scope.project),
            o(&rec.scope.api_key),
            o(&rec.scope.user),
            o(&rec.link.trace_id),
        ];
        for (i, t) in texts.iter().enumerate() {
            if !t.is_empty() {
                ws.write_string(row, 6 + i as u16, t)?;
            }
        }
        ws.write_number_with_format(row, 19, rec.requests as f64, &s.count)?;
        for (i, n) in rec.usage.0.iter().enumerate() {
            ws.write_number_with_format(row, first_class + i as u16, *n as f64, &s.count)?;
        }
        let m = money_col;
        if let Some(c) = rec.reported_cost {
            ws.write_number_with_format(row, m, num(c.amount), &s.amount)?;
            ws.write_string(row, m + 1, c.currency.to_string())?;
            ws.write_string(row, m + 6, exact(c.amount))?;
        }
        if let Some(c) = &rec.computed_cost {
            ws.write_number_with_format(row, m + 2, num(c.cost.amount), &s.amount)?;
            ws.write_string(row, m + 3, c.cost.currency.to_string())?;
            ws.write_string(row, m + 4, &c.entry)?;
            ws.write_string(row, m + 7, exact(c.cost.amount))?;
        }
        ws.write_boolean(row, m + 5, rec.cost_only)?;
        Ok(())
    };
    each(&mut |r: &Row| {
        if failed.is_some() {
            return;
        }
        if row >= MAX_ROWS {
            left_out += 1;
            return;
        }
        match write(ws, row, r) {
            Ok(()) => row += 1,
            Err(e) => failed = Some(e),
        }
    })?;
    if let Some(e) = failed {
        return Err(e.to_string());
    }
    if row > 1 {
        ws.autofilter(0, 0, row - 1, (cols.len() - 1) as u16)
            .map_err(x)?;
    }
    Ok((row - 1, left_out))
}

/// The workbook of the report; `each_record` streams the run's normalized records.
pub fn render(r: &Report, each_record: &mut Records) -> Result<Vec<u8>, String> {
    let x = |e: XlsxError| format!("cannot build the workbook: {e}");
    let v = view::build(r);
    let s = Styles::new(&v.currency);
    let mut wb = Workbook::new();
    // Sheets appear in the order they are added; Summary is filled last, when the Records
    // sheet has said whether every record fit.
    wb.add_worksheet();
    let left_groups =
        groups(wb.add_worksheet_with_constant_memory().map_err(x)?, r, &s).map_err(x)?;
    if let Some(cb) = &r.chargeback {
        chargeback(wb.add_worksheet(), cb, &s).map_err(x)?;
    }
    let (written, left_records) = records(
        wb.add_worksheet_with_constant_memory().map_err(x)?,
        &s,
        each_record,
    )?;
    let mut note = String::new();
    if left_records > 0 {
        note = format!(
            "Records holds the first {written} records of {}: a sheet holds {MAX_ROWS} rows; `llm-recon normalize` writes them all.",
            u64::from(written) + left_records
        );
    }
    if left_groups > 0 {
        note.push_str(&format!(
            " Groups leaves out the last {left_groups} groups (a sheet holds {MAX_ROWS} rows); the JSON report has them all."
        ));
    }
    let summary_sheet = wb.worksheet_from_index(0).map_err(x)?;
    summary(summary_sheet, r, &v, &s, note.trim()).map_err(x)?;
    wb.save_to_buffer().map_err(x)
}
