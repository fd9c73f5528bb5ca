//! Helpers the adapters' tests share.

use super::{CollectSink, Format, InputError, InputFile};
use std::path::{Path, PathBuf};

/// Writes `text` to a file `name` in a fresh temporary directory (kept alive by the guard).
pub fn temp(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Reads `path` as `format`, without sniffing.
pub fn read_as(format: Format, path: &Path) -> Result<CollectSink, InputError> {
    let file = InputFile::new(0, path);
    let mut sink = CollectSink::default();
    super::read(format, &file, &mut sink)?;
    Ok(sink)
}

/// Sniffs and reads `fixtures/<name>`; a file that cannot be read fails the test.
pub fn load(name: &str) -> (Format, CollectSink) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    match super::read_all(&path) {
        Ok(x) => x,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// The record with id `id`, which must be there.
pub fn rec<'a>(s: &'a CollectSink, id: &str) -> &'a crate::record::UsageRecord {
    s.records
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}
