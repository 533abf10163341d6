//! Whatever the society uploads, the parser and the plan answer (never panic), and a planned file
//! re-planned after it was applied is all no-ops.

mod common;

use std::collections::HashMap;

use common::*;
use kenpo_statements::file::header;
use kenpo_statements::{RecordId, StatementKind, StoredRecord, parse, plan};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = StatementKind> {
    prop_oneof![Just(StatementKind::Medical), Just(StatementKind::Benefits)]
}

/// Fields that are mostly valid, sometimes damaged in the ways files are.
fn cell(name: &'static str, default: &'static str) -> impl Strategy<Value = String> {
    let d = default.to_owned();
    prop_oneof![
        30 => Just(d),
        1 => Just(String::new()),
        1 => "[0-9]{1,9}",
        1 => "[ -~]{0,12}",
        1 => "\\PC{0,6}",
        1 => Just("\"x\ny\"".to_owned()),
        1 => Just(match name { "action" => "D", "record_id" => "R1", "person_no" => "0", _ => "１,２" }.to_owned()),
    ]
}

fn row_strategy(kind: StatementKind) -> impl Strategy<Value = String> {
    let defaults: &'static [(&'static str, &'static str)] = match kind {
        StatementKind::Medical => &MEDICAL_DEFAULTS,
        StatementKind::Benefits => &BENEFIT_DEFAULTS,
    };
    let cells: Vec<_> = defaults.iter().map(|(n, v)| cell(n, v)).collect();
    (cells, 0u8..6, 0u8..3, prop_oneof![Just("N"), Just("C"), Just("D")]).prop_map(
        move |(mut values, rid, member, action)| {
            // A small space of keys and actions, so plans meet every stored state.
            values[0] = format!("R{rid}");
            values[1] = action.to_owned();
            values[2] = format!("M00{member}");
            values.iter().map(|v| if v.starts_with('"') { v.clone() } else { field(v) }).collect::<Vec<_>>().join(",")
        },
    )
}

fn file_strategy() -> impl Strategy<Value = (StatementKind, String, String)> {
    kind().prop_flat_map(|k| {
        (Just(k), proptest::collection::vec(row_strategy(k), 0..8), proptest::collection::vec(row_strategy(k), 0..8))
            .prop_map(|(k, a, b)| (k, file(k, &a), file(k, &b)))
    })
}

/// Files of valid rows over a few record ids, members, actions and contents, so that plans meet
/// every stored state: the same `record_id` new, re-delivered, corrected, cancelled, by another member.
fn plan_files_strategy() -> impl Strategy<Value = (StatementKind, Vec<String>)> {
    let one_file = |k: StatementKind| {
        (
            0usize..3,
            proptest::collection::vec(
                (prop_oneof![Just("N"), Just("C"), Just("D")], prop_oneof![5 => Just(0u8), 1 => Just(1u8)], 1u8..3),
                1..4,
            ),
        )
            .prop_map(move |(offset, rows)| {
                let rows: Vec<String> = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (action, member, variant))| {
                        let id = format!("R{}", i + offset);
                        let member = format!("M00{member}");
                        let variant = variant.to_string();
                        let changed = match k {
                            StatementKind::Medical => "days",
                            StatementKind::Benefits => "amount",
                        };
                        row(
                            k,
                            &[
                                ("record_id", id.as_str()),
                                ("action", action),
                                ("member_id", member.as_str()),
                                (changed, variant.as_str()),
                            ],
                        )
                    })
                    .collect();
                file(k, &rows)
            })
    };
    kind().prop_flat_map(move |k| (Just(k), proptest::collection::vec(one_file(k), 1..10)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Any bytes: broken UTF-8, half a CP932 character, stray quotes, NULs.
    #[test]
    fn parse_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..600), with_header in any::<bool>(), k in kind()) {
        let mut bytes = if with_header { format!("{}\r\n", header(k).join(",")).into_bytes() } else { Vec::new() };
        bytes.extend(body);
        let _ = parse(&bytes);
    }

    /// CSV-ish text: the header's words, separators, quotes, line breaks, digits, full-width and Japanese.
    #[test]
    fn parse_never_panics_on_csvish_text(
        k in kind(),
        tokens in proptest::collection::vec(prop_oneof![
            Just(",".to_owned()), Just("\"".to_owned()), Just("\r\n".to_owned()), Just("\n".to_owned()), Just("\r".to_owned()),
            Just("N".to_owned()), Just("D".to_owned()), Just("00".to_owned()), Just("202608".to_owned()), Just("20261110".to_owned()),
            Just("本人".to_owned()), Just("１２".to_owned()), Just("\u{feff}".to_owned()), "[a-z_]{1,14}", "[0-9]{1,13}", "\\PC{1,3}",
        ], 0..120),
    ) {
        let text = format!("{}\n{}", header(k).join(","), tokens.concat());
        let _ = parse(text.as_bytes());
        let _ = parse(tokens.concat().as_bytes());
    }

    /// Every issue has a line within the file and a column; errors only when refused.
    #[test]
    fn reports_point_into_the_file((_, text, _) in file_strategy()) {
        let lines = text.split('\n').count() as u64;
        match parse(text.as_bytes()) {
            Ok(parsed) => {
                prop_assert_eq!(parsed.report.error_count, 0);
                for w in &parsed.report.warnings { prop_assert!(w.line >= 2 && w.line <= lines); }
            }
            Err(report) => {
                prop_assert!(report.error_count > 0);
                for e in &report.errors { prop_assert!(e.line >= 1 && e.line <= lines && !e.column.is_empty(), "{:?}", e); }
            }
        }
    }

    /// Plans never panic, refuse only with errors, and a plan applied then re-planned is all
    /// no-ops (idempotent re-delivery), over a sequence of files against one store.
    #[test]
    fn plans_answer_and_are_idempotent((_, files) in plan_files_strategy()) {
        let mut state: HashMap<RecordId, StoredRecord> = HashMap::new();
        for text in &files {
            let parsed = parse(text.as_bytes()).expect("valid rows with distinct ids");
            match plan(&parsed, &state) {
                Ok(p) => {
                    prop_assert_eq!(p.report.applied as usize, p.changes.len());
                    prop_assert_eq!(p.changes.len() as u64 + p.unchanged, parsed.rows.len() as u64);
                    p.apply_to(&mut state);
                    let again = plan(&parsed, &state).expect("a file just applied is accepted again");
                    prop_assert!(again.changes.is_empty());
                }
                Err(report) => {
                    prop_assert!(report.error_count > 0);
                    prop_assert_eq!(report.applied, 0);
                }
            }
        }
    }

    /// Damaged files: the plan of whatever parses never panics.
    #[test]
    fn plans_of_damaged_files_answer((_, first, second) in file_strategy()) {
        let mut state: HashMap<RecordId, StoredRecord> = HashMap::new();
        for text in [&first, &second] {
            if let Ok(parsed) = parse(text.as_bytes())
                && let Ok(p) = plan(&parsed, &state)
            {
                p.apply_to(&mut state);
            }
        }
    }

    /// Each row is named by the physical line it starts on, whatever the line ends (one kind per
    /// file, as editors write them), the empty lines between rows and the line breaks inside quoted
    /// remarks.
    #[test]
    fn line_numbers_are_physical(
        terminator in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        layout in proptest::collection::vec((0usize..3, 0usize..4), 1..20),
        blank_lines_at_end in 0usize..3,
    ) {
        let remarks = [("", 0), ("一行", 0), ("二行\r\n目", 1), ("三\n行\r目", 2)];
        let mut text = format!("{}{terminator}", header(StatementKind::Benefits).join(","));
        let mut line = 2;
        let mut expected = Vec::new();
        for (i, (blanks, remark)) in layout.iter().enumerate() {
            for _ in 0..*blanks {
                text.push_str(terminator);
                line += 1;
            }
            let (remark, breaks) = remarks[*remark];
            text.push_str(&benefit(&[("record_id", &format!("R{i}")), ("remarks", remark)]));
            text.push_str(terminator);
            expected.push(line);
            line += 1 + breaks;
        }
        text.push_str(&terminator.repeat(blank_lines_at_end));
        let parsed = parse(text.as_bytes()).expect("a good file");
        prop_assert_eq!(parsed.rows.iter().map(|r| r.line).collect::<Vec<_>>(), expected);
    }

    /// A distinctive value in any column never comes back in the report.
    #[test]
    fn values_never_appear_in_messages(k in kind(), column in 0usize..20, token in "ZQ[A-Z]{4}[0-9]{2}") {
        let names = header(k);
        let column = column % names.len();
        let name = names[column];
        let text = file(k, &[row(k, &[(name, token.as_str())])]);
        if let Err(report) = parse(text.as_bytes()) {
            let json = serde_json::to_string(&report).unwrap();
            prop_assert!(!json.contains(&token), "{}", json);
        }
    }
}
