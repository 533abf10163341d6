//! The society's members file: CSV in UTF-8 (with or without BOM) or Shift_JIS (Excel's 「CSV」),
//! header `member_id,insurer_number,birth_date`, then the optional columns `category`, `name`
//! (被保険者氏名, 1–40 characters, for the documents) and `left_on` (資格喪失日, `YYYYMMDD`, empty
//! while a member), in any order; any other column refuses the file (DESIGN.md Part 2). A file
//! replaces each listed member's profile: an absent optional column means empty.

use chrono::NaiveDate;

use crate::domain::{BirthDate, InsurerNumber, MemberId};
use crate::store::MemberProfile;

/// One refused line. Never carries the value (it may be a birth date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLineError {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for CsvLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}行目 {}: {}", self.line, self.column, self.reason)
    }
}

/// UTF-8 when it is valid UTF-8, else Shift_JIS (Windows-31J).
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::SHIFT_JIS.decode(bytes).0.into_owned(),
    }
}

/// All members, or every line that is wrong (nothing is imported from a file with errors).
/// `society`: the society's 保険者番号 (`INSURER_NUMBERS`); a member with another number could
/// never pass the identity check, so such a line is refused.
pub fn parse(bytes: &[u8], today: NaiveDate, society: &[InsurerNumber]) -> Result<Vec<MemberProfile>, Vec<CsvLineError>> {
    let text = decode(bytes);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
    let header_error = |reason: &str| vec![CsvLineError { line: 1, column: "header".into(), reason: reason.into() }];
    let headers = reader.headers().map_err(|_| header_error("見出し行を読めません"))?.clone();
    let index = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    if let Some((_, repeated)) = headers.iter().enumerate().find(|(i, h)| headers.iter().take(*i).any(|earlier| earlier.eq_ignore_ascii_case(h))) {
        return Err(vec![CsvLineError { line: 1, column: repeated.chars().take(40).collect(), reason: "同じ列が2回あります（各列は1回だけにしてください）".into() }]);
    }
    let (Some(id_col), Some(insurer_col), Some(birth_col)) = (index("member_id"), index("insurer_number"), index("birth_date")) else {
        return Err(header_error("見出しに member_id, insurer_number, birth_date が必要です"));
    };
    let known = ["member_id", "insurer_number", "birth_date", "category", "name", "left_on"];
    if let Some(unknown) = headers.iter().find(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k))) {
        return Err(vec![CsvLineError {
            line: 1,
            column: unknown.chars().take(40).collect(),
            reason: "この列は会員ファイルにありません（使える列: member_id, insurer_number, birth_date, category, name, left_on）".into(),
        }]);
    }
    let category_col = index("category");
    let name_col = index("name");
    let left_col = index("left_on");
    let mut members = Vec::new();
    let mut errors = Vec::new();
    // Each member id's first line: a second line for the same member refuses the file.
    let mut seen: std::collections::HashMap<MemberId, u64> = std::collections::HashMap::new();
    for (i, row) in reader.records().enumerate() {
        // The physical line (the csv crate's line count misses CRLF line ends, which Excel writes).
        let line = row.as_ref().ok().and_then(|r| r.position()).map_or(i as u64 + 2, |p| physical_line(&text, p.byte()));
        let Ok(row) = row else {
            errors.push(CsvLineError { line, column: "*".into(), reason: "CSVとして読めません".into() });
            continue;
        };
        if row.iter().all(str::is_empty) {
            continue;
        }
        let field = |col: usize| row.get(col).unwrap_or("");
        let mut bad = |column: &str, reason: String| errors.push(CsvLineError { line, column: column.into(), reason });
        let member_id = MemberId::parse(field(id_col)).map_err(|e| bad("member_id", e.message)).ok();
        let member_id = member_id.filter(|id| match seen.get(id) {
            Some(first) => {
                bad("member_id", format!("同じ member_id が{first}行目にもあります（1人1行にしてください）"));
                false
            }
            None => {
                seen.insert(id.clone(), line);
                true
            }
        });
        let insurer = InsurerNumber::parse(field(insurer_col)).map_err(|e| bad("insurer_number", insurer_reason(field(insurer_col), e))).ok();
        let insurer = insurer.filter(|n| {
            let ours = society.contains(n);
            if !ours {
                let numbers: Vec<&str> = society.iter().map(InsurerNumber::as_str).collect();
                bad("insurer_number", format!("当組合の保険者番号（{}）ではありません（この加入者は本人確認を通れません）", numbers.join("、")));
            }
            ours
        });
        let birth = BirthDate::parse(field(birth_col), today).map_err(|e| bad("birth_date", e.message)).ok();
        let name = match name_col.map(field).filter(|n| !n.is_empty()) {
            Some(n) if n.chars().count() > 40 || n.chars().any(char::is_control) => {
                bad("name", "氏名は40文字以内で入力してください（改行やタブは使えません）".into());
                None
            }
            other => Some(other.map(str::to_owned)),
        };
        let left_on = match left_col.map(field).filter(|d| !d.is_empty()) {
            None => Some(None),
            Some(d) => match NaiveDate::parse_from_str(d, "%Y%m%d") {
                Ok(date) if d.len() == 8 => Some(Some(date)),
                _ => {
                    bad("left_on", "資格喪失日は YYYYMMDD（例: 20261130）で入力してください".into());
                    None
                }
            },
        };
        if let (Some(member_id), Some(insurer_number), Some(birth_date), Some(name), Some(left_on)) = (member_id, insurer, birth, name, left_on) {
            let category = category_col.map(field).filter(|c| !c.is_empty()).map(str::to_owned);
            members.push(MemberProfile { member_id, insurer_number, birth_date, category, name, left_on });
        }
    }
    if errors.is_empty() { Ok(members) } else { Err(errors) }
}

/// The 1-based physical line at byte `offset` of `text`: CRLF, LF and a lone CR each end a line.
fn physical_line(text: &str, offset: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut end = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
    // A record's position can be the start of the empty lines before it.
    while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
        end += 1;
    }
    let before = &bytes[..end];
    let mut lines = 1;
    let mut previous = 0u8;
    for &b in before {
        if b == b'\n' && previous != b'\r' || b == b'\r' {
            lines += 1;
        }
        previous = b;
    }
    lines
}

/// Why an insurer number is refused; a number whose leading 0 Excel dropped (7 digits that are a
/// valid number with it) says so and how to keep it.
fn insurer_reason(value: &str, error: crate::domain::FieldError) -> String {
    let value = value.trim();
    let zero_dropped = value.len() == 7 && value.bytes().all(|b| b.is_ascii_digit()) && InsurerNumber::parse(&format!("0{value}")).is_ok();
    if !zero_dropped && error.code == "check_digit" {
        // The check digit: a typing mistake in the file, said for the society's staff.
        return "保険者番号の検証番号（8桁目）が合いません。入力の誤りがないか確認してください".into();
    }
    if zero_dropped {
        "保険者番号の先頭の0が欠けています（7桁になっています）。Excelで開いて保存すると先頭の0が消えます。列の書式を「文字列」にして8桁で入力し、保存し直してください".into()
    } else {
        error.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn society() -> Vec<InsurerNumber> {
        ["06133946", "63133946"].iter().map(|n| InsurerNumber::parse(n).unwrap()).collect()
    }

    /// A number that is not the society's (a typo that passes the check digit, another
    /// society's file), and a column given twice: refused.
    #[test]
    fn another_societys_number_and_a_repeated_column_are_refused() {
        let errors = parse(b"member_id,insurer_number,birth_date\nM001,01130012,19810403\n", today(), &society()).unwrap_err();
        assert_eq!((errors[0].line, errors[0].column.as_str()), (2, "insurer_number"));
        assert!(errors[0].reason.contains("06133946"), "{}", errors[0].reason);
        let twice = parse(b"member_id,insurer_number,birth_date,member_id\nM001,06133946,19810403,M002\n", today(), &society()).unwrap_err();
        assert_eq!((twice[0].line, twice[0].column.as_str()), (1, "member_id"));
    }

    #[test]
    fn utf8_with_bom_and_optional_columns() {
        let csv = "\u{feff}member_id,insurer_number,birth_date,category\nM001,06133946,19810403,一般\nM002,63133946,19450101,特例退職\n";
        let members = parse(csv.as_bytes(), today(), &society()).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].category.as_deref(), Some("特例退職"));
    }

    #[test]
    fn shift_jis_from_excel() {
        let text = "member_id,insurer_number,birth_date,category\r\nM001,06133946,19810403,任意継続\r\n";
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let members = parse(&bytes, today(), &society()).unwrap();
        assert_eq!(members[0].category.as_deref(), Some("任意継続"));
    }

    #[test]
    fn every_bad_line_is_reported_without_its_value() {
        let csv = "member_id,insurer_number,birth_date\nM001,06133947,19810403\nM002,06133946,19810230\nM003,06133946,19810403\n";
        let errors = parse(csv.as_bytes(), today(), &society()).unwrap_err();
        assert_eq!(errors.iter().map(|e| (e.line, e.column.as_str())).collect::<Vec<_>>(), vec![(2, "insurer_number"), (3, "birth_date")]);
        assert!(errors[0].reason.contains("検証番号"), "for the society's staff, not the member's card: {}", errors[0].reason);
        assert!(errors.iter().all(|e| !e.to_string().contains("19810230")));
    }

    /// Excel's CRLF line ends: the physical line numbers (the first data row is line 2), also for
    /// LF and lone-CR files.
    #[test]
    fn line_numbers_are_physical_for_every_line_end() {
        for end in ["\r\n", "\n", "\r"] {
            let csv = ["member_id,insurer_number,birth_date", "M001,06133946,19810403", "M002,06133947,19810403", "", "M003,06133946,19810230"].join(end) + end;
            let errors = parse(csv.as_bytes(), today(), &society()).unwrap_err();
            assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 5], "{end:?}");
        }
    }

    /// One member on two lines: both lines named, nothing imported.
    #[test]
    fn a_member_id_on_two_lines_refuses_the_file_and_names_both() {
        let csv = "member_id,insurer_number,birth_date\r\nM001,06133946,19810403\r\nM002,06133946,19790822\r\nM001,63133946,19480115\r\n";
        let errors = parse(csv.as_bytes(), today(), &society()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].column.as_str()), (4, "member_id"));
        assert!(errors[0].reason.contains("2行目"), "{}", errors[0].reason);
    }

    /// Excel dropped the leading 0: the message says so and how to keep it.
    #[test]
    fn a_dropped_leading_zero_is_named() {
        let errors = parse(b"member_id,insurer_number,birth_date\nM001,6133946,19810403\n", today(), &society()).unwrap_err();
        assert!(errors[0].reason.contains("先頭の0が欠けています") && errors[0].reason.contains("文字列"), "{}", errors[0].reason);
        let other = parse(b"member_id,insurer_number,birth_date\nM001,1234567,19810403\n", today(), &society()).unwrap_err();
        assert!(!other[0].reason.contains("先頭の0"), "7 digits that are no number with a 0 either: {}", other[0].reason);
    }

    proptest::proptest! {
        /// Any bytes (broken UTF-8, half a Shift_JIS character, stray quotes): a result, never a panic.
        #[test]
        fn any_file_parses_or_is_refused(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut bytes = b"member_id,insurer_number,birth_date\n".to_vec();
            bytes.extend(body);
            let _ = parse(&bytes, today(), &society());
        }
    }

    #[test]
    fn name_and_left_on_in_any_order_and_unknown_columns_refused() {
        let csv = "left_on,member_id,name,insurer_number,birth_date\n20260331,M001,健保 太郎,06133946,19810403\n,M002,,06133946,19810403\n";
        let members = parse(csv.as_bytes(), today(), &society()).unwrap();
        assert_eq!((members[0].name.as_deref(), members[0].left_on), (Some("健保 太郎"), NaiveDate::from_ymd_opt(2026, 3, 31)));
        assert_eq!((members[1].name.as_deref(), members[1].left_on), (None, None));
        let errors = parse(b"member_id,insurer_number,birth_date,nickname\nM001,06133946,19810403,x\n", today(), &society()).unwrap_err();
        assert_eq!((errors[0].line, errors[0].column.as_str()), (1, "nickname"));
        let errors = parse(b"member_id,insurer_number,birth_date,left_on\nM001,06133946,19810403,2026-03-31\n", today(), &society()).unwrap_err();
        assert_eq!((errors[0].line, errors[0].column.as_str()), (2, "left_on"));
    }

    #[test]
    fn missing_header_column_is_refused() {
        assert!(parse(b"id,insurer_number,birth_date\n1,06133946,19810403\n", today(), &society()).is_err());
    }
}
