//! SASL with librdkafka (the `rdkafka` crate): PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over
//! SASL_SSL and SASL_PLAINTEXT produce and consume; a wrong password or an unknown user is
//! reported by the client as an authentication error (no hang) and the broker tells both apart
//! to nobody; users of different tenants see only their own topics; `schloss users add/remove`
//! takes effect on the running broker.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth_common;

use auth_common::*;
use schloss_e2e::BrokerProcess;
use std::time::Duration;

fn round_trips_on(listener: &str) {
    let broker = sasl_broker();
    for mechanism in MECHANISMS {
        let cfg = client_config(&broker, listener, Some((mechanism, ALICE, ALICE_PASSWORD)));
        let topic = unique(&format!(
            "{}-{}",
            listener.to_lowercase(),
            mechanism.to_lowercase()
        ));
        round_trip(&cfg, &topic, 25);
        assert!(
            partition_dirs(&broker).contains(&format!("default.{topic}-0")),
            "alice's topic lives in tenant default: {:?}",
            partition_dirs(&broker)
        );
    }
}

#[test]
fn every_mechanism_produces_and_consumes_over_sasl_ssl() {
    round_trips_on("SASL_SSL");
}

#[test]
fn every_mechanism_produces_and_consumes_over_sasl_plaintext() {
    round_trips_on("SASL_PLAINTEXT");
}

/// The broker's message inside librdkafka's reason text: drops the broker address prefix and
/// the "(after N ms in state ...)" suffix.
fn broker_message(reason: &str) -> String {
    let start = reason
        .find("SASL authentication error: ")
        .map_or(0, |i| i + 27);
    let rest = &reason[start..];
    let end = rest.find(" (after ").unwrap_or(rest.len());
    rest[..end].to_owned()
}

#[test]
fn wrong_password_and_unknown_user_fail_cleanly_with_librdkafka() {
    let broker = sasl_broker();
    for listener in ["SASL_SSL", "SASL_PLAINTEXT"] {
        for mechanism in MECHANISMS {
            reset_brake(&broker);
            let wrong = expect_auth_failure(&client_config(
                &broker,
                listener,
                Some((mechanism, ALICE, "not-alices-password")),
            ));
            reset_brake(&broker);
            let unknown = expect_auth_failure(&client_config(
                &broker,
                listener,
                Some((mechanism, "default/mallory", ALICE_PASSWORD)),
            ));
            let (wrong, unknown) = (broker_message(&wrong), broker_message(&unknown));
            assert!(
                wrong.contains("Authentication failed"),
                "{listener}/{mechanism}: {wrong}"
            );
            assert_eq!(
                wrong, unknown,
                "{listener}/{mechanism}: a wrong password and an unknown user must look the same"
            );
            if mechanism.starts_with("SCRAM") {
                assert_eq!(
                    wrong,
                    format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"),
                    "Kafka's message"
                );
            }
        }
    }
    // Also a user of another tenant with the right password of a namesake, and a login
    // without a tenant: both plain failures.
    reset_brake(&broker);
    expect_auth_failure(&client_config(
        &broker,
        "SASL_PLAINTEXT",
        Some(("SCRAM-SHA-512", "acme/alice", ALICE_PASSWORD)),
    ));
    reset_brake(&broker);
    expect_auth_failure(&client_config(
        &broker,
        "SASL_PLAINTEXT",
        Some(("PLAIN", "alice", ALICE_PASSWORD)),
    ));
    // The broker still serves.
    reset_brake(&broker);
    let cfg = client_config(&broker, "SASL_SSL", Some(("PLAIN", ALICE, ALICE_PASSWORD)));
    round_trip(&cfg, &unique("after-failures"), 3);
}

#[test]
fn raw_failures_answer_sasl_authentication_failed_and_close() {
    let broker = sasl_broker();
    let addr = broker.bootstrap_of("SASL_PLAINTEXT");
    for mechanism in MECHANISMS {
        let mut texts = Vec::new();
        for (user, password) in [(ALICE, "wrong-password"), ("default/nobody", "x")] {
            reset_brake(&broker);
            match login(&addr, mechanism, user, password) {
                Login::Ok(..) => panic!("{mechanism}: {user} with a bad password logged in"),
                Login::Failed(code, text) => {
                    assert_eq!(
                        code, SASL_AUTHENTICATION_FAILED,
                        "{mechanism} {user}: {text}"
                    );
                    texts.push(text);
                }
            }
        }
        assert_eq!(texts[0], texts[1], "{mechanism}: no user enumeration");
    }
}

/// Handshake and client-first for `user`; returns the server-first message (the exchange is
/// then abandoned, which is not a failed login).
fn server_first(broker: &BrokerProcess, hash: ScramHash, user: &str) -> String {
    let mut s = schloss_e2e::raw::connect(&broker.bootstrap_of("SASL_PLAINTEXT"));
    assert_eq!(handshake(&mut s, hash.mechanism()).error_code, 0);
    let client = ScramClient::new(hash, user, "irrelevant");
    let r = authenticate(&mut s, client.client_first.as_bytes()).expect("server-first");
    assert_eq!(r.error_code, 0, "client-first of {user}: {r:?}");
    String::from_utf8(r.auth_bytes.to_vec()).unwrap()
}

fn attr<'a>(msg: &'a str, key: &str) -> &'a str {
    msg.split(',')
        .find_map(|a| a.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {msg}"))
}

/// An unknown user is not told apart at the server-first message: a stable salt of the
/// same size as a real one, and the same iteration count.
#[test]
fn unknown_users_look_like_real_ones_in_server_first() {
    use base64::Engine;
    let broker = sasl_broker();
    for hash in [ScramHash::Sha256, ScramHash::Sha512] {
        let real = server_first(&broker, hash, ALICE);
        let fake1 = server_first(&broker, hash, "default/nobody");
        let fake2 = server_first(&broker, hash, "default/nobody");
        let other = server_first(&broker, hash, "default/somebody-else");
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(
            attr(&fake1, "s="),
            attr(&fake2, "s="),
            "{hash:?}: fake salt is stable"
        );
        assert_ne!(
            attr(&fake1, "s="),
            attr(&other, "s="),
            "{hash:?}: fake salt per user"
        );
        assert_eq!(
            b64.decode(attr(&real, "s=")).unwrap().len(),
            b64.decode(attr(&fake1, "s=")).unwrap().len(),
            "{hash:?}: salt length"
        );
        assert_eq!(
            attr(&real, "i="),
            attr(&fake1, "i="),
            "{hash:?}: iterations"
        );
        assert_eq!(
            attr(&real, "s="),
            attr(&server_first(&broker, hash, ALICE), "s="),
            "{hash:?}: a real user's salt is stable too"
        );
    }
}

/// An authorization id equal to the user name is accepted, as Kafka does (for PLAIN
/// `authzid\0user\0password`, for SCRAM the GS2 header `n,a=user,`, which the client-final
/// message then carries base64-encoded in `c=`).
#[test]
fn an_authorization_id_equal_to_the_user_is_accepted() {
    let broker = sasl_broker();
    let addr = broker.bootstrap_of("SASL_PLAINTEXT");
    let mut s = schloss_e2e::raw::connect(&addr);
    assert_eq!(handshake(&mut s, "PLAIN").error_code, 0);
    let token = format!("{ALICE}\0{ALICE}\0{ALICE_PASSWORD}");
    let r = authenticate(&mut s, token.as_bytes()).unwrap();
    assert_eq!(r.error_code, 0, "PLAIN with authzid = user: {r:?}");
    assert!(metadata(&mut s).is_some());
    for hash in [ScramHash::Sha256, ScramHash::Sha512] {
        let mut client =
            ScramClient::with_gs2_header(hash, ALICE, ALICE_PASSWORD, &format!("n,a={ALICE},"));
        match scram_login(&addr, &mut client) {
            Login::Ok(mut s, _) => assert!(metadata(&mut s).is_some()),
            Login::Failed(code, msg) => panic!("{hash:?} with authzid = user: {code} {msg}"),
        }
        // `y,,`: the client supports channel binding but thinks the server does not.
        let mut client = ScramClient::with_gs2_header(hash, ALICE, ALICE_PASSWORD, "y,,");
        assert!(
            matches!(scram_login(&addr, &mut client), Login::Ok(..)),
            "{hash:?} with the `y` GS2 flag (RFC 5802 section 6)"
        );
    }
}

#[test]
fn sasl_users_see_only_their_tenants_topics() {
    let mut options = sasl_options(10_000, 0);
    options
        .setup
        .push(cmd(&["users", "add", "acme/bob", "--password", "bob-pw-1"]));
    let broker = BrokerProcess::start_with(options);
    let bob = client_config(
        &broker,
        "SASL_SSL",
        Some(("SCRAM-SHA-256", "acme/bob", "bob-pw-1")),
    );
    let alice = client_config(
        &broker,
        "SASL_SSL",
        Some(("SCRAM-SHA-512", ALICE, ALICE_PASSWORD)),
    );
    let bobs = unique("bob-orders");
    let alices = unique("alice-orders");
    round_trip(&bob, &bobs, 5);
    round_trip(&alice, &alices, 5);
    let dirs = partition_dirs(&broker);
    assert!(dirs.contains(&format!("acme.{bobs}-0")), "{dirs:?}");
    assert!(dirs.contains(&format!("default.{alices}-0")), "{dirs:?}");

    let seen_by_alice = visible_topics(&alice);
    let seen_by_bob = visible_topics(&bob);
    assert!(seen_by_alice.contains(&alices), "{seen_by_alice:?}");
    assert!(seen_by_bob.contains(&bobs), "{seen_by_bob:?}");
    assert!(
        !seen_by_alice.iter().any(|t| t.contains(&bobs)),
        "alice must not see acme's topic: {seen_by_alice:?}"
    );
    assert!(
        !seen_by_bob.iter().any(|t| t.contains(&alices)),
        "bob must not see default's topic: {seen_by_bob:?}"
    );
    assert!(
        seen_by_bob
            .iter()
            .all(|t| !t.contains('.') || t.starts_with("__")),
        "tenants see plain names: {seen_by_bob:?}"
    );
}

fn logs_in(broker: &BrokerProcess, mechanism: &str, user: &str, password: &str) -> bool {
    matches!(
        login(
            &broker.bootstrap_of("SASL_PLAINTEXT"),
            mechanism,
            user,
            password
        ),
        Login::Ok(..)
    )
}

#[test]
fn users_add_and_remove_apply_to_the_running_broker() {
    let broker = sasl_broker();
    assert!(!logs_in(
        &broker,
        "SCRAM-SHA-256",
        "default/carol",
        "carol-pw-1"
    ));

    broker.cli(&["users", "add", "default/carol", "--password", "carol-pw-1"]);
    let took = wait_for(
        Duration::from_secs(10),
        "carol to be able to log in",
        || {
            reset_brake(&broker);
            logs_in(&broker, "SCRAM-SHA-256", "default/carol", "carol-pw-1")
        },
    );
    eprintln!("users add took effect after {took:?}");
    assert!(logs_in(
        &broker,
        "SCRAM-SHA-512",
        "default/carol",
        "carol-pw-1"
    ));
    assert!(logs_in(&broker, "PLAIN", "default/carol", "carol-pw-1"));
    let carol = client_config(
        &broker,
        "SASL_SSL",
        Some(("SCRAM-SHA-512", "default/carol", "carol-pw-1")),
    );
    round_trip(&carol, &unique("carol"), 3);

    // A password change (remove + add): the old password stops working, the new one works.
    broker.cli(&["users", "remove", "default/carol"]);
    broker.cli(&[
        "users",
        "add",
        "default/carol",
        "--password",
        "carol-pw-2",
        "--mechanisms",
        "SCRAM-SHA-256",
    ]);
    wait_for(Duration::from_secs(10), "carol's new password", || {
        reset_brake(&broker);
        logs_in(&broker, "SCRAM-SHA-256", "default/carol", "carol-pw-2")
    });
    reset_brake(&broker);
    assert!(!logs_in(
        &broker,
        "SCRAM-SHA-256",
        "default/carol",
        "carol-pw-1"
    ));
    reset_brake(&broker);
    assert!(
        !logs_in(&broker, "PLAIN", "default/carol", "carol-pw-2"),
        "carol now has only a SCRAM-SHA-256 credential"
    );

    broker.cli(&["users", "remove", "default/carol"]);
    let took = wait_for(Duration::from_secs(10), "carol to be locked out", || {
        reset_brake(&broker);
        !logs_in(&broker, "SCRAM-SHA-256", "default/carol", "carol-pw-2")
    });
    eprintln!("users remove took effect after {took:?}");
    reset_brake(&broker);
    expect_auth_failure(&client_config(
        &broker,
        "SASL_SSL",
        Some(("SCRAM-SHA-256", "default/carol", "carol-pw-2")),
    ));
    // alice was never affected.
    reset_brake(&broker);
    assert!(logs_in(&broker, "PLAIN", ALICE, ALICE_PASSWORD));
    let listed = broker.cli(&["users", "list"]);
    assert!(
        listed.contains(ALICE) && !listed.contains("carol"),
        "{listed}"
    );
    assert!(
        !listed.contains(ALICE_PASSWORD),
        "users list never shows secrets"
    );
}

/// A credential file that no longer loads (a broken edit, or deleted) leaves the previous
/// credentials in force: it neither opens the door nor locks everyone out.
#[test]
fn a_broken_credential_file_keeps_the_previous_credentials() {
    let broker = sasl_broker();
    let file = broker.dir().join("users.toml");
    std::fs::write(&file, "this is [not valid toml").unwrap();
    wait_for(
        Duration::from_secs(10),
        "the rejected reload to be logged",
        || broker.log().contains("credential file rejected"),
    );
    for mechanism in MECHANISMS {
        assert!(
            logs_in(&broker, mechanism, ALICE, ALICE_PASSWORD),
            "{mechanism}"
        );
    }
    reset_brake(&broker);
    assert!(!logs_in(&broker, "PLAIN", ALICE, "anything"));
    std::fs::remove_file(&file).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    reset_brake(&broker);
    assert!(logs_in(&broker, "SCRAM-SHA-512", ALICE, ALICE_PASSWORD));
    // A valid file again: picked up.
    broker.cli(&["users", "add", "default/erin", "--password", "erin-pw"]);
    // (alice is gone from the new file, so no brake resets here: a few slow failures.)
    wait_for(Duration::from_secs(15), "erin", || {
        logs_in(&broker, "SCRAM-SHA-256", "default/erin", "erin-pw")
    });
    assert!(
        !logs_in(&broker, "SCRAM-SHA-256", ALICE, ALICE_PASSWORD),
        "the new file has no alice"
    );
}

/// `schloss users add` on an existing user replaces its credentials (its help text says
/// "Add a user, or replace its credentials"), as Kafka's `kafka-configs --alter
/// --add-config SCRAM-SHA-256=[password=...]` does: a password rotates in one step, without a
/// window in which the user does not exist.
#[test]
fn users_add_replaces_the_credentials_of_an_existing_user() {
    let broker = sasl_broker();
    let out = std::process::Command::new(schloss_testkit::schloss_bin())
        .args(["users", "add", ALICE, "--password", "alice-rotated-2"])
        .current_dir(broker.dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "users add on an existing user must replace its credentials: {}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .unwrap_or_default()
    );
    wait_for(Duration::from_secs(10), "the rotated password", || {
        reset_brake_with(&broker, "alice-rotated-2");
        logs_in(&broker, "SCRAM-SHA-256", ALICE, "alice-rotated-2")
    });
    assert!(!logs_in(&broker, "SCRAM-SHA-256", ALICE, ALICE_PASSWORD));
}

fn reset_brake_with(broker: &BrokerProcess, password: &str) {
    let _ = logs_in(broker, "SCRAM-SHA-256", ALICE, password)
        || logs_in(broker, "SCRAM-SHA-256", ALICE, ALICE_PASSWORD);
}

/// The credential file option works where the documentation writes it: after the action
/// (`schloss users add default/alice --password ... --file users.toml`).
#[test]
fn users_cli_accepts_file_after_the_action() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(schloss_testkit::schloss_bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let add = run(&[
        "users",
        "add",
        "default/dora",
        "--password",
        "p",
        "--file",
        "creds.toml",
    ]);
    assert!(
        add.status.success(),
        "users add ... --file: {}",
        String::from_utf8_lossy(&add.stderr)
            .lines()
            .next()
            .unwrap_or_default()
    );
    let list = run(&["users", "list", "--file", "creds.toml"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("default/dora"));
}
