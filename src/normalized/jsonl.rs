//! `normalize --format jsonl` (the default): one JSON object per record, the record's own fields
//! plus `source` and `origin`.

use super::{RecordWriter, Row};
use std::io::{BufWriter, Write};

pub struct JsonlWriter {
    out: BufWriter<Box<dyn Write + Send>>,
}

impl JsonlWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonlWriter {
            out: BufWriter::with_capacity(256 * 1024, out),
        }
    }
}

impl RecordWriter for JsonlWriter {
    fn write(&mut self, row: &Row) -> std::io::Result<()> {
        let mut v = serde_json::to_value(row.record)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("source".into(), row.source.into());
            obj.insert("origin".into(), row.origin.clone().into());
        }
        serde_json::to_writer(&mut self.out, &v)?;
        self.out.write_all(b"\n")
    }

    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        self.out.flush()
    }
}
