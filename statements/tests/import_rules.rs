//! The rules that need the stored records: new, re-delivered, corrected, cancelled; idempotence.

mod common;

use std::collections::HashMap;

use common::*;
use kenpo_statements::import::decide;
use kenpo_statements::{Change, RecordId, StatementKind, StoredRecord, plan};

use StatementKind::{Benefits, Medical};

type State = HashMap<RecordId, StoredRecord>;

fn id(s: &str) -> RecordId {
    RecordId::parse(s).unwrap()
}

/// Applies a file the way the import does: parse, plan, write.
fn apply(state: &mut State, text: &str) -> kenpo_statements::Report {
    let parsed = parse_ok(text);
    match plan(&parsed, state) {
        Ok(p) => {
            p.apply_to(state);
            p.report
        }
        Err(report) => panic!("refused: {:#?}", report.errors),
    }
}

fn refused(state: &State, text: &str) -> kenpo_statements::Report {
    let parsed = parse_ok(text);
    plan(&parsed, state).expect_err("refused")
}

fn initial() -> (State, String) {
    let text = file(
        Medical,
        &[
            medical(&[]),
            medical(&[
                ("record_id", "M0002"),
                ("person_no", "01"),
                ("relation", "配偶者"),
                ("person_name", "山田花子"),
            ]),
        ],
    );
    let mut state = State::new();
    let report = apply(&mut state, &text);
    assert_eq!(report.applied, 2);
    (state, text)
}

#[test]
fn a_new_file_puts_every_line() {
    let parsed = parse_ok(&file(Medical, &[medical(&[]), medical(&[("record_id", "M0002")])]));
    let p = plan(&parsed, &State::new()).unwrap();
    assert_eq!(p.changes.len(), 2);
    assert_eq!(p.report.applied, 2);
    assert!(matches!(&p.changes[0], Change::Put { line: 2, action: kenpo_statements::Action::New, .. }));
    assert_eq!(p.changes[1].record_id().as_str(), "M0002");
    assert_eq!(p.changes[1].line(), 3);
}

#[test]
fn re_delivering_a_file_changes_nothing() {
    let (mut state, text) = initial();
    let before = state.clone();
    let report = apply(&mut state, &text);
    assert_eq!(report.applied, 0);
    assert_eq!(state, before);
}

#[test]
fn a_file_of_every_action_is_idempotent() {
    let (mut state, _) = initial();
    let mixed = file(
        Medical,
        &[
            medical(&[("action", "C"), ("self_pay", "2000"), ("insurer_paid", "8000")]),
            medical(&[("action", "D"), ("record_id", "M0002")]),
            medical(&[("record_id", "M0003")]),
        ],
    );
    let parsed = parse_ok(&mixed);
    let first = plan(&parsed, &state).unwrap();
    assert_eq!(first.report.applied, 3);
    first.apply_to(&mut state);
    let again = plan(&parsed, &state).unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!((again.report.applied, again.unchanged), (0, 3));
}

#[test]
fn an_interrupted_file_re_plans_to_the_rest() {
    let (mut state, _) = initial();
    let mixed = file(
        Medical,
        &[
            medical(&[("action", "C"), ("days", "5")]),
            medical(&[("action", "D"), ("record_id", "M0002")]),
            medical(&[("record_id", "M0003")]),
            medical(&[("record_id", "M0004")]),
        ],
    );
    let parsed = parse_ok(&mixed);
    let full = plan(&parsed, &state).unwrap();
    let mut expected = state.clone();
    full.apply_to(&mut expected);
    // The writer died after two of the four writes.
    for change in &full.changes[..2] {
        state.insert(change.record_id().clone(), change.stored());
    }
    let rest = plan(&parsed, &state).unwrap();
    assert_eq!(rest.changes, full.changes[2..].to_vec());
    rest.apply_to(&mut state);
    assert_eq!(state, expected);
}

#[test]
fn new_with_other_contents_for_an_existing_record_is_a_wrong_line() {
    let (state, _) = initial();
    let report =
        refused(&state, &file(Medical, &[medical(&[("self_pay", "2999")]), medical(&[("record_id", "M0009")])]));
    assert_eq!(where_(&report), vec![(2, "record_id".to_owned())]);
    assert!(report.errors[0].message.contains("action を C"));
    assert_eq!(report.applied, 0, "a refused file applies nothing");
    assert_eq!(report.warning_count, 1, "the parse warnings are kept");
}

#[test]
fn correction_or_cancellation_of_an_unknown_record_is_a_wrong_line() {
    let report = refused(
        &State::new(),
        &file(Medical, &[medical(&[("action", "C")]), medical(&[("action", "D"), ("record_id", "M0002")])]),
    );
    assert_eq!(where_(&report), vec![(2, "record_id".to_owned()), (3, "record_id".to_owned())]);
    assert!(report.errors.iter().all(|e| e.message.contains("登録されていない")));
}

#[test]
fn a_correction_replaces_the_record_and_a_same_correction_is_a_no_op() {
    let (mut state, _) = initial();
    let corrected = file(Medical, &[medical(&[("action", "C"), ("institution_name", "やまだ内科")])]);
    let report = apply(&mut state, &corrected);
    assert_eq!(report.applied, 1);
    let Some(StoredRecord::Active(kenpo_statements::Statement::Medical(line))) = state.get(&id("M0001")) else {
        panic!()
    };
    assert_eq!(line.institution_name.as_deref(), Some("やまだ内科"));
    assert_eq!(apply(&mut state, &corrected).applied, 0);
    // A C with the contents an N stored is a no-op too.
    assert_eq!(
        apply(
            &mut state,
            &file(
                Medical,
                &[medical(&[
                    ("action", "C"),
                    ("record_id", "M0002"),
                    ("person_no", "01"),
                    ("relation", "配偶者"),
                    ("person_name", "山田花子")
                ])]
            )
        )
        .applied,
        0
    );
}

#[test]
fn a_correction_may_not_change_the_member() {
    let (state, _) = initial();
    let report = refused(&state, &file(Medical, &[medical(&[("action", "C"), ("member_id", "M999")])]));
    assert_eq!(where_(&report), vec![(2, "member_id".to_owned())]);
    // Nor may a cancellation name another member.
    let report = refused(&state, &file(Medical, &[medical(&[("action", "D"), ("member_id", "M999")])]));
    assert_eq!(where_(&report), vec![(2, "member_id".to_owned())]);
}

#[test]
fn a_cancellation_leaves_a_tombstone_with_the_records_retention() {
    let (mut state, _) = initial();
    let parsed = parse_ok(&file(Medical, &[medical(&[("action", "D"), ("record_id", "M0002")])]));
    let p = plan(&parsed, &state).unwrap();
    assert_eq!(
        p.changes,
        vec![Change::Tombstone {
            line: 2,
            record_id: id("M0002"),
            member_id: kenpo_shared::domain::MemberId::parse("M001").unwrap(),
            // 診療年月 2026-08: kept through 2028-07-31.
            expires_on: d(2028, 8, 1),
        }]
    );
    p.apply_to(&mut state);
    assert!(matches!(state.get(&id("M0002")), Some(StoredRecord::Cancelled { .. })));

    // D again: no-op. N or C of the cancelled record_id: wrong lines.
    let again = plan(&parsed, &state).unwrap();
    assert_eq!((again.report.applied, again.unchanged), (0, 1));
    let report = refused(
        &state,
        &file(
            Medical,
            &[
                medical(&[
                    ("record_id", "M0002"),
                    ("person_no", "01"),
                    ("relation", "配偶者"),
                    ("person_name", "山田花子"),
                ]),
                medical(&[("record_id", "M0003")]),
            ],
        ),
    );
    assert_eq!(where_(&report), vec![(2, "record_id".to_owned())]);
    assert!(report.errors[0].message.contains("取消済み"));
    let report = refused(&state, &file(Medical, &[medical(&[("action", "C"), ("record_id", "M0002")])]));
    assert!(report.errors[0].message.contains("取消済み"));
}

#[test]
fn every_wrong_line_is_reported_not_just_the_first() {
    let (state, _) = initial();
    let report = refused(
        &state,
        &file(
            Medical,
            &[
                medical(&[("action", "C"), ("record_id", "X1")]),
                medical(&[("record_id", "M0003")]),
                medical(&[("action", "D"), ("record_id", "X2")]),
                medical(&[("self_pay", "1")]),
            ],
        ),
    );
    assert_eq!(report.error_count, 3);
    assert_eq!(report.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 4, 5]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["kind"], "medical");
    assert_eq!(json["applied"], 0);
    assert_eq!(json["errorCount"], 3);
}

#[test]
fn benefits_plan_against_the_benefits_namespace() {
    // The same record_id in the medical namespace is no concern of a benefits file.
    let (medical_state, _) = initial();
    let text = file(Benefits, &[benefit(&[("record_id", "M0001")])]);
    let parsed = parse_ok(&text);
    let mut benefit_state = State::new();
    let p = plan(&parsed, &benefit_state).unwrap();
    assert_eq!(p.kind, Benefits);
    assert_eq!(p.report.kind, Some(Benefits));
    assert_eq!(p.changes.len(), 1);
    p.apply_to(&mut benefit_state);
    assert_eq!(plan(&parsed, &benefit_state).unwrap().changes.len(), 0);
    assert!(medical_state.contains_key(&id("M0001")));
    // Benefits expire 24 months after the decision (decided 2026-10-20).
    let p = plan(&parse_ok(&file(Benefits, &[benefit(&[("record_id", "M0001"), ("action", "D")])])), &benefit_state)
        .unwrap();
    assert!(matches!(p.changes[0], Change::Tombstone { expires_on, .. } if expires_on == d(2028, 10, 20)));
}

#[test]
fn decide_is_the_one_row_rule() {
    let parsed = parse_ok(&file(Medical, &[medical(&[])]));
    let row = &parsed.rows[0];
    assert!(matches!(decide(row, None), Ok(Some(Change::Put { .. }))));
    let RowBody::Medical(line) = &row.body else { panic!() };
    let stored = StoredRecord::Active(kenpo_statements::Statement::Medical(line.clone()));
    assert_eq!(decide(row, Some(&stored)), Ok(None));
}

use kenpo_statements::RowBody;
