//! No panic message or backtrace ever reaches a user.
//!
//! Third-party decoders (the Parquet row reader, the tokenizer's regex engine) panic on a few
//! malformed inputs. [`catch`] runs such a call with the panic kept quiet and hands back its
//! message, so the caller can turn it into the input's error (file named, exit 2). Anywhere
//! else a panic is a bug of ours: [`install`] makes it one line and exit code 101.

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Set while [`catch`] runs: the panic is expected and becomes an error value.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static CHAIN_QUIET: Once = Once::new();

/// The command line's hook: an unexpected panic prints one line (no backtrace) and exits 101.
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "llm-recon: internal error{place}: {}; this is a bug, please report it with the command that caused it",
            message(info.payload())
        );
        std::process::exit(101);
    }));
}

/// Runs `f`; a panic inside it prints nothing and is returned as its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    CHAIN_QUIET.call_once(|| {
        let outer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                outer(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    out.map_err(|p| message(&*p))
}

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_caught_panic_is_its_message() {
        let r: Result<(), String> = super::catch(|| panic!("bad page {}", 3));
        assert_eq!(r, Err("bad page 3".to_string()));
        assert_eq!(super::catch(|| 7), Ok(7));
    }
}
