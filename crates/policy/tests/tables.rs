//! Every test table in `policies/tests/` passes (the tables for base.cedar and each example).
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use schloss_policy::table::{Table, TABLE_EXTENSION};

#[test]
fn every_policy_test_table_passes() {
    let dir = common::policies_dir().join("tests");
    let mut tables: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == TABLE_EXTENSION))
        .collect();
    tables.sort();
    assert!(tables.len() >= 6, "{tables:?}");
    let mut failures = Vec::new();
    for path in &tables {
        let table = Table::read(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!table.cases.is_empty(), "{}", path.display());
        let report = table.run().unwrap_or_else(|e| panic!("{e}"));
        for failure in report.failures {
            failures.push(format!(
                "{}: {}: {}",
                failure.location, failure.text, failure.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_expectation_fails_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.table");
    let base = common::policies_dir().join("base.cedar");
    std::fs::write(
        &path,
        format!(
            "policies {}\n\nallow acme/alice Read topic:acme/orders\ndeny acme/alice Read topic:globex/orders by=base-operators\n",
            base.display()
        ),
    )
    .unwrap();
    // `policies` paths are joined to the table's directory; an absolute path stays as it is.
    let report = Table::read(&path).unwrap().run().unwrap();
    assert_eq!(report.passed, 0);
    assert_eq!(report.failures.len(), 2);
    assert_eq!(report.failures[0].location.line, Some(3));
    assert!(report.failures[0]
        .reason
        .starts_with("expected Allow, got Deny"));
    assert!(report.failures[1].reason.contains("base-operators"));
}
