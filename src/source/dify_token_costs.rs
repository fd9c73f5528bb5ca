//! Dify's console statistics: the daily token and cost totals its Monitoring page shows.
//!
//! `GET /console/api/apps/<id>/statistics/token-costs?start=…&end=…` answers
//! `{"data": [{"date": "2026-10-01", "token_count": 26041, "total_price": "0.0652900",
//! "currency": "USD"}]}`: per day, `SUM(message_tokens) + SUM(answer_tokens)` and
//! `SUM(total_price)` of the app's messages (debugger runs left out). The workflow variant
//! (`/workflow/statistics/token-costs`) has `date` and `token_count` only (the runs'
//! `total_tokens`, no price). This is the number Dify users see, so it is read as an app source.
//!
//! What the payload does not say, and how it is read:
//! - Days are bucketed in the *account's* time zone, which the payload does not name: each day
//!   is read as `[midnight, next midnight)` in the run's `--tz` (a note says so).
//! - The tokens are one total, without an input/output split: they are kept as `other`, valued
//!   only by the day's `total_price` (a note says so).
//! - The app id is in the request's URL, not in the payload: each file is one app's answer, and a
//!   day is identified by the file and its date.
//! - `currency` is always `USD` in Dify's code; it is read where present.

use super::json_scan::{ScanError, Scanner};
use super::util::{json_count, json_decimal};
use super::{Format, Head, InputError, InputFile, RecordSink, Row};
use crate::record::{Currency, Money, Usage, UsageClass, UsageRecord};
use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};
use std::io::BufRead;

pub const NOTE_ZONE: &str = "Dify console statistics: days are bucketed in the Dify account's time zone, read here as days in the run's --tz";
pub const NOTE_TOTAL: &str = "Dify console statistics: tokens are a daily total without an input/output split, kept as `other` and valued at Dify's total_price";

/// `{"data": [{"date": …, "token_count": …}, …]}`: the first element has both keys.
pub fn sniff(head: &Head) -> Option<Format> {
    let mut bytes = head.text.as_bytes();
    let mut sc = Scanner::new(&mut bytes);
    if sc.skip_ws().ok()? != Some(b'{') {
        return None;
    }
    sc.bump().ok()?;
    while matches!(sc.skip_ws(), Ok(Some(b'"'))) {
        let key = sc.key().ok()?;
        if key == "data" && matches!(sc.skip_ws(), Ok(Some(b'['))) {
            sc.bump().ok()?;
            let keys = first_object_keys(&mut sc)?;
            let has = |k: &str| keys.iter().any(|x| x == k);
            return (has("date") && has("token_count")).then_some(Format::DifyTokenCostsJson);
        }
        if sc.value(None).is_err() || !matches!(sc.skip_ws(), Ok(Some(b','))) || sc.bump().is_err()
        {
            return None;
        }
    }
    None
}

fn first_object_keys(sc: &mut Scanner<'_>) -> Option<Vec<String>> {
    if sc.skip_ws().ok()? != Some(b'{') {
        return None;
    }
    sc.bump().ok()?;
    let mut keys = Vec::new();
    while matches!(sc.skip_ws(), Ok(Some(b'"'))) {
        let Ok(key) = sc.key() else { break };
        keys.push(key);
        if sc.value(None).is_err() || !matches!(sc.skip_ws(), Ok(Some(b','))) || sc.bump().is_err()
        {
            break;
        }
    }
    Some(keys)
}

pub fn read(
    file: &InputFile,
    reader: &mut dyn BufRead,
    sink: &mut dyn RecordSink,
) -> Result<(), InputError> {
    let scan_err = |e: ScanError| match e {
        ScanError::Io(e) => InputError::new(file, None, format!("cannot read: {e}")),
        ScanError::Syntax { line, msg } => InputError::new(file, Some(line), msg),
    };
    let zone = sink.zone();
    let mut sc = Scanner::new(reader);
    if sc.skip_ws().map_err(scan_err)? != Some(b'{') {
        return Err(InputError::new(file, Some(1), WHAT));
    }
    let found = sc
        .page("data", &mut |line, index, raw| {
            let prefix = format!("element {index}: ");
            let row = match serde_json::from_slice::<Value>(raw) {
                Ok(Value::Object(row)) => day(&row, file, line, zone),
                Ok(_) => Err("expected a JSON object (one day)".to_string()),
                Err(e) => Err(format!("invalid JSON: {e}")),
            };
            if row.is_ok() {
                sink.note(line, NOTE_ZONE);
                sink.note(line, NOTE_TOTAL);
            }
            let row = row.map(|r| Row::Record(Box::new(r)));
            Row::emit(row, line, &prefix, sink);
        })
        .map_err(scan_err)?;
    if !found {
        return Err(InputError::new(file, Some(1), WHAT));
    }
    if sc.skip_ws().map_err(scan_err)?.is_some() {
        return Err(InputError::new(
            file,
            Some(sc.line),
            "unexpected content after the JSON document",
        ));
    }
    Ok(())
}

const WHAT: &str = "expected Dify's console statistics {\"data\": [{\"date\": \"YYYY-MM-DD\", \"token_count\": N, …}]}";

/// One day of the statistics: a bucket `[midnight, next midnight)` in the sink's zone.
fn day(
    row: &Map<String, Value>,
    file: &InputFile,
    line: u64,
    zone: chrono_tz::Tz,
) -> Result<UsageRecord, String> {
    let date_text = row
        .get("date")
        .and_then(Value::as_str)
        .ok_or("date: expected a day YYYY-MM-DD")?;
    let date = NaiveDate::parse_from_str(date_text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("date {date_text:?}: expected a day YYYY-MM-DD"))?;
    let tokens = row.get("token_count").and_then(json_count).ok_or_else(|| {
        format!(
            "token_count {}: expected a count of tokens",
            row.get("token_count").unwrap_or(&Value::Null)
        )
    })?;
    let cost = match row.get("total_price") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            json_decimal(v)
                .filter(|d| !d.is_sign_negative())
                .ok_or_else(|| {
                    format!("total_price {v}: expected an amount such as \"0.0030900\"")
                })?,
        ),
    };
    let currency = match row.get("currency") {
        None | Some(Value::Null) => Currency::USD,
        Some(v) => v
            .as_str()
            .and_then(Currency::parse)
            .ok_or_else(|| format!("currency {v}: expected a currency code such as \"USD\""))?,
    };
    let next = date
        .checked_add_days(Days::new(1))
        .ok_or_else(|| format!("date {date_text:?}: out of range"))?;
    let (start, end) = crate::reconcile::window::local_midnight(zone, date)
        .zip(crate::reconcile::window::local_midnight(zone, next))
        .ok_or_else(|| format!("date {date_text:?}: no midnight in {}", zone.name()))?;
    let mut rec = UsageRecord::bucket(
        format!("{}#{date}", file.display),
        file.origin(line),
        start,
        end,
    );
    rec.usage = Usage::of(&[(UsageClass::Other, tokens)]);
    rec.reported_cost = cost.map(|c| Money::new(c, currency));
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{CollectSink, read_head};
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;
    use std::path::Path;

    fn read_in(path: &Path, zone: chrono_tz::Tz) -> CollectSink {
        let file = InputFile::new(0, path);
        let format = super::super::sniff(&read_head(&file).unwrap()).unwrap();
        assert_eq!(format, Format::DifyTokenCostsJson);
        let mut sink = CollectSink {
            zone: Some(zone),
            ..CollectSink::default()
        };
        crate::source::read(format, &file, &mut sink).unwrap();
        sink
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn days_are_local_days_of_the_run_zone_with_dify_total() {
        let s = read_in(
            Path::new("fixtures/dify/console_token_costs.json"),
            chrono_tz::Asia::Shanghai,
        );
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 3);
        // 2026-10-01 in Asia/Shanghai (UTC+8) is 2026-09-30T16:00Z to 2026-10-01T16:00Z.
        let first = &s.records[0];
        assert_eq!(first.start, at("2026-09-30T16:00:00Z"));
        assert_eq!(first.end, at("2026-10-01T16:00:00Z"));
        assert_eq!(first.usage, Usage::of(&[(UsageClass::Other, 1161)]));
        assert_eq!(
            first.reported_cost,
            Some(Money::new(Decimal::new(30900, 7), Currency::USD))
        );
        // 1,161 + 24,500 + 380 = 26,041 tokens; 0.0030900 + 0.0612000 + 0.0010000 = 0.0652900.
        let tokens: i64 = s.records.iter().map(|r| r.usage[UsageClass::Other]).sum();
        let cost: Decimal = s
            .records
            .iter()
            .map(|r| r.reported_cost.unwrap().amount)
            .sum();
        assert_eq!(tokens, 26_041);
        assert_eq!(cost, Decimal::new(652_900, 7));
        // Each day says how it was read.
        assert_eq!(s.notes.iter().filter(|(_, n)| *n == NOTE_ZONE).count(), 3);
        assert_eq!(s.notes.iter().filter(|(_, n)| *n == NOTE_TOTAL).count(), 3);
        // Two apps' files of the same days are different days.
        assert!(first.id.ends_with("console_token_costs.json#2026-10-01"));
    }

    #[test]
    fn the_workflow_variant_has_tokens_and_no_price() {
        let s = read_in(
            Path::new("fixtures/dify/console_workflow_token_costs.json"),
            chrono_tz::UTC,
        );
        assert!(s.rejected.is_empty(), "{:?}", s.rejected);
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[1].usage[UsageClass::Other], 812);
        assert_eq!(s.records[1].start, at("2026-10-02T00:00:00Z"));
        assert_eq!(s.records[1].end, at("2026-10-03T00:00:00Z"));
        // No price is no cost, never $0.
        assert!(s.records.iter().all(|r| r.reported_cost.is_none()));
    }

    #[test]
    fn a_day_across_a_clock_change_is_25_hours() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stats.json");
        std::fs::write(
            &p,
            r#"{"data":[{"currency":"USD","date":"2026-11-01","token_count":10,"total_price":"0.0000100"}]}"#,
        )
        .unwrap();
        let s = read_in(&p, chrono_tz::America::New_York);
        // EDT (UTC−4) until 2026-11-01 02:00 local, then EST (UTC−5).
        assert_eq!(s.records[0].start, at("2026-11-01T04:00:00Z"));
        assert_eq!(s.records[0].end, at("2026-11-02T05:00:00Z"));
    }

    #[test]
    fn bad_days_are_rejected_with_their_element_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stats.json");
        std::fs::write(
            &p,
            "{\"data\": [\n{\"date\": \"2026-10-01\", \"token_count\": 5, \"total_price\": \"0.1\"},\n\
             {\"date\": \"10/02/2026\", \"token_count\": 5},\n\
             {\"date\": \"2026-10-03\", \"token_count\": \"many\"},\n\
             {\"date\": \"2026-10-04\", \"token_count\": 5, \"total_price\": \"-1\"}\n]}\n",
        )
        .unwrap();
        let s = read_in(&p, chrono_tz::UTC);
        assert_eq!(s.records.len(), 1);
        let reasons: Vec<_> = s.rejected.iter().map(|(l, r)| (*l, r.as_str())).collect();
        assert_eq!(
            reasons,
            vec![
                (
                    3,
                    "element 2: date \"10/02/2026\": expected a day YYYY-MM-DD"
                ),
                (
                    4,
                    "element 3: token_count \"many\": expected a count of tokens"
                ),
                (
                    5,
                    "element 4: total_price \"-1\": expected an amount such as \"0.0030900\""
                ),
            ]
        );
    }

    #[test]
    fn other_pages_under_data_are_not_statistics() {
        for text in [
            r#"{"data":[{"id":"obs-1","type":"GENERATION"}],"meta":{"page":1}}"#,
            r#"{"data":[{"date":"2026-10-01","message_count":3}]}"#,
            r#"{"data":[]}"#,
        ] {
            let head = Head {
                text: text.to_string(),
            };
            assert_ne!(sniff(&head), Some(Format::DifyTokenCostsJson), "{text}");
        }
    }
}
