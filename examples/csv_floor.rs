//! The parse floor for the speed benchmark (`benches/run.sh`): one thread reads a CSV file with
//! `csv::ByteRecord` (no UTF-8 check, no allocation per row) and touches every field, doing
//! nothing else. No tool that parses CSV on one core can be faster; half of it is the two-core floor.
//!
//!     cargo run --release --example csv_floor -- FILE

use std::io::Write;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: csv_floor FILE");
        std::process::exit(2);
    };
    let mut reader = match csv::ReaderBuilder::new().flexible(true).from_path(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", path.to_string_lossy());
            std::process::exit(2);
        }
    };
    let mut record = csv::ByteRecord::new();
    let (mut rows, mut bytes) = (0u64, 0u64);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                rows += 1;
                bytes += record.iter().map(|f| f.len() as u64).sum::<u64>();
            }
            Ok(false) => break,
            Err(e) => {
                eprintln!("{}: {e}", path.to_string_lossy());
                std::process::exit(2);
            }
        }
    }
    let _ = writeln!(std::io::stdout(), "{rows} rows, {bytes} field bytes");
}
