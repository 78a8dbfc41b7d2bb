//! Consumer-group and authentication cases (issues 3 and 4): rebalance time of a joining
//! member, synchronous OffsetCommit throughput, produce throughput over SASL_SSL vs PLAINTEXT,
//! and full TLS 1.3 + SCRAM-SHA-512 logins per second.

use crate::cases::{CaseResult, Target};
use crate::sys::{quantile, CpuMeter};
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha512};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Group join

/// Tracks the partitions a group member holds and when it last got an assignment.
#[derive(Default)]
struct MemberCtx {
    assigned: AtomicI64,
    assignments: AtomicU64,
}

impl ClientContext for MemberCtx {}

impl ConsumerContext for MemberCtx {
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                self.assigned.store(tpl.count() as i64, Ordering::SeqCst);
                self.assignments.fetch_add(1, Ordering::SeqCst);
            }
            Rebalance::Revoke(_) => self.assigned.store(0, Ordering::SeqCst),
            Rebalance::Error(_) => {}
        }
    }
}

/// Settings of every group member, for every broker: classic protocol, range assignor, a
/// heartbeat every 100 ms (members learn of a rebalance from a heartbeat response, so this
/// bounds how long the stable members take to rejoin).
const HEARTBEAT_MS: &str = "100";

fn member(bootstrap: &str, group: &str) -> Result<BaseConsumer<MemberCtx>> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", "schloss-bench-group")
        .set("group.id", group)
        .set("group.protocol", "classic")
        .set("partition.assignment.strategy", "range")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", HEARTBEAT_MS)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        .create_with_context(MemberCtx::default())
        .context("group member")
}

/// `members - 1` stable members of a group on a `partitions`-partition topic; then, `joins`
/// times, one more consumer subscribes and the time until its rebalance callback hands it
/// its partitions is measured; it leaves again and the group settles before the next join.
pub fn group_join_case(
    t: &Target,
    id: &str,
    topic: &str,
    partitions: i32,
    members: usize,
    joins: usize,
) -> Result<CaseResult> {
    crate::cases::create_topic(&t.bootstrap, topic, partitions)?;
    let group = format!("{topic}-g");
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let mut ctxs = Vec::new();
    for _ in 0..members.saturating_sub(1) {
        let c = Arc::new(member(&t.bootstrap, &group)?);
        c.subscribe(&[topic]).context("subscribe")?;
        ctxs.push(c.clone());
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = c.poll(Duration::from_millis(20));
            }
            drop(c);
        }));
    }
    let held = |ctxs: &[Arc<BaseConsumer<MemberCtx>>]| -> i64 {
        ctxs.iter()
            .map(|c| c.context().assigned.load(Ordering::SeqCst))
            .sum()
    };
    // Stable: the stable members hold every partition, and no assignment for 500 ms.
    let settle = |ctxs: &[Arc<BaseConsumer<MemberCtx>>]| -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let total = |ctxs: &[Arc<BaseConsumer<MemberCtx>>]| -> u64 {
            ctxs.iter()
                .map(|c| c.context().assignments.load(Ordering::SeqCst))
                .sum()
        };
        let (mut last, mut since) = (total(ctxs), Instant::now());
        loop {
            let now_total = total(ctxs);
            if now_total != last {
                last = now_total;
                since = Instant::now();
            }
            if held(ctxs) == i64::from(partitions) && since.elapsed() > Duration::from_millis(500) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "group did not settle: stable members hold {} of {partitions} partitions",
                    held(ctxs)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let result = (|| -> Result<CaseResult> {
        settle(&ctxs)?;
        let cpu = CpuMeter::start(t.pid);
        let start = Instant::now();
        let mut samples = Vec::new();
        for _ in 0..joins {
            let c = member(&t.bootstrap, &group)?;
            // Connect and learn the cluster first: the measured part is the group protocol.
            c.fetch_metadata(Some(topic), Duration::from_secs(10))
                .context("joiner metadata")?;
            let t0 = Instant::now();
            c.subscribe(&[topic]).context("subscribe")?;
            let deadline = t0 + Duration::from_secs(60);
            while c.context().assignments.load(Ordering::SeqCst) == 0 {
                let _ = c.poll(Duration::from_millis(1));
                if Instant::now() > deadline {
                    bail!("joining member got no assignment within 60 s");
                }
            }
            samples.push(t0.elapsed().as_nanos() as u64);
            drop(c); // LeaveGroup: the group rebalances back to the stable members
            settle(&ctxs)?;
        }
        let secs = start.elapsed().as_secs_f64();
        let (b, cl) = cpu.stop();
        samples.sort_unstable();
        let ms = |q: f64| quantile(&samples, q).map(|ns| ns as f64 / 1e6);
        Ok(CaseResult {
            case: id.to_owned(),
            topic: topic.to_owned(),
            partitions,
            records: samples.len() as u64,
            secs,
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            max_ms: ms(1.0),
            samples_ms: samples.iter().map(|ns| *ns as f64 / 1e6).collect(),
            broker_cpu_pct: b,
            client_cpu_pct: cl,
            ..CaseResult::default()
        })
    })();
    stop.store(true, Ordering::SeqCst);
    drop(ctxs);
    for h in handles {
        let _ = h.join();
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Offset commits

/// `consumers` threads, each a consumer in its own group with one partition assigned (no group
/// membership: generation -1, as a consumer using `assign` does), committing a new offset with
/// a synchronous OffsetCommit in a loop for `duration`.
pub fn commit_case(
    t: &Target,
    id: &str,
    topic: &str,
    consumers: usize,
    duration: Duration,
) -> Result<CaseResult> {
    let partitions = consumers.max(1) as i32;
    crate::cases::create_topic(&t.bootstrap, topic, partitions)?;
    let mut cs = Vec::new();
    for i in 0..partitions {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &t.bootstrap)
            .set("client.id", "schloss-bench-commit")
            .set("group.id", format!("{topic}-g{i}"))
            .set("enable.auto.commit", "false")
            .create()
            .context("consumer")?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, i, Offset::Beginning)?;
        c.assign(&tpl).context("assign")?;
        // Warm-up: finds the coordinator and connects to it.
        let mut w = TopicPartitionList::new();
        w.add_partition_offset(topic, i, Offset::Offset(0))?;
        c.commit(&w, CommitMode::Sync).context("first commit")?;
        cs.push(c);
    }
    let ok = AtomicU64::new(0);
    let err = AtomicU64::new(0);
    let first_err = Mutex::new(None::<String>);
    let lat = Mutex::new(Vec::<u64>::new());
    let cpu = CpuMeter::start(t.pid);
    let start = Instant::now();
    let deadline = start + duration;
    std::thread::scope(|s| {
        for (i, c) in cs.iter().enumerate() {
            let (ok, err, first_err, lat) = (&ok, &err, &first_err, &lat);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut n = 1i64;
                while Instant::now() < deadline {
                    let mut tpl = TopicPartitionList::new();
                    if tpl
                        .add_partition_offset(topic, i as i32, Offset::Offset(n))
                        .is_err()
                    {
                        break;
                    }
                    let t0 = Instant::now();
                    match c.commit(&tpl, CommitMode::Sync) {
                        Ok(()) => {
                            mine.push(t0.elapsed().as_nanos() as u64);
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            err.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut f) = first_err.lock() {
                                f.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                    n += 1;
                }
                if let Ok(mut l) = lat.lock() {
                    l.extend(mine);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let (b, cl) = cpu.stop();
    let mut lat = lat.into_inner().map_err(|_| anyhow!("lock poisoned"))?;
    lat.sort_unstable();
    let ms = |q: f64| quantile(&lat, q).map(|ns| ns as f64 / 1e6);
    let records = ok.load(Ordering::SeqCst);
    Ok(CaseResult {
        case: id.to_owned(),
        topic: topic.to_owned(),
        partitions,
        records,
        secs,
        records_per_sec: records as f64 / secs.max(1e-9),
        errors: err.load(Ordering::SeqCst),
        first_error: first_err.into_inner().ok().flatten(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: ms(1.0),
        broker_cpu_pct: b,
        client_cpu_pct: cl,
        ..CaseResult::default()
    })
}

// ---------------------------------------------------------------------------------------------
// SASL_SSL logins with a minimal client: TCP + TLS 1.3 + ApiVersions + SaslHandshake +
// SaslAuthenticate x2 (SCRAM-SHA-512), then close.

pub const USER: &str = "default/bench";
pub const PASSWORD: &str = "bench-pw";

/// librdkafka settings for a SASL_SSL client logging in as the bench user.
/// (A list, not a `ClientConfig`: `ClientConfig::config_map` masks the password.)
pub fn sasl_client_config(ca: &std::path::Path) -> Vec<(String, String)> {
    [
        ("security.protocol", "SASL_SSL".to_owned()),
        ("sasl.mechanisms", "SCRAM-SHA-512".to_owned()),
        ("sasl.username", USER.to_owned()),
        ("sasl.password", PASSWORD.to_owned()),
        ("ssl.ca.location", ca.to_string_lossy().into_owned()),
        // The chain is verified against the CA; the host-name check is left out (it is the
        // same for both brokers and costs nothing measurable).
        ("ssl.endpoint.identification.algorithm", "none".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn tls_config(ca: &std::path::Path) -> Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).context("reading the CA")? {
        roots.add(cert.context("CA pem")?).context("CA cert")?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every login is a full handshake, no session resumption.
    cfg.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(cfg))
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Sends one request (header v1: api key, version, correlation id, client id) and returns the
/// response body after the correlation id (response header v0).
fn call(s: &mut Tls, key: i16, version: i16, corr: i32, body: &[u8]) -> Result<Vec<u8>> {
    let client = b"schloss-bench";
    let mut req = Vec::with_capacity(body.len() + 32);
    let len = 2 + 2 + 4 + 2 + client.len() + body.len();
    req.extend_from_slice(&(len as i32).to_be_bytes());
    req.extend_from_slice(&key.to_be_bytes());
    req.extend_from_slice(&version.to_be_bytes());
    req.extend_from_slice(&corr.to_be_bytes());
    req.extend_from_slice(&(client.len() as i16).to_be_bytes());
    req.extend_from_slice(client);
    req.extend_from_slice(body);
    s.write_all(&req)?;
    s.flush()?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let n = i32::from_be_bytes(len);
    if !(4..=1 << 20).contains(&n) {
        bail!("bad response length {n}");
    }
    let mut resp = vec![0u8; n as usize];
    s.read_exact(&mut resp)?;
    let got = resp
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes);
    if got != Some(corr) {
        bail!("correlation id mismatch");
    }
    Ok(resp.split_off(4))
}

fn be_i16(b: &[u8], at: usize) -> Option<i16> {
    let s = b.get(at..at + 2)?;
    Some(i16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// SaslAuthenticate v1 response: error code, error message, auth bytes (+ session lifetime).
fn sasl_auth(s: &mut Tls, corr: i32, msg: &[u8]) -> Result<Vec<u8>> {
    let mut body = (msg.len() as i32).to_be_bytes().to_vec();
    body.extend_from_slice(msg);
    let r = call(s, 36, 1, corr, &body)?;
    let err = be_i16(&r, 0).ok_or_else(|| anyhow!("short SaslAuthenticate response"))?;
    let mlen = be_i16(&r, 2).ok_or_else(|| anyhow!("short SaslAuthenticate response"))?;
    let mut at = 4usize;
    let mut text = String::new();
    if mlen >= 0 {
        text = String::from_utf8_lossy(r.get(at..at + mlen as usize).unwrap_or(&[])).into();
        at += mlen as usize;
    }
    if err != 0 {
        bail!("SaslAuthenticate error {err}: {text}");
    }
    let blen = r
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| anyhow!("short SaslAuthenticate response"))?;
    Ok(r.get(at + 4..at + 4 + blen.max(0) as usize)
        .ok_or_else(|| anyhow!("short SaslAuthenticate response"))?
        .to_vec())
}

type HmacSha512 = Hmac<Sha512>;

fn hmac(key: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
    let mut m = HmacSha512::new_from_slice(key).map_err(|e| anyhow!("hmac: {e}"))?;
    m.update(msg);
    Ok(m.finalize().into_bytes().to_vec())
}

/// Salted password per (salt, iterations): RFC 5802 lets a client cache it, and without the
/// cache the 4096 PBKDF2 rounds per login would cost the client (on the broker's cores) as
/// much as the broker's own work.
type SaltCache = Mutex<Vec<(Vec<u8>, u32, Vec<u8>)>>;

fn salted(cache: &SaltCache, salt: &[u8], iters: u32) -> Result<Vec<u8>> {
    if let Ok(c) = cache.lock() {
        if let Some((_, _, k)) = c.iter().find(|(s, i, _)| s == salt && *i == iters) {
            return Ok(k.clone());
        }
    }
    let mut out = vec![0u8; 64];
    pbkdf2::pbkdf2::<HmacSha512>(PASSWORD.as_bytes(), salt, iters, &mut out)
        .map_err(|e| anyhow!("pbkdf2: {e}"))?;
    if let Ok(mut c) = cache.lock() {
        c.push((salt.to_vec(), iters, out.clone()));
    }
    Ok(out)
}

fn login(
    addr: &str,
    tls: &Arc<rustls::ClientConfig>,
    cache: &SaltCache,
    nonce_seed: u64,
) -> Result<()> {
    let tcp = TcpStream::connect(addr).context("connect")?;
    tcp.set_nodelay(true)?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?.to_owned();
    let conn = rustls::ClientConnection::new(tls.clone(), name)?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // ApiVersions v0 (empty body): the first thing librdkafka sends, also over SASL_SSL.
    let r = call(&mut s, 18, 0, 1, &[])?;
    if be_i16(&r, 0) != Some(0) {
        bail!("ApiVersions error {:?}", be_i16(&r, 0));
    }
    // SaslHandshake v1.
    let mech = b"SCRAM-SHA-512";
    let mut body = (mech.len() as i16).to_be_bytes().to_vec();
    body.extend_from_slice(mech);
    let r = call(&mut s, 17, 1, 2, &body)?;
    if be_i16(&r, 0) != Some(0) {
        bail!("SaslHandshake error {:?}", be_i16(&r, 0));
    }
    // SCRAM (RFC 5802): client-first, server-first, client-final, server-final.
    let nonce = base64::engine::general_purpose::STANDARD.encode(nonce_seed.to_le_bytes());
    let user = USER.replace('=', "=3D").replace(',', "=2C");
    let first_bare = format!("n={user},r={nonce}");
    let server_first = sasl_auth(&mut s, 3, format!("n,,{first_bare}").as_bytes())?;
    let server_first = String::from_utf8(server_first).context("server-first")?;
    let (mut r_, mut salt, mut iters) = (None, None, None);
    for part in server_first.split(',') {
        if let Some(v) = part.strip_prefix("r=") {
            r_ = Some(v.to_owned());
        } else if let Some(v) = part.strip_prefix("s=") {
            salt = Some(base64::engine::general_purpose::STANDARD.decode(v)?);
        } else if let Some(v) = part.strip_prefix("i=") {
            iters = Some(v.parse::<u32>()?);
        }
    }
    let (Some(rn), Some(salt), Some(iters)) = (r_, salt, iters) else {
        bail!("bad server-first message {server_first:?}");
    };
    if !rn.starts_with(&nonce) {
        bail!("server nonce does not extend ours");
    }
    let salted = salted(cache, &salt, iters)?;
    let client_key = hmac(&salted, b"Client Key")?;
    let stored_key = Sha512::digest(&client_key);
    let without_proof = format!("c=biws,r={rn}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let sig = hmac(&stored_key, auth_message.as_bytes())?;
    let proof: Vec<u8> = client_key
        .iter()
        .zip(sig.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    let fin = format!(
        "{without_proof},p={}",
        base64::engine::general_purpose::STANDARD.encode(proof)
    );
    let server_final = sasl_auth(&mut s, 4, fin.as_bytes())?;
    let server_final = String::from_utf8_lossy(&server_final);
    let server_key = hmac(&salted, b"Server Key")?;
    let expect = base64::engine::general_purpose::STANDARD
        .encode(hmac(&server_key, auth_message.as_bytes())?);
    if server_final.strip_prefix("v=") != Some(expect.as_str()) {
        bail!("bad server-final message {server_final:?}");
    }
    s.conn.send_close_notify();
    let _ = s.flush();
    Ok(())
}

/// `threads` threads log in over and over, each on a new connection, for `duration`.
pub fn login_case(
    t: &Target,
    addr: &str,
    ca: &std::path::Path,
    id: &str,
    threads: usize,
    duration: Duration,
) -> Result<CaseResult> {
    let tls = tls_config(ca)?;
    let cache: SaltCache = Mutex::new(Vec::new());
    login(addr, &tls, &cache, 1).context("first login")?;
    let ok = AtomicU64::new(0);
    let err = AtomicU64::new(0);
    let first_err = Mutex::new(None::<String>);
    let lat = Mutex::new(Vec::<u64>::new());
    let cpu = CpuMeter::start(t.pid);
    let start = Instant::now();
    let deadline = start + duration;
    std::thread::scope(|s| {
        for th in 0..threads {
            let (ok, err, first_err, lat, tls, cache) = (&ok, &err, &first_err, &lat, &tls, &cache);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut seed = 0x9E37_79B9_7F4A_7C15u64
                    ^ ((th as u64 + 1) << 40)
                    ^ start.elapsed().as_nanos() as u64;
                while Instant::now() < deadline {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let t0 = Instant::now();
                    match login(addr, tls, cache, seed) {
                        Ok(()) => {
                            mine.push(t0.elapsed().as_nanos() as u64);
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            err.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut f) = first_err.lock() {
                                f.get_or_insert_with(|| format!("{e:#}"));
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                }
                if let Ok(mut l) = lat.lock() {
                    l.extend(mine);
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let (b, cl) = cpu.stop();
    let mut lat = lat.into_inner().map_err(|_| anyhow!("lock poisoned"))?;
    lat.sort_unstable();
    let ms = |q: f64| quantile(&lat, q).map(|ns| ns as f64 / 1e6);
    let records = ok.load(Ordering::SeqCst);
    Ok(CaseResult {
        case: id.to_owned(),
        records,
        secs,
        records_per_sec: records as f64 / secs.max(1e-9),
        errors: err.load(Ordering::SeqCst),
        first_error: first_err.into_inner().ok().flatten(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: ms(1.0),
        broker_cpu_pct: b,
        client_cpu_pct: cl,
        ..CaseResult::default()
    })
}
