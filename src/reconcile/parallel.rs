//! Cutting one large line-oriented export (a month of Dify rows) into pieces that every core can
//! parse at once.
//!
//! A piece starts at a record boundary: for JSONL any line start, for CSV a line start outside
//! quotes (a newline is a boundary when the number of `"` before it is even; RFC 4180's doubled
//! quotes keep the parity). Counting quotes and newlines before each cut (on every core) gives
//! every piece the file line its first record is on, so rejected rows keep their `file:line`.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// A byte range of the file and the 1-based line number of its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: u64,
    pub len: u64,
    pub first_line: u64,
}

/// The pieces of a file, and for CSV the header line (with its line ending) that each piece
/// needs in front of it.
#[derive(Debug)]
pub struct Plan {
    pub header: Vec<u8>,
    pub pieces: Vec<Piece>,
}

const BLOCK: usize = 1 << 20;

/// Plans up to `parts` pieces of roughly equal size.
///
/// The cuts are found without one sequential pass over the file: the data is split into
/// `parts` spans whose quotes and newlines are counted on every core at once, which gives the
/// quote parity and the line number at each target offset; from each target a short scan finds
/// the first newline outside quotes.
pub fn plan(path: &Path, csv: bool, parts: usize) -> io::Result<Plan> {
    let f = File::open(path)?;
    let total = f.metadata()?.len();
    let parts = parts.max(1);
    let mut bom = [0u8; 3];
    let skip = if read_full_at(&f, &mut bom, 0)? == 3 && bom == *crate::source::util::BOM {
        3
    } else {
        0
    };
    let mut header = Vec::new();
    let (data_start, line0) = if csv {
        // The first boundary of a CSV ends its header.
        match next_boundary(&f, skip, false, 1, csv, Some(&mut header))? {
            Some(b) => b,
            None => {
                // Header only (or empty): one empty piece.
                let line = 1 + count_span(&f, skip, total, csv, &[])?.1.newlines;
                return Ok(Plan {
                    header,
                    pieces: vec![Piece {
                        start: total,
                        len: 0,
                        first_line: line,
                    }],
                });
            }
        }
    } else {
        (skip, 1)
    };

    // Target offsets of the cuts, and the counts before each, span by span on every core.
    let body = total - data_start;
    let targets: Vec<u64> = (1..parts as u64)
        .map(|k| data_start + body * k / parts as u64)
        .collect();
    let counted_to = targets.last().copied().unwrap_or(data_start);
    let spans: Vec<(u64, u64)> = (0..parts as u64)
        .map(|j| {
            let span = counted_to - data_start;
            (
                data_start + span * j / parts as u64,
                data_start + span * (j + 1) / parts as u64,
            )
        })
        .collect();
    let counted: Vec<io::Result<(Vec<Counts>, Counts)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = spans
            .iter()
            .enumerate()
            .map(|(j, &(s, e))| {
                // Each target in exactly one span: (s, e], the first span's start too.
                let at: Vec<u64> = targets
                    .iter()
                    .copied()
                    .filter(|&t| (t > s || (j == 0 && t == s)) && t <= e)
                    .collect();
                let f = &f;
                scope.spawn(move || count_span(f, s, e, csv, &at))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a counting thread failed")))
            })
            .collect()
    });
    let mut before = Counts::default();
    let mut at_targets = Vec::with_capacity(targets.len());
    for c in counted {
        let (inside, whole) = c?;
        at_targets.extend(inside.into_iter().map(|c| before.plus(c)));
        before = before.plus(whole);
    }

    let mut starts = vec![(data_start, line0)];
    for (&target, c) in targets.iter().zip(&at_targets) {
        let from = starts.last().map_or(data_start, |&(o, _)| o);
        if target < from {
            continue;
        }
        // An odd number of quotes before the target: it lies inside a quoted field.
        let in_quotes = c.quotes % 2 == 1;
        let Some((boundary, line)) =
            next_boundary(&f, target, in_quotes, line0 + c.newlines, csv, None)?
        else {
            break;
        };
        if boundary > from && boundary < total {
            starts.push((boundary, line));
        }
    }
    let pieces = starts
        .iter()
        .enumerate()
        .map(|(i, &(start, first_line))| {
            let end = starts.get(i + 1).map_or(total, |&(o, _)| o);
            Piece {
                start,
                len: end - start,
                first_line,
            }
        })
        .collect();
    Ok(Plan { header, pieces })
}

/// Quotes and newlines in a span of the file.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    quotes: u64,
    newlines: u64,
}

impl Counts {
    fn plus(self, o: Counts) -> Counts {
        Counts {
            quotes: self.quotes + o.quotes,
            newlines: self.newlines + o.newlines,
        }
    }
}

/// Reads as much of `buf` as the file has from `offset`.
fn read_full_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match f.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The counts of `[start, end)`, and of `[start, t)` for each checkpoint `t` inside it (in
/// order). For JSONL only newlines are counted.
fn count_span(
    f: &File,
    start: u64,
    end: u64,
    csv: bool,
    checkpoints: &[u64],
) -> io::Result<(Vec<Counts>, Counts)> {
    let mut buf = vec![0u8; BLOCK];
    let mut c = Counts::default();
    let mut at = Vec::with_capacity(checkpoints.len());
    let mut next = checkpoints.iter().copied().peekable();
    let mut pos = start;
    loop {
        while next.next_if(|&t| t <= pos).is_some() {
            at.push(c);
        }
        if pos >= end {
            break;
        }
        // Blocks stop at checkpoints so each is counted exactly.
        let stop = next.peek().map_or(end, |&t| t.min(end));
        let want = ((stop - pos) as usize).min(BLOCK);
        let n = read_full_at(f, &mut buf[..want], pos)?;
        if n == 0 {
            break;
        }
        let block = &buf[..n];
        c.newlines += count_byte(block, b'\n');
        if csv {
            c.quotes += count_byte(block, b'"');
        }
        pos += n as u64;
    }
    // A file that ended early: the rest of the checkpoints see everything counted.
    at.extend(next.map(|_| c));
    Ok((at, c))
}

/// How many times `b` occurs in `block` (memchr's vectorized count).
fn count_byte(block: &[u8], b: u8) -> u64 {
    memchr::memchr_iter(b, block).count() as u64
}

/// From `from` (at line `line`, inside quotes or not), the next record boundary: the offset
/// after the first newline outside quotes and the line there; `None` when the file ends first.
/// The bytes read up to it are appended to `keep` when given (a CSV's header).
fn next_boundary(
    f: &File,
    from: u64,
    mut in_quotes: bool,
    mut line: u64,
    csv: bool,
    mut keep: Option<&mut Vec<u8>>,
) -> io::Result<Option<(u64, u64)>> {
    let mut buf = vec![0u8; BLOCK];
    let mut pos = from;
    let needle = if csv { b'"' } else { b'\n' };
    loop {
        let n = read_full_at(f, &mut buf, pos)?;
        if n == 0 {
            return Ok(None);
        }
        let block = &buf[..n];
        for i in memchr::memchr2_iter(needle, b'\n', block) {
            if block[i] == b'"' {
                in_quotes = !in_quotes;
                continue;
            }
            line += 1;
            if !in_quotes {
                if let Some(k) = keep.as_deref_mut() {
                    k.extend_from_slice(&block[..=i]);
                }
                return Ok(Some((pos + i as u64 + 1, line)));
            }
        }
        if let Some(k) = keep.as_deref_mut() {
            k.extend_from_slice(block);
        }
        pos += n as u64;
    }
}

/// A reader over one piece, with the CSV header in front when there is one.
pub fn open_piece(path: &Path, header: &[u8], piece: Piece) -> io::Result<PieceReader> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(piece.start))?;
    let raw = io::Cursor::new(header.to_vec()).chain(crate::progress::Counted(f.take(piece.len)));
    // A CRLF CSV (its header says so) has its line ends normalized so `file:line` stays right;
    // pieces end after a `\n`, so no pair is split. Others are read as they are.
    Ok(if header.ends_with(b"\r\n") {
        PieceReader::Crlf(crate::source::util::CrlfToLf::new(raw))
    } else {
        PieceReader::Plain(io::BufReader::with_capacity(256 * 1024, raw))
    })
}

type Raw = io::Chain<io::Cursor<Vec<u8>>, crate::progress::Counted<io::Take<File>>>;

/// The reader of one piece: plain, or normalizing CRLF line ends. An enum rather than a boxed
/// trait object: the reader sits under the CSV parser's inner loop.
pub enum PieceReader {
    Plain(io::BufReader<Raw>),
    Crlf(crate::source::util::CrlfToLf<Raw>),
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            PieceReader::Plain(r) => r.read(out),
            PieceReader::Crlf(r) => r.read(out),
        }
    }
}

impl io::BufRead for PieceReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            PieceReader::Plain(r) => r.fill_buf(),
            PieceReader::Crlf(r) => r.fill_buf(),
        }
    }
    fn consume(&mut self, amt: usize) {
        match self {
            PieceReader::Plain(r) => r.consume(amt),
            PieceReader::Crlf(r) => r.consume(amt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pieces_text(path: &Path, plan: &Plan) -> Vec<String> {
        plan.pieces
            .iter()
            .map(|p| {
                let mut s = String::new();
                open_piece(path, &plan.header, *p)
                    .unwrap()
                    .read_to_string(&mut s)
                    .unwrap();
                s
            })
            .collect()
    }

    #[test]
    fn csv_cuts_never_split_a_quoted_newline_and_keep_line_numbers() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut text = String::from("\u{feff}id,query\n");
        for i in 0..200 {
            // Every third row has a newline and doubled quotes inside a quoted field.
            if i % 3 == 0 {
                text.push_str(&format!("{i},\"line one\nsaid \"\"hi\"\"\"\n"));
            } else {
                text.push_str(&format!("{i},plain\n"));
            }
        }
        f.write_all(text.as_bytes()).unwrap();
        let plan = plan(f.path(), true, 4).unwrap();
        assert_eq!(plan.header, b"id,query\n");
        assert!(plan.pieces.len() > 1);
        let texts = pieces_text(f.path(), &plan);
        let mut ids = Vec::new();
        for (t, p) in texts.iter().zip(&plan.pieces) {
            let mut rdr = csv::Reader::from_reader(t.as_bytes());
            for (j, r) in rdr.records().enumerate() {
                let r = r.unwrap();
                let id: usize = r[0].parse().unwrap();
                if j == 0 {
                    // Row i starts on file line 2 + i + (rows before it with an inner newline).
                    let expected_line = 2 + id as u64 + id.div_ceil(3) as u64;
                    assert_eq!(p.first_line, expected_line, "piece starting at row {id}");
                }
                ids.push(id);
            }
        }
        assert_eq!(ids, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn jsonl_cuts_at_any_line_and_empty_files_plan_one_piece() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for i in 0..100 {
            writeln!(f, "{{\"n\":{i}}}").unwrap();
        }
        let plan = plan(f.path(), false, 3).unwrap();
        assert!(plan.header.is_empty());
        assert_eq!(plan.pieces.len(), 3);
        let all: String = pieces_text(f.path(), &plan).concat();
        assert_eq!(all.lines().count(), 100);
        assert_eq!(plan.pieces[0].first_line, 1);
        let second_first: u64 = pieces_text(f.path(), &plan)[1]
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("{\"n\":")
            .trim_end_matches('}')
            .parse()
            .unwrap();
        assert_eq!(plan.pieces[1].first_line, second_first + 1);
        let empty = tempfile::NamedTempFile::new().unwrap();
        assert_eq!(plan_len(empty.path()), 1);
    }

    /// Every cut, for any number of parts, is a record boundary with its true line, also when a
    /// target offset falls inside a long quoted field with newlines; the pieces cover the body.
    #[test]
    fn cuts_from_counted_spans_are_the_sequential_boundaries() {
        let mut text = String::from("id,note\n");
        for i in 0..60 {
            match i % 4 {
                0 => text.push_str(&format!("{i},\"{}\"\n", "a\nb \"\"q\"\" ".repeat(40))),
                1 => text.push_str(&format!("{i},\"\"\n")),
                _ => text.push_str(&format!("{i},plain\n")),
            }
        }
        // The boundaries and their lines, by a plain sequential scan.
        let mut truth = Vec::new();
        let (mut q, mut line) = (false, 1u64);
        for (i, b) in text.bytes().enumerate() {
            match b {
                b'"' => q = !q,
                b'\n' => {
                    line += 1;
                    if !q {
                        truth.push((i as u64 + 1, line));
                    }
                }
                _ => {}
            }
        }
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        for parts in 1..=9 {
            let plan = plan(f.path(), true, parts).unwrap();
            assert_eq!(plan.header, b"id,note\n");
            assert_eq!(plan.pieces[0].start, truth[0].0);
            let mut end = truth[0].0;
            for p in &plan.pieces {
                assert_eq!(p.start, end, "{parts} parts: pieces are contiguous");
                assert!(
                    truth.contains(&(p.start, p.first_line)),
                    "{parts} parts: {p:?} is not a boundary with its line"
                );
                end = p.start + p.len;
            }
            assert_eq!(end, text.len() as u64);
            assert!(plan.pieces.len() <= parts.max(1));
        }
        // A header that never ends (its newline is quoted): one empty piece at the end of the
        // file's 10 bytes, on line 2.
        let mut g = tempfile::NamedTempFile::new().unwrap();
        g.write_all(b"id,\"no\nend").unwrap();
        let p = plan(g.path(), true, 3).unwrap();
        assert_eq!(
            p.pieces,
            vec![Piece {
                start: 10,
                len: 0,
                first_line: 2
            }]
        );
    }

    fn plan_len(p: &Path) -> usize {
        plan(p, true, 2).unwrap().pieces.len()
    }
}
