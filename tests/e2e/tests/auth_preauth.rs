//! The connection before authentication, over raw sockets on a SASL_PLAINTEXT listener: only
//! ApiVersions, SaslHandshake and SaslAuthenticate are served; any other request, a frame over
//! the 512 KiB pre-auth cap, or a client that does not finish authenticating within
//! `authentication_timeout_ms` is disconnected. Malformed SASL exchanges (SCRAM and PLAIN,
//! current and legacy v0 framing) fail with SASL_AUTHENTICATION_FAILED and a close, and the
//! broker keeps serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod auth_common;

use auth_common::*;
use bytes::Buf;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ProduceRequest, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use rdkafka::producer::Producer;
use schloss_e2e::{raw, BrokerProcess};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Authentication must finish within a second on these brokers.
const AUTH_TIMEOUT_MS: u64 = 1000;

fn broker() -> BrokerProcess {
    BrokerProcess::start_with(sasl_options(AUTH_TIMEOUT_MS, 0))
}

fn connect(broker: &BrokerProcess) -> TcpStream {
    raw::connect(&broker.bootstrap_of("SASL_PLAINTEXT"))
}

fn api_versions(s: &mut TcpStream) -> ApiVersionsResponse {
    let req = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("auth-e2e"))
        .with_client_software_version(StrBytes::from_static_str("1"));
    let mut body = raw::call(s, ApiKey::ApiVersions, 3, &req);
    ApiVersionsResponse::decode(&mut body, 3).unwrap()
}

/// Sends `frame` and expects the broker to close the connection without answering.
fn expect_closed_without_answer(s: &mut TcpStream, frame: &[u8], what: &str) {
    let _ = s.write_all(frame);
    assert!(
        raw::read_response(s).is_none(),
        "{what}: the broker answered instead of closing"
    );
}

#[test]
fn requests_before_authentication_close_the_connection() {
    let broker = broker();
    let metadata = raw::frame(
        ApiKey::Metadata,
        12,
        1,
        &kafka_protocol::messages::MetadataRequest::default().with_topics(None),
    );
    let produce = raw::frame(
        ApiKey::Produce,
        9,
        1,
        &ProduceRequest::default().with_acks(1).with_timeout_ms(1000),
    );

    // Straight after connecting.
    expect_closed_without_answer(&mut connect(&broker), &metadata, "Metadata first");
    expect_closed_without_answer(&mut connect(&broker), &produce, "Produce first");

    // After ApiVersions (which is served).
    let mut s = connect(&broker);
    let versions = api_versions(&mut s);
    assert_eq!(versions.error_code, 0);
    assert!(versions
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::SaslAuthenticate as i16));
    expect_closed_without_answer(&mut s, &metadata, "Metadata after ApiVersions");

    // In the middle of SASL: handshake done, not yet authenticated.
    let mut s = connect(&broker);
    assert_eq!(handshake(&mut s, "SCRAM-SHA-256").error_code, 0);
    expect_closed_without_answer(&mut s, &produce, "Produce during SASL");
    let mut s = connect(&broker);
    assert_eq!(handshake(&mut s, "PLAIN").error_code, 0);
    expect_closed_without_answer(&mut s, &metadata, "Metadata during SASL");

    // Other admin APIs: CreateTopics and DescribeConfigs with empty bodies of their own.
    for (api, version) in [(ApiKey::CreateTopics, 7), (ApiKey::DescribeConfigs, 4)] {
        let body = match api {
            ApiKey::CreateTopics => raw::frame(
                api,
                version,
                1,
                &kafka_protocol::messages::CreateTopicsRequest::default(),
            ),
            _ => raw::frame(
                api,
                version,
                1,
                &kafka_protocol::messages::DescribeConfigsRequest::default(),
            ),
        };
        expect_closed_without_answer(&mut connect(&broker), &body, &format!("{api:?} first"));
    }
    assert!(
        partition_dirs(&broker).is_empty(),
        "nothing was created: {:?}",
        partition_dirs(&broker)
    );

    // Authenticated, the same Metadata request is served.
    let Login::Ok(mut s, _) = login(
        &broker.bootstrap_of("SASL_PLAINTEXT"),
        "SCRAM-SHA-512",
        ALICE,
        ALICE_PASSWORD,
    ) else {
        panic!("login")
    };
    let md = auth_common::metadata(&mut s).expect("metadata after authentication");
    assert_eq!(md.brokers.len(), 1);
}

#[test]
fn oversized_pre_auth_frames_close_the_connection() {
    let broker = broker();
    for mechanism_step in [false, true] {
        let mut s = connect(&broker);
        if mechanism_step {
            assert_eq!(handshake(&mut s, "SCRAM-SHA-512").error_code, 0);
        }
        // A 1 MiB SaslAuthenticate frame: the length prefix alone must get it closed.
        let body = vec![b'a'; 1 << 20];
        let frame = raw::frame_raw(ApiKey::SaslAuthenticate as i16, 2, 5, &body);
        let started = Instant::now();
        let _ = s.write_all(&frame);
        assert!(
            closed_within(&mut s, Duration::from_secs(10)),
            "1 MiB pre-auth frame (after handshake: {mechanism_step}) left the connection open"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    // The cap is Kafka's `sasl.server.max.receive.size` (524288): a frame of exactly that
    // size is read (and its SaslAuthenticate v1 answered), one byte more closes.
    for (size, answered) in [(524_288usize, true), (524_289, false)] {
        reset_brake(&broker);
        let mut s = connect(&broker);
        assert_eq!(handshake(&mut s, "SCRAM-SHA-256").error_code, 0);
        // header v1: api key, version, correlation id, null client id = 10 bytes; body: a
        // 4-byte length and the token.
        let token = vec![b'x'; size - 14];
        let mut body = (token.len() as i32).to_be_bytes().to_vec();
        body.extend_from_slice(&token);
        let frame = raw::frame_raw(ApiKey::SaslAuthenticate as i16, 1, 3, &body);
        assert_eq!(frame.len(), 4 + size);
        let _ = s.write_all(&frame);
        match raw::read_response(&mut s) {
            Some(mut resp) if answered => {
                assert_eq!(resp.get_i32(), 3);
                let r = kafka_protocol::messages::SaslAuthenticateResponse::decode(&mut resp, 1)
                    .unwrap();
                assert_eq!(r.error_code, SASL_AUTHENTICATION_FAILED, "{r:?}");
            }
            None if !answered => {}
            other => panic!("frame of {size} bytes: answered {}", other.is_some()),
        }
    }

    // Under the cap the broker reads the frame and the mechanism rejects the oversized
    // message: SASL_AUTHENTICATION_FAILED, then close.
    reset_brake(&broker);
    let mut s = connect(&broker);
    assert_eq!(handshake(&mut s, "SCRAM-SHA-256").error_code, 0);
    let big = vec![b'n'; 400 * 1024];
    let resp = authenticate(&mut s, &big).expect("an answer to a 400 KiB token");
    assert_eq!(resp.error_code, SASL_AUTHENTICATION_FAILED);
    assert!(closed_within(&mut s, Duration::from_secs(10)));

    // The broker still serves authenticated clients.
    reset_brake(&broker);
    let Login::Ok(mut s, _) = login(
        &broker.bootstrap_of("SASL_PLAINTEXT"),
        "PLAIN",
        ALICE,
        ALICE_PASSWORD,
    ) else {
        panic!("login")
    };
    assert!(metadata(&mut s).is_some());
}

#[test]
fn clients_that_do_not_authenticate_in_time_are_dropped() {
    let broker = broker();
    // 1. Connects and sends nothing.
    let mut silent = connect(&broker);
    // 2. Keeps the connection busy with ApiVersions but never authenticates.
    let mut chatty = connect(&broker);
    // 3. Starts SASL and stalls before the client-first message.
    let mut stalled = connect(&broker);
    assert_eq!(handshake(&mut stalled, "SCRAM-SHA-256").error_code, 0);
    // 4. Authenticated, then idle for longer than the timeout: must stay open.
    let Login::Ok(mut authed, _) = login(
        &broker.bootstrap_of("SASL_PLAINTEXT"),
        "SCRAM-SHA-256",
        ALICE,
        ALICE_PASSWORD,
    ) else {
        panic!("login")
    };

    let started = Instant::now();
    let mut chatty_dropped = false;
    while started.elapsed() < Duration::from_secs(10) {
        let req = ApiVersionsRequest::default();
        if chatty
            .write_all(&raw::frame(ApiKey::ApiVersions, 0, 3, &req))
            .is_err()
        {
            chatty_dropped = true;
            break;
        }
        if raw::read_response(&mut chatty).is_none() {
            chatty_dropped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        chatty_dropped,
        "a client that never authenticates must be dropped"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(AUTH_TIMEOUT_MS / 2),
        "dropped before the timeout"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(10)),
        "a silent client must be dropped"
    );
    assert!(
        closed_within(&mut stalled, Duration::from_secs(10)),
        "a client stalled mid-SASL must be dropped"
    );
    std::thread::sleep(Duration::from_millis(AUTH_TIMEOUT_MS + 500));
    assert!(
        metadata(&mut authed).is_some(),
        "the authentication timeout does not apply once authenticated"
    );
    assert!(broker.log().contains("authentication did not finish"));
}

/// On a SASL_SSL listener the timeout covers the TLS handshake and the SASL exchange after it.
#[test]
fn tls_clients_that_do_not_authenticate_in_time_are_dropped() {
    let broker = broker();
    let addr = broker.bootstrap_of("SASL_SSL");
    // No ClientHello at all.
    let mut silent = raw::connect(&addr);
    // A finished TLS handshake, then nothing: openssl s_client with its stdin held open exits
    // when the broker closes the connection.
    let mut tls = std::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &addr, "-CAfile"])
        .arg(broker.dir().join("certs/ca.pem"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_client");
    assert!(
        closed_within(&mut silent, Duration::from_secs(10)),
        "a client that never starts TLS must be dropped"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = tls.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.is_none() {
        let _ = tls.kill();
        let _ = tls.wait();
        panic!("a TLS client that never authenticates must be dropped");
    }
}

/// A listener offers only its configured mechanisms.
#[test]
fn a_listener_offers_only_its_mechanisms() {
    let mut options = sasl_options(10_000, 0);
    options.listeners = vec![schloss_testkit::ListenerSpec::new(
        "SASL_PLAINTEXT",
        "SASL_PLAINTEXT",
        r#"sasl_mechanisms = ["SCRAM-SHA-512"]"#,
    )];
    let broker = BrokerProcess::start_with(options);
    for mechanism in ["PLAIN", "SCRAM-SHA-256"] {
        let mut s = connect(&broker);
        let hs = handshake(&mut s, mechanism);
        assert_eq!(hs.error_code, UNSUPPORTED_SASL_MECHANISM, "{mechanism}");
        let offered: Vec<String> = hs.mechanisms.iter().map(|m| m.to_string()).collect();
        assert_eq!(offered, ["SCRAM-SHA-512"]);
        assert!(closed_within(&mut s, Duration::from_secs(10)));
    }
    assert!(matches!(
        login(
            &broker.bootstrap_of("SASL_PLAINTEXT"),
            "SCRAM-SHA-512",
            ALICE,
            ALICE_PASSWORD
        ),
        Login::Ok(..)
    ));
    // librdkafka asking for PLAIN gives up with an error instead of authenticating.
    let ctx = Capture::default();
    let cfg = client_config(
        &broker,
        "SASL_PLAINTEXT",
        Some(("PLAIN", ALICE, ALICE_PASSWORD)),
    );
    let client: rdkafka::producer::BaseProducer<Capture> =
        cfg.create_with_context(ctx.clone()).unwrap();
    assert!(client
        .client()
        .fetch_metadata(None, Duration::from_secs(3))
        .is_err());
}

#[test]
fn sasl_state_errors_close_the_connection() {
    let broker = broker();
    // An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled ones, then close.
    let mut s = connect(&broker);
    let hs = handshake(&mut s, "GSSAPI");
    assert_eq!(hs.error_code, UNSUPPORTED_SASL_MECHANISM);
    let mut offered: Vec<String> = hs.mechanisms.iter().map(|m| m.to_string()).collect();
    offered.sort();
    assert_eq!(offered, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    assert!(closed_within(&mut s, Duration::from_secs(10)));

    // SaslAuthenticate without SaslHandshake: closed (Kafka closes; an ILLEGAL_SASL_STATE
    // answer first is fine).
    let mut s = connect(&broker);
    if let Some(r) = authenticate(&mut s, b"n,,n=default/alice,r=abc") {
        assert_eq!(r.error_code, ILLEGAL_SASL_STATE, "{r:?}");
    }
    assert!(closed_within(&mut s, Duration::from_secs(10)));

    // A second handshake in the middle of an exchange.
    let mut s = connect(&broker);
    assert_eq!(handshake(&mut s, "SCRAM-SHA-256").error_code, 0);
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    let _ = s.write_all(&raw::frame(ApiKey::SaslHandshake, 1, 9, &req));
    if let Some(mut r) = raw::read_response(&mut s) {
        assert_eq!(r.get_i32(), 9);
        let r = SaslHandshakeResponse::decode(&mut r, 1).unwrap();
        assert_ne!(r.error_code, 0, "a second handshake must not be accepted");
    }
    assert!(closed_within(&mut s, Duration::from_secs(10)));
}

/// Builds a client-final message from the server-first message.
type FinalFrom<'a> = &'a dyn Fn(&str) -> Vec<u8>;

/// One malformed exchange: `first` is sent as the first SaslAuthenticate; if `second` is
/// given, `first` must be a valid client-first message and `second(server_first)` the final.
fn expect_rejected(
    broker: &BrokerProcess,
    mechanism: &str,
    first: &[u8],
    second: Option<FinalFrom<'_>>,
    what: &str,
) {
    reset_brake(broker);
    let mut s = connect(broker);
    assert_eq!(handshake(&mut s, mechanism).error_code, 0);
    let r1 = authenticate(&mut s, first).unwrap_or_else(|| panic!("{what}: no answer"));
    let last = match second {
        None => r1,
        Some(make) => {
            assert_eq!(r1.error_code, 0, "{what}: client-first rejected: {r1:?}");
            let server_first = String::from_utf8(r1.auth_bytes.to_vec()).unwrap();
            authenticate(&mut s, &make(&server_first))
                .unwrap_or_else(|| panic!("{what}: no answer to the final message"))
        }
    };
    assert_eq!(
        last.error_code, SASL_AUTHENTICATION_FAILED,
        "{what}: {last:?}"
    );
    assert!(
        closed_within(&mut s, Duration::from_secs(10)),
        "{what}: connection left open after the failure"
    );
}

fn nonce_of(server_first: &str) -> String {
    server_first
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .unwrap()
        .to_owned()
}

#[test]
fn malformed_sasl_messages_fail_cleanly_and_the_broker_keeps_serving() {
    let broker = broker();
    let first = b"n,,n=default/alice,r=clientnonce0123456789";
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let client_first_cases: [(&[u8], &str); 11] = [
            (&[0xff, 0xfe, 0x00, 0x80, 0x41], "binary garbage"),
            (b"", "empty message"),
            (b"n,,", "only the GS2 header"),
            (b"x,,n=default/alice,r=abc", "bad GS2 flag"),
            (
                b"p=tls-unique,,n=default/alice,r=abc",
                "channel binding requested",
            ),
            (b"n,,n=default/alice", "no nonce"),
            (b"n,,r=abc,n=default/alice", "attributes out of order"),
            (b"n,,m=ext,n=default/alice,r=abc", "reserved m= extension"),
            (
                b"n,a=default/bob,n=default/alice,r=abc",
                "authzid of another user",
            ),
            (b"n,,n=default/alice,r=abc,e=\xc3\x28", "invalid UTF-8"),
            (b"n,,n=de=ZZfault/alice,r=abc", "bad saslname escape"),
        ];
        for (msg, what) in client_first_cases {
            expect_rejected(
                &broker,
                mechanism,
                msg,
                None,
                &format!("{mechanism}: {what}"),
            );
        }
        let finals: [(FinalFrom<'_>, &str); 8] = [
            (&|_| vec![0xde, 0xad, 0xbe, 0xef], "binary garbage final"),
            (&|_| b"c=biws,r=notthenonce,p=AAAA".to_vec(), "wrong nonce"),
            (
                &|sf| format!("c=biws,r={},p=!!!not-base64!!!", nonce_of(sf)).into_bytes(),
                "proof not base64",
            ),
            (
                &|sf| format!("c=biws,r={},p=AAAAAAAA", nonce_of(sf)).into_bytes(),
                "proof of the wrong length",
            ),
            (
                &|sf| format!("c=biws,r={}", nonce_of(sf)).into_bytes(),
                "no proof",
            ),
            (
                &|sf| format!("c=eSws,r={},p={}", nonce_of(sf), "A".repeat(44)).into_bytes(),
                "channel binding mismatch",
            ),
            (&|_| Vec::new(), "empty final"),
            (
                &|sf| format!("c=biws,r={},p={}", nonce_of(sf), "A".repeat(5000)).into_bytes(),
                "huge proof",
            ),
        ];
        for (make, what) in finals {
            expect_rejected(
                &broker,
                mechanism,
                first,
                Some(make),
                &format!("{mechanism}: {what}"),
            );
        }
    }
    let plain_cases: [(&[u8], &str); 7] = [
        (b"", "empty"),
        (b"\0", "only a separator"),
        (b"default/alice", "no separators"),
        (b"\0default/alice", "no password"),
        (b"a\0b\0c\0d", "too many fields"),
        (b"default/bob\0default/alice\0x", "authzid of another user"),
        (&[0, 0xff, 0xfe, 0, 0x80], "binary garbage"),
    ];
    for (msg, what) in plain_cases {
        expect_rejected(&broker, "PLAIN", msg, None, &format!("PLAIN: {what}"));
    }

    // Legacy framing (SaslHandshake v0, then bare tokens): garbage closes the connection
    // without a Kafka response.
    reset_brake(&broker);
    let mut s = connect(&broker);
    let req =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("SCRAM-SHA-256"));
    let mut body = raw::call(&mut s, ApiKey::SaslHandshake, 0, &req);
    assert_eq!(
        SaslHandshakeResponse::decode(&mut body, 0)
            .unwrap()
            .error_code,
        0
    );
    let token = [0xffu8, 0x00, 0x13, 0x37];
    let mut frame = (token.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&token);
    s.write_all(&frame).unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(10)));

    // The legacy flow itself works with a correct exchange.
    reset_brake(&broker);
    let mut s = connect(&broker);
    let mut body = raw::call(&mut s, ApiKey::SaslHandshake, 0, &req);
    assert_eq!(
        SaslHandshakeResponse::decode(&mut body, 0)
            .unwrap()
            .error_code,
        0
    );
    let mut client = ScramClient::new(ScramHash::Sha256, ALICE, ALICE_PASSWORD);
    let bare = |s: &mut TcpStream, token: &[u8]| -> Vec<u8> {
        let mut f = (token.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(token);
        s.write_all(&f).unwrap();
        raw::read_response(s).expect("bare token").to_vec()
    };
    let server_first = bare(&mut s, client.client_first.as_bytes());
    let final_msg = client.respond(std::str::from_utf8(&server_first).unwrap());
    let server_final = bare(&mut s, final_msg.as_bytes());
    assert_eq!(
        String::from_utf8(server_final).unwrap(),
        format!("v={}", client.server_signature_b64)
    );
    assert!(
        metadata(&mut s).is_some(),
        "legacy-authenticated connection is served"
    );

    // Still serving real clients, every mechanism.
    let mut broker = broker;
    assert!(broker.is_running());
    for mechanism in MECHANISMS {
        let cfg = client_config(
            &broker,
            "SASL_PLAINTEXT",
            Some((mechanism, ALICE, ALICE_PASSWORD)),
        );
        round_trip(
            &cfg,
            &unique(&format!("after-garbage-{}", mechanism.to_lowercase())),
            3,
        );
    }
    let log = broker.log();
    assert!(!log.contains("panicked"), "no panic in the broker log");
}
