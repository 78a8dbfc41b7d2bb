use super::*;
use crate::plain::PlainServer;
use std::sync::Arc;

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn all() -> Vec<SaslMechanism> {
    SaslMechanism::ALL.to_vec()
}

#[test]
fn add_list_remove_round_trip_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.toml");
    let info = add_user(&path, "alice", &acme(), "hunter2", &all(), &["operator"]).unwrap();
    assert_eq!(info.login, "acme/alice");
    add_user(
        &path,
        "bob",
        &acme(),
        "pw",
        &[SaslMechanism::ScramSha512],
        &[],
    )
    .unwrap();
    // Adding an existing user replaces its credentials and roles.
    add_user(
        &path,
        "bob",
        &acme(),
        "pw2",
        &[SaslMechanism::ScramSha256],
        &["ops"],
    )
    .unwrap();

    let users = list_users(&path).unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].login, "acme/alice");
    assert_eq!(users[0].roles, vec!["operator".to_owned()]);
    assert_eq!(users[0].mechanisms, all());
    assert_eq!(users[1].mechanisms, vec![SaslMechanism::ScramSha256]);
    assert_eq!(users[1].roles, vec!["ops".to_owned()]);
    add_user(
        &path,
        "bob",
        &acme(),
        "pw",
        &[SaslMechanism::ScramSha512],
        &[],
    )
    .unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("$argon2id$"));

    remove_user(&path, "acme/bob").unwrap();
    assert!(matches!(
        remove_user(&path, "acme/bob"),
        Err(StoreError::UserNotFound(_))
    ));
    assert_eq!(list_users(&path).unwrap().len(), 1);

    let store = Arc::new(CredentialStore::load(&path).unwrap());
    let auth = PlainServer::new(store)
        .step(b"\0acme/alice\0hunter2")
        .unwrap()
        .verify()
        .unwrap();
    assert!(auth.is_operator());
}

#[cfg(unix)]
#[test]
fn the_file_is_written_with_mode_0600_and_no_temp_files_remain() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.toml");
    add_user(
        &path,
        "alice",
        &acme(),
        "pw",
        &[SaslMechanism::ScramSha256],
        &[],
    )
    .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn reload_picks_up_changes_and_keeps_the_old_store_on_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.toml");
    add_user(
        &path,
        "alice",
        &acme(),
        "pw",
        &[SaslMechanism::ScramSha256],
        &[],
    )
    .unwrap();
    let mut watch = StoreWatch::open(&path).unwrap();
    assert!(matches!(watch.reload_if_changed(), Reload::Unchanged));

    add_user(
        &path,
        "bob",
        &acme(),
        "pw",
        &[SaslMechanism::ScramSha256],
        &[],
    )
    .unwrap();
    assert!(matches!(watch.reload_if_changed(), Reload::Reloaded));
    assert!(watch.current().user("acme/bob").is_some());

    std::fs::write(&path, "version = 1\n[[user]]\nname = \"broken").unwrap();
    assert!(matches!(
        watch.reload_if_changed(),
        Reload::Rejected(StoreError::Parse { .. })
    ));
    assert!(watch.current().user("acme/bob").is_some(), "old store kept");
    assert!(
        matches!(watch.reload_if_changed(), Reload::Unchanged),
        "reported once"
    );

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        watch.reload_if_changed(),
        Reload::Rejected(StoreError::Io { .. })
    ));
    assert!(watch.current().user("acme/alice").is_some());
}

#[test]
fn invalid_files_fail_to_load_as_a_whole() {
    let good = CredentialStore::new().unwrap().to_toml().unwrap();
    assert!(CredentialStore::from_toml(&good).is_ok());
    let user = |extra: &str| {
        format!("version = 1\n[[user]]\nname = \"alice\"\ntenant = \"acme\"\n{extra}")
    };
    let scram = "[user.scram_sha_256]\nsalt = \"c2FsdA==\"\niterations = 4096\n";
    let key = "A".repeat(43) + "=";
    let cases = [
        "version = 2".to_owned(),
        "version = 1\nsurprise = true".to_owned(),
        user(""),
        user("plain = \"not a phc\""),
        user("plain = \"$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\""),
        user("roles = [\"Operator\"]\nplain = \"x\""),
        format!(
            "{}stored_key = \"{key}\"\nserver_key = \"short\"",
            user(scram)
        ),
        format!(
            "{}stored_key = \"{key}\"\nserver_key = \"{key}\"\nnope = 1",
            user(scram)
        ),
        user(&format!(
            "{}stored_key = \"{key}\"\nserver_key = \"{key}\"",
            scram
        ))
        .replace("4096", "100"),
        user("plain = \"x\"").replace("acme", "Acme"),
        user("plain = \"x\"").replace("alice", "al/ice"),
        "version = 1\nunknown_user_secret = \"c2hvcnQ=\"".to_owned(),
        "version = 1\nscram_iterations = 100".to_owned(),
    ];
    for text in &cases {
        assert!(CredentialStore::from_toml(text).is_err(), "{text}");
    }
    let valid = user(&format!(
        "{scram}stored_key = \"{key}\"\nserver_key = \"{key}\""
    ));
    let doubled = format!("{valid}\n{}", valid.replace("version = 1\n", ""));
    assert!(CredentialStore::from_toml(&valid).is_ok(), "{valid}");
    assert!(matches!(
        CredentialStore::from_toml(&doubled),
        Err(StoreError::DuplicateUser(_))
    ));
}

#[test]
fn the_file_round_trips_and_keeps_the_unknown_user_secret() {
    let mut store = CredentialStore::new().unwrap();
    store.set_default_tenant(Some(acme()));
    store.set_scram_iterations(8192).unwrap();
    let mut user = UserRecord::new(LoginName::new(acme(), "alice").unwrap(), &[]).unwrap();
    user.set_scram(ScramCredential::new(ScramMechanism::Sha512, "pw", 8192).unwrap());
    store.insert_user(user).unwrap();
    let text = store.to_toml().unwrap();
    let again = CredentialStore::from_toml(&text).unwrap();
    assert_eq!(again.to_toml().unwrap(), text);
    assert_eq!(again.scram_iterations(), 8192);
    assert!(
        again.user("alice").is_some(),
        "default tenant resolves bare logins"
    );
    assert!(again.user("acme/alice").is_some());
    let fake = |s: &CredentialStore| s.fake_scram(ScramMechanism::Sha256, "x/y").unwrap();
    assert_eq!(fake(&store).salt(), fake(&again).salt());
    assert!(!format!("{again:?}").contains("secret"));
}

#[test]
fn set_scram_credential_creates_or_updates_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.toml");
    let login = LoginName::new(acme(), "svc").unwrap();
    let credential = ScramCredential::new(ScramMechanism::Sha256, "pw", 4096).unwrap();
    set_scram_credential(&path, &login, credential).unwrap();
    let credential = ScramCredential::new(ScramMechanism::Sha512, "pw", 4096).unwrap();
    set_scram_credential(&path, &login, credential).unwrap();
    let users = list_users(&path).unwrap();
    assert_eq!(
        users[0].mechanisms,
        vec![SaslMechanism::ScramSha256, SaslMechanism::ScramSha512]
    );
}

#[test]
fn logins_must_be_tenant_slash_user() {
    assert!(LoginName::parse("acme/alice").is_some());
    assert!(LoginName::parse("alice").is_none());
    assert!(LoginName::parse("acme/").is_none());
    assert!(LoginName::parse("/alice").is_none());
    assert!(LoginName::parse("acme/al/ice").is_none());
    assert!(LoginName::parse("ACME/alice").is_none());
    assert!(LoginName::parse(&format!("acme/{}", "a".repeat(129))).is_none());
    assert!(LoginName::parse("acme/alice@example.com").is_some());
}
