//! AWS delivers a billing period again and again: Data Exports rewrites the month's full snapshot
//! every few hours (CUR 2.0 `…/<export>/data/BILLING_PERIOD=2026-10/…`, a folder per execution
//! with "create new report"), and legacy CUR writes each update into its own assembly folder
//! (`…/<report>/20261001-20261101/<assemblyId>/…`). Every snapshot holds the whole month so far,
//! so reading several counts the month several times. Before anything is read, the AWS inputs are
//! grouped into snapshots and only the latest of each billing period is kept.
//!
//! - A snapshot is the set of files a manifest among the inputs lists (Data Exports
//!   `Manifest.json`: `executionId`, `exportArn`, `dataFiles`; legacy CUR `…-Manifest.json`:
//!   `assemblyId`, `reportName`, `billingPeriod`, `reportKeys`), else the files of one folder.
//! - Its billing period and export come from the manifest, else from the path
//!   (`<export>/data/BILLING_PERIOD=YYYY-MM/…`, `<report>/YYYYMMDD-YYYYMMDD/…`). Files with neither
//!   are grouped by the UTC month of their Bedrock lines, and two such files are snapshots of one
//!   month only when they share a line (the same line id): the parts of one delivery never do.
//! - The latest snapshot is the one whose Bedrock lines reach furthest (`line_item_usage_end_date`),
//!   then the one with more lines, then more money, then the greater name: chosen by the values,
//!   never by the order of the arguments.
//!
//! Manifests themselves are not read as bills.

use super::{Format, InputFile, RecordSink};
use crate::record::UsageRecord;
use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// What the plan decides: inputs not read (with why) and notes for the report.
#[derive(Default, Debug)]
pub struct SnapshotPlan {
    pub skip: Vec<(usize, String)>,
    pub notes: Vec<String>,
}

/// Why a manifest is not read.
pub const MANIFEST_SKIP: &str = "AWS manifest: lists the files of a delivery, is not one";

/// A Data Exports or legacy CUR manifest (the fields used here; others are skipped unread).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Manifest {
    execution_id: Option<String>,
    export_arn: Option<String>,
    data_files: Vec<String>,
    assembly_id: Option<String>,
    report_name: Option<String>,
    billing_period: Option<BillingPeriod>,
    report_keys: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BillingPeriod {
    /// `20261001T000000.000Z`.
    start: Option<String>,
}

impl Manifest {
    /// The delivery id and the keys of its data files, if this is an AWS manifest at all.
    fn delivery(&self) -> Option<(&str, &[String])> {
        match (&self.execution_id, &self.assembly_id) {
            (Some(e), _) if !self.data_files.is_empty() => Some((e, &self.data_files)),
            (_, Some(a)) if !self.report_keys.is_empty() => Some((a, &self.report_keys)),
            _ => None,
        }
    }

    fn export_name(&self) -> Option<String> {
        self.report_name.clone().or_else(|| {
            // `arn:aws:bcm-data-exports:us-east-1:123456789012:export/<name>-<uuid>`: the name is
            // also the folder in every key; the key's path says it better.
            self.export_arn
                .as_deref()
                .and_then(|a| a.rsplit_once("export/"))
                .map(|(_, n)| n.to_string())
        })
    }

    fn period(&self) -> Option<String> {
        let start = self.billing_period.as_ref()?.start.as_deref()?;
        // `20261001T000000.000Z` → `2026-10`.
        (start.len() >= 6 && start[..6].bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("{}-{}", &start[..4], &start[4..6]))
    }
}

/// True when the head of a file is an AWS manifest.
pub fn is_manifest(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{')
        && ((t.contains("\"executionId\"") && t.contains("\"dataFiles\""))
            || (t.contains("\"assemblyId\"") && t.contains("\"reportKeys\"")))
}

/// Where a file sits in AWS's delivery layout.
#[derive(Clone, Debug, Default, PartialEq)]
struct Place {
    /// The export (CUR 2.0) or report (legacy) name.
    export: Option<String>,
    /// `YYYY-MM`.
    period: Option<String>,
}

/// The export and billing period a path names: `<export>/data/BILLING_PERIOD=2026-10/…` or
/// `<report>/20261001-20261101/…`.
fn place_of(path: &str) -> Place {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    for (i, p) in parts.iter().enumerate() {
        if let Some(period) = p.strip_prefix("BILLING_PERIOD=") {
            let export = (i >= 2 && parts[i - 1] == "data").then(|| parts[i - 2].to_string());
            return Place {
                export,
                period: Some(period.to_string()),
            };
        }
        if let Some((a, b)) = p.split_once('-')
            && a.len() == 8
            && b.len() == 8
            && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
        {
            return Place {
                export: i.checked_sub(1).map(|j| parts[j].to_string()),
                period: Some(format!("{}-{}", &a[..4], &a[4..6])),
            };
        }
    }
    Place::default()
}

/// A manifest's key (as components), the delivery it belongs to and where it sits.
type Listed = (Vec<String>, String, Place);

/// One AWS data file of the inputs.
struct Candidate {
    index: usize,
    /// The delivery it belongs to: a manifest's id, else its folder (canonical).
    snapshot: String,
    /// How the delivery is named in notes: the manifest's id, else the folder as given.
    label: String,
    /// Delivery named by a manifest or the path's layout (else only the rows can tell).
    place: Place,
    scan: Scan,
}

/// What a light read of a file finds: its Bedrock lines' reach, count, money and ids.
#[derive(Default)]
struct Scan {
    latest_end: Option<DateTime<Utc>>,
    lines: u64,
    money: Decimal,
    months: HashSet<String>,
    ids: HashSet<u64>,
}

impl RecordSink for Scan {
    fn record(&mut self, rec: UsageRecord) {
        self.latest_end = self.latest_end.max(Some(rec.end));
        self.lines += 1;
        if let Some(m) = rec.reported_cost {
            self.money = self.money.checked_add(m.amount).unwrap_or(self.money);
        }
        self.months
            .insert(format!("{}-{:02}", rec.start.year(), rec.start.month()));
        let mut h = std::hash::DefaultHasher::new();
        rec.id.hash(&mut h);
        self.ids.insert(h.finish());
    }
    fn no_usage(&mut self, _line: u64, _reason: &'static str) {}
    fn reject(&mut self, _line: u64, _reason: String) {}
    fn wants_text(&self) -> bool {
        false
    }
}

/// The rank of a snapshot: further reach, more lines, more money, then the name.
type Rank = (Option<DateTime<Utc>>, u64, Decimal, String);

/// Plans the AWS inputs: manifests are skipped, and of several snapshots of one billing period
/// only the latest is read. `inputs` are the opened inputs of the arguments with their sniffed
/// formats (`None` as a whole: not one input, such as a zip of several; `None` as the format:
/// not recognized); `skip` the inputs already left out.
pub fn plan(
    paths: &[PathBuf],
    inputs: &[Option<(InputFile, Option<Format>)>],
    skip: &HashSet<usize>,
) -> SnapshotPlan {
    let formats: Vec<Option<Format>> = inputs
        .iter()
        .map(|x| x.as_ref().and_then(|(_, f)| *f))
        .collect();
    let mut out = SnapshotPlan::default();
    let is_aws = |f: &Option<Format>| {
        matches!(
            f,
            Some(Format::AwsCurCsv | Format::AwsCur2Csv | Format::AwsCurParquet)
        )
    };
    // Manifests: which delivery each listed key belongs to.
    let mut listed: Vec<Listed> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        // Only a regular file no sniffer recognized (a stream or an archive is never re-read).
        if skip.contains(&i)
            || !inputs
                .get(i)
                .is_some_and(|x| x.as_ref().is_some_and(|(_, f)| f.is_none()))
        {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        if !is_manifest(&String::from_utf8_lossy(&bytes[..bytes.len().min(4096)])) {
            continue;
        }
        let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else {
            continue;
        };
        let Some((id, keys)) = m.delivery() else {
            continue;
        };
        out.skip.push((i, MANIFEST_SKIP.to_string()));
        for key in keys {
            let from_key = place_of(key);
            let place = Place {
                export: from_key.export.clone().or_else(|| m.export_name()),
                period: m.period().or(from_key.period),
            };
            listed.push((components(key), id.to_string(), place));
        }
    }
    let data: Vec<usize> = (0..paths.len())
        .filter(|i| !skip.contains(i) && formats.get(*i).is_some_and(is_aws))
        .collect();
    if data.len() < 2 {
        return out;
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    for &i in &data {
        let path = &paths[i];
        let shown = path.display().to_string();
        let (snapshot, label, place) = match manifest_entry(path, &listed) {
            Some((id, place)) => (id.clone(), id, place),
            None => {
                let dir = path.parent().unwrap_or(Path::new(""));
                let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
                let label = match dir.display().to_string() {
                    d if d.is_empty() => ".".to_string(),
                    d => d,
                };
                (canon.display().to_string(), label, place_of(&shown))
            }
        };
        let mut scan = Scan::default();
        if let Some((file, Some(format))) = &inputs[i] {
            // A file that cannot be read is reported by the real read; here it ranks lowest.
            let _ = super::read(*format, file, &mut scan);
        }
        candidates.push(Candidate {
            index: i,
            snapshot,
            label,
            place,
            scan,
        });
    }

    // Deliveries by (export, period): from the layout, or by the rows' month for the rest.
    let mut groups: BTreeMap<(bool, Option<String>, String), Vec<usize>> = BTreeMap::new();
    for (c, cand) in candidates.iter().enumerate() {
        if let Some(p) = &cand.place.period {
            groups
                .entry((true, cand.place.export.clone(), p.clone()))
                .or_default()
                .push(c);
        } else if cand.scan.months.len() == 1
            && let Some(m) = cand.scan.months.iter().next()
        {
            groups.entry((false, None, m.clone())).or_default().push(c);
        }
    }
    for ((laid_out, export, period), members) in groups {
        // Files laid out by AWS keep their delivery; others are one delivery per file, and
        // only those sharing a line with another file of the month are its snapshots.
        let mut snapshots: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &c in &members {
            let cand = &candidates[c];
            let key = if laid_out {
                cand.snapshot.clone()
            } else {
                format!("{}#{}", cand.snapshot, cand.index)
            };
            snapshots.entry(key).or_default().push(c);
        }
        // Parts of one delivery never share a line: files of one folder that do are snapshots.
        let mut split: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (key, files) in snapshots {
            let overlapping = files.iter().enumerate().any(|(a, &x)| {
                files[a + 1..]
                    .iter()
                    .any(|&y| !candidates[x].scan.ids.is_disjoint(&candidates[y].scan.ids))
            });
            if overlapping && files.len() > 1 {
                for &f in &files {
                    split.insert(format!("{key}#{}", candidates[f].index), vec![f]);
                }
            } else {
                split.insert(key, files);
            }
        }
        let snapshots = split;
        if snapshots.len() < 2 {
            continue;
        }
        // Rows alone (no layout): only files that share a line with another are snapshots.
        let snapshots: BTreeMap<String, Vec<usize>> = if !laid_out {
            snapshots
                .into_iter()
                .filter(|(_, files)| {
                    files.iter().any(|&x| {
                        members.iter().any(|&y| {
                            y != x && !candidates[x].scan.ids.is_disjoint(&candidates[y].scan.ids)
                        })
                    })
                })
                .collect()
        } else {
            snapshots
        };
        if snapshots.len() < 2 {
            continue;
        }
        // A delivery is named by its manifest id or folder; a file on its own by its path.
        let label = |files: &[usize]| -> String {
            let c = &candidates[files[0]];
            let shared = snapshots
                .values()
                .filter(|f| candidates[f[0]].label == c.label)
                .count()
                > 1;
            if !laid_out || shared {
                paths[c.index].display().to_string()
            } else {
                c.label.clone()
            }
        };
        let rank = |key: &String, files: &[usize]| -> Rank {
            let mut r: Rank = (None, 0, Decimal::ZERO, key.clone());
            for &f in files {
                let s = &candidates[f].scan;
                r.0 = r.0.max(s.latest_end);
                r.1 += s.lines;
                r.2 = r.2.checked_add(s.money).unwrap_or(r.2);
            }
            r
        };
        let Some((latest_key, _)) = snapshots
            .iter()
            .map(|(k, f)| (k.clone(), rank(k, f)))
            .max_by(|a, b| a.1.cmp(&b.1))
        else {
            continue;
        };
        let latest = label(&snapshots[&latest_key]);
        let what = match &export {
            Some(e) => format!("billing period {period} of {e}"),
            None => format!("billing period {period}"),
        };
        let mut dropped_files = Vec::new();
        for (key, files) in &snapshots {
            if *key == latest_key {
                continue;
            }
            let name = label(files);
            for &f in files {
                let i = candidates[f].index;
                out.skip.push((
                    i,
                    format!(
                        "an earlier AWS snapshot of {what} ({name}); the latest ({latest}) is read"
                    ),
                ));
                dropped_files.push(paths[i].display().to_string());
            }
        }
        dropped_files.sort();
        out.notes.push(format!(
            "aws: {} snapshots of {what} among the inputs; each holds the whole month so far, so only the latest ({latest}) is read and {} file(s) of the others are not: {}",
            snapshots.len(),
            dropped_files.len(),
            dropped_files.join(", ")
        ));
    }
    out.skip.sort();
    out
}

/// The path's components, for matching a manifest's key with a local copy.
fn components(key: &str) -> Vec<String> {
    let key = key.strip_prefix("s3://").unwrap_or(key);
    key.split(['/', '\\'])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The manifest entry that names `path`: the key sharing the longest tail of components with
/// it (at least its file name and folder).
fn manifest_entry(path: &Path, listed: &[Listed]) -> Option<(String, Place)> {
    let mine = components(&path.display().to_string());
    let shared = |key: &[String]| {
        mine.iter()
            .rev()
            .zip(key.iter().rev())
            .take_while(|(a, b)| a == b)
            .count()
    };
    let mut best: Option<(usize, &Listed)> = None;
    let mut tied = false;
    for entry in listed {
        let n = shared(&entry.0);
        if n == 0 {
            continue;
        }
        match best {
            Some((m, _)) if m > n => {}
            Some((m, b)) if m == n => tied |= b.1 != entry.1,
            _ => {
                best = Some((n, entry));
                tied = false;
            }
        }
    }
    let (n, entry) = best?;
    // A file name alone names no delivery: every delivery has a `…-1.csv`.
    (!tied && n >= 2).then(|| (entry.1.clone(), entry.2.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_from_the_delivery_layout() {
        assert_eq!(
            place_of(
                "exports/cur2-bedrock/data/BILLING_PERIOD=2026-10/3f2a/cur2-bedrock-00001.csv.gz"
            ),
            Place {
                export: Some("cur2-bedrock".into()),
                period: Some("2026-10".into())
            }
        );
        assert_eq!(
            place_of("cur/bedrock-cur/20261001-20261101/9c1d/bedrock-cur-1.csv.gz"),
            Place {
                export: Some("bedrock-cur".into()),
                period: Some("2026-10".into())
            }
        );
        assert_eq!(place_of("downloads/october.csv"), Place::default());
    }

    #[test]
    fn a_manifest_names_its_files_by_their_tail() {
        let listed = vec![
            (
                components("s3://b/p/x/data/BILLING_PERIOD=2026-10/e1/x-00001.csv.gz"),
                "e1".to_string(),
                Place::default(),
            ),
            (
                components("s3://b/p/x/data/BILLING_PERIOD=2026-10/e2/x-00001.csv.gz"),
                "e2".to_string(),
                Place::default(),
            ),
        ];
        let at = |p: &str| manifest_entry(Path::new(p), &listed).map(|(id, _)| id);
        assert_eq!(
            at("/tmp/dl/BILLING_PERIOD=2026-10/e2/x-00001.csv.gz").as_deref(),
            Some("e2")
        );
        // The file name alone matches both deliveries: not named.
        assert_eq!(at("/tmp/flat/x-00001.csv.gz"), None);
        assert_eq!(at("/tmp/other.csv"), None);
    }
}
