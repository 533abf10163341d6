//! The society's statement files (DESIGN.md Part 2, "Data the society loads"): CSV (RFC 4180,
//! CRLF or LF) in UTF-8 with or without BOM, or CP932 (Excel's 「CSV」).
//!
//! The kind of file is told by its header row; columns are matched by header name (any case, any
//! order). Every column of the kind's table is required (the tables mark none optional; "may be
//! empty" is about values, and an absent `hidden` column must not show lines the society hides);
//! a missing or unknown column refuses the file and the report names it. Columns with an empty
//! header (Excel's trailing commas) are ignored as long as they hold no values.
//!
//! The whole file is checked: every wrong line is reported with its physical line number (1-based;
//! CRLF, LF and a lone CR are each one line break; a row whose quoted field spans lines is named by
//! its first line) and its column, never its value. Empty lines and rows of empty fields are
//! skipped wherever they are. Fields are trimmed. `D` rows need only `record_id`, `action` and
//! `member_id`; their other columns are not read.
//!
//! Rules that need the stored records (unknown `record_id`, …) are [`crate::import`]'s.

use std::borrow::Cow;
use std::collections::HashMap;

use csv::{ReaderBuilder, StringRecord, Trim};
use kenpo_shared::domain::{FieldError, MemberId};

use crate::records::{Benefit, MedicalLine};
use crate::report::{Issue, Report, WHOLE_LINE};
use crate::types::{
    Action, BenefitCode, Category, PaymentMethod, PersonNo, RecordId, Relation, ServiceMonth, StatementKind, Yen,
    field_error, nfkc_trim, parse_date,
};

/// A file that passed every check of its own (the stored state is [`crate::import::plan`]'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    pub kind: StatementKind,
    /// The data rows in file order.
    pub rows: Vec<Row>,
    /// The warnings found (amounts that do not add up); `errors` is empty.
    pub report: Report,
}

impl ParsedFile {
    /// The `record_id`s the plan needs the stored state of.
    pub fn record_ids(&self) -> impl Iterator<Item = &RecordId> {
        self.rows.iter().map(|r| &r.record_id)
    }
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Physical line number the row starts on (1-based).
    pub line: u64,
    pub action: Action,
    pub record_id: RecordId,
    pub member_id: MemberId,
    pub body: RowBody,
}

/// What an `N` or `C` row carries; a `D` row carries nothing more than its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowBody {
    Medical(MedicalLine),
    Benefit(Benefit),
    Cancellation,
}

/// Every column either file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Col {
    RecordId,
    Action,
    MemberId,
    PersonNo,
    PersonName,
    Relation,
    ServiceMonth,
    Category,
    Days,
    InstitutionName,
    TotalCost,
    InsurerPaid,
    PublicPaid,
    SelfPay,
    Hidden,
    PublishOn,
    BenefitCode,
    BenefitName,
    PeriodFrom,
    PeriodTo,
    BasisAmount,
    Amount,
    DecidedOn,
    PaidOn,
    PaymentMethod,
    Remarks,
}

const COLUMN_COUNT: usize = 26;

impl Col {
    const ALL: [Col; COLUMN_COUNT] = [
        Col::RecordId,
        Col::Action,
        Col::MemberId,
        Col::PersonNo,
        Col::PersonName,
        Col::Relation,
        Col::ServiceMonth,
        Col::Category,
        Col::Days,
        Col::InstitutionName,
        Col::TotalCost,
        Col::InsurerPaid,
        Col::PublicPaid,
        Col::SelfPay,
        Col::Hidden,
        Col::PublishOn,
        Col::BenefitCode,
        Col::BenefitName,
        Col::PeriodFrom,
        Col::PeriodTo,
        Col::BasisAmount,
        Col::Amount,
        Col::DecidedOn,
        Col::PaidOn,
        Col::PaymentMethod,
        Col::Remarks,
    ];

    /// The header name (DESIGN.md's tables).
    fn name(self) -> &'static str {
        match self {
            Col::RecordId => "record_id",
            Col::Action => "action",
            Col::MemberId => "member_id",
            Col::PersonNo => "person_no",
            Col::PersonName => "person_name",
            Col::Relation => "relation",
            Col::ServiceMonth => "service_month",
            Col::Category => "category",
            Col::Days => "days",
            Col::InstitutionName => "institution_name",
            Col::TotalCost => "total_cost",
            Col::InsurerPaid => "insurer_paid",
            Col::PublicPaid => "public_paid",
            Col::SelfPay => "self_pay",
            Col::Hidden => "hidden",
            Col::PublishOn => "publish_on",
            Col::BenefitCode => "benefit_code",
            Col::BenefitName => "benefit_name",
            Col::PeriodFrom => "period_from",
            Col::PeriodTo => "period_to",
            Col::BasisAmount => "basis_amount",
            Col::Amount => "amount",
            Col::DecidedOn => "decided_on",
            Col::PaidOn => "paid_on",
            Col::PaymentMethod => "payment_method",
            Col::Remarks => "remarks",
        }
    }

    fn from_name(name: &str) -> Option<Col> {
        Col::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

const MEDICAL_COLUMNS: [Col; 16] = [
    Col::RecordId,
    Col::Action,
    Col::MemberId,
    Col::PersonNo,
    Col::PersonName,
    Col::Relation,
    Col::ServiceMonth,
    Col::Category,
    Col::Days,
    Col::InstitutionName,
    Col::TotalCost,
    Col::InsurerPaid,
    Col::PublicPaid,
    Col::SelfPay,
    Col::Hidden,
    Col::PublishOn,
];

const BENEFIT_COLUMNS: [Col; 20] = [
    Col::RecordId,
    Col::Action,
    Col::MemberId,
    Col::PersonNo,
    Col::PersonName,
    Col::Relation,
    Col::BenefitCode,
    Col::BenefitName,
    Col::ServiceMonth,
    Col::PeriodFrom,
    Col::PeriodTo,
    Col::InstitutionName,
    Col::BasisAmount,
    Col::Amount,
    Col::DecidedOn,
    Col::PaidOn,
    Col::PaymentMethod,
    Col::Remarks,
    Col::Hidden,
    Col::PublishOn,
];

fn columns(kind: StatementKind) -> &'static [Col] {
    match kind {
        StatementKind::Medical => &MEDICAL_COLUMNS,
        StatementKind::Benefits => &BENEFIT_COLUMNS,
    }
}

/// The header names of a kind of file, in the order of DESIGN.md's table (for templates, the
/// dev server's seed and tests; a file may order them as it likes).
pub fn header(kind: StatementKind) -> Vec<&'static str> {
    columns(kind).iter().map(|c| c.name()).collect()
}

/// Columns only one kind has: the header row tells the kind by them.
fn kind_only(kind: StatementKind) -> impl Iterator<Item = Col> {
    let other = match kind {
        StatementKind::Medical => StatementKind::Benefits,
        StatementKind::Benefits => StatementKind::Medical,
    };
    columns(kind).iter().copied().filter(move |c| !columns(other).contains(c))
}

const GARBLED: &str =
    "読めない文字（文字化け）が含まれています。ファイルをUTF-8またはShift_JIS（CP932）で保存してください。";

/// The text of a file: UTF-8 (a BOM is dropped) when it is valid UTF-8, starts with a BOM, or has
/// a valid multi-byte UTF-8 character before its first invalid byte (a UTF-8 file with a damaged
/// byte: CP932 text is never valid UTF-8 at its first non-ASCII character); else CP932
/// (encoding_rs' Shift_JIS is Windows-31J). Undecodable bytes become U+FFFD, which the checks
/// refuse where they land, so the report names the line and column of the damage. UTF-16
/// (Excel's 「Unicode テキスト」) is refused.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, &'static str> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(
            "UTF-16のファイルは読めません。Excelでは「CSV UTF-8（コンマ区切り）」または「CSV（コンマ区切り）」で保存してください。",
        );
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(String::from_utf8_lossy(rest));
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(e) if !bytes[..e.valid_up_to()].is_ascii() => String::from_utf8_lossy(bytes),
        Err(_) => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0,
    })
}

/// Physical line numbers of byte offsets, asked in increasing order.
struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self { text: text.as_bytes(), pos: 0, line: 1 }
    }

    /// The line of the record that csv says starts at `offset`. CRLF, LF and a lone CR each end a
    /// line. csv places a record after the terminator it has consumed: that is the `\n` of a CRLF,
    /// or the first of the empty lines it skipped, so the line breaks there are stepped over (a
    /// record never starts with a line break: a quoted one starts with `"`).
    fn line_at(&mut self, offset: usize) -> u64 {
        let mut end = offset.min(self.text.len());
        while matches!(self.text.get(end), Some(b'\r' | b'\n')) {
            end += 1;
        }
        while self.pos < end {
            match self.text[self.pos] {
                b'\n' => self.line += 1,
                b'\r' if self.text.get(self.pos + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.line
    }
}

/// A column's name as the report may show it: the header as written when it looks like a column
/// name (`snake_case`: a lower-case letter, then lower-case letters, digits or `_`, at most 40),
/// else its position. A header cell could hold anything, even personal data (an address, a name, a
/// data row glued to the header), and the report must never repeat a value from the file.
fn column_label(raw: &str, position: usize) -> String {
    let mut bytes = raw.bytes();
    let named = raw.len() <= 40
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if named { raw.to_owned() } else { format!("{}列目", position + 1) }
}

/// Parses and checks a whole file: every row, or a report naming every wrong line.
pub fn parse(bytes: &[u8]) -> Result<ParsedFile, Report> {
    let mut rows = Vec::new();
    let (kind, report) = parse_each(bytes, |row| rows.push(row))?;
    Ok(ParsedFile { kind, rows, report })
}

/// The streaming form of [`parse`] (one pass, for files too large to hold as rows): `on_row` gets
/// each good row in file order until the first wrong line; the checks go on to the end. On `Err`
/// the file is refused and whatever `on_row` got must be dropped. (For a file that is not in
/// memory, `crate::stream::parse_reader` does the same over any `std::io::Read`.)
pub fn parse_each(bytes: &[u8], mut on_row: impl FnMut(Row)) -> Result<(StatementKind, Report), Report> {
    let text = decode(bytes).map_err(|message| Report::refused(None, Issue::new(1, WHOLE_LINE, message)))?;
    let source = TextSource { text: text.as_bytes(), read: 0, lines: LineCounter::new(&text) };
    // A slice never fails to read: an I/O error here is impossible, and refused like bad CSV.
    check_records(source, |row, _| on_row(row))
        .unwrap_or_else(|_| Err(Report::refused(None, Issue::new(1, WHOLE_LINE, "CSVとして読めません。"))))
}

/// Where the records csv reads are in the file: the text csv reads (decoded UTF-8) and, for each
/// record, its physical line and the byte offset of that line in the original file.
pub(crate) trait RecordSource: std::io::Read {
    /// The physical line (1-based) and the original file's byte offset of the start of that line,
    /// of the record that csv says starts at `offset` of the decoded text (asked in increasing
    /// order; csv places a record after the terminator it consumed, so the line breaks there are
    /// stepped over: the record's line is the first non-empty line at or after `offset`).
    fn record_at(&mut self, offset: u64) -> (u64, u64);
    /// The line after the last line break of the whole text (for a CSV error: the end).
    fn line_at_end(&mut self) -> u64;
}

/// A decoded text in memory as a `RecordSource` (`parse_each`, which needs no offsets: it gets
/// the record's offset in the decoded text).
struct TextSource<'a> {
    text: &'a [u8],
    read: usize,
    lines: LineCounter<'a>,
}

impl std::io::Read for TextSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.text[self.read..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.read += n;
        Ok(n)
    }
}

impl RecordSource for TextSource<'_> {
    fn record_at(&mut self, offset: u64) -> (u64, u64) {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        (self.lines.line_at(offset), offset as u64)
    }

    fn line_at_end(&mut self) -> u64 {
        self.lines.line_at(self.text.len())
    }
}

/// The checks of every record `source` holds (the header, then each data row), shared by
/// [`parse_each`] and the streaming `crate::stream::parse_reader`. `on_row` gets each good row and
/// where it is: the file's kind and the original file's byte offset of the row's first line.
/// `Err` only when reading `source` failed.
pub(crate) fn check_records<S: RecordSource>(
    source: S,
    mut on_row: impl FnMut(Row, crate::stream::RowAt),
) -> std::io::Result<Result<(StatementKind, Report), Report>> {
    let mut reader = ReaderBuilder::new().has_headers(false).flexible(true).trim(Trim::None).from_reader(source);
    let mut record = StringRecord::new();

    // The header: the first row with anything in it.
    let header_line = loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                // Asked for every record, even one skipped, so a stream forgets the lines passed.
                let (line, _) = reader.get_mut().record_at(record.position().map_or(0, |p| p.byte()));
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                break line;
            }
            Ok(false) => {
                return Ok(Err(Report::refused(
                    None,
                    Issue::new(
                        1,
                        WHOLE_LINE,
                        "ファイルが空です。見出し行とデータ行のあるCSVファイルを指定してください。",
                    ),
                )));
            }
            Err(e) => {
                io_error(e)?;
                return Ok(Err(Report::refused(None, Issue::new(1, WHOLE_LINE, "CSVとして読めません。"))));
            }
        }
    };
    let header = match Header::read(&record, header_line) {
        Ok(header) => header,
        Err(report) => return Ok(Err(report)),
    };
    let kind = header.kind;

    let mut report = Report::new(Some(kind));
    let mut first_line_of: HashMap<RecordId, u64> = HashMap::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                io_error(e)?;
                let line = reader.get_mut().line_at_end();
                report.error(Issue::new(line, WHOLE_LINE, "CSVとして読めません。"));
                break;
            }
        }
        let (line, offset) = reader.get_mut().record_at(record.position().map_or(0, |p| p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut check = RowCheck { line, record: &record, header: &header, errors: Vec::new(), warnings: Vec::new() };
        let row = check.row(&mut first_line_of);
        let RowCheck { mut errors, mut warnings, .. } = check;
        errors.sort_by_key(|(position, _)| *position);
        warnings.sort_by_key(|(position, _)| *position);
        for (_, issue) in warnings {
            report.warning(issue);
        }
        for (_, issue) in errors {
            report.error(issue);
        }
        if let Some(row) = row
            && !report.is_refused()
        {
            on_row(row, crate::stream::RowAt { kind, offset });
        }
    }
    Ok(if report.is_refused() { Err(report) } else { Ok((kind, report)) })
}

/// `Err` for a csv error that is a failed read of the source (the caller stops), `Ok` for one
/// about the text (the caller reports it).
fn io_error(e: csv::Error) -> std::io::Result<()> {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Err(e),
        _ => Ok(()),
    }
}

/// The header row, understood.
struct Header {
    kind: StatementKind,
    /// Position in the row of each column (indexed by `Col::index`).
    position: [Option<usize>; COLUMN_COUNT],
    /// Positions whose header is empty (their values must be empty too).
    unnamed: Vec<usize>,
    /// Fields in the header row.
    width: usize,
    /// Fields a row needs: up to the last named column (Excel's trailing empty columns may be
    /// missing from a row, or extra ones present, as long as they hold nothing).
    needed: usize,
}

impl Header {
    fn read(record: &StringRecord, line: u64) -> Result<Self, Report> {
        let raw: Vec<&str> = record.iter().map(|h| h.trim().trim_start_matches('\u{feff}').trim()).collect();
        let names: Vec<String> = raw.iter().map(|h| h.to_ascii_lowercase()).collect();
        let count = |kind| names.iter().filter(|n| kind_only(kind).any(|c| c.name() == n.as_str())).count();
        let kind = match count(StatementKind::Medical).cmp(&count(StatementKind::Benefits)) {
            std::cmp::Ordering::Greater => StatementKind::Medical,
            std::cmp::Ordering::Less => StatementKind::Benefits,
            std::cmp::Ordering::Equal => {
                let message = if raw.iter().any(|h| h.contains('\u{FFFD}')) {
                    "文字コードを判別できません。UTF-8（BOMの有無は問いません）またはShift_JIS（CP932）で保存してください。"
                } else if raw.len() == 1 && raw[0].contains('\t') {
                    "タブ区切りのファイルは読めません。CSV（カンマ区切り）で保存してください。"
                } else {
                    "見出し行から医療費のファイルか給付金のファイルかを判別できません。1行目に列名（record_id,action,member_id,…）の見出し行を置いてください。"
                };
                return Err(Report::refused(None, Issue::new(line, WHOLE_LINE, message)));
            }
        };
        let mut report = Report::new(Some(kind));
        let mut position = [None; COLUMN_COUNT];
        let mut unnamed = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                unnamed.push(i);
                continue;
            }
            match Col::from_name(name).filter(|c| columns(kind).contains(c)) {
                Some(col) if position[col.index()].is_some() => {
                    report.error(Issue::new(line, column_label(raw[i], i), "同じ名前の列が2つあります。"));
                }
                Some(col) => position[col.index()] = Some(i),
                None => report.error(Issue::new(
                    line,
                    column_label(raw[i], i),
                    format!("{}のファイルにない列です（列名の誤りか、別の種類のファイルの列です）。", kind.label()),
                )),
            }
        }
        for col in columns(kind) {
            if position[col.index()].is_none() {
                report.error(Issue::new(
                    line,
                    col.name(),
                    format!("必須の列がありません（{}のファイル）。", kind.label()),
                ));
            }
        }
        if report.is_refused() {
            return Err(report);
        }
        let needed = names.iter().rposition(|n| !n.is_empty()).map_or(0, |last| last + 1);
        Ok(Self { kind, position, unnamed, width: names.len(), needed })
    }
}

/// The checks of one data row: errors and warnings with the position of their column (to report
/// them in the order of the file's columns).
struct RowCheck<'r> {
    line: u64,
    record: &'r StringRecord,
    header: &'r Header,
    errors: Vec<(usize, Issue)>,
    warnings: Vec<(usize, Issue)>,
}

type Parser<'p, T> = &'p dyn Fn(&str) -> Result<T, FieldError>;

impl<'r> RowCheck<'r> {
    fn position(&self, col: Col) -> usize {
        self.header.position[col.index()].unwrap_or(usize::MAX)
    }

    fn raw(&self, col: Col) -> &'r str {
        self.header.position[col.index()].and_then(|i| self.record.get(i)).unwrap_or("").trim()
    }

    fn error(&mut self, col: Col, message: impl Into<String>) {
        let issue = Issue::new(self.line, col.name(), message);
        self.errors.push((self.position(col), issue));
    }

    fn warning(&mut self, col: Col, message: impl Into<String>) {
        let issue = Issue::new(self.line, col.name(), message);
        self.warnings.push((self.position(col), issue));
    }

    /// The column's value parsed, or `None` after recording why not.
    fn take<T>(&mut self, col: Col, parse: Parser<'_, T>) -> Option<T> {
        let raw = self.raw(col);
        if raw.contains('\u{FFFD}') {
            self.error(col, GARBLED);
            return None;
        }
        match parse(raw) {
            Ok(value) => Some(value),
            Err(e) => {
                self.error(col, e.message);
                None
            }
        }
    }

    fn row(&mut self, first_line_of: &mut HashMap<RecordId, u64>) -> Option<Row> {
        let width = self.header.width;
        let extra_values = self.record.iter().skip(width).any(|f| !f.trim().is_empty());
        if self.record.len() < self.header.needed || extra_values {
            let message = format!(
                "列の数が見出し行と違います（見出し{}列、この行{}列）。値の中のカンマや改行は「\"」で囲んでください。",
                width,
                self.record.len()
            );
            self.errors.push((0, Issue::new(self.line, WHOLE_LINE, message)));
            return None;
        }
        for &i in &self.header.unnamed {
            if self.record.get(i).is_some_and(|f| !f.trim().is_empty()) {
                self.errors
                    .push((i, Issue::new(self.line, format!("{}列目", i + 1), "見出しのない列に値があります。")));
            }
        }

        let action = self.take(Col::Action, &Action::parse);
        let record_id = self.take(Col::RecordId, &RecordId::parse);
        let member_id = self.take(Col::MemberId, &parse_member_id);
        if let Some(id) = &record_id {
            match first_line_of.get(id) {
                Some(first) => {
                    let message = format!(
                        "同じ record_id が{first}行目にもあります（1つのファイルの中で record_id は重複できません）。"
                    );
                    self.error(Col::RecordId, message);
                }
                None => {
                    first_line_of.insert(id.clone(), self.line);
                }
            }
        }
        let body = match (action?, self.header.kind) {
            (Action::Cancellation, _) => Some(RowBody::Cancellation),
            (_, StatementKind::Medical) => self.medical(record_id.clone(), member_id.clone()).map(RowBody::Medical),
            (_, StatementKind::Benefits) => self.benefit(record_id.clone(), member_id.clone()).map(RowBody::Benefit),
        };
        Some(Row { line: self.line, action: action?, record_id: record_id?, member_id: member_id?, body: body? })
    }

    fn person(&mut self) -> (Option<PersonNo>, Option<String>, Option<Relation>) {
        let person_no = self.take(Col::PersonNo, &PersonNo::parse);
        let person_name = self.take(Col::PersonName, &|s| text(s, 40, "受診者氏名（person_name）", false));
        let relation = self.take(Col::Relation, &Relation::parse);
        if let (Some(no), Some(relation)) = (person_no, relation)
            && no.is_insured() != (relation == Relation::Insured)
        {
            self.error(Col::Relation, "続柄と枝番が合いません（本人は枝番00、家族は01以降です）。");
        }
        (person_no, person_name, relation)
    }

    fn medical(&mut self, record_id: Option<RecordId>, member_id: Option<MemberId>) -> Option<MedicalLine> {
        let (person_no, person_name, relation) = self.person();
        let service_month = self.take(Col::ServiceMonth, &ServiceMonth::parse);
        let category = self.take(Col::Category, &Category::parse);
        let days = self.take(Col::Days, &parse_days);
        let institution_name =
            self.take(Col::InstitutionName, &|s| optional_text(s, 80, "医療機関等名称（institution_name）", false));
        let total_cost = self.take(Col::TotalCost, &Yen::parse);
        let insurer_paid = self.take(Col::InsurerPaid, &Yen::parse);
        let public_paid = self.take(Col::PublicPaid, &|s| Ok(optional(s, Yen::parse)?.unwrap_or_default()));
        let self_pay = self.take(Col::SelfPay, &Yen::parse);
        let hidden = self.take(Col::Hidden, &parse_hidden);
        let publish_on = self.take(Col::PublishOn, &parse_date);
        let line = MedicalLine {
            record_id: record_id?,
            member_id: member_id?,
            person_no: person_no?,
            person_name: person_name?,
            relation: relation?,
            service_month: service_month?,
            category: category?,
            days: days?,
            institution_name: institution_name?,
            total_cost: total_cost?,
            insurer_paid: insurer_paid?,
            public_paid: public_paid?,
            self_pay: self_pay?,
            hidden: hidden?,
            publish_on: publish_on?,
        };
        if !line.adds_up() {
            self.warning(
                Col::TotalCost,
                "医療費総額（total_cost）が保険者負担額・公費負担額・自己負担額の合計と一致しません（この行は取り込みます）。",
            );
        }
        if line.service_month.first_day() > line.publish_on {
            self.warning(
                Col::ServiceMonth,
                "診療年月（service_month）が掲載日（publish_on）より後です。年月の誤りがないか確認してください（この行は取り込みます）。",
            );
        }
        Some(line)
    }

    fn benefit(&mut self, record_id: Option<RecordId>, member_id: Option<MemberId>) -> Option<Benefit> {
        let (person_no, person_name, relation) = self.person();
        let code = self.take(Col::BenefitCode, &BenefitCode::parse);
        let name = self.take(Col::BenefitName, &|s| text(s, 40, "給付の名称（benefit_name）", false));
        let service_month = self.take(Col::ServiceMonth, &|s| optional(s, ServiceMonth::parse));
        let period_from = self.take(Col::PeriodFrom, &|s| optional(s, parse_date));
        let period_to = self.take(Col::PeriodTo, &|s| optional(s, parse_date));
        match (period_from, period_to) {
            (Some(Some(from)), Some(Some(to))) if from > to => {
                self.error(Col::PeriodTo, "支給対象期間の終了日（period_to）が開始日（period_from）より前です。");
            }
            (Some(Some(_)), Some(None)) => self
                .error(Col::PeriodTo, "支給対象期間は開始日と終了日の両方を入力してください（どちらも空欄でも可）。"),
            (Some(None), Some(Some(_))) => self
                .error(Col::PeriodFrom, "支給対象期間は開始日と終了日の両方を入力してください（どちらも空欄でも可）。"),
            _ => {}
        }
        let institution_name =
            self.take(Col::InstitutionName, &|s| optional_text(s, 80, "医療機関等名称（institution_name）", false));
        let basis_amount = self.take(Col::BasisAmount, &|s| optional(s, Yen::parse));
        let amount = self.take(Col::Amount, &|s| {
            let amount = Yen::parse(s)?;
            if amount == Yen(0) {
                Err(field_error("zero", "支給額（amount）は1円以上で入力してください。"))
            } else {
                Ok(amount)
            }
        });
        let decided_on = self.take(Col::DecidedOn, &parse_date);
        let paid_on = self.take(Col::PaidOn, &|s| optional(s, parse_date));
        let payment_method = self.take(Col::PaymentMethod, &PaymentMethod::parse);
        let remarks = self.take(Col::Remarks, &|s| optional_text(s, 200, "備考（remarks）", true));
        let hidden = self.take(Col::Hidden, &parse_hidden);
        let publish_on = self.take(Col::PublishOn, &parse_date);
        if let (Some(decided), Some(Some(paid))) = (decided_on, paid_on)
            && paid < decided
        {
            self.warning(Col::PaidOn, "支払日（paid_on）が支給決定日（decided_on）より前です。日付の誤りがないか確認してください（この行は取り込みます）。");
        }
        if let (Some(decided), Some(publish)) = (decided_on, publish_on)
            && decided > publish
        {
            self.warning(Col::DecidedOn, "支給決定日（decided_on）が掲載日（publish_on）より後です。日付の誤りがないか確認してください（この行は取り込みます）。");
        }
        Some(Benefit {
            record_id: record_id?,
            member_id: member_id?,
            person_no: person_no?,
            person_name: person_name?,
            relation: relation?,
            code: code?,
            name: name?,
            service_month: service_month?,
            period_from: period_from?,
            period_to: period_to?,
            institution_name: institution_name?,
            basis_amount: basis_amount?,
            amount: amount?,
            decided_on: decided_on?,
            paid_on: paid_on?,
            payment_method: payment_method?,
            remarks: remarks?,
            hidden: hidden?,
            publish_on: publish_on?,
        })
    }
}

/// Empty means absent; anything else must parse.
fn optional<T>(s: &str, parse: impl Fn(&str) -> Result<T, FieldError>) -> Result<Option<T>, FieldError> {
    if s.trim().is_empty() { Ok(None) } else { parse(s).map(Some) }
}

/// The member id as the members file and the portal write it (no normalisation: it is a key).
fn parse_member_id(s: &str) -> Result<MemberId, FieldError> {
    if s.is_empty() {
        return Err(field_error("required", "member_id を入力してください。"));
    }
    MemberId::parse(s).map_err(|_| {
        field_error("format", "member_id は半角英数字・ハイフン（-）・下線（_）の1〜64文字で入力してください。")
    })
}

/// Free text as written (names keep their characters: no NFKC), up to `max` characters, no
/// control characters; `multiline` keeps line breaks (as `\n`).
fn text(s: &str, max: usize, what: &str, multiline: bool) -> Result<String, FieldError> {
    optional_text(s, max, what, multiline)?
        .ok_or_else(|| field_error("required", format!("{what}を入力してください。")))
}

fn optional_text(s: &str, max: usize, what: &str, multiline: bool) -> Result<Option<String>, FieldError> {
    let s = if multiline { s.replace("\r\n", "\n").replace('\r', "\n") } else { s.to_owned() };
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().any(|c| c.is_control() && !(multiline && c == '\n')) {
        let message = if multiline {
            format!("{what}に制御文字は使えません。")
        } else {
            format!("{what}に改行や制御文字は使えません。")
        };
        return Err(field_error("control_character", message));
    }
    if s.chars().count() > max {
        return Err(field_error("too_long", format!("{what}は{max}文字以内で入力してください。")));
    }
    Ok(Some(s))
}

/// 日数 (回数): an integer 0–999.
fn parse_days(input: &str) -> Result<u32, FieldError> {
    let s = nfkc_trim(input);
    if s.is_empty() {
        return Err(field_error("required", "日数（days）を入力してください（0以上の整数）。"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error("format", "日数（days）は0以上の半角数字（整数）で入力してください。"));
    }
    match s.trim_start_matches('0') {
        "" => Ok(0),
        digits if digits.len() <= 3 => digits
            .parse()
            .map_err(|_| field_error("format", "日数（days）は0以上の半角数字（整数）で入力してください。")),
        _ => Err(field_error("out_of_range", "日数（days）は999以下で入力してください。")),
    }
}

/// `0`, `1`, or empty (= 0).
fn parse_hidden(input: &str) -> Result<bool, FieldError> {
    match nfkc_trim(input).as_str() {
        "" | "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(field_error(
            "format",
            "hidden は 0（表示する）または 1（Webに表示しない）で入力してください（空欄は0）。",
        )),
    }
}
