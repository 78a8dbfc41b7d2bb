//! Connection limits that need authentication or a tenant to show, over raw sockets: the
//! per-tenant connection limit (charged when a connection is authenticated, on plaintext and
//! SASL listeners) and `queued.max.request.bytes` (a connection holding request memory makes
//! others wait instead of growing the broker). The flood, trickle, bomb and pipelining attacks
//! against a live librdkafka client are in tests/python/test_hostile.py.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth_common;

use auth_common::*;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use schloss_e2e::raw;
use schloss_e2e::{BrokerOptions, BrokerProcess};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// ApiVersions v0 on `s`: true if answered.
fn answers(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(&raw::frame(
        ApiKey::ApiVersions,
        0,
        5,
        &ApiVersionsRequest::default(),
    ))
    .is_err()
    {
        return false;
    }
    raw::read_response(s).is_some()
}

#[test]
fn a_plaintext_tenant_beyond_its_limit_is_closed_and_others_are_unaffected() {
    let broker = BrokerProcess::start_with(BrokerOptions {
        broker_extra: "max_connections_per_tenant = 3\n".into(),
        ..BrokerOptions::default()
    });
    let mut held: Vec<TcpStream> = (0..3).map(|_| raw::connect(&broker.bootstrap())).collect();
    for s in &mut held {
        assert!(answers(s), "connections within the tenant limit are served");
    }
    let mut fourth = raw::connect(&broker.bootstrap());
    assert!(
        closed_within(&mut fourth, Duration::from_secs(10)),
        "the fourth connection of tenant default is closed"
    );
    drop(held.pop());
    wait_for(Duration::from_secs(10), "a freed tenant slot", || {
        answers(&mut raw::connect(&broker.bootstrap()))
    });
    // The broker logs why after closing, so the line may trail the close a little.
    wait_for(Duration::from_secs(10), "the refusal in the log", || {
        broker.log().contains("connection limit")
    });
}

#[test]
fn a_sasl_login_beyond_the_tenant_limit_fails_while_other_tenants_log_in() {
    let mut options = sasl_options(10_000, 0);
    options.broker_extra = "max_connections_per_tenant_overrides = { default = 2 }\n".into();
    options.setup.push(cmd(&[
        "users",
        "add",
        "other/bob",
        "--password",
        "bob-pw-9f3k",
    ]));
    let broker = BrokerProcess::start_with(options);
    let addr = broker.bootstrap_of("SASL_PLAINTEXT");
    let login = |user: &str, password: &str| {
        let mut s = raw::connect(&addr);
        assert_eq!(handshake(&mut s, "PLAIN").error_code, 0);
        let token = format!("\0{user}\0{password}");
        let response = authenticate(&mut s, token.as_bytes()).expect("an answer");
        (s, response)
    };
    let (_a, first) = login(ALICE, ALICE_PASSWORD);
    let (_b, second) = login(ALICE, ALICE_PASSWORD);
    assert_eq!((first.error_code, second.error_code), (0, 0));
    let (mut third, refused) = login(ALICE, ALICE_PASSWORD);
    assert_eq!(refused.error_code, SASL_AUTHENTICATION_FAILED);
    let message = refused
        .error_message
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert!(message.contains("Connection limit"), "{message}");
    assert!(closed_within(&mut third, Duration::from_secs(10)));
    // Another tenant is not limited by default's connections.
    let (mut other, ok) = login("other/bob", "bob-pw-9f3k");
    assert_eq!(ok.error_code, 0);
    assert!(metadata(&mut other).is_some());
}

#[test]
fn held_request_memory_makes_other_connections_wait_not_the_broker_grow() {
    let broker = BrokerProcess::start_with(BrokerOptions {
        broker_extra: "socket_request_max_bytes = 1048576\nqueued_max_request_bytes = 1048576\nframe_timeout_ms = 4000\n".into(),
        ..BrokerOptions::default()
    });
    // A frame that claims the whole pool and sends only part of its body.
    let mut hog = raw::connect(&broker.bootstrap());
    hog.write_all(&1_048_576i32.to_be_bytes()).unwrap();
    hog.write_all(&[0u8; 1000]).unwrap();
    // Waiting for memory counts against the waiter's own frame timeout too: start it well
    // after the hog, so the hog's timeout (which frees the pool) comes first.
    std::thread::sleep(Duration::from_millis(1000));
    let mut waiting = raw::connect(&broker.bootstrap());
    waiting
        .write_all(&raw::frame(
            ApiKey::ApiVersions,
            0,
            9,
            &ApiVersionsRequest::default(),
        ))
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        waiting.read(&mut byte).is_err(),
        "no answer while the pool is held"
    );
    // The hog is dropped at the frame timeout; its memory returns and the waiter is served.
    assert!(closed_within(&mut hog, Duration::from_secs(20)));
    waiting
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    assert!(raw::read_response(&mut waiting).is_some());
    wait_for(
        Duration::from_secs(10),
        "the frame timeout in the log",
        || broker.log().contains("frame timeout"),
    );
}
