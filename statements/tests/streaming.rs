//! The streaming parse (`stream::parse_reader`, the S3 import's) answers exactly what `parse_each`
//! answers on the same bytes, whatever they are and wherever the reads cut them; each row's byte
//! offset is the start of its line; and a file cut into byte ranges at those offsets parses, range
//! by range after the header's bytes, to the same rows.

mod common;

use std::io::Read;

use common::*;
use kenpo_statements::file::{Row, parse_each};
use kenpo_statements::stream::{Encoding, EncodingSniffer, parse_reader};
use kenpo_statements::{Report, StatementKind};
use proptest::prelude::*;

/// A reader that hands out `bytes` in pieces of the given sizes (cycled; 0 is read as 1).
struct Pieces<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes.get(self.next % self.sizes.len().max(1)).copied().unwrap_or(7).max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

type Answer = Result<(StatementKind, Report), Report>;

fn in_memory(bytes: &[u8]) -> (Vec<Row>, Answer) {
    let mut rows = Vec::new();
    let answer = parse_each(bytes, |row| rows.push(row));
    (rows, answer)
}

/// The encoding found over the pieces, then the streaming parse over the pieces.
fn streamed(bytes: &[u8], sizes: &[usize]) -> (Vec<(Row, u64)>, Answer) {
    let mut sniffer = EncodingSniffer::new();
    let mut at = 0;
    for size in sizes.iter().cycle().map(|s| (*s).max(1)) {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        sniffer.update(&bytes[at..end]);
        at = end;
    }
    let encoding = match sniffer.finish() {
        Ok(encoding) => encoding,
        Err(report) => return (Vec::new(), Err(report)),
    };
    assert_eq!(Ok(encoding), Encoding::of(bytes), "pieces or whole, the same encoding");
    let mut rows = Vec::new();
    let answer = parse_reader(Pieces { bytes, sizes: sizes.to_vec(), next: 0 }, encoding, |row, at| rows.push((row, at.offset)))
        .expect("reading a slice never fails");
    (rows, answer)
}

/// Line breaks as the parser counts them: LF, CRLF, lone CR.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    let mut line = 1;
    for (i, &b) in bytes[..offset].iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            line += 1;
        }
    }
    line
}

fn check_same(bytes: &[u8], sizes: &[usize]) -> Result<(), TestCaseError> {
    let (rows, answer) = in_memory(bytes);
    let (streamed_rows, streamed_answer) = streamed(bytes, sizes);
    prop_assert_eq!(&streamed_answer, &answer);
    prop_assert_eq!(streamed_rows.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(), rows);
    for (row, offset) in &streamed_rows {
        let offset = *offset as usize;
        prop_assert!(offset < bytes.len());
        prop_assert!(offset == 0 || matches!(bytes[offset - 1], b'\n' | b'\r'), "a row starts at a line start");
        prop_assert_eq!(line_of(bytes, offset), row.line, "the offset is of the row's line");
    }
    // Cut at some rows' offsets, each range after the header's bytes gives its rows again, with
    // the line numbers moved by the lines left out.
    if answer.is_ok() && !streamed_rows.is_empty() {
        let encoding = Encoding::of(bytes).expect("accepted");
        let answer_kind = answer.as_ref().ok().map(|(kind, _)| *kind);
        let header_end = streamed_rows[0].1 as usize;
        let cuts: Vec<usize> = streamed_rows.iter().enumerate().filter(|(i, _)| i % sizes.len().max(2) == 0).map(|(_, (_, o))| *o as usize).collect();
        let mut expected = streamed_rows.iter().map(|(r, _)| r.clone());
        for (i, &start) in cuts.iter().enumerate() {
            let end = cuts.get(i + 1).copied().unwrap_or(bytes.len());
            let mut part = bytes[..header_end].to_vec();
            part.extend_from_slice(&bytes[start..end]);
            let shift = line_of(bytes, start) - line_of(bytes, header_end);
            let mut got = Vec::new();
            let answer = parse_reader(part.as_slice(), encoding, |mut row, at| {
                assert_eq!(Some(at.kind), answer_kind);
                row.line += shift;
                got.push(row);
            })
            .expect("reading a slice never fails");
            prop_assert!(answer.is_ok(), "a range of an accepted file is accepted: {:?}", answer);
            for row in got {
                prop_assert_eq!(Some(row), expected.next());
            }
        }
        prop_assert_eq!(expected.next(), None, "every row in some range");
    }
    Ok(())
}

fn kind() -> impl Strategy<Value = StatementKind> {
    prop_oneof![Just(StatementKind::Medical), Just(StatementKind::Benefits)]
}

/// A row, valid or damaged in the ways files are (a quoted line break, a bad value, a repeated id).
fn a_row(kind: StatementKind) -> impl Strategy<Value = String> {
    (0u8..40, 0u8..12).prop_map(move |(id, damage)| {
        let id = format!("R{id}");
        let changes: Vec<(&str, &str)> = match damage {
            0 => vec![("person_name", "山田\n花子")],
            1 => vec![("days", "x"), ("amount", "0")],
            2 => vec![("remarks", "備考\r\nつづき"), ("institution_name", "\"やまだ\"")],
            3 => vec![("action", "D")],
            _ => vec![],
        };
        let mut changes: Vec<(&str, &str)> = changes;
        changes.push(("record_id", &id));
        row(kind, &changes)
    })
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Lf,
    CrLf,
    Cr,
}

#[derive(Debug, Clone, Copy)]
enum Enc {
    Utf8,
    Bom,
    Cp932,
}

/// A file as the society might write it: any line endings (mixed), blank lines and rows of empty
/// fields anywhere, UTF-8 with or without BOM or CP932, and now and then a damaged byte.
fn a_file() -> impl Strategy<Value = Vec<u8>> {
    kind().prop_flat_map(|k| {
        (
            proptest::collection::vec((a_row(k), prop_oneof![Just(Ending::Lf), Just(Ending::CrLf), Just(Ending::Cr)], 0u8..8), 0..14),
            prop_oneof![Just(Enc::Utf8), Just(Enc::Bom), Just(Enc::Cp932)],
            proptest::option::weighted(0.15, (any::<prop::sample::Index>(), prop_oneof![Just(0xFFu8), Just(0x80), Just(0xE3), Just(0x82), Just(b'"'), Just(b'\r')])),
            0u8..3,
        )
            .prop_map(move |(rows, enc, damage, lead)| {
                let mut text = String::new();
                for _ in 0..lead {
                    text.push_str(["\r\n", "\n", ",,\n"][lead as usize % 3]);
                }
                text.push_str(&kenpo_statements::file::header(k).join(","));
                text.push_str("\r\n");
                for (row, ending, extra) in rows {
                    text.push_str(&row);
                    text.push_str(match ending {
                        Ending::Lf => "\n",
                        Ending::CrLf => "\r\n",
                        Ending::Cr => "\r",
                    });
                    match extra {
                        0 => text.push_str("\r\n"),
                        1 => text.push_str(" , ,\n"),
                        _ => {}
                    }
                }
                let mut bytes = match enc {
                    Enc::Utf8 => text.into_bytes(),
                    Enc::Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
                    Enc::Cp932 => encoding_rs::SHIFT_JIS.encode(&text).0.into_owned(),
                };
                if let Some((at, byte)) = damage
                    && !bytes.is_empty()
                {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
                bytes
            })
    })
}

fn pieces() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        proptest::collection::vec(1usize..5, 1..8),
        proptest::collection::vec(1usize..200, 1..8),
        Just(vec![1]),
        Just(vec![1 << 20]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn streaming_gives_what_parse_gives_on_files(bytes in a_file(), sizes in pieces()) {
        check_same(&bytes, &sizes)?;
    }

    #[test]
    fn streaming_gives_what_parse_gives_on_any_bytes(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b','), Just(b'"'), Just(0xEFu8), Just(0xBB), Just(0xBF), Just(0x82), Just(0xA0), Just(b'a')], 0..64),
        ],
        sizes in pieces(),
    ) {
        check_same(&bytes, &sizes)?;
    }

    #[test]
    fn any_header_then_bytes(tail in proptest::collection::vec(any::<u8>(), 0..200), kind in kind(), sizes in pieces()) {
        let mut bytes = kenpo_statements::file::header(kind).join(",").into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&tail);
        check_same(&bytes, &sizes)?;
    }
}

#[test]
fn utf16_is_refused_as_parse_refuses_it() {
    let bytes = b"\xFF\xFEr\0e\0";
    check_same(bytes, &[1]).unwrap();
    assert!(Encoding::of(bytes).is_err());
}

#[test]
fn a_crlf_cut_between_its_two_bytes_is_one_line_break() {
    let text = file(StatementKind::Medical, &[medical(&[("record_id", "A1")]), medical(&[("record_id", "A2")])]).replace('\n', "\r\n");
    let bytes = text.as_bytes();
    let first_cr = bytes.iter().position(|&b| b == b'\r').unwrap();
    let (rows, answer) = streamed(bytes, &[first_cr + 1, 1, 3]);
    assert!(answer.is_ok());
    assert_eq!(rows.iter().map(|(r, _)| r.line).collect::<Vec<_>>(), vec![2, 3]);
    check_same(bytes, &[first_cr + 1, 1, 3]).unwrap();
}

#[test]
fn cp932_offsets_are_of_the_original_bytes() {
    let text = file(StatementKind::Medical, &[medical(&[("record_id", "A1")]), medical(&[("record_id", "A2")])]);
    let bytes = encoding_rs::SHIFT_JIS.encode(&text).0.into_owned();
    assert_eq!(Encoding::of(&bytes), Ok(Encoding::Cp932));
    let (rows, _) = streamed(&bytes, &[5]);
    let second = rows[1].1 as usize;
    let expected = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).map(|(i, _)| i + 1).unwrap();
    assert_eq!(second, expected, "the byte after the second LF of the CP932 bytes");
    check_same(&bytes, &[5]).unwrap();
}
