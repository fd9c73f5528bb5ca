//! Where a command's output goes: a file that is never one of the inputs, or stdout, where a
//! failed write is an error (a full disk must not look like success) and a closed pipe is not.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Refuses `out` when it is one of `inputs`: the same path after resolving `./`, `..` and
/// symlinks, or the same file under another name (a hard link: same device and inode).
pub fn refuse_input_as_output(out: &Path, inputs: &[PathBuf]) -> Result<(), String> {
    // An output that does not exist yet cannot be an input.
    let Ok(out_id) = FileId::of(out) else {
        return Ok(());
    };
    for input in inputs {
        if FileId::of(input).is_ok_and(|id| id.same(&out_id)) {
            return Err(format!(
                "{}: refusing to write the output over an input file ({}); choose another --output",
                out.display(),
                input.display()
            ));
        }
    }
    Ok(())
}

/// What makes two names the same file.
struct FileId {
    canonical: PathBuf,
    #[cfg(unix)]
    dev_ino: (u64, u64),
}

impl FileId {
    fn of(path: &Path) -> std::io::Result<FileId> {
        let canonical = std::fs::canonicalize(path)?;
        #[cfg(unix)]
        let dev_ino = {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(&canonical)?;
            (m.dev(), m.ino())
        };
        Ok(FileId {
            canonical,
            #[cfg(unix)]
            dev_ino,
        })
    }
}

#[cfg(unix)]
impl FileId {
    fn same(&self, other: &FileId) -> bool {
        self.canonical == other.canonical || self.dev_ino == other.dev_ino
    }
}

#[cfg(not(unix))]
impl FileId {
    fn same(&self, other: &FileId) -> bool {
        self.canonical == other.canonical
    }
}

/// Writes `bytes` to `path` (after `refuse_input_as_output`), or to stdout when `None`.
pub fn emit(path: Option<&Path>, inputs: &[PathBuf], bytes: &[u8]) -> Result<(), String> {
    match path {
        Some(p) => {
            refuse_input_as_output(p, inputs)?;
            std::fs::write(p, bytes).map_err(|e| format!("{}: cannot write: {e}", p.display()))
        }
        None => write_stdout(bytes),
    }
}

/// Writes to stdout. A reader that went away (`| head`) ends the output quietly; any other
/// failure (`> /dev/full`) is an error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to standard output: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_file_by_another_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.csv");
        std::fs::write(&input, "a\n").unwrap();
        let inputs = vec![input.clone()];
        let dotted = dir.path().join(".").join("in.csv");
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&input, &hard).unwrap();
        let mut names = vec![input.clone(), dotted, hard];
        #[cfg(unix)]
        {
            let sym = dir.path().join("sym.csv");
            std::os::unix::fs::symlink(&input, &sym).unwrap();
            names.push(sym);
        }
        for out in &names {
            let e = refuse_input_as_output(out, &inputs).unwrap_err();
            assert!(
                e.contains("refusing to write the output over an input"),
                "{e}"
            );
            let e = emit(Some(out), &inputs, b"x").unwrap_err();
            assert!(e.contains(&out.display().to_string()), "{e}");
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"a\n");
        // A new file, or another existing file, is fine.
        let other = dir.path().join("out.csv");
        emit(Some(&other), &inputs, b"x").unwrap();
        emit(Some(&other), &inputs, b"y").unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"y");
    }
}
