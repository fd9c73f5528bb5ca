//! Rendering the report: one module per output format behind one function.

pub mod csv;
pub mod display;
pub mod headline;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
pub mod previous;
pub mod table;
pub mod view;
pub mod xlsx;

use model::Report;
use rust_decimal::Decimal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Boxed tables for a terminal of 100 columns, headline first.
    Table,
    /// The exact `llm-recon/report/v1` contract (money as decimal strings).
    Json,
    /// Every section of the table as GitHub-flavoured Markdown.
    Markdown,
    /// One row per comparison × group × bridge step, with its currency.
    Csv,
    /// A workbook: Summary (headline, bridges), Groups and Records sheets, money as numbers.
    Xlsx,
    /// One self-contained page: headline, waterfall and daily charts, groups, notes.
    Html,
}

impl OutputFormat {
    /// The format an output file's extension names (`.json`, `.md`, `.csv`, `.txt`, `.xlsx`, `.html`).
    pub fn from_path(path: &std::path::Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(OutputFormat::Json),
            "md" | "markdown" => Some(OutputFormat::Markdown),
            "csv" => Some(OutputFormat::Csv),
            "txt" | "text" => Some(OutputFormat::Table),
            "xlsx" => Some(OutputFormat::Xlsx),
            "html" | "htm" => Some(OutputFormat::Html),
            _ => None,
        }
    }

    /// Formats the spot check writes (its own table, JSON and CSV).
    pub fn spot_check_writes(self) -> bool {
        matches!(
            self,
            OutputFormat::Table | OutputFormat::Markdown | OutputFormat::Json | OutputFormat::Csv
        )
    }

    /// Formats that are not text (refused on a terminal, and by the spot check).
    pub fn is_binary(self) -> bool {
        matches!(self, OutputFormat::Xlsx)
    }
}

/// The report in `format`; the workbook's Records sheet reads the run's records from
/// `records`, which the text formats never call.
pub fn render(
    report: &Report,
    format: OutputFormat,
    records: &mut xlsx::Records,
) -> Result<Vec<u8>, String> {
    Ok(match format {
        OutputFormat::Table => table::render(report).into_bytes(),
        OutputFormat::Json => json::render(report).into_bytes(),
        OutputFormat::Markdown => markdown::render(report).into_bytes(),
        OutputFormat::Csv => csv::render(report).into_bytes(),
        OutputFormat::Xlsx => xlsx::render(report, records)?,
        OutputFormat::Html => html::render(report).into_bytes(),
    })
}

/// Money for people: two decimals with thousands separators, sign kept (`-1,234.50`).
pub fn money(d: Decimal) -> String {
    let r = d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let neg = r.is_sign_negative() && !r.is_zero();
    let s = format!("{:.2}", r.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    format!(
        "{}{}.{frac}",
        if neg { "-" } else { "" },
        group_thousands(int)
    )
}

/// Token counts for people, with thousands separators and sign.
pub fn count(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    format!("{}{}", if n < 0 { "-" } else { "" }, group_thousands(&s))
}

/// Signed variant for bridge steps: `+1,234` / `-1,234` / `0`.
pub fn signed_count(n: i64) -> String {
    if n > 0 {
        format!("+{}", count(n))
    } else {
        count(n)
    }
}

pub fn signed_money(d: Decimal) -> String {
    let s = money(d);
    if d.round_dp(2) > Decimal::ZERO {
        format!("+{s}")
    } else {
        s
    }
}

pub(crate) fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn human_numbers() {
        assert_eq!(money(dec!(1234.505)), "1,234.51");
        assert_eq!(money(dec!(-0.004)), "0.00");
        assert_eq!(money(dec!(-1234567.1)), "-1,234,567.10");
        assert_eq!(signed_money(dec!(3)), "+3.00");
        assert_eq!(count(-1234567), "-1,234,567");
        assert_eq!(signed_count(999), "+999");
        assert_eq!(signed_count(0), "0");
    }
}
