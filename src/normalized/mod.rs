//! `normalize`: every record the inputs yield, written as it streams, one module per output
//! format behind [`RecordWriter`].

pub mod csv;
pub mod jsonl;
pub mod parquet;

use crate::reconcile::bridge::Valuation;
use crate::record::{Role, UsageRecord};
use std::io::Write;

/// One normalized record with where it comes from and what its source's total counts for it.
pub struct Row<'a> {
    pub source: &'a str,
    pub role: Role,
    /// `file:line`.
    pub origin: String,
    pub record: &'a UsageRecord,
    pub valuation: &'a Valuation,
}

/// Errors are I/O errors, so a closed pipe can be told from a full disk; a record the format
/// cannot hold exactly is `InvalidData`.
pub trait RecordWriter {
    fn write(&mut self, row: &Row) -> std::io::Result<()>;
    /// Writes what is buffered and the file's trailer.
    fn finish(self: Box<Self>) -> std::io::Result<()>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordFormat {
    Jsonl,
    Csv,
    Parquet,
}

pub fn writer(
    format: RecordFormat,
    out: Box<dyn Write + Send>,
) -> std::io::Result<Box<dyn RecordWriter>> {
    Ok(match format {
        RecordFormat::Jsonl => Box::new(jsonl::JsonlWriter::new(out)),
        RecordFormat::Csv => Box::new(csv::CsvWriter::new(out)?),
        RecordFormat::Parquet => Box::new(parquet::ParquetWriter::new(out)?),
    })
}
