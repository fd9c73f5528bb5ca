//! A progress bar on stderr while inputs are read: bytes of CSV and JSON read so far against the
//! inputs' total size. It appears only once reading has taken more than a second (short runs
//! stay silent), only when stderr is a terminal, and never with `--quiet`; it is cleared when
//! reading ends, so reports and logs never contain it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SHOW_AFTER: Duration = Duration::from_secs(1);

struct Bar {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
}

static BAR: OnceLock<Bar> = OnceLock::new();
static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress bar for the rest of the process.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Starts counting towards the total size of `paths` (one command reads its inputs once).
pub fn begin(paths: &[PathBuf]) {
    if QUIET.load(Ordering::Relaxed) || !std::io::stderr().is_terminal() {
        return;
    }
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template(
        "reading {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    let _ = BAR.set(Bar {
        bar,
        started: Instant::now(),
        shown: AtomicBool::new(false),
    });
}

/// Counts `n` more input bytes read.
pub fn advance(n: u64) {
    let Some(b) = BAR.get() else { return };
    b.bar.inc(n);
    if !b.shown.load(Ordering::Relaxed) && b.started.elapsed() > SHOW_AFTER {
        b.shown.store(true, Ordering::Relaxed);
        b.bar.set_draw_target(ProgressDrawTarget::stderr());
    }
}

/// Reading is over: clears the bar.
pub fn finish() {
    if let Some(b) = BAR.get() {
        b.bar.finish_and_clear();
    }
}

/// A reader that counts what passes through it towards the bar.
pub struct Counted<R>(pub R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        advance(n as u64);
        Ok(n)
    }
}
