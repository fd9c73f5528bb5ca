//! `normalize --format csv`: one row per record, scope and linkage flattened, one column per
//! usage class.

use super::{RecordWriter, Row};
use crate::record::UsageClass;
use std::io::Write;

const COLUMNS: &[&str] = &[
    "source",
    "origin",
    "id",
    "start",
    "end",
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

pub struct CsvWriter {
    out: csv::Writer<Box<dyn Write + Send>>,
}

impl CsvWriter {
    pub fn new(out: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let mut out = csv::Writer::from_writer(out);
        let mut header: Vec<&str> = COLUMNS.to_vec();
        header.extend(UsageClass::ALL.iter().map(|c| c.name()));
        header.extend([
            "reported_cost",
            "reported_currency",
            "computed_cost",
            "price_entry",
            "cost_only",
            "adjustment",
        ]);
        out.write_record(&header)?;
        Ok(CsvWriter { out })
    }
}

impl RecordWriter for CsvWriter {
    fn write(&mut self, row: &Row) -> std::io::Result<()> {
        let r = row.record;
        let o = |s: &Option<String>| s.clone().unwrap_or_default();
        let mut fields = vec![
            row.source.to_string(),
            row.origin.clone(),
            r.id.clone(),
            r.start.to_rfc3339(),
            r.end.to_rfc3339(),
            r.provider.clone(),
            r.model_raw.clone(),
            r.model.clone(),
            r.operation.name().to_string(),
            r.link.status.name().to_string(),
            o(&r.service_tier),
            o(&r.scope.app),
            o(&r.scope.workflow),
            o(&r.scope.node),
            o(&r.scope.project),
            o(&r.scope.api_key),
            o(&r.scope.user),
            o(&r.link.trace_id),
            r.requests.to_string(),
        ];
        fields.extend(r.usage.0.iter().map(|n| n.to_string()));
        fields.push(
            r.reported_cost
                .map(|m| m.amount.normalize().to_string())
                .unwrap_or_default(),
        );
        fields.push(
            r.reported_cost
                .map(|m| m.currency.to_string())
                .unwrap_or_default(),
        );
        fields.push(
            r.computed_cost
                .as_ref()
                .map(|c| c.cost.amount.normalize().to_string())
                .unwrap_or_default(),
        );
        fields.push(
            r.computed_cost
                .as_ref()
                .map(|c| c.entry.clone())
                .unwrap_or_default(),
        );
        fields.push(r.cost_only.to_string());
        fields.push(
            r.adjustment
                .map(|a| a.name())
                .unwrap_or_default()
                .to_string(),
        );
        Ok(self.out.write_record(&fields)?)
    }

    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        self.out.flush()
    }
}
