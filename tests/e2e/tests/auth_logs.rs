//! Secrets never reach the log: a broker at `RUST_LOG=trace` sees successful and failed
//! logins with every mechanism (librdkafka over SASL_SSL and SASL_PLAINTEXT, and our own raw
//! PLAIN and SCRAM exchanges, whose proofs, salted passwords and keys we know), a
//! re-authentication and a credential reload; afterwards its log contains none of the
//! passwords (as text, base64, hex or byte dump), PLAIN tokens, SCRAM proofs, client-final
//! messages, salted passwords or keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth_common;

use auth_common::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use schloss_e2e::BrokerProcess;
use std::time::Duration;

const PASSWORD: &str = "Tr4ce-Secret-Pa55word-91";
const WRONG: &str = "Wr0ng-Guess-Pa55word-37";
const NEW_USER_PASSWORD: &str = "N3w-User-Secret-Pa55-58";

#[test]
fn no_secret_appears_in_a_trace_log() {
    let mut options = sasl_options(10_000, 2000);
    options.setup = vec![
        cmd(&["certs", "dev", "--dir", "certs"]),
        cmd(&["users", "add", "default/tracy", "--password", PASSWORD]),
    ];
    options.env = vec![(s("RUST_LOG"), s("trace")), (s("NO_COLOR"), s("1"))];
    let broker = BrokerProcess::start_with(options);
    let user = "default/tracy";
    let plain_addr = broker.bootstrap_of("SASL_PLAINTEXT");
    let mut secrets: Vec<String> = Vec::new();
    secrets.extend(password_forms(PASSWORD));
    secrets.extend(password_forms(WRONG));
    secrets.extend(password_forms(NEW_USER_PASSWORD));
    for password in [PASSWORD, WRONG] {
        let token = format!("\0{user}\0{password}");
        secrets.push(B64.encode(&token));
        secrets.push(hex(token.as_bytes()));
        secrets.push(format!("{:?}", token.as_bytes()));
    }

    let ok_login = || match login(&plain_addr, "SCRAM-SHA-256", user, PASSWORD) {
        Login::Ok(..) => {}
        Login::Failed(code, msg) => panic!("login: {code} {msg}"),
    };

    // librdkafka: success and failure, every mechanism, both SASL listeners.
    for listener in ["SASL_SSL", "SASL_PLAINTEXT"] {
        for mechanism in MECHANISMS {
            let cfg = client_config(&broker, listener, Some((mechanism, user, PASSWORD)));
            round_trip(&cfg, &unique("trace"), 1);
            ok_login();
            expect_auth_failure(&client_config(
                &broker,
                listener,
                Some((mechanism, user, WRONG)),
            ));
        }
    }

    // Raw SCRAM, success and failure, where we know every derived value.
    for hash in [ScramHash::Sha256, ScramHash::Sha512] {
        let mut good = ScramClient::new(hash, user, PASSWORD);
        let Login::Ok(mut s, _) = scram_login(&plain_addr, &mut good) else {
            panic!("raw {hash:?} login")
        };
        secrets.extend(good.secrets());
        // Re-authenticate on the same connection (new proof).
        assert_eq!(handshake(&mut s, hash.mechanism()).error_code, 0);
        let mut again = ScramClient::new(hash, user, PASSWORD);
        scram_on(&mut s, &mut again).expect("re-authentication");
        secrets.extend(again.secrets());

        ok_login();
        let mut bad = ScramClient::new(hash, user, WRONG);
        assert!(matches!(
            scram_login(&plain_addr, &mut bad),
            Login::Failed(..)
        ));
        secrets.extend(bad.secrets());
        ok_login();
        let mut unknown = ScramClient::new(hash, "default/nobody", WRONG);
        assert!(matches!(
            scram_login(&plain_addr, &mut unknown),
            Login::Failed(..)
        ));
        secrets.extend(unknown.secrets());
    }
    // Raw PLAIN, success and failure.
    ok_login();
    assert!(matches!(
        plain_login(&plain_addr, user, PASSWORD),
        Login::Ok(..)
    ));
    assert!(matches!(
        plain_login(&plain_addr, user, WRONG),
        Login::Failed(..)
    ));
    ok_login();

    // A user added while running (credential reload), then used.
    broker.cli(&[
        "users",
        "add",
        "default/newbie",
        "--password",
        NEW_USER_PASSWORD,
    ]);
    wait_for(Duration::from_secs(10), "the new user", || {
        ok_login();
        matches!(
            login(
                &plain_addr,
                "SCRAM-SHA-512",
                "default/newbie",
                NEW_USER_PASSWORD
            ),
            Login::Ok(..)
        )
    });
    std::thread::sleep(Duration::from_millis(300)); // let the last log lines land

    let log = broker.log();
    assert!(
        log.lines().count() > 100 && log.contains("DEBUG"),
        "the broker really logged verbosely ({} lines)",
        log.lines().count()
    );
    assert!(
        log.contains("authentication failed") && log.contains(user),
        "failed logins are logged (with the attempted login, never the secret)"
    );
    let leaked: Vec<&String> = secrets
        .iter()
        .filter(|secret| secret.len() >= 8 && log.contains(secret.as_str()))
        .collect();
    if !leaked.is_empty() {
        let first = leaked[0];
        let line = log.lines().find(|l| l.contains(first.as_str())).unwrap();
        panic!(
            "{} secret(s) in the broker log, e.g. {first:?} in:\n{line}",
            leaked.len()
        );
    }
    let stored = std::fs::read_to_string(broker.dir().join("users.toml")).unwrap();
    for password in [PASSWORD, NEW_USER_PASSWORD] {
        for form in password_forms(password) {
            assert!(
                !stored.contains(&form),
                "the credential file holds a password"
            );
        }
    }
}
