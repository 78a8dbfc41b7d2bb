//! Loading refuses broken policy sets whole, naming file, line and Cedar's message.
// Test code: a failed unwrap or index is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use schloss_policy::{Action, Basis, PolicyError, Resource};

/// The single problem of a refused directory load.
fn refusal(files: &[(&str, &str)]) -> (tempfile::TempDir, PolicyError) {
    let dir = policy_dir(files);
    let error = cedar_store(dir.path(), &[]).unwrap_err();
    (dir, error)
}

#[test]
fn a_syntax_error_is_refused_with_file_and_line() {
    let (dir, error) = refusal(&[
        ("base.cedar", &base_policy()),
        (
            "acme.cedar",
            "// acme\n@id(\"ok\")\npermit (principal, action, resource in Kafka::Tenant::\"acme\");\n\npermit (principal, action resource);\n",
        ),
    ]);
    let problems = error.problems();
    assert!(!problems.is_empty(), "{error}");
    let problem = &problems[0];
    assert_eq!(
        problem.location.file,
        dir.path().join("acme.cedar").display().to_string()
    );
    assert_eq!(problem.location.line, Some(5), "{error}");
    assert!(error.to_string().contains("acme.cedar:5:"), "{error}");
}

#[test]
fn a_type_error_under_the_schema_is_refused_with_file_and_line() {
    let (_dir, error) = refusal(&[(
        "acme.cedar",
        "@id(\"fine\")\npermit (principal, action, resource in Kafka::Tenant::\"acme\");\n\n@id(\"typo\")\npermit (principal, action == Kafka::Action::\"Read\", resource is Kafka::Topic)\nwhen { resource.nmae like \"orders-*\" };\n",
    )]);
    let problems = error.problems();
    assert_eq!(problems.len(), 1, "{error}");
    assert_eq!(problems[0].location.line, Some(6), "{error}");
    assert!(problems[0].message.contains("nmae"), "{error}");
}

#[test]
fn an_unknown_entity_type_is_refused_with_file_and_line() {
    let (_dir, error) = refusal(&[(
        "queues.cedar",
        "\n\npermit (principal, action, resource is Kafka::Queue);\n",
    )]);
    let problems = error.problems();
    assert_eq!(problems.len(), 1, "{error}");
    assert!(problems[0].location.file.ends_with("queues.cedar"));
    assert_eq!(problems[0].location.line, Some(3), "{error}");
    assert!(problems[0].message.contains("Kafka::Queue"), "{error}");
}

#[test]
fn an_unknown_action_is_refused() {
    let (_dir, error) = refusal(&[(
        "a.cedar",
        "permit (principal, action == Kafka::Action::\"Produce\", resource);\n",
    )]);
    assert!(error.to_string().contains("Produce"), "{error}");
    assert_eq!(error.problems()[0].location.line, Some(1));
}

#[test]
fn the_same_id_in_two_files_is_refused_naming_both() {
    let policy = "@id(\"dup\")\npermit (principal, action, resource in Kafka::Tenant::\"acme\");\n";
    let (_dir, error) = refusal(&[("a.cedar", policy), ("b.cedar", policy)]);
    let message = error.to_string();
    assert!(
        message.contains("b.cedar:1:1: policy id `dup` is already used at"),
        "{message}"
    );
    assert!(message.contains("a.cedar:1:1"), "{message}");
}

#[test]
fn templates_are_refused() {
    let (_dir, error) = refusal(&[(
        "t.cedar",
        "permit (principal == ?principal, action, resource);\n",
    )]);
    assert!(error.to_string().contains("templates"), "{error}");
}

#[test]
fn policies_get_ids_and_locations_from_their_files() {
    let dir = policy_dir(&[
        ("base.cedar", &base_policy()),
        ("acme.cedar", "// acme\n\npermit (principal, action, resource in Kafka::Tenant::\"acme\");\n  forbid (principal, action, resource is Kafka::Cluster);\n"),
    ]);
    let store = cedar_store(dir.path(), &[]).unwrap();
    let snapshot = store.snapshot();
    let found: Vec<(String, Option<usize>, Option<usize>)> = snapshot
        .policies()
        .iter()
        .map(|p| (p.id.clone(), p.location.line, p.location.column))
        .collect();
    assert_eq!(
        found,
        [
            ("acme.cedar#0".to_owned(), Some(3), Some(1)),
            ("acme.cedar#1".to_owned(), Some(4), Some(3)),
            ("base-operators".to_owned(), Some(9), Some(1)),
            ("base-tenant-isolation".to_owned(), Some(16), Some(1)),
        ]
    );
    assert_eq!(snapshot.generation(), 1);
    assert_eq!(snapshot.sha256().map(str::len), Some(64));
}

#[test]
fn an_empty_directory_denies_everything_but_super_users() {
    let dir = policy_dir(&[]);
    let store = cedar_store(dir.path(), &["acme/root"]).unwrap();
    let snapshot = store.snapshot();
    let alice = user("acme/alice", &["operator"]);
    let decision = decide(&snapshot, &alice, Action::Read, &topic("acme", "orders"));
    assert!(!decision.is_allowed());
    assert_eq!(decision.basis, Basis::NoPermit);
    let root = user("acme/root", &[]);
    assert!(decide(&snapshot, &root, Action::Alter, &Resource::Cluster).is_allowed());
}

#[test]
fn a_missing_directory_denies_everything_but_super_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = cedar_store(&dir.path().join("nowhere"), &["acme/root"]).unwrap();
    let snapshot = store.snapshot();
    assert!(snapshot.policies().is_empty());
    let alice = user("acme/alice", &[]);
    assert!(!decide(
        &snapshot,
        &alice,
        Action::Describe,
        &topic("acme", "orders")
    )
    .is_allowed());
    let root = user("acme/root", &[]);
    assert!(decide(&snapshot, &root, Action::Describe, &topic("globex", "x")).is_allowed());
}

#[test]
fn the_repository_policies_and_examples_all_validate() {
    let dir = policies_dir();
    let mut files = vec![dir.join("base.cedar")];
    for entry in std::fs::read_dir(dir.join("examples")).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert!(files.len() >= 6, "{files:?}");
    let snapshot = schloss_policy::load_files(&files, &[]).unwrap();
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
}

#[test]
fn the_schema_file_is_the_built_in_schema() {
    let on_disk = std::fs::read_to_string(policies_dir().join("schema.cedarschema")).unwrap();
    assert_eq!(on_disk, schloss_policy::SCHEMA_SOURCE);
}
