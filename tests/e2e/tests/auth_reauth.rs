//! KIP-368 re-authentication with `connections_max_reauth_ms = 3000`: librdkafka producers
//! and a consumer keep working for several session lifetimes (the client re-authenticates on
//! its own); a raw client that authenticated once is disconnected at its first request after
//! the lifetime; re-authenticating on the same connection extends the session, and may not
//! change the principal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth_common;

use auth_common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use schloss_e2e::BrokerProcess;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const LIFETIME_MS: u64 = 3000;

fn broker() -> BrokerProcess {
    let mut options = sasl_options(10_000, LIFETIME_MS);
    options.setup.push(cmd(&[
        "users",
        "add",
        "default/bob",
        "--password",
        "bob-pw",
    ]));
    options.env = vec![
        (s("RUST_LOG"), s("info,schloss=debug")),
        (s("NO_COLOR"), s("1")),
    ];
    BrokerProcess::start_with(options)
}

#[test]
fn librdkafka_reauthenticates_and_keeps_working_across_lifetimes() {
    let broker = broker();
    let run_for = Duration::from_millis(LIFETIME_MS * 3 + 1500);
    let cases = [
        ("SASL_SSL", "SCRAM-SHA-512"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
        ("SASL_SSL", "PLAIN"),
    ];
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (listener, mechanism) in cases {
            let broker = &broker;
            handles.push(scope.spawn(move || {
                let mut cfg =
                    client_config(broker, listener, Some((mechanism, ALICE, ALICE_PASSWORD)));
                cfg.set("topic.metadata.refresh.interval.ms", "1000");
                let topic = unique(&format!("reauth-{}", mechanism.to_lowercase()));
                let ctx = Capture::default();
                let mut pcfg = cfg.clone();
                pcfg.set("linger.ms", "0")
                    .set("message.timeout.ms", "20000");
                let producer: BaseProducer<Capture> =
                    pcfg.create_with_context(ctx.clone()).unwrap();
                // A consumer long-polling the same topic meanwhile.
                let cctx = Capture::default();
                let mut ccfg = cfg.clone();
                ccfg.set("group.id", "auth-reauth")
                    .set("enable.auto.commit", "false")
                    .set("fetch.wait.max.ms", "500");
                let consumer: BaseConsumer<Capture> =
                    ccfg.create_with_context(cctx.clone()).unwrap();
                let mut tpl = TopicPartitionList::new();
                tpl.add_partition_offset(&topic, 0, Offset::Beginning)
                    .unwrap();
                let started = Instant::now();
                let mut sent = 0usize;
                let mut read = Vec::new();
                let mut assigned = false;
                while started.elapsed() < run_for {
                    let v = format!("v{sent}");
                    producer
                        .send(BaseRecord::<str, str>::to(&topic).partition(0).payload(&v))
                        .unwrap_or_else(|(e, _)| panic!("send: {e}"));
                    producer.flush(Duration::from_secs(20)).unwrap_or_else(|e| {
                        panic!(
                            "{listener}/{mechanism}: record {sent} at {:?}: {e}; errors {:?}",
                            started.elapsed(),
                            ctx.errors.all()
                        )
                    });
                    sent += 1;
                    if !assigned {
                        consumer.assign(&tpl).unwrap();
                        assigned = true;
                    }
                    while let Some(m) = consumer.poll(Duration::from_millis(150)) {
                        let m = m.unwrap_or_else(|e| panic!("consume: {e}"));
                        read.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned());
                    }
                }
                let deadline = Instant::now() + Duration::from_secs(20);
                while read.len() < sent && Instant::now() < deadline {
                    if let Some(m) = consumer.poll(Duration::from_millis(200)) {
                        let m = m.unwrap_or_else(|e| panic!("consume: {e}"));
                        read.push(String::from_utf8_lossy(m.payload().unwrap()).into_owned());
                    }
                }
                let want: Vec<String> = (0..sent).map(|i| format!("v{i}")).collect();
                assert_eq!(
                    read, want,
                    "{listener}/{mechanism}: consumed across re-authentications"
                );
                assert!(
                    ctx.errors.all().is_empty() && cctx.errors.all().is_empty(),
                    "{listener}/{mechanism}: client errors {:?} {:?}",
                    ctx.errors.all(),
                    cctx.errors.all()
                );
                sent
            }));
        }
        for h in handles {
            let sent = h.join().unwrap();
            assert!(sent > 10, "records produced: {sent}");
        }
    });
    let log = broker.log();
    let expired: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("session expired"))
        .collect();
    assert!(
        expired.is_empty(),
        "librdkafka connections were closed for not re-authenticating:\n{}",
        expired.join("\n")
    );
}

fn scram(broker: &BrokerProcess, user: &str, password: &str) -> (TcpStream, i64) {
    let mut client = ScramClient::new(ScramHash::Sha512, user, password);
    match scram_login(&broker.bootstrap_of("SASL_PLAINTEXT"), &mut client) {
        Login::Ok(s, lifetime) => (s, lifetime),
        Login::Failed(code, msg) => panic!("login: {code} {msg}"),
    }
}

#[test]
fn a_client_that_does_not_reauthenticate_is_disconnected_after_the_lifetime() {
    let broker = broker();
    let (mut s, lifetime) = scram(&broker, ALICE, ALICE_PASSWORD);
    let authenticated_at = Instant::now();
    assert_eq!(lifetime, LIFETIME_MS as i64, "session_lifetime_ms");
    while authenticated_at.elapsed() < Duration::from_millis(LIFETIME_MS / 2) {
        assert!(metadata(&mut s).is_some(), "served within the lifetime");
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(
        Duration::from_millis(LIFETIME_MS + 300).saturating_sub(authenticated_at.elapsed()),
    );
    assert!(
        metadata(&mut s).is_none(),
        "a request after the session lifetime must close the connection"
    );
    wait_for(Duration::from_secs(5), "the expiry to be logged", || {
        broker.log().contains("session expired")
    });
}

#[test]
fn reauthentication_on_the_same_connection_extends_the_session() {
    let broker = broker();
    let (mut s, _) = scram(&broker, ALICE, ALICE_PASSWORD);
    let first_auth = Instant::now();
    std::thread::sleep(Duration::from_millis(LIFETIME_MS / 2));

    // Re-authenticate (KIP-368): SaslHandshake + SaslAuthenticate on the live connection.
    assert_eq!(handshake(&mut s, "SCRAM-SHA-512").error_code, 0);
    let mut again = ScramClient::new(ScramHash::Sha512, ALICE, ALICE_PASSWORD);
    let lifetime = scram_on(&mut s, &mut again).expect("re-authentication");
    assert_eq!(lifetime, LIFETIME_MS as i64);
    let reauth_at = Instant::now();

    std::thread::sleep(
        Duration::from_millis(LIFETIME_MS + 300).saturating_sub(first_auth.elapsed()),
    );
    assert!(
        metadata(&mut s).is_some(),
        "past the first lifetime, within the renewed one: still served"
    );
    std::thread::sleep(
        Duration::from_millis(LIFETIME_MS + 300).saturating_sub(reauth_at.elapsed()),
    );
    assert!(
        metadata(&mut s).is_none(),
        "past the renewed lifetime without re-authenticating: closed"
    );

    // Re-authenticating as somebody else is refused and closes the connection.
    let (mut s, _) = scram(&broker, ALICE, ALICE_PASSWORD);
    assert_eq!(handshake(&mut s, "SCRAM-SHA-512").error_code, 0);
    let mut bob = ScramClient::new(ScramHash::Sha512, "default/bob", "bob-pw");
    match scram_on(&mut s, &mut bob) {
        Ok(_) => panic!("a connection of alice re-authenticated as bob"),
        Err((code, _)) => assert_eq!(code, SASL_AUTHENTICATION_FAILED),
    }
    assert!(closed_within(&mut s, Duration::from_secs(10)));

    // As in Kafka, re-authentication may not switch mechanisms (no downgrade on a live
    // connection), even for the same user.
    let (mut s, _) = scram(&broker, ALICE, ALICE_PASSWORD);
    if handshake(&mut s, "SCRAM-SHA-256").error_code == 0 {
        let mut other = ScramClient::new(ScramHash::Sha256, ALICE, ALICE_PASSWORD);
        match scram_on(&mut s, &mut other) {
            Ok(_) => panic!("re-authenticated with another mechanism"),
            Err((code, _)) => assert_eq!(code, SASL_AUTHENTICATION_FAILED),
        }
    }
    assert!(closed_within(&mut s, Duration::from_secs(10)));

    // Re-authentication with a wrong password fails and closes the connection too.
    let (mut s, _) = scram(&broker, ALICE, ALICE_PASSWORD);
    assert_eq!(handshake(&mut s, "SCRAM-SHA-512").error_code, 0);
    let mut wrong = ScramClient::new(ScramHash::Sha512, ALICE, "wrong");
    match scram_on(&mut s, &mut wrong) {
        Ok(_) => panic!("re-authenticated with a wrong password"),
        Err((code, _)) => assert_eq!(code, SASL_AUTHENTICATION_FAILED),
    }
    assert!(closed_within(&mut s, Duration::from_secs(10)));
}

/// Revocation, the point of KIP-368: after `schloss users remove`, an open connection of that
/// user cannot re-authenticate, and is closed at the end of its session.
#[test]
fn a_removed_user_cannot_reauthenticate() {
    let broker = broker();
    let (mut s, _) = scram(&broker, "default/bob", "bob-pw");
    let authenticated_at = Instant::now();
    assert!(metadata(&mut s).is_some());
    broker.cli(&["users", "remove", "default/bob"]);
    wait_for(Duration::from_secs(10), "the removal to apply", || {
        matches!(
            login(
                &broker.bootstrap_of("SASL_PLAINTEXT"),
                "SCRAM-SHA-256",
                "default/bob",
                "bob-pw"
            ),
            Login::Failed(..)
        )
    });
    if authenticated_at.elapsed() < Duration::from_millis(LIFETIME_MS) {
        // Still within the session: re-authentication is refused and closes the connection.
        assert_eq!(handshake(&mut s, "SCRAM-SHA-512").error_code, 0);
        let mut again = ScramClient::new(ScramHash::Sha512, "default/bob", "bob-pw");
        match scram_on(&mut s, &mut again) {
            Ok(_) => panic!("a removed user re-authenticated"),
            Err((code, _)) => assert_eq!(code, SASL_AUTHENTICATION_FAILED),
        }
        assert!(closed_within(&mut s, Duration::from_secs(10)));
    } else {
        assert!(metadata(&mut s).is_none(), "expired session must be closed");
    }
}
