//! `manifest.json` of a pull directory (`llm-recon/pull-manifest/v1`): what was asked and when,
//! and every page file with its request, cursor, fetch time, completeness and SHA-256.
//!
//! It is rewritten (to a temporary file, then renamed) after every page, so an interrupted or
//! failed pull leaves a manifest that matches the pages on disk and the next run resumes from it.
//! `reconcile` reads it too when it is among the inputs: the manifest itself and pages superseded
//! by a later fetch are not read, and a page's format comes from the manifest (an empty page says
//! nothing a sniffer could recognize).

use super::PullError;
use crate::source::Format;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "llm-recon/pull-manifest/v1";
pub const FILE_NAME: &str = "manifest.json";

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Manifest {
    pub schema: String,
    /// One entry per run of `pull` into this directory.
    pub runs: Vec<Run>,
    pub pages: Vec<Page>,
}

/// What one run asked for.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Run {
    pub source: String,
    /// The API's address (credentials in it redacted).
    pub base_url: String,
    pub from: String,
    pub to: String,
    pub tz: String,
    /// The window asked for, as UTC instants, and the span requested from the API (whole
    /// buckets around it).
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub requested_start: DateTime<Utc>,
    pub requested_end: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `complete`, or `failed: …`.
    pub status: String,
    pub pages_fetched: u64,
    pub pages_reused: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Page {
    /// File name inside the directory.
    pub file: String,
    /// The format `reconcile` reads the file as (`--input-format` names).
    pub format: String,
    /// Which request chain the page belongs to: endpoint and query without the cursor.
    pub request: String,
    pub endpoint: String,
    pub query: Vec<(String, String)>,
    /// The cursor the page was fetched with (none for a chain's first page).
    pub cursor: Option<String>,
    /// The cursor of the next page, as the page gave it (none: the chain ends here).
    pub next_cursor: Option<String>,
    pub page_number: u32,
    pub fetched_at: DateTime<Utc>,
    /// Its data ends before it was fetched: it is not fetched again.
    pub complete: bool,
    /// End of the last bucket (or of the requested span) the page covers.
    pub covers_until: DateTime<Utc>,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    /// A later fetch of the same page (its day was not over): this file is kept as received but
    /// not read by `reconcile`.
    pub superseded_by: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl Manifest {
    /// The directory's manifest, or a new one.
    pub fn load_or_new(dir: &Path) -> Result<Manifest, PullError> {
        let path = dir.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                    PullError::Usage(format!(
                        "{}: not a pull manifest ({e}); move it away or pull into another directory",
                        path.display()
                    ))
                })?;
                if m.schema != SCHEMA {
                    return Err(PullError::Usage(format!(
                        "{}: schema {:?}, expected {SCHEMA:?}",
                        path.display(),
                        m.schema
                    )));
                }
                Ok(m)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                schema: SCHEMA.to_string(),
                ..Manifest::default()
            }),
            Err(e) => Err(PullError::Io(format!(
                "{}: cannot read: {e}",
                path.display()
            ))),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<(), PullError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| PullError::Io(format!("manifest: {e}")))?;
        text.push('\n');
        write_atomic(&dir.join(FILE_NAME), text.as_bytes())
    }

    /// The current (not superseded) page of a request fetched with `cursor`.
    pub fn current(&self, request: &str, cursor: Option<&str>) -> Option<&Page> {
        self.pages.iter().find(|p| {
            p.superseded_by.is_none() && p.request == request && p.cursor.as_deref() == cursor
        })
    }

    /// Records a fetched page; the page it replaces, if any, is marked superseded.
    pub fn put(&mut self, page: Page) {
        let file = page.file.clone();
        for p in self.pages.iter_mut() {
            if p.superseded_by.is_none() && p.request == page.request && p.cursor == page.cursor {
                p.superseded_by = Some(file.clone());
            }
        }
        self.pages.push(page);
    }

    /// A file name for page `number` of `stem` that no page of the manifest (nor any file in
    /// `dir`) uses yet: `STEM_pNNNN.json`, then `STEM_pNNNN.2.json`, … for later fetches.
    pub fn free_name(&self, dir: &Path, stem: &str, number: u32) -> String {
        (1u32..)
            .map(|n| match n {
                1 => format!("{stem}_p{number:04}.json"),
                n => format!("{stem}_p{number:04}.{n}.json"),
            })
            .find(|name| !self.pages.iter().any(|p| &p.file == name) && !dir.join(name).exists())
            .unwrap_or_default()
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: a reader never
/// sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PullError> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| PullError::Io(format!("{}: cannot write: {e}", path.display())))
}

/// What a pull manifest among `reconcile`'s inputs says about the other inputs.
#[derive(Default, Debug)]
pub struct InputPlan {
    /// Inputs (by index) not read, with why.
    pub skip: HashMap<usize, &'static str>,
    /// Inputs (by index) whose format the manifest records.
    pub formats: HashMap<usize, Format>,
}

/// True when the head of a file is a pull manifest.
pub fn is_manifest(head: &str) -> bool {
    head.trim_start().starts_with('{') && head.contains(&format!("\"{SCHEMA}\""))
}

/// Looks for pull manifests among `paths` and plans the inputs by them.
pub fn plan_inputs(paths: &[PathBuf]) -> InputPlan {
    let mut plan = InputPlan::default();
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let index: HashMap<PathBuf, usize> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| (canon(p), i))
        .collect();
    for (i, path) in paths.iter().enumerate() {
        if path.file_name().and_then(|n| n.to_str()) != Some(FILE_NAME) {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else {
            continue;
        };
        if m.schema != SCHEMA {
            continue;
        }
        plan.skip
            .insert(i, "pull manifest: lists the pages, is not one");
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in &m.pages {
            let Some(&j) = index.get(&canon(&dir.join(&p.file))) else {
                continue;
            };
            if p.superseded_by.is_some() {
                plan.skip
                    .insert(j, "page fetched again later (its last day was not over)");
            } else if let Some(f) = Format::from_name(&p.format) {
                plan.formats.insert(j, f);
            }
        }
    }
    plan
}
