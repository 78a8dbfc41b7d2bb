//! A whole client connection from one byte buffer: `schloss_server::connection::serve` reads
//! the input as the client's side of the socket (then end of stream), writes its responses
//! into a sink, and drives a real broker on a fresh data directory through every handler the
//! requests reach.
//!
//! The first byte picks the listener: bit 0 clear is a plaintext listener (the connection
//! starts `Ready` as the anonymous principal of tenant `acme`), bit 0 set a SASL listener
//! (`PreAuth`; PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 against a credential file holding
//! `acme/alice` with password `alice-secret` for all three). Bit 1 turns on KIP-368 session
//! expiry (`connections.max.reauth.ms` = 60 s).
//!
//! Each input gets its own current-thread runtime with a paused clock, so timers (fetch long
//! polls, rebalance delays, the SASL failure brake, authentication and idle timeouts) fire as
//! soon as nothing else can run instead of in wall-clock time; blocking log I/O holds the
//! clock. Topics flush to the page cache only, so no append waits for the flusher thread. A
//! connection must end, one way or another, within `VIRTUAL_LIMIT` of virtual time; any
//! close reason is fine, a panic or a hang is not. The data directory is removed afterwards.
#![no_main]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use schloss_auth::{
    Authenticated, CredentialStore, LoginName, PlainHash, SaslMechanism, ScramCredential,
    ScramMechanism, UserRecord,
};
use schloss_broker::groups::GroupConfig;
use schloss_broker::topic_config::{BrokerDefaults, TopicCeilings};
use schloss_broker::{Broker, BrokerSettings, ListenerInfo, Session};
use schloss_fuzz::scratch::ScratchDir;
use schloss_model::TenantId;
use schloss_server::conn_state::ConnState;
use schloss_server::connection::{serve, ConnectionContext, Peer, SaslContext};
use schloss_server::credentials::CredentialSource;
use schloss_server::frames::RequestMemory;
use schloss_server::limits::{ConnectionLimits, ConnectionRegistry};
use schloss_server::sasl::FailureBrake;
use schloss_server::verifier::PlainVerifiers;
use tokio::io::AsyncWrite;

/// How long (virtual time) a connection may take before the target calls it wedged: longer
/// than any timeout a request can start (rebalance timeouts of 300 s, the authentication and
/// idle timeouts below).
const VIRTUAL_LIMIT: Duration = Duration::from_secs(3600);
const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 50_123);
const PASSWORD: &str = "alice-secret";
/// Frames above this close the connection; keeps one input's work bounded.
const MAX_REQUEST_BYTES: usize = 1 << 20;

/// The credential file, built once (argon2id and PBKDF2 are slow) and written per input.
static CREDENTIALS_TOML: LazyLock<String> = LazyLock::new(|| {
    let build = || -> Result<String, Box<dyn std::error::Error>> {
        let mut store = CredentialStore::new()?;
        let login = LoginName::new(TenantId::new("acme")?, "alice")?;
        let mut alice = UserRecord::new(login, &[])?;
        alice.set_plain(Some(PlainHash::from_password(PASSWORD)?));
        alice.set_scram(ScramCredential::new(
            ScramMechanism::Sha256,
            PASSWORD,
            4096,
        )?);
        alice.set_scram(ScramCredential::new(
            ScramMechanism::Sha512,
            PASSWORD,
            4096,
        )?);
        store.insert_user(alice)?;
        Ok(store.to_toml()?)
    };
    match build() {
        Ok(toml) => toml,
        Err(e) => panic!("cannot build the credential store: {e}"),
    }
});

/// `SCHLOSS_FUZZ_DEBUG=1`: print how each connection ended and what it wrote (to check that
/// a seed gets where it should).
static DEBUG: LazyLock<bool> = LazyLock::new(|| std::env::var_os("SCHLOSS_FUZZ_DEBUG").is_some());

/// The client's receive side: discards responses, counting their bytes (and printing them
/// in hex when debugging).
struct CountingSink(Arc<AtomicUsize>);

impl AsyncWrite for CountingSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if *DEBUG {
            let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!("response bytes: {hex}");
        }
        self.0.fetch_add(buf.len(), Ordering::Relaxed);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn listener() -> ListenerInfo {
    ListenerInfo {
        name: "FUZZ".into(),
        advertised_host: "localhost".into(),
        advertised_port: 9092,
    }
}

fn settings(data_dir: &Path, reauth_ms: u64) -> BrokerSettings {
    let mut defaults = BTreeMap::new();
    // Acknowledge once in the page cache: nothing waits on the flusher thread.
    defaults.insert("flush.messages".to_owned(), "2".to_owned());
    // The smallest segment size Kafka allows, so a large produce rolls a segment.
    defaults.insert("segment.bytes".to_owned(), "1048576".to_owned());
    let topic_defaults = match BrokerDefaults::new(defaults, TopicCeilings::default()) {
        Ok(defaults) => defaults,
        Err(e) => panic!("invalid topic defaults: {e}"),
    };
    BrokerSettings {
        node_id: 1,
        data_dir: data_dir.to_path_buf(),
        num_partitions: 2,
        auto_create_topics: true,
        socket_request_max_bytes: MAX_REQUEST_BYTES,
        connections_max_reauth_ms: reauth_ms,
        topic_defaults,
        groups: GroupConfig {
            initial_rebalance_delay_ms: 0,
            ..GroupConfig::default()
        },
        storage: Default::default(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, client_bytes)) = data.split_first() else {
        return;
    };
    let dir = ScratchDir::new("conn");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("cannot build a runtime: {e}"),
    };
    let sasl = selector & 1 == 1;
    let reauth_ms = if selector & 2 == 2 { 60_000 } else { 0 };
    let written = Arc::new(AtomicUsize::new(0));
    let sink = CountingSink(Arc::clone(&written));
    let stream = tokio::io::join(Cursor::new(client_bytes.to_vec()), sink);
    runtime.block_on(async {
        let broker = match Broker::open(settings(dir.path(), reauth_ms)).await {
            Ok(broker) => broker,
            Err(e) => panic!("cannot open a broker on an empty directory: {e}"),
        };
        let sasl_context = if sasl {
            let path = dir.path().join("users.toml");
            if let Err(e) = std::fs::write(&path, CREDENTIALS_TOML.as_bytes()) {
                panic!("cannot write the credential file: {e}");
            }
            let credentials = match CredentialSource::open(&path, broker.clone()) {
                Ok(credentials) => credentials,
                Err(e) => panic!("cannot load the credential file: {e}"),
            };
            Some(SaslContext {
                mechanisms: vec![
                    SaslMechanism::Plain,
                    SaslMechanism::ScramSha256,
                    SaslMechanism::ScramSha512,
                ],
                credentials,
                verifiers: Arc::new(PlainVerifiers::new()),
                brake: Arc::new(FailureBrake::new()),
            })
        } else {
            None
        };
        let ctx = Arc::new(ConnectionContext {
            broker: broker.clone(),
            listener: listener(),
            max_request_bytes: MAX_REQUEST_BYTES,
            sasl: sasl_context,
            authentication_timeout: Duration::from_secs(10),
            max_reauth_ms: reauth_ms,
            idle_timeout: Duration::from_secs(600),
            frame_timeout: Duration::from_secs(30),
            max_in_flight: 16,
            request_memory: Arc::new(RequestMemory::new(Some(4 * MAX_REQUEST_BYTES))),
        });
        let initial = if sasl {
            ConnState::PreAuth
        } else {
            let tenant = match TenantId::new("acme") {
                Ok(tenant) => tenant,
                Err(e) => panic!("{e}"),
            };
            let session =
                Session::new(Authenticated::anonymous(tenant), listener()).with_peer(PEER.ip());
            ConnState::ready(session, None)
        };
        let registry = ConnectionRegistry::new(ConnectionLimits::default());
        let slot = match registry.admit(PEER.ip()) {
            Ok(slot) => slot,
            Err(e) => panic!("the first connection is refused: {e}"),
        };
        let deadline = tokio::time::Instant::now() + ctx.authentication_timeout;
        let served = tokio::time::timeout(
            VIRTUAL_LIMIT,
            serve(
                stream,
                initial,
                ctx,
                Peer {
                    addr: PEER,
                    transport: Default::default(),
                },
                deadline,
                slot,
            ),
        )
        .await;
        let Ok(outcome) = served else {
            panic!("the connection was still open after {VIRTUAL_LIMIT:?} (virtual)");
        };
        if *DEBUG {
            let topics = broker.metadata.image().topic_count();
            eprintln!(
                "connection: {outcome:?}; {} response bytes; {topics} topics",
                written.load(Ordering::Relaxed)
            );
        }
        // Every slot is released once the connection is over.
        assert_eq!(registry.total(), 0);
    });
    // Background tasks (group timers, ...) end with the runtime, before the directory goes.
    drop(runtime);
});
