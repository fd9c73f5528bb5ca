//! Files and streams as a user meets them: no input is ever written over, a failed write is an
//! error, and pipes, FIFOs and stdin are read like files.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    Command::cargo_bin("llm-recon").unwrap()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// `-o` naming an input by itself, through `./`, a symlink or a hard link is refused (exit 2)
/// for `reconcile`, `normalize` and `pricing import`, and the input keeps its bytes.
#[test]
fn no_command_writes_over_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("usage.json");
    let original = std::fs::read(fixture("demo/openai_usage_completions_p1.json")).unwrap();
    std::fs::write(&usage, &original).unwrap();
    let list = dir.path().join("litellm.json");
    let list_bytes = br#"{"gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05}}"#;
    std::fs::write(&list, list_bytes).unwrap();
    let mut aliases = vec![|p: &Path| p.to_path_buf(), |p: &Path| {
        p.parent().unwrap().join(".").join(p.file_name().unwrap())
    }]
    .into_iter()
    .map(|f| (f(&usage), f(&list)))
    .collect::<Vec<_>>();
    std::fs::hard_link(&usage, dir.path().join("hard.json")).unwrap();
    std::fs::hard_link(&list, dir.path().join("hard_list.json")).unwrap();
    aliases.push((
        dir.path().join("hard.json"),
        dir.path().join("hard_list.json"),
    ));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&usage, dir.path().join("sym.json")).unwrap();
        std::os::unix::fs::symlink(&list, dir.path().join("sym_list.json")).unwrap();
        aliases.push((
            dir.path().join("sym.json"),
            dir.path().join("sym_list.json"),
        ));
    }
    let refused = predicate::str::contains("refusing to write the output over an input file");
    for (out, list_out) in &aliases {
        let u = usage.to_str().unwrap();
        let o = out.to_str().unwrap();
        bin()
            .args(["reconcile", u, "-o", o])
            .assert()
            .code(2)
            .stderr(refused.clone());
        bin()
            .args(["normalize", u, "--output", o])
            .assert()
            .code(2)
            .stderr(refused.clone());
        bin()
            .args(["pricing", "import", "--from", "litellm", "--effective-from"])
            .args(["2026-01-01", list.to_str().unwrap(), "--output"])
            .arg(list_out)
            .assert()
            .code(2)
            .stderr(refused.clone());
    }
    assert_eq!(std::fs::read(&usage).unwrap(), original);
    assert_eq!(std::fs::read(&list).unwrap(), list_bytes);
    // Another file is written.
    let out = dir.path().join("report.json");
    bin()
        .args([
            "reconcile",
            usage.to_str().unwrap(),
            "--format",
            "json",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("llm-recon/report/v1")
    );
}

/// A full disk on stdout is exit 2 with the reason, never a silent 0.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_to_stdout_exits_2() {
    let usage = fixture("demo/openai_usage_completions_p1.json");
    for args in [
        vec!["reconcile", usage.to_str().unwrap()],
        vec!["normalize", usage.to_str().unwrap()],
        vec!["pricing", "list"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("llm-recon"))
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{stderr}"
        );
    }
}

/// A reader that stops early (`| head -c 1`) ends the output quietly: no panic, no message.
#[cfg(unix)]
#[test]
fn a_closed_pipe_is_quiet() {
    use std::process::Stdio;
    let usage = fixture("demo/dify_messages.csv");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("llm-recon"))
        .arg("normalize")
        .arg(&usage)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe while the writer still has megabytes to write.
    {
        use std::io::Read;
        let mut out = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        out.read_exact(&mut one).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0)),
        "{:?} {stderr}",
        out.status
    );
}
