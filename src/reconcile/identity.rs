//! Rows of one source that share an identity: duplicates and conflicts, one rule for every
//! adapter.
//!
//! A record's identity is its source and its `id`: each adapter builds the id from what its
//! system keys a row by (a message, node execution or observation id; a bill line's bucket and
//! every dimension it is grouped by, and a CUR line item id). Two records of one identity are
//! - a **duplicate** when their values are identical (a page downloaded twice, two exports that
//!   overlap): counted once;
//! - a **conflict** when their values differ (a partial day downloaded before the final one, a
//!   message exported before and after it finished): one copy is kept, the others are listed in
//!   the report's `conflicts`.
//!
//! The kept copy is chosen by a total order on values, never by file or argument order: the
//! format the system is read from first (Dify's tables before its API log), then more tokens (a
//! bucket or a call only grows as it completes), then more money, then the greater canonical
//! serialization of the record's values (JSON of everything but where it was read).

use crate::record::{Origin, UsageRecord};
use crate::source::Format;
use rust_decimal::Decimal;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

/// A 128-bit fingerprint of an id (XXH3-128 under a seed drawn once per run, so no input can
/// be written to collide): ids are compared by it only to find candidates; the copies of a
/// candidate are then compared by their ids.
pub(crate) fn id_key(id: &str) -> u128 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| std::hash::RandomState::new().hash_one(0u8));
    twox_hash::XxHash3_128::oneshot_with_seed(seed, id.as_bytes())
}

/// The record's values: everything but where it was read and what this run adds to it.
pub fn canonical(rec: &UsageRecord) -> Vec<u8> {
    let mut r = rec.clone();
    r.origin = Origin { file: 0, line: 0 };
    r.link.repeats = None;
    r.computed_cost = None;
    r.text = None;
    serde_json::to_vec(&r).unwrap_or_default()
}

/// The ids a source's records carried, to find the ones that came more than once: sorted runs
/// (one per file or parallel piece, each sorted by the thread that read it) and the run being
/// filled.
#[derive(Default, Debug)]
pub struct IdLog {
    runs: Vec<Vec<u128>>,
    open: Vec<u128>,
}

impl IdLog {
    pub fn push(&mut self, id: &str) {
        self.open.push(id_key(id));
    }

    /// Sorts the run being filled and keeps it; a parallel reader calls it in its own thread.
    pub fn seal(&mut self) {
        if !self.open.is_empty() {
            let mut run = std::mem::take(&mut self.open);
            run.sort_unstable();
            self.runs.push(run);
        }
    }

    pub fn extend(&mut self, mut o: IdLog) {
        self.seal();
        o.seal();
        self.runs.extend(o.runs);
    }

    /// Fingerprints of the ids seen more than once: the sorted runs merged (memory stays one
    /// word pair a row; the work is n log k for k runs, after the runs' own sorts).
    pub fn repeated(mut self) -> HashSet<u128> {
        use std::collections::BinaryHeap;
        self.seal();
        let mut heap: BinaryHeap<Reverse<(u128, usize, usize)>> = self
            .runs
            .iter()
            .enumerate()
            .filter_map(|(r, run)| run.first().map(|&v| Reverse((v, r, 0))))
            .collect();
        let mut out = HashSet::new();
        let mut last = None;
        while let Some(Reverse((v, r, i))) = heap.pop() {
            if last == Some(v) {
                out.insert(v);
            }
            last = Some(v);
            if let Some(&next) = self.runs[r].get(i + 1) {
                heap.push(Reverse((next, r, i + 1)));
            }
        }
        out
    }
}

struct Copy {
    format: Format,
    tokens: i64,
    money: Decimal,
    canon: Vec<u8>,
    origin: Origin,
}

/// Gathers every copy of the repeated ids.
pub struct Collector<'a> {
    repeated: &'a HashSet<u128>,
    copies: HashMap<String, Vec<Copy>>,
}

impl<'a> Collector<'a> {
    pub fn new(repeated: &'a HashSet<u128>) -> Collector<'a> {
        Collector {
            repeated,
            copies: HashMap::new(),
        }
    }

    pub fn offer(&mut self, rec: &UsageRecord, format: Format) {
        if !self.repeated.contains(&id_key(&rec.id)) {
            return;
        }
        self.copies.entry(rec.id.clone()).or_default().push(Copy {
            format,
            tokens: rec.usage.magnitude().unwrap_or(i64::MAX),
            money: rec.reported_cost.map_or(Decimal::ZERO, |m| m.amount),
            canon: canonical(rec),
            origin: rec.origin,
        });
    }

    /// The kept copy of every id that really came more than once.
    pub fn resolve(self) -> Resolution {
        let mut kept = HashMap::new();
        for (id, copies) in self.copies {
            if copies.len() < 2 {
                continue;
            }
            let rank = |c: &Copy| (Reverse(c.format), c.tokens, c.money, c.canon.clone());
            // Among identical copies the first read is kept: its values are the same either way.
            let best = copies
                .iter()
                .max_by(|a, b| {
                    rank(a)
                        .cmp(&rank(b))
                        .then((b.origin.file, b.origin.line).cmp(&(a.origin.file, a.origin.line)))
                })
                .expect("two copies or more");
            let conflict = copies.iter().any(|c| c.canon != best.canon);
            kept.insert(
                id,
                Kept {
                    origin: best.origin,
                    canon: best.canon.clone(),
                    conflict,
                },
            );
        }
        Resolution { kept }
    }
}

struct Kept {
    origin: Origin,
    canon: Vec<u8>,
    conflict: bool,
}

/// The kept copy of every identity that came more than once in a source.
#[derive(Default)]
pub struct Resolution {
    kept: HashMap<String, Kept>,
}

/// What a record is, once the copies of its identity are known.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The only copy, or the kept one.
    Counted,
    /// Identical to the kept copy.
    Duplicate,
    /// Same id as the kept copy (at `kept`), other values.
    Conflict { kept: Origin },
}

impl Resolution {
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Ids that came more than once with different values.
    pub fn conflicting_ids(&self) -> usize {
        self.kept.values().filter(|k| k.conflict).count()
    }

    pub fn verdict(&self, rec: &UsageRecord) -> Verdict {
        match self.kept.get(&rec.id) {
            None => Verdict::Counted,
            Some(k) if k.origin == rec.origin => Verdict::Counted,
            Some(k) if !k.conflict || canonical(rec) == k.canon => Verdict::Duplicate,
            Some(k) => Verdict::Conflict { kept: k.origin },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids repeated inside one run, across runs, or both, and none in a run of one: the merged
    /// runs find exactly the ids a plain count finds.
    #[test]
    fn repeated_ids_across_sorted_runs() {
        let runs: [&[&str]; 4] = [
            &["a", "b", "c", "a"],
            &["d", "b", "e"],
            &[],
            &["f", "e", "e", "g", "c"],
        ];
        let mut log = IdLog::default();
        for run in runs {
            let mut piece = IdLog::default();
            for id in run {
                piece.push(id);
            }
            piece.seal();
            log.extend(piece);
        }
        // Pushed after the last extend: an open run, sealed by `repeated`.
        log.push("g");
        log.push("h");
        let want: HashSet<u128> = ["a", "b", "c", "e", "g"]
            .iter()
            .map(|i| id_key(i))
            .collect();
        assert_eq!(log.repeated(), want);
        assert!(IdLog::default().repeated().is_empty());
    }
    use crate::record::{Usage, UsageClass};

    fn rec(id: &str, line: u64, input: i64) -> UsageRecord {
        let mut r = UsageRecord::call(
            id.to_string(),
            Origin { file: 0, line },
            chrono::DateTime::UNIX_EPOCH,
        );
        r.usage = Usage::of(&[(UsageClass::Input, input)]);
        r
    }

    fn resolve(recs: &[UsageRecord]) -> Resolution {
        let mut log = IdLog::default();
        for r in recs {
            log.push(&r.id);
        }
        let repeated = log.repeated();
        let mut c = Collector::new(&repeated);
        for r in recs {
            c.offer(r, Format::DifyMessagesCsv);
        }
        c.resolve()
    }

    #[test]
    fn the_kept_copy_does_not_depend_on_the_order_read() {
        let (a, b, c) = (rec("m1", 1, 10), rec("m1", 2, 30), rec("m1", 3, 20));
        for order in [[&a, &b, &c], [&c, &b, &a], [&b, &a, &c]] {
            let recs: Vec<UsageRecord> = order.iter().map(|r| (*r).clone()).collect();
            let res = resolve(&recs);
            assert_eq!(res.verdict(&b), Verdict::Counted);
            assert_eq!(res.verdict(&a), Verdict::Conflict { kept: b.origin });
            assert_eq!(res.verdict(&c), Verdict::Conflict { kept: b.origin });
            assert_eq!(res.conflicting_ids(), 1);
        }
    }

    #[test]
    fn identical_copies_are_duplicates_and_distinct_ids_stay_apart() {
        let recs = [
            rec("m1", 1, 10),
            rec("m1", 2, 10),
            rec("m1", 3, 10),
            rec("m2", 4, 10),
        ];
        let res = resolve(&recs);
        assert_eq!(res.verdict(&recs[0]), Verdict::Counted);
        assert_eq!(res.verdict(&recs[1]), Verdict::Duplicate);
        assert_eq!(res.verdict(&recs[2]), Verdict::Duplicate);
        assert_eq!(res.verdict(&recs[3]), Verdict::Counted);
        assert_eq!(res.conflicting_ids(), 0);
    }
}
