use super::*;
use crate::store::{LoginName, UserRecord};
use schloss_model::TenantId;

fn store() -> Arc<CredentialStore> {
    let mut store = CredentialStore::new().unwrap();
    let login = LoginName::new(TenantId::new("acme").unwrap(), "alice").unwrap();
    let mut alice = UserRecord::new(login, &["operator"]).unwrap();
    alice.set_plain(Some(PlainHash::from_password("secret").unwrap()));
    store.insert_user(alice).unwrap();
    let login = LoginName::new(TenantId::new("acme").unwrap(), "bob").unwrap();
    let mut bob = UserRecord::new(login, &[]).unwrap();
    bob.set_scram(
        crate::ScramCredential::new(crate::ScramMechanism::Sha256, "secret", 4096).unwrap(),
    );
    store.insert_user(bob).unwrap();
    Arc::new(store)
}

fn run(msg: &[u8]) -> Result<Authenticated, AuthError> {
    PlainServer::new(store()).step(msg)?.verify()
}

#[test]
fn good_password_authenticates_with_tenant_and_roles() {
    let auth = run(b"\0acme/alice\0secret").unwrap();
    assert_eq!(auth.principal().name, "alice");
    assert_eq!(auth.tenant().as_str(), "acme");
    assert_eq!(auth.mechanism(), Mechanism::SaslPlain);
    assert!(auth.is_operator());
    assert!(run(b"acme/alice\0acme/alice\0secret").is_ok());
}

#[test]
fn wrong_password_and_unknown_user_fail_alike() {
    let wrong = run(b"\0acme/alice\0nope").unwrap_err();
    let unknown = run(b"\0acme/mallory\0nope").unwrap_err();
    let no_plain = run(b"\0acme/bob\0secret").unwrap_err();
    assert_eq!(wrong.reason(), &FailureReason::BadCredentials);
    assert_eq!(unknown.reason(), &FailureReason::UnknownUser);
    assert_eq!(no_plain.reason(), &FailureReason::NoCredentialForMechanism);
    assert_eq!(wrong.to_string(), unknown.to_string());
    assert_eq!(
        wrong.to_string(),
        "Authentication failed: Invalid username or password"
    );
    assert_eq!(unknown.attempted_login(), Some("acme/mallory"));
    assert_eq!(
        run(b"\0alice\0secret").unwrap_err().reason(),
        &FailureReason::InvalidLogin
    );
}

#[test]
fn dummy_hash_uses_the_default_parameters() {
    let dummy = PlainHash::parse(DUMMY_PHC).unwrap();
    let real = PlainHash::from_password("x").unwrap();
    let params = |phc: &str| phc.split('$').nth(3).unwrap().to_owned();
    assert_eq!(params(dummy.as_phc()), params(real.as_phc()));
    assert!(!dummy.verify(b""));
}

#[test]
fn malformed_messages_fail_before_any_hashing() {
    let long = [b"\0acme/alice\0".as_slice(), &[b'a'; 256]].concat();
    let too_long = vec![b'a'; MAX_MESSAGE_LEN + 1];
    let cases: [&[u8]; 9] = [
        b"",
        b"acme/alice",
        b"\0acme/alice",
        b"\0acme/alice\0",
        b"\0\0secret",
        b"\0acme/alice\0secret\0extra",
        b"\0acme/al\xffice\0secret",
        &long,
        &too_long,
    ];
    for msg in cases {
        let err = PlainServer::new(store()).step(msg).unwrap_err();
        assert!(
            matches!(
                err.reason(),
                FailureReason::Malformed(_)
                    | FailureReason::NotUtf8
                    | FailureReason::MessageTooLong { .. }
            ),
            "{msg:?}: {:?}",
            err.reason()
        );
    }
    let err = PlainServer::new(store())
        .step(b"acme/bob\0acme/alice\0secret")
        .unwrap_err();
    assert_eq!(err.reason(), &FailureReason::AuthzidMismatch);
}

#[test]
fn the_password_never_shows_in_debug_output() {
    let pending = PlainServer::new(store())
        .step(b"\0acme/alice\0hunter2")
        .unwrap();
    let debug = format!("{pending:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("[redacted]"));
}
