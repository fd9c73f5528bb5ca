//! Cutting one large line-oriented export (a month of Dify rows) into pieces that every core can
//! parse at once.
//!
//! A piece starts at a record boundary: for JSONL any line start, for CSV a line start outside
//! quotes (a newline is a boundary when the number of `"` before it is even; RFC 4180's doubled
//! quotes keep the parity). One sequential pass finds the boundaries and counts lines, so every
//! piece knows the file line its first record is on and rejected rows keep their `file:line`.

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
pub fn plan(path: &Path, csv: bool, parts: usize) -> io::Result<Plan> {
    let mut f = File::open(path)?;
    let total = f.metadata()?.len();
    let mut buf = vec![0u8; BLOCK];
    let mut pos: u64 = 0; // file offset of buf[0]
    let mut line: u64 = 1; // line number at the current position
    let mut in_quotes = false;
    let mut header = Vec::new();
    let mut data_start: Option<(u64, u64)> = if csv { None } else { Some((0, 1)) };
    let mut bom_checked = false;
    // Boundaries chosen so far: (offset, line).
    let mut cuts: Vec<(u64, u64)> = Vec::new();
    let next_target = |k: usize| total * k as u64 / parts.max(1) as u64;
    let mut k = 1;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut block = &buf[..n];
        let mut skip = 0usize;
        if !bom_checked {
            bom_checked = true;
            if block.starts_with(crate::source::util::BOM) {
                skip = 3;
                block = &block[3..];
                if !csv {
                    data_start = Some((3, 1));
                }
            }
        }
        let base = pos + skip as u64;
        let needles: &[u8] = if csv { b"\"\n" } else { b"\n" };
        let mut last = 0usize;
        for i in memchr::memchr2_iter(needles[0], *needles.last().unwrap_or(&b'\n'), block) {
            if block[i] == b'"' && csv {
                in_quotes = !in_quotes;
                continue;
            }
            // A newline.
            line += 1;
            if in_quotes {
                continue;
            }
            let boundary = base + i as u64 + 1;
            match data_start {
                None => {
                    // The first boundary of a CSV ends its header.
                    header.extend_from_slice(&block[last..=i]);
                    data_start = Some((boundary, line));
                }
                Some(_) => {
                    if k < parts && boundary >= next_target(k) && boundary < total {
                        cuts.push((boundary, line));
                        k += 1;
                    }
                }
            }
            last = i + 1;
        }
        if data_start.is_none() {
            header.extend_from_slice(&block[last..]);
        }
        pos += n as u64;
    }
    let Some((start0, line0)) = data_start else {
        // Header only (or empty): one empty piece.
        return Ok(Plan {
            header,
            pieces: vec![Piece {
                start: total,
                len: 0,
                first_line: line,
            }],
        });
    };
    let mut starts = vec![(start0, line0)];
    starts.extend(cuts.into_iter().filter(|&(o, _)| o > start0));
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

    fn plan_len(p: &Path) -> usize {
        plan(p, true, 2).unwrap().pieces.len()
    }
}
