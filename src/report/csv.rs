//! `--format csv`: one row per comparison × group × bridge step, for spreadsheets. `level` says
//! whether a row is the comparison's total or one group's; a total's `window_start` is empty
//! (no sentinel in a date column); every amount carries its currency.

use super::model::{Comparison, Report};
use crate::record::UsageClass;

pub fn render(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "baseline",
        "reference",
        "level",
        "window_start",
        "provider",
        "model",
        "cause",
        "method",
        "records",
        "cost",
        "currency",
        "tokens_total",
    ];
    let currency = report.currency.to_string();
    header.extend(UsageClass::ALL.iter().map(|c| c.name()));
    // Writing to a Vec cannot fail.
    let _ = w.write_record(&header);
    for c in &report.comparisons {
        let mut rows =
            |level: &str, window: &str, provider: &str, model: &str, cmp: &Comparison| {
                let mut emit = |cause: &str,
                                method: &str,
                                records: u64,
                                cost: String,
                                t: &crate::record::Usage| {
                    let mut row = vec![
                        c.baseline.clone(),
                        c.reference.clone(),
                        level.to_string(),
                        window.to_string(),
                        provider.to_string(),
                        model.to_string(),
                        cause.to_string(),
                        method.to_string(),
                        records.to_string(),
                        cost,
                        currency.clone(),
                        t.total().to_string(),
                    ];
                    row.extend(UsageClass::ALL.iter().map(|&k| t[k].to_string()));
                    let _ = w.write_record(&row);
                };
                emit(
                    "baseline",
                    "",
                    cmp.baseline.records,
                    cmp.baseline.cost.normalize().to_string(),
                    &cmp.baseline.tokens,
                );
                for s in &cmp.bridge {
                    emit(
                        s.cause,
                        s.method,
                        s.records,
                        s.cost.normalize().to_string(),
                        &s.tokens,
                    );
                }
                emit(
                    "reference",
                    "",
                    cmp.reference.records,
                    cmp.reference.cost.normalize().to_string(),
                    &cmp.reference.tokens,
                );
            };
        rows("total", "", "", "", &c.totals);
        for g in &c.groups {
            rows(
                "group",
                &g.key.window_start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                &g.key.provider,
                &g.key.model,
                &g.comparison,
            );
        }
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}
