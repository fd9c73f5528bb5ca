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

// ---------------------------------------------------------------------------------------------
// Streams and compressed deliveries

/// `reconcile --format json` of `args`; the parsed report (exit 0 expected).
fn report(args: &[&std::ffi::OsStr], stdin: Option<Vec<u8>>) -> serde_json::Value {
    let mut cmd = bin();
    cmd.arg("reconcile").args(args).args(["--format", "json"]);
    if let Some(bytes) = stdin {
        cmd.write_stdin(bytes);
    }
    let out = cmd
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Each source's figures without the file names: what must not change with the delivery.
fn figures(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.as_object_mut().unwrap().remove("files");
            s
        })
        .collect()
}

fn files_of(report: &serde_json::Value) -> Vec<String> {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["files"].as_array().unwrap().iter())
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zstd_of(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(bytes, 3).unwrap()
}

/// A zip archive of `(name, bytes)` members, deflated as AWS and DeepSeek deliver them.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// `reconcile -` reads stdin (plain and gzip), and gives the same figures as the file.
#[test]
fn stdin_is_read_like_a_file() {
    let usage = fixture("demo/openai_usage_completions_p1.json");
    let want = report(&[os(&usage)], None);
    let bytes = std::fs::read(&usage).unwrap();
    let got = report(&[os(Path::new("-"))], Some(bytes.clone()));
    assert_eq!(figures(&got), figures(&want));
    assert_eq!(files_of(&got), ["stdin"]);
    let got = report(&[os(Path::new("-"))], Some(gzip(&bytes)));
    assert_eq!(figures(&got), figures(&want));
    // The demo page has rows: the comparison above is not of two empty reports.
    assert!(want["sources"][0]["rows_read"].as_u64().unwrap() > 0);
}

/// A named FIFO is read (it used to block forever: the sniffer read, closed and reopened it),
/// and so is a pipe from the shell's `<(…)`.
#[cfg(unix)]
#[test]
fn a_fifo_and_process_substitution_are_read() {
    let usage = fixture("aws/cur2_bedrock.csv");
    let want = report(&[os(&usage)], None);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("bill.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (src, dst) = (usage.clone(), fifo.clone());
    let writer = std::thread::spawn(move || {
        std::fs::write(&dst, std::fs::read(&src).unwrap()).unwrap();
    });
    let got = report(&[os(&fifo)], None);
    writer.join().unwrap();
    assert_eq!(figures(&got), figures(&want));
    assert_eq!(files_of(&got), [fifo.display().to_string()]);

    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' reconcile <(cat '{}') --format json",
            assert_cmd::cargo::cargo_bin("llm-recon").display(),
            usage.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(figures(&got), figures(&want));
}

/// An Anthropic usage page whose first bucket holds 200 results: the API writes its keys in
/// order, so `starting_at` comes after the results, past the first 64 KiB. It is recognized and
/// read in full.
#[test]
fn an_anthropic_page_over_64_kib_is_recognized() {
    let results: Vec<String> = (0..200)
        .map(|i| {
            format!(
                r#"{{"account_id": null, "api_key_id": "apikey_01Hq7TbV3mXw9LcR2sKd{i:04}", "cache_creation": {{"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0}}, "cache_read_input_tokens": 0, "context_window": "0-200k", "inference_geo": null, "model": "claude-sonnet-4-5-20250929", "output_tokens": 100, "server_tool_use": {{"web_search_requests": 0}}, "service_account_id": null, "service_tier": "standard", "uncached_input_tokens": 1000, "workspace_id": "wrkspc_01Gd5KmP2xRt8VbN7cQwLz4J"}}"#
            )
        })
        .collect();
    let page = format!(
        r#"{{"data": [{{"ending_at": "2026-10-02T00:00:00Z", "results": [{}], "starting_at": "2026-10-01T00:00:00Z"}}], "has_more": false, "next_page": null}}"#,
        results.join(", ")
    );
    assert!(page.find("starting_at").unwrap() > 64 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anthropic_usage_report_p0001.json");
    std::fs::write(&path, &page).unwrap();
    let got = report(&[os(&path)], None);
    let s = &got["sources"][0];
    assert_eq!(s["format"], "anthropic-usage-json");
    assert_eq!(s["rows_read"], 200);
    assert_eq!(s["rows_rejected"], 0);
    // 200 results × (1,000 input + 100 output) = 220,000 tokens.
    assert_eq!(s["tokens"]["total"], 220_000);
}

/// A CUR CSV as AWS delivers it (`.csv.gz`, zstd, `.zip`), and from a pipe, reads exactly as the
/// plain file; the compression is found from the bytes, not the name.
#[test]
fn compressed_cur_reads_as_the_plain_file() {
    let plain = fixture("aws/cur2_bedrock.csv");
    let legacy = fixture("aws/cur_legacy_bedrock.csv");
    let want = report(&[os(&plain)], None);
    let want_legacy = report(&[os(&legacy)], None);
    let bytes = std::fs::read(&plain).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("cur2-00001.csv.gz");
    std::fs::write(&gz, gzip(&bytes)).unwrap();
    let zst = dir.path().join("cur2-00001.csv.zst");
    std::fs::write(&zst, zstd_of(&bytes)).unwrap();
    // A name that says nothing: still gzip by its bytes.
    let unnamed = dir.path().join("bill");
    std::fs::write(&unnamed, gzip(&bytes)).unwrap();
    for p in [&gz, &zst, &unnamed] {
        let got = report(&[os(p)], None);
        assert_eq!(figures(&got), figures(&want), "{}", p.display());
        assert_eq!(files_of(&got), [p.display().to_string()]);
    }
    let got = report(&[os(Path::new("-"))], Some(zstd_of(&bytes)));
    assert_eq!(figures(&got), figures(&want));
    // Legacy CUR as its `.zip` delivery: one member.
    let zip = dir.path().join("cur-00001.csv.zip");
    let legacy_bytes = std::fs::read(&legacy).unwrap();
    std::fs::write(&zip, zip_of(&[("cur-00001.csv", &legacy_bytes)])).unwrap();
    let got = report(&[os(&zip)], None);
    assert_eq!(figures(&got), figures(&want_legacy));
    assert_eq!(files_of(&got), [format!("{}!cur-00001.csv", zip.display())]);
    // A zip from a pipe needs random access: it is copied first, then read the same.
    let got = report(
        &[os(Path::new("-"))],
        Some(zip_of(&[("cur-00001.csv", &legacy_bytes)])),
    );
    assert_eq!(figures(&got), figures(&want_legacy));
    assert!(want["sources"][0]["rows_read"].as_u64().unwrap() > 0);
}

/// Azure's cost export as `.csv.gz` reads as the plain CSV.
#[test]
fn azure_csv_gz_reads_as_the_plain_file() {
    let plain = fixture("azure/ea_actual_cost.csv");
    let want = report(&[os(&plain)], None);
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("part_0_0001.csv.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&plain).unwrap())).unwrap();
    let got = report(&[os(&gz)], None);
    assert_eq!(figures(&got), figures(&want));
    assert!(want["sources"][0]["rows_read"].as_u64().unwrap() > 0);
}

/// DeepSeek's usage export is a zip of `amount-*.csv` and `cost-*.csv`: each member is read as
/// its own file, named `archive.zip!member` in the sources and in rejected rows.
#[test]
fn deepseek_zip_reads_both_members() {
    let amount = fixture("deepseek/amount-2026-10.csv");
    let cost = fixture("deepseek/cost-2026-10.csv");
    let want = report(&[os(&amount), os(&cost)], None);
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("usage-2026-10.zip");
    let (a, c) = (
        std::fs::read(&amount).unwrap(),
        std::fs::read(&cost).unwrap(),
    );
    std::fs::write(
        &zip,
        zip_of(&[("amount-2026-10.csv", &a), ("cost-2026-10.csv", &c)]),
    )
    .unwrap();
    let got = report(&[os(&zip)], None);
    assert_eq!(figures(&got), figures(&want));
    let z = zip.display();
    assert_eq!(
        files_of(&got),
        [
            format!("{z}!amount-2026-10.csv"),
            format!("{z}!cost-2026-10.csv")
        ]
    );
    // A bad row inside a member is named by the member and its line.
    let bad = std::fs::read(fixture("deepseek/amount-bad-rows.csv")).unwrap();
    let zip2 = dir.path().join("bad.zip");
    std::fs::write(&zip2, zip_of(&[("amount-bad-rows.csv", &bad)])).unwrap();
    let got = report(&[os(&zip2)], None);
    let origins: Vec<&str> = got["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["origin"].as_str().unwrap())
        .collect();
    // Line 3 of the fixture has the unknown usage type `image_tokens`.
    assert!(
        origins.contains(&format!("{}!amount-bad-rows.csv:3", zip2.display()).as_str()),
        "{origins:?}"
    );
}

/// A gzip bomb (a CSV header, then 100 MiB of blank lines in about 100 KB) stops with exit 2
/// naming the file, instead of expanding without bound.
#[test]
fn a_decompression_bomb_is_refused() {
    let mut bytes = std::fs::read_to_string(fixture("aws/cur2_bedrock.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .as_bytes()
        .to_vec();
    bytes.push(b'\n');
    bytes.resize(bytes.len() + (100 << 20), b'\n');
    let bomb = gzip(&bytes);
    // The limit is 250× the compressed size once past 64 MiB: this one is far beyond.
    assert!(bomb.len() * 250 < (100 << 20));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cur.csv.gz");
    std::fs::write(&path, &bomb).unwrap();
    bin()
        .args(["reconcile"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(path.display().to_string())
                .and(predicate::str::contains("decompression bomb")),
        );
}

/// Writes the Parquet file at `from` again, value for value (same schema, row groups, levels),
/// with its pages compressed by `codec`.
fn recompress_parquet(from: &Path, to: &Path, codec: parquet::basic::Compression) {
    use parquet::column::reader::ColumnReader;
    use parquet::column::writer::ColumnWriter;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;

    let reader = SerializedFileReader::new(std::fs::File::open(from).unwrap()).unwrap();
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
    let mut writer = SerializedFileWriter::new(
        std::fs::File::create(to).unwrap(),
        schema.root_schema_ptr(),
        props,
    )
    .unwrap();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).unwrap();
        let rows = usize::try_from(group.metadata().num_rows()).unwrap();
        let mut out = writer.next_row_group().unwrap();
        let mut c = 0;
        while let Some(mut col) = out.next_column().unwrap() {
            let descr = schema.column(c);
            let (has_def, has_rep) = (descr.max_def_level() > 0, descr.max_rep_level() > 0);
            let (mut def, mut rep) = (Vec::new(), Vec::new());
            macro_rules! copy {
                ($r:expr, $w:path) => {{
                    let mut values = Vec::new();
                    let mut r = $r;
                    r.read_records(
                        rows,
                        has_def.then_some(&mut def),
                        has_rep.then_some(&mut rep),
                        &mut values,
                    )
                    .unwrap();
                    match col.untyped() {
                        $w(w) => {
                            w.write_batch(
                                &values,
                                has_def.then_some(&def[..]),
                                has_rep.then_some(&rep[..]),
                            )
                            .unwrap();
                        }
                        _ => unreachable!("reader and writer types agree"),
                    }
                }};
            }
            match group.get_column_reader(c).unwrap() {
                ColumnReader::BoolColumnReader(r) => copy!(r, ColumnWriter::BoolColumnWriter),
                ColumnReader::Int32ColumnReader(r) => copy!(r, ColumnWriter::Int32ColumnWriter),
                ColumnReader::Int64ColumnReader(r) => copy!(r, ColumnWriter::Int64ColumnWriter),
                ColumnReader::Int96ColumnReader(r) => copy!(r, ColumnWriter::Int96ColumnWriter),
                ColumnReader::FloatColumnReader(r) => copy!(r, ColumnWriter::FloatColumnWriter),
                ColumnReader::DoubleColumnReader(r) => copy!(r, ColumnWriter::DoubleColumnWriter),
                ColumnReader::ByteArrayColumnReader(r) => {
                    copy!(r, ColumnWriter::ByteArrayColumnWriter)
                }
                ColumnReader::FixedLenByteArrayColumnReader(r) => {
                    copy!(r, ColumnWriter::FixedLenByteArrayColumnWriter)
                }
            }
            col.close().unwrap();
            c += 1;
        }
        out.close().unwrap();
    }
    writer.close().unwrap();
    // The copy really is in the codec asked for.
    let copy = SerializedFileReader::new(std::fs::File::open(to).unwrap()).unwrap();
    let chunk = copy.metadata().row_group(0).column(0).compression();
    assert_eq!(
        std::mem::discriminant(&chunk),
        std::mem::discriminant(&codec)
    );
}

/// CUR 2.0, legacy CUR and FOCUS Parquet with their pages in `codec` read exactly as the Snappy
/// fixtures they are copied from (exit 0, the same figures).
fn parquet_in_codec_reads_as_snappy(codec: parquet::basic::Compression) {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "aws/cur2_bedrock.parquet",
        "aws/cur_legacy_bedrock.parquet",
        "focus/focus_1_2_azure_openai.parquet",
    ] {
        let snappy = fixture(name);
        let want = report(&[os(&snappy)], None);
        assert!(want["sources"][0]["rows_read"].as_u64().unwrap() > 0);
        let to = dir.path().join(format!("{codec}.parquet"));
        recompress_parquet(&snappy, &to, codec);
        let got = report(&[os(&to)], None);
        assert_eq!(figures(&got), figures(&want), "{name} as {codec}");
    }
}

#[test]
fn parquet_gzip_pages_read_as_snappy() {
    parquet_in_codec_reads_as_snappy(parquet::basic::Compression::GZIP(Default::default()));
}

#[test]
fn parquet_zstd_pages_read_as_snappy() {
    parquet_in_codec_reads_as_snappy(parquet::basic::Compression::ZSTD(Default::default()));
}

/// LZ4 as Parquet now writes it (LZ4_RAW) and the older Hadoop-framed LZ4 of Spark and Hive.
#[test]
fn parquet_lz4_pages_read_as_snappy() {
    parquet_in_codec_reads_as_snappy(parquet::basic::Compression::LZ4_RAW);
    parquet_in_codec_reads_as_snappy(parquet::basic::Compression::LZ4);
}

#[test]
fn parquet_brotli_pages_read_as_snappy() {
    parquet_in_codec_reads_as_snappy(parquet::basic::Compression::BROTLI(Default::default()));
}

/// A zip bomb (a CUR CSV member of a header and 100 MiB of line ends, deflated to about 100 KB)
/// and a zstd bomb stop with exit 2 naming the input (the member as `archive.zip!member`).
#[test]
fn zip_and_zstd_bombs_are_refused() {
    let header = std::fs::read_to_string(fixture("aws/cur2_bedrock.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut bytes = format!("{header}\n").into_bytes();
    bytes.resize(bytes.len() + (100 << 20), b'\n');
    let dir = tempfile::tempdir().unwrap();

    let zip = zip_of(&[("cur2.csv", &bytes)]);
    assert!(zip.len() * 250 < (100 << 20));
    let path = dir.path().join("cur2.zip");
    std::fs::write(&path, &zip).unwrap();
    bin()
        .args(["reconcile"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(format!("{}!cur2.csv", path.display()))
                .and(predicate::str::contains("decompression bomb")),
        );

    let zst = zstd_of(&bytes);
    assert!(zst.len() * 250 < (100 << 20));
    let path = dir.path().join("cur2.csv");
    std::fs::write(&path, &zst).unwrap();
    bin()
        .args(["reconcile"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(path.display().to_string())
                .and(predicate::str::contains("decompression bomb")),
        );
}

/// A CSV row with a 17 MiB field (over the 16 MiB line limit) is a rejected row with its
/// `file:line`; the rows around it are read and the run goes on.
#[test]
fn an_overlong_line_is_a_rejected_row() {
    let text = std::fs::read_to_string(fixture("aws/cur2_bedrock.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let want = report(&[os(&fixture("aws/cur2_bedrock.csv"))], None);
    // The header, every row of the fixture, then a row whose first field is 17 MiB long.
    let mut bytes = format!("{header}\n{}\n", rows.join("\n")).into_bytes();
    bytes.resize(bytes.len() + (17 << 20), b'x');
    bytes.extend_from_slice(b",1\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cur2_long.csv");
    std::fs::write(&path, &bytes).unwrap();
    let got = report(&[os(&path)], None);
    let s = &got["sources"][0];
    let w = &want["sources"][0];
    // One more row read than the fixture, and that one rejected.
    assert_eq!(
        s["rows_read"].as_u64().unwrap(),
        w["rows_read"].as_u64().unwrap() + 1
    );
    assert_eq!(
        s["rows_rejected"].as_u64().unwrap(),
        w["rows_rejected"].as_u64().unwrap() + 1
    );
    assert_eq!(s["tokens"], w["tokens"]);
    assert_eq!(s["cost"], w["cost"]);
    let line = rows.len() + 2;
    let origin = format!("{}:{line}", path.display());
    let rejected = got["rejected"].as_array().unwrap();
    assert!(
        rejected
            .iter()
            .any(|r| r["origin"] == origin.as_str()
                && r["reason"].as_str().unwrap().contains("16 MiB")),
        "{rejected:?}"
    );
}

/// An endless stream that never ends a record (a CSV header, then zeros without a line end, as
/// `/dev/zero` would go on) is exit 2 naming the input, after at most 256 MiB: memory and disk
/// stay bounded.
#[cfg(unix)]
#[test]
fn an_endless_record_is_an_error() {
    use std::io::Write;
    use std::process::Stdio;
    let text = std::fs::read_to_string(fixture("aws/cur2_bedrock.csv")).unwrap();
    let header = text.lines().next().unwrap().to_string();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("llm-recon"))
        .args(["reconcile", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let zeros = vec![0u8; 1 << 20];
        let mut written: u64 = 0;
        let _ = stdin.write_all(format!("{header}\n").as_bytes());
        // Endless: until the reader goes away (or far past the limit, a failure below).
        while written < (2u64 << 30) && stdin.write_all(&zeros).is_ok() {
            written += zeros.len() as u64;
        }
        written
    });
    let out = child.wait_with_output().unwrap();
    let written = writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stdin") && stderr.contains("never ends a record"),
        "{stderr}"
    );
    // It stopped reading soon after the limit, not at the writer's end.
    assert!(written < (1u64 << 30), "{written}");
}

/// Two snapshots of one CUR 2.0 billing period delivered as `.csv.gz` (as Data Exports writes
/// them) are told apart as the plain files are: only the latest execution is read.
#[test]
fn gzipped_aws_snapshots_count_the_month_once() {
    let from = fixture("aws/snapshots/cur2-bedrock/data");
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let period = from.join("BILLING_PERIOD=2026-10");
    for exec in std::fs::read_dir(&period).unwrap() {
        let exec = exec.unwrap().path();
        let to = dir
            .path()
            .join("data/BILLING_PERIOD=2026-10")
            .join(exec.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for csv in std::fs::read_dir(&exec).unwrap() {
            let csv = csv.unwrap().path();
            let name = format!("{}.gz", csv.file_name().unwrap().to_string_lossy());
            let gz = to.join(name);
            std::fs::write(&gz, gzip(&std::fs::read(&csv).unwrap())).unwrap();
            files.push(gz);
        }
    }
    files.sort();
    assert_eq!(files.len(), 3);
    let args: Vec<&std::ffi::OsStr> = files.iter().map(|p| p.as_os_str()).collect();
    let r = report(&args, None);
    let aws = &r["sources"][0];
    assert_eq!(aws["name"], "aws", "{aws}");
    // The latest execution only (as in tests/real_exports.rs for the plain files): 23,000 +
    // 40,000 input, 14,266 + 10,000 output, 0.069 + 0.21399 + 0.12 + 0.15 = 0.55299.
    assert_eq!(aws["tokens"]["input"].as_i64(), Some(63_000), "{aws}");
    assert_eq!(aws["tokens"]["output"].as_i64(), Some(24_266), "{aws}");
    let cost: rust_decimal::Decimal = aws["cost"].as_str().unwrap().parse().unwrap();
    assert_eq!(cost, "0.55299".parse().unwrap());
    assert_eq!(aws["rows_rejected"], 0);
    assert_eq!(aws["files"].as_array().unwrap().len(), 2);
}

/// A Parquet file whose one column chunk is 80 MiB of zeros in zstd (a few KB on disk) is exit 2
/// naming the file, refused from its footer before a page is read.
#[test]
fn a_parquet_bomb_is_refused() {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;
    let schema = Arc::new(
        parse_message_type("message m { required binary line_item_usage_type; }").unwrap(),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .set_dictionary_enabled(false)
            .build(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cur.parquet");
    let mut w =
        SerializedFileWriter::new(std::fs::File::create(&path).unwrap(), schema, props).unwrap();
    let mut group = w.next_row_group().unwrap();
    let mut col = group.next_column().unwrap().unwrap();
    let value = ByteArray::from(vec![0u8; 80 << 20]);
    col.typed::<ByteArrayType>()
        .write_batch(&[value], None, None)
        .unwrap();
    col.close().unwrap();
    group.close().unwrap();
    w.close().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size * 250 < (80 << 20), "{size}");
    bin()
        .args(["reconcile"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains(path.display().to_string())
                .and(predicate::str::contains("decompression bomb")),
        );
}
