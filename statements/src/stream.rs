//! The society's files read as a stream (the S3 import: a 1,000,000-line file is never held in
//! memory), with exactly the answers of [`crate::file::parse_each`] on the same bytes.
//!
//! [`crate::file::decode`] chooses the encoding from the WHOLE file (UTF-8 when every byte is valid
//! UTF-8 or the file starts with a BOM, else CP932), which a single forward pass cannot know before
//! the end. So the encoding is found first, by [`EncodingSniffer`] (one pass that needs no memory;
//! the S3 import runs it with the SHA-256 it needs anyway), and [`parse_reader`] then decodes
//! incrementally with it (`encoding_rs`' streaming decoders: the same decoders `decode` uses).
//!
//! Physical line numbers are counted as `parse` counts them (CRLF, LF and a lone CR are each one
//! line break, also when a CRLF is split between two reads). Each row also comes with the byte
//! offset, in the original bytes, of the line it starts on: a file can be cut into byte ranges of
//! whole rows there (`header_end` is the first row's offset) and each range parsed on its own after
//! the header's bytes.
//!
//! Line breaks are the same bytes before and after decoding: CR and LF are never part of a CP932
//! or UTF-8 multi-byte sequence, and both decoders give an ASCII byte that breaks a malformed
//! sequence back as itself. So the original offset of a line is found by counting line breaks in
//! the original bytes as they are read.

use std::collections::VecDeque;
use std::io::{self, Read};

use encoding_rs::{Decoder, SHIFT_JIS, UTF_8};

use crate::file::{RecordSource, Row, check_records};
use crate::report::{Issue, Report, WHOLE_LINE};
use crate::types::StatementKind;

/// Where a row is: the kind of its file (known from the header, before any row) and the byte
/// offset, in the original bytes, of the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowAt {
    pub kind: StatementKind,
    pub offset: u64,
}

/// How a file's bytes are decoded (what [`crate::file::decode`] chooses for the whole file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Valid UTF-8 throughout, no BOM.
    Utf8,
    /// Starts with the UTF-8 BOM (dropped); anything invalid after it becomes U+FFFD.
    Utf8Bom,
    /// Not valid UTF-8: CP932 (Windows-31J; encoding_rs' Shift_JIS), Excel's 「CSV」.
    Cp932,
}

impl Encoding {
    /// The encoding of `bytes` as [`crate::file::decode`] chooses it, or the report refusing the
    /// file (UTF-16).
    pub fn of(bytes: &[u8]) -> Result<Encoding, Report> {
        let mut sniffer = EncodingSniffer::new();
        sniffer.update(bytes);
        sniffer.finish()
    }

    fn decoder(self) -> Decoder {
        match self {
            Encoding::Utf8 => UTF_8.new_decoder_without_bom_handling(),
            Encoding::Utf8Bom => UTF_8.new_decoder_with_bom_removal(),
            Encoding::Cp932 => SHIFT_JIS.new_decoder_without_bom_handling(),
        }
    }
}

const UTF16: &str = "UTF-16のファイルは読めません。Excelでは「CSV UTF-8（コンマ区切り）」または「CSV（コンマ区切り）」で保存してください。";

/// Finds a file's [`Encoding`] from its bytes fed in pieces of any size (no more memory than four
/// bytes whatever the file's size).
#[derive(Debug, Clone, Default)]
pub struct EncodingSniffer {
    /// The file's first bytes (up to 3: the BOM, UTF-16's byte order marks).
    head: Vec<u8>,
    /// No invalid UTF-8 seen so far.
    valid: bool,
    /// The start of a UTF-8 sequence that the last piece cut (at most 3 bytes).
    carry: Vec<u8>,
    /// A valid multi-byte UTF-8 character came before any invalid byte: the file is UTF-8 with a
    /// damaged byte, not CP932 (see `crate::file::decode`).
    multibyte: bool,
}

impl EncodingSniffer {
    pub fn new() -> Self {
        Self { head: Vec::with_capacity(3), valid: true, carry: Vec::with_capacity(4), multibyte: false }
    }

    /// The next bytes of the file.
    pub fn update(&mut self, mut bytes: &[u8]) {
        let take = (3 - self.head.len()).min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        if !self.valid {
            return;
        }
        // Complete a sequence the previous piece cut, one byte at a time.
        while !self.carry.is_empty() {
            let Some((&first, rest)) = bytes.split_first() else { return };
            self.carry.push(first);
            bytes = rest;
            match std::str::from_utf8(&self.carry) {
                Ok(_) => {
                    self.carry.clear();
                    self.multibyte = true;
                }
                Err(e) if e.error_len().is_some() => {
                    self.valid = false;
                    return;
                }
                Err(_) => {}
            }
        }
        let valid_up_to = match std::str::from_utf8(bytes) {
            Ok(_) => bytes.len(),
            Err(e) => {
                match e.error_len() {
                    Some(_) => self.valid = false,
                    None => self.carry.extend_from_slice(&bytes[e.valid_up_to()..]),
                }
                e.valid_up_to()
            }
        };
        self.multibyte |= !bytes[..valid_up_to].is_ascii();
    }

    /// The encoding, or the report refusing the file (UTF-16, as `parse` refuses it).
    pub fn finish(&self) -> Result<Encoding, Report> {
        if self.head.starts_with(&[0xFF, 0xFE]) || self.head.starts_with(&[0xFE, 0xFF]) {
            return Err(Report::refused(None, Issue::new(1, WHOLE_LINE, UTF16)));
        }
        Ok(if self.head == b"\xEF\xBB\xBF" {
            Encoding::Utf8Bom
        } else if (self.valid && self.carry.is_empty()) || self.multibyte {
            Encoding::Utf8
        } else {
            Encoding::Cp932
        })
    }
}

/// [`crate::file::parse_each`] over a reader: the file's bytes in `encoding` (from
/// [`EncodingSniffer`] or [`Encoding::of`] over the same bytes), read in pieces and never held
/// whole. `on_row` gets each good row in file order until the first wrong line, with the file's
/// kind and the byte offset (in `reader`'s bytes) of the line the row starts on ([`RowAt`]); the
/// checks go on to the end.
///
/// `Ok(Ok)`/`Ok(Err(report))`: exactly what `parse_each` answers for the same bytes (a test holds
/// them equal for any bytes cut at any places). `Err`: reading failed (the answer is unknown).
///
/// Memory: the reader's buffers (64 KiB of input, its decoded text, csv's 8 KiB) and the
/// `record_id`s seen (the check for duplicates), about 60 bytes a row.
pub fn parse_reader<R: Read>(
    reader: R,
    encoding: Encoding,
    on_row: impl FnMut(Row, RowAt),
) -> io::Result<Result<(StatementKind, Report), Report>> {
    check_records(Decoding::new(reader, encoding), on_row)
}

/// Bytes read from the underlying reader at a time.
const READ_SIZE: usize = 64 * 1024;

/// Line breaks counted as `parse` counts them, fed one byte at a time: `\n`, and `\r` when the
/// next byte is not `\n` (decided when that byte comes, or at the end); and where non-empty
/// lines start.
#[derive(Debug)]
struct BreakCounter {
    /// The line the next byte is on (1-based).
    line: u64,
    /// The last byte was `\r`.
    pending_cr: bool,
    /// The next byte starts a line.
    at_line_start: bool,
}

impl BreakCounter {
    fn new() -> Self {
        Self { line: 1, pending_cr: false, at_line_start: true }
    }

    /// The byte at the current position: `Some(line)` when it starts a non-empty line.
    #[inline]
    fn push(&mut self, b: u8) -> Option<u64> {
        if self.pending_cr {
            self.pending_cr = false;
            self.line += 1;
            self.at_line_start = true;
            if b == b'\n' {
                // CRLF: one break, counted; the `\n` belongs to it.
                return None;
            }
        }
        match b {
            b'\r' => {
                self.pending_cr = true;
                self.at_line_start = false;
                None
            }
            b'\n' => {
                self.line += 1;
                self.at_line_start = true;
                None
            }
            _ => {
                let starts = self.at_line_start.then_some(self.line);
                self.at_line_start = false;
                starts
            }
        }
    }

    /// The end of the bytes: a last lone `\r` is a break.
    fn finish(&mut self) {
        if self.pending_cr {
            self.pending_cr = false;
            self.line += 1;
            self.at_line_start = true;
        }
    }
}

/// The decoding reader csv reads from, keeping the two line tables `record_at` needs.
struct Decoding<R> {
    inner: R,
    decoder: Decoder,
    input: Vec<u8>,
    /// Decoded text not yet given to csv: `output[given..]`.
    output: Vec<u8>,
    given: usize,
    /// The underlying reader is at its end and the decoder flushed.
    done: bool,
    /// Original bytes read so far.
    read_total: u64,
    /// Decoded bytes produced so far (the offset of `output[0]` is `decoded_total - output.len()`).
    decoded_total: u64,
    /// Original bytes: line breaks, and where each non-empty line starts (line, offset), from the
    /// lines not yet asked for to the read position.
    raw_breaks: BreakCounter,
    raw_starts: VecDeque<(u64, u64)>,
    /// Decoded text: line breaks, and where each non-empty line starts (decoded offset, line).
    text_breaks: BreakCounter,
    text_lines: VecDeque<(u64, u64)>,
}

impl<R: Read> Decoding<R> {
    fn new(inner: R, encoding: Encoding) -> Self {
        Self {
            inner,
            decoder: encoding.decoder(),
            input: vec![0; READ_SIZE],
            output: Vec::new(),
            given: 0,
            done: false,
            read_total: 0,
            decoded_total: 0,
            raw_breaks: BreakCounter::new(),
            raw_starts: VecDeque::new(),
            text_breaks: BreakCounter::new(),
            text_lines: VecDeque::new(),
        }
    }

    /// Reads and decodes the next piece into `output` (empty when the end is reached).
    fn fill(&mut self) -> io::Result<()> {
        let n = loop {
            match self.inner.read(&mut self.input) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let last = n == 0;
        // Where the original bytes' non-empty lines start.
        let base = self.read_total;
        for (i, &b) in self.input[..n].iter().enumerate() {
            if let Some(line) = self.raw_breaks.push(b) {
                self.raw_starts.push_back((line, base + i as u64));
            }
        }
        self.read_total += n as u64;
        if last {
            self.raw_breaks.finish();
        }

        // Decode the piece.
        self.output.clear();
        self.given = 0;
        let mut src = &self.input[..n];
        loop {
            let needed = self.decoder.max_utf8_buffer_length(src.len()).unwrap_or(src.len() * 3 + 16);
            let start = self.output.len();
            self.output.resize(start + needed.max(16), 0);
            let (result, read, written, _) = self.decoder.decode_to_utf8(src, &mut self.output[start..], last);
            self.output.truncate(start + written);
            src = &src[read..];
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        // The decoded text's non-empty lines.
        let base = self.decoded_total;
        for (i, &b) in self.output.iter().enumerate() {
            if let Some(line) = self.text_breaks.push(b) {
                self.text_lines.push_back((base + i as u64, line));
            }
        }
        self.decoded_total += self.output.len() as u64;
        if last {
            self.text_breaks.finish();
            self.done = true;
        }
        Ok(())
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.given < self.output.len() {
                let n = (self.output.len() - self.given).min(buf.len());
                buf[..n].copy_from_slice(&self.output[self.given..self.given + n]);
                self.given += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
    }
}

impl<R: Read> RecordSource for Decoding<R> {
    fn record_at(&mut self, offset: u64) -> (u64, u64) {
        while self.text_lines.front().is_some_and(|&(at, _)| at < offset) {
            self.text_lines.pop_front();
        }
        // csv has read the record, so its first (non-empty) line is in the table.
        let line = self.text_lines.front().map_or(self.text_breaks.line, |&(_, line)| line);
        while self.raw_starts.front().is_some_and(|&(l, _)| l < line) {
            self.raw_starts.pop_front();
        }
        let start = self.raw_starts.front().map_or(self.read_total, |&(_, at)| at);
        (line, start)
    }

    fn line_at_end(&mut self) -> u64 {
        // Whatever csv did not read is still text of the file: count its line breaks too.
        while !self.done {
            if self.fill().is_err() {
                break;
            }
        }
        self.text_breaks.line
    }
}
