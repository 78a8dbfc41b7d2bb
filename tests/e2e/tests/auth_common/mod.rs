//! Shared support of the `auth_*` suites: brokers with SASL_SSL / SASL_PLAINTEXT / SSL
//! listeners, librdkafka configurations for each security protocol, an error-capturing client
//! context, test certificates (rcgen), and a raw SASL client of our own (SaslHandshake +
//! SaslAuthenticate on a plain socket, with an RFC 5802 SCRAM client) for the exchanges real
//! clients hide.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use schloss_e2e::raw;
use schloss_e2e::{BrokerOptions, BrokerProcess};
use schloss_testkit::ListenerSpec;
use sha2::{Digest, Sha256, Sha512};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
pub const ALICE: &str = "default/alice";
pub const ALICE_PASSWORD: &str = "alice-s3cret-Qx7";

/// Kafka's SASL_AUTHENTICATION_FAILED.
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
/// Kafka's ILLEGAL_SASL_STATE.
pub const ILLEGAL_SASL_STATE: i16 = 34;
/// Kafka's UNSUPPORTED_SASL_MECHANISM.
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

pub fn s(v: &str) -> String {
    v.to_owned()
}

pub fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// The `[auth]` table of a SASL broker.
pub fn auth_table(timeout_ms: u64, reauth_ms: u64) -> String {
    format!(
        "[auth]\ncredentials_file = \"users.toml\"\nauthentication_timeout_ms = {timeout_ms}\nconnections_max_reauth_ms = {reauth_ms}\n"
    )
}

pub const SASL_SSL_EXTRA: &str = r#"sasl_mechanisms = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
[listeners.tls]
cert = "certs/server.pem"
key = "certs/server.key"
"#;

pub const SASL_PLAINTEXT_EXTRA: &str =
    r#"sasl_mechanisms = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]"#;

/// A broker with a `SASL_SSL` and a `SASL_PLAINTEXT` listener (all three mechanisms), dev
/// certificates in `certs/` and user `default/alice` with every mechanism.
pub fn sasl_options(timeout_ms: u64, reauth_ms: u64) -> BrokerOptions {
    BrokerOptions {
        listeners: vec![
            ListenerSpec::new("SASL_SSL", "SASL_SSL", SASL_SSL_EXTRA),
            ListenerSpec::new("SASL_PLAINTEXT", "SASL_PLAINTEXT", SASL_PLAINTEXT_EXTRA),
        ],
        extra_config: auth_table(timeout_ms, reauth_ms),
        setup: vec![
            cmd(&["certs", "dev", "--dir", "certs"]),
            cmd(&["users", "add", ALICE, "--password", ALICE_PASSWORD]),
        ],
        ..BrokerOptions::default()
    }
}

pub fn sasl_broker() -> BrokerProcess {
    BrokerProcess::start_with(sasl_options(10_000, 0))
}

/// librdkafka settings for `listener` of `broker` (`SASL_SSL`, `SASL_PLAINTEXT` or `SSL`),
/// with SASL credentials when given.
pub fn client_config(
    broker: &BrokerProcess,
    listener: &str,
    sasl: Option<(&str, &str, &str)>,
) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", broker.bootstrap_of(listener))
        .set("security.protocol", listener)
        .set("client.id", "auth-e2e")
        // A failed authentication is not worth hammering the broker (or its brake) again.
        .set("reconnect.backoff.ms", "500")
        .set("reconnect.backoff.max.ms", "2000");
    if listener.ends_with("SSL") {
        cfg.set(
            "ssl.ca.location",
            broker.dir().join("certs/ca.pem").display().to_string(),
        );
    }
    if let Some((mechanism, user, password)) = sasl {
        cfg.set("sasl.mechanisms", mechanism)
            .set("sasl.username", user)
            .set("sasl.password", password);
    }
    cfg
}

/// One error librdkafka reported: its code (if it has one) and reason text.
pub type Reported = (Option<RDKafkaErrorCode>, String);

/// Errors librdkafka reported through its error callback.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<Reported>>>);

impl Captured {
    pub fn all(&self) -> Vec<Reported> {
        self.0.lock().unwrap().clone()
    }

    pub fn has(&self, code: RDKafkaErrorCode) -> bool {
        self.0.lock().unwrap().iter().any(|(c, _)| *c == Some(code))
    }
}

/// A client context that records every error librdkafka reports.
#[derive(Clone, Default)]
pub struct Capture {
    pub errors: Captured,
}

impl ClientContext for Capture {
    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        self.errors
            .0
            .lock()
            .unwrap()
            .push((code, reason.to_owned()));
    }
}

impl ConsumerContext for Capture {}

impl ProducerContext for Capture {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// Connects with `cfg` and waits for librdkafka to report an authentication failure (its
/// `_AUTHENTICATION` error); fails if it instead gets metadata, or reports nothing in time
/// (a hang). Returns the reason text librdkafka reported.
pub fn expect_auth_failure(cfg: &ClientConfig) -> String {
    let ctx = Capture::default();
    let producer: BaseProducer<Capture> = cfg
        .create_with_context(ctx.clone())
        .expect("creating the client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ctx.errors.has(RDKafkaErrorCode::Authentication) {
        assert!(
            Instant::now() < deadline,
            "no authentication error reported; errors so far: {:?}",
            ctx.errors.all()
        );
        producer.poll(Duration::from_millis(100));
    }
    assert!(
        producer
            .client()
            .fetch_metadata(None, Duration::from_millis(500))
            .is_err(),
        "metadata must not be served without authentication"
    );
    ctx.errors
        .all()
        .into_iter()
        .find(|(c, _)| *c == Some(RDKafkaErrorCode::Authentication))
        .map(|(_, r)| r)
        .unwrap()
}

/// Produces `n` records to partition 0 of `topic` with `cfg` and reads them back with a
/// consumer of the same settings. Returns the number of records read.
pub fn round_trip(cfg: &ClientConfig, topic: &str, n: usize) {
    let ctx = Capture::default();
    let mut pcfg = cfg.clone();
    pcfg.set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .set("enable.idempotence", "true");
    let producer: BaseProducer<Capture> = pcfg.create_with_context(ctx.clone()).expect("producer");
    for i in 0..n {
        let key = format!("k{i}");
        let value = format!("{topic}-v{i}");
        producer
            .send(
                BaseRecord::<str, str>::to(topic)
                    .partition(0)
                    .key(&key)
                    .payload(&value),
            )
            .unwrap_or_else(|(e, _)| panic!("send: {e}"));
    }
    producer
        .flush(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("flush to {topic}: {e}; errors {:?}", ctx.errors.all()));
    let got = consume_values(cfg, topic, n);
    let want: Vec<String> = (0..n).map(|i| format!("{topic}-v{i}")).collect();
    assert_eq!(got, want, "records read back from {topic}");
}

/// Reads `n` values from partition 0 of `topic` from the beginning.
pub fn consume_values(cfg: &ClientConfig, topic: &str, n: usize) -> Vec<String> {
    let mut ccfg = cfg.clone();
    ccfg.set("group.id", "auth-e2e")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100");
    let ctx = Capture::default();
    let consumer: BaseConsumer<Capture> = ccfg.create_with_context(ctx.clone()).expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "read {} of {n} records from {topic}; errors {:?}",
            out.len(),
            ctx.errors.all()
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    out
}

/// Topic names visible to a client with `cfg`.
pub fn visible_topics(cfg: &ClientConfig) -> Vec<String> {
    let producer: BaseProducer<Capture> =
        cfg.create_with_context(Capture::default()).expect("client");
    let md = producer
        .client()
        .fetch_metadata(None, Duration::from_secs(20))
        .expect("metadata");
    md.topics().iter().map(|t| t.name().to_owned()).collect()
}

/// Waits until `pred` holds, polling every 100 ms, for at most `limit`.
pub fn wait_for(limit: Duration, what: &str, mut pred: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if pred() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Partition directories of tenant topics in the broker's data dir
/// (`<tenant>.<topic>-<partition>`), without the broker's internal `__*` logs.
pub fn partition_dirs(broker: &BrokerProcess) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(broker.data_dir())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter(|e| !e.file_name().to_string_lossy().starts_with("__"))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{nanos:x}")
}

/// Random-enough hex for nonces (not cryptographic; the broker's nonce half is).
pub fn random_hex(bytes: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < bytes * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(bytes * 2);
    out
}

// ---------------------------------------------------------------------------------------
// Certificates

pub struct Ca {
    pub cert: rcgen::Certificate,
    pub key: rcgen::KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "schloss-tests");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "schloss-tests");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Ca { cert, key }
    }

    /// A client certificate with a key of `alg`.
    pub fn client_with_key(
        &self,
        dn: &[(rcgen::DnType, &str)],
        uri_sans: &[&str],
        alg: &'static rcgen::SignatureAlgorithm,
    ) -> (String, String) {
        self.issue(dn, uri_sans, None, alg)
    }

    /// A client certificate (ECDSA P-256). `dn` lists RDNs most general first (the encoding
    /// order), so `[(O, "x"), (OU, "y"), (CN, "z")]` reads `CN=z,OU=y,O=x` in RFC 2253 (Java)
    /// form. `validity` is (from year, to year), Jan 1st each.
    pub fn client(
        &self,
        dn: &[(rcgen::DnType, &str)],
        uri_sans: &[&str],
        validity: Option<(i32, i32)>,
    ) -> (String, String) {
        self.issue(dn, uri_sans, validity, &rcgen::PKCS_ECDSA_P256_SHA256)
    }

    fn issue(
        &self,
        dn: &[(rcgen::DnType, &str)],
        uri_sans: &[&str],
        validity: Option<(i32, i32)>,
        alg: &'static rcgen::SignatureAlgorithm,
    ) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (t, v) in dn {
            params.distinguished_name.push(t.clone(), *v);
        }
        for uri in uri_sans {
            params
                .subject_alt_names
                .push(rcgen::SanType::URI((*uri).try_into().unwrap()));
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        if let Some((from, to)) = validity {
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A server certificate for localhost and 127.0.0.1.
    pub fn server(&self, cn: &str) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Writes `name.pem` and `name.key` into `dir`; returns the paths.
pub fn write_pair(dir: &Path, name: &str, pair: &(String, String)) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &pair.0).unwrap();
    std::fs::write(&key, &pair.1).unwrap();
    (cert, key)
}

// ---------------------------------------------------------------------------------------
// Raw SASL over a plaintext socket

pub fn handshake(s: &mut TcpStream, mechanism: &str) -> SaslHandshakeResponse {
    let req =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.to_owned()));
    let mut body = raw::call(s, ApiKey::SaslHandshake, 1, &req);
    SaslHandshakeResponse::decode(&mut body, 1).unwrap()
}

/// Sends one SaslAuthenticate (v2); `None` if the broker closed without answering.
pub fn authenticate(s: &mut TcpStream, auth_bytes: &[u8]) -> Option<SaslAuthenticateResponse> {
    let req =
        SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(auth_bytes));
    s.write_all(&raw::frame(ApiKey::SaslAuthenticate, 2, 11, &req))
        .ok()?;
    let mut resp = raw::read_response(s)?;
    use bytes::Buf;
    assert_eq!(resp.get_i32(), 11, "correlation id");
    resp.advance(1); // flexible response header: tagged fields
    Some(SaslAuthenticateResponse::decode(&mut resp, 2).unwrap())
}

/// Metadata for all topics (v12); `None` if the connection was closed instead.
pub fn metadata(s: &mut TcpStream) -> Option<MetadataResponse> {
    let req = MetadataRequest::default().with_topics(None);
    s.write_all(&raw::frame(ApiKey::Metadata, 12, 21, &req))
        .ok()?;
    let mut resp = raw::read_response(s)?;
    use bytes::Buf;
    assert_eq!(resp.get_i32(), 21, "correlation id");
    resp.advance(1);
    Some(MetadataResponse::decode(&mut resp, 12).unwrap())
}

/// True when the broker closes the connection (end of stream or reset) before `limit`;
/// false if it stays open (or sends data) until then.
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
        ),
    }
}

#[derive(Clone, Copy, Debug)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub fn mechanism(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn of(mechanism: &str) -> Option<Self> {
        match mechanism {
            "SCRAM-SHA-256" => Some(Self::Sha256),
            "SCRAM-SHA-512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Self::Sha512 => {
                let mut m = Hmac::<Sha512>::new_from_slice(key).unwrap();
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Self::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }
}

/// The client side of one SCRAM exchange (RFC 5802), keeping every secret it derived so a
/// test can look for them in the broker's log.
pub struct ScramClient {
    pub hash: ScramHash,
    pub user: String,
    pub password: String,
    pub client_nonce: String,
    pub client_first: String,
    pub client_final: String,
    pub proof_b64: String,
    pub salted_password: Vec<u8>,
    pub client_key: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_signature_b64: String,
}

impl ScramClient {
    pub fn new(hash: ScramHash, user: &str, password: &str) -> Self {
        Self::with_gs2_header(hash, user, password, "n,,")
    }

    /// With another GS2 header, e.g. `n,a=default/alice,` (an authorization id).
    pub fn with_gs2_header(hash: ScramHash, user: &str, password: &str, gs2: &str) -> Self {
        let client_nonce = random_hex(18);
        let name = user.replace('=', "=3D").replace(',', "=2C");
        Self {
            hash,
            user: user.to_owned(),
            password: password.to_owned(),
            client_first: format!("{gs2}n={name},r={client_nonce}"),
            client_nonce,
            client_final: String::new(),
            proof_b64: String::new(),
            salted_password: Vec::new(),
            client_key: Vec::new(),
            stored_key: Vec::new(),
            server_signature_b64: String::new(),
        }
    }

    /// Computes client-final-message from server-first-message.
    pub fn respond(&mut self, server_first: &str) -> String {
        let mut nonce = "";
        let mut salt = Vec::new();
        let mut iterations = 0u32;
        for attr in server_first.split(',') {
            if let Some(v) = attr.strip_prefix("r=") {
                nonce = v;
            } else if let Some(v) = attr.strip_prefix("s=") {
                salt = B64.decode(v).expect("salt is base64");
            } else if let Some(v) = attr.strip_prefix("i=") {
                iterations = v.parse().expect("iteration count");
            }
        }
        assert!(
            nonce.starts_with(&self.client_nonce) && nonce.len() > self.client_nonce.len(),
            "server nonce {nonce:?} must extend the client nonce"
        );
        assert!(
            iterations >= 4096,
            "iterations {iterations} below RFC 7677's minimum"
        );
        let h = self.hash;
        let salted = h.hi(self.password.as_bytes(), &salt, iterations);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored_key = h.hash(&client_key);
        let bare_at = self.client_first.find("n=").unwrap();
        let (gs2, bare) = self.client_first.split_at(bare_at);
        let without_proof = format!("c={},r={nonce}", B64.encode(gs2));
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = h.hmac(&salted, b"Server Key");
        self.server_signature_b64 = B64.encode(h.hmac(&server_key, auth_message.as_bytes()));
        self.proof_b64 = B64.encode(&proof);
        self.salted_password = salted;
        self.client_key = client_key;
        self.stored_key = stored_key;
        self.client_final = format!("{without_proof},p={}", self.proof_b64);
        self.client_final.clone()
    }

    /// Strings that must never appear in a log: the password and everything derived from it
    /// or carrying it.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = password_forms(&self.password);
        // The client's auth bytes as sent (the first message names the user, which may be
        // logged on its own, but never the message).
        out.push(self.client_first.clone());
        out.push(B64.encode(&self.client_first));
        if !self.proof_b64.is_empty() {
            out.push(self.proof_b64.clone());
            out.push(hex(&B64.decode(&self.proof_b64).unwrap()));
            out.push(self.client_final.clone());
            for secret in [&self.salted_password, &self.client_key, &self.stored_key] {
                out.push(B64.encode(secret));
                out.push(hex(secret));
                out.push(format!("{secret:?}"));
            }
        }
        out
    }
}

/// A password as text, base64, hex and as a Rust byte-slice debug dump.
pub fn password_forms(password: &str) -> Vec<String> {
    vec![
        password.to_owned(),
        B64.encode(password),
        hex(password.as_bytes()),
        format!("{:?}", password.as_bytes()),
    ]
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The result of a raw login.
pub enum Login {
    /// Authenticated; the connection and the session lifetime the broker announced.
    Ok(TcpStream, i64),
    /// The broker answered with this error code and message (and then closed).
    Failed(i16, String),
}

/// A complete SCRAM login over a fresh plaintext connection to `addr`.
pub fn scram_login(addr: &str, client: &mut ScramClient) -> Login {
    let mut s = raw::connect(addr);
    let hs = handshake(&mut s, client.hash.mechanism());
    assert_eq!(hs.error_code, 0, "handshake: {hs:?}");
    scram_on(&mut s, client).map_or_else(
        |(code, msg)| Login::Failed(code, msg),
        |lifetime| Login::Ok(s, lifetime),
    )
}

/// The SaslAuthenticate rounds of SCRAM on a connection that just did SaslHandshake.
pub fn scram_on(s: &mut TcpStream, client: &mut ScramClient) -> Result<i64, (i16, String)> {
    let first = authenticate(s, client.client_first.as_bytes()).expect("server-first");
    if first.error_code != 0 {
        return Err((first.error_code, err_text(&first)));
    }
    let server_first = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
    let final_msg = client.respond(&server_first);
    let last = authenticate(s, final_msg.as_bytes()).expect("server-final");
    if last.error_code != 0 {
        return Err((last.error_code, err_text(&last)));
    }
    let server_final = String::from_utf8(last.auth_bytes.to_vec()).unwrap();
    assert_eq!(
        server_final,
        format!("v={}", client.server_signature_b64),
        "server signature (the broker proves it knows the credential)"
    );
    Ok(last.session_lifetime_ms)
}

/// A PLAIN login over a fresh plaintext connection.
pub fn plain_login(addr: &str, user: &str, password: &str) -> Login {
    let mut s = raw::connect(addr);
    let hs = handshake(&mut s, "PLAIN");
    assert_eq!(hs.error_code, 0, "handshake: {hs:?}");
    let token = format!("\0{user}\0{password}");
    let resp = authenticate(&mut s, token.as_bytes()).expect("PLAIN answer");
    if resp.error_code != 0 {
        return Login::Failed(resp.error_code, err_text(&resp));
    }
    Login::Ok(s, resp.session_lifetime_ms)
}

/// A successful login resets the broker's per-address failure brake (100 ms doubling to 5 s),
/// so a test's next provoked failure costs only the first, shortest delay.
pub fn reset_brake(broker: &BrokerProcess) {
    match login(
        &broker.bootstrap_of("SASL_PLAINTEXT"),
        "SCRAM-SHA-256",
        ALICE,
        ALICE_PASSWORD,
    ) {
        Login::Ok(..) => {}
        Login::Failed(code, msg) => panic!("alice must log in: {code} {msg}"),
    }
}

/// Logs in with `mechanism` over a fresh connection.
pub fn login(addr: &str, mechanism: &str, user: &str, password: &str) -> Login {
    match ScramHash::of(mechanism) {
        Some(h) => scram_login(addr, &mut ScramClient::new(h, user, password)),
        None => plain_login(addr, user, password),
    }
}

pub fn err_text(r: &SaslAuthenticateResponse) -> String {
    r.error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default()
}
