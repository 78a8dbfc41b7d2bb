//! The benchmark cases: produce throughput, consume throughput, produce latency at a fixed rate.

use crate::sys::{quantile, CpuMeter, Payloads};
use crate::RunArgs;
use anyhow::{anyhow, bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The result of one case against one broker.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct CaseResult {
    /// Stable id, e.g. "produce acks=1 p=16"; the report matches rows on it.
    pub case: String,
    pub topic: String,
    pub partitions: i32,
    /// Records acknowledged (produce) or received (consume) in the timed window.
    pub records: u64,
    /// Value bytes in those records.
    pub bytes: u64,
    pub secs: f64,
    pub records_per_sec: f64,
    /// 10^6 value bytes per second.
    pub mb_per_sec: f64,
    /// Delivery errors reported by librdkafka in the timed window.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency cases: the requested send rate and the percentiles of send -> delivery report.
    pub target_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// CPU use over the case, in percent of one core (the machine may have few).
    pub broker_cpu_pct: Option<f64>,
    pub client_cpu_pct: Option<f64>,
    /// Which repetition of the case this is (0-based); the report takes the median.
    #[serde(default)]
    pub round: u32,
    /// Set when the case could not run; the numbers are then meaningless.
    pub failed: Option<String>,
    /// Group-join case: every measured join, in ms (pooled over the rounds by the report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples_ms: Vec<f64>,
}

/// Everything one `schloss-bench run` measured.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RunResult {
    pub label: String,
    pub bootstrap: String,
    pub started_unix_ms: u64,
    pub duration_secs: u64,
    pub latency_duration_secs: u64,
    #[serde(default)]
    pub rounds: u32,
    pub rate: u64,
    pub record_size: usize,
    pub librdkafka: String,
    pub cpus: usize,
    #[serde(default)]
    pub loadavg_start: Option<String>,
    #[serde(default)]
    pub loadavg_end: Option<String>,
    pub cases: Vec<CaseResult>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Acks {
    One,
    All,
}

impl Acks {
    fn name(self) -> &'static str {
        match self {
            Acks::One => "1",
            Acks::All => "all",
        }
    }
}

enum Spec {
    Produce {
        acks: Acks,
        partitions: i32,
    },
    /// Reads back the topic written by the `produce acks=1 p=N` case.
    Consume {
        partitions: i32,
    },
    /// Fixed-rate send to one partition; `linger_ms` 5 is the common setting, 0 shows the
    /// broker's own share of the latency without client-side batching delay.
    Latency {
        acks: Acks,
        linger_ms: u32,
    },
    /// A consumer joins a stable group of `members - 1` (classic protocol, range assignor):
    /// time until it has its assignment.
    GroupJoin {
        members: usize,
        partitions: i32,
        joins: usize,
    },
    /// Synchronous OffsetCommit in a loop from `consumers` consumers.
    Commit {
        consumers: usize,
    },
    /// Produce acks=1 to a 4-partition topic over PLAINTEXT or over SASL_SSL (SCRAM-SHA-512),
    /// back to back against the same broker.
    AuthProduce {
        sasl: bool,
    },
    /// Full TLS 1.3 + SCRAM-SHA-512 logins from `threads` concurrent clients.
    AuthLogins {
        threads: usize,
    },
}

impl Spec {
    fn id(&self) -> String {
        match self {
            Spec::Produce { acks, partitions } => {
                format!("produce acks={} p={partitions}", acks.name())
            }
            Spec::Consume { partitions } => format!("consume p={partitions}"),
            Spec::Latency { acks, linger_ms: 5 } => format!("latency acks={}", acks.name()),
            Spec::Latency { acks, linger_ms } => {
                format!("latency acks={} linger={linger_ms}", acks.name())
            }
            Spec::GroupJoin {
                members,
                partitions,
                ..
            } => format!("group join n={members} p={partitions}"),
            Spec::Commit { consumers } => format!("group commit c={consumers}"),
            Spec::AuthProduce { sasl: false } => "auth produce plaintext p=4".to_owned(),
            Spec::AuthProduce { sasl: true } => "auth produce sasl_ssl p=4".to_owned(),
            Spec::AuthLogins { threads } => format!("auth logins t={threads}"),
        }
    }
}

/// The cases, in the order they run. Consume follows the produce case whose topic it reads.
fn specs() -> Vec<Spec> {
    vec![
        Spec::Produce {
            acks: Acks::One,
            partitions: 1,
        },
        Spec::Produce {
            acks: Acks::One,
            partitions: 16,
        },
        Spec::Consume { partitions: 1 },
        Spec::Consume { partitions: 16 },
        Spec::Produce {
            acks: Acks::All,
            partitions: 1,
        },
        Spec::Produce {
            acks: Acks::All,
            partitions: 16,
        },
        Spec::Latency {
            acks: Acks::One,
            linger_ms: 5,
        },
        Spec::Latency {
            acks: Acks::All,
            linger_ms: 5,
        },
        Spec::Latency {
            acks: Acks::One,
            linger_ms: 0,
        },
        Spec::Latency {
            acks: Acks::All,
            linger_ms: 0,
        },
        Spec::GroupJoin {
            members: 10,
            partitions: 20,
            joins: 8,
        },
        Spec::Commit { consumers: 1 },
        Spec::Commit { consumers: 4 },
        Spec::AuthProduce { sasl: false },
        Spec::AuthProduce { sasl: true },
        Spec::AuthLogins { threads: 16 },
    ]
}

/// One broker under test: `LABEL=HOST:PORT[/PID]` on the command line.
#[derive(Clone, Debug)]
pub struct Target {
    pub label: String,
    pub bootstrap: String,
    pub pid: Option<u32>,
}

impl std::str::FromStr for Target {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let (label, rest) = s
            .split_once('=')
            .ok_or_else(|| anyhow!("target '{s}' is not LABEL=HOST:PORT[/PID]"))?;
        let (bootstrap, pid) = match rest.split_once('/') {
            Some((b, p)) => (b, Some(p.parse().context("target pid")?)),
            None => (rest, None),
        };
        if label.is_empty() || bootstrap.is_empty() {
            bail!("target '{s}' is not LABEL=HOST:PORT[/PID]");
        }
        Ok(Self {
            label: label.to_owned(),
            bootstrap: bootstrap.to_owned(),
            pid,
        })
    }
}

/// Runs every case against every target, case by case: all targets run case 1 (in an order
/// that rotates from case to case), then all run case 2, and so on, so that load from other
/// work on the machine and the kernel's writeback state spread over the targets alike.
pub fn run_all(args: &RunArgs) -> Result<Vec<RunResult>> {
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let payloads = Payloads::new(args.record_size);
    let mut runs: Vec<RunResult> = args
        .targets
        .iter()
        .map(|t| RunResult {
            label: t.label.clone(),
            bootstrap: t.bootstrap.clone(),
            started_unix_ms,
            duration_secs: args.duration,
            latency_duration_secs: args.latency_duration,
            rounds: args.rounds.max(1),
            rate: args.rate,
            record_size: args.record_size,
            librdkafka: rdkafka::util::get_rdkafka_version().1,
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            loadavg_start: loadavg(),
            loadavg_end: None,
            cases: Vec::new(),
        })
        .collect();
    let tag = |t: &Target| {
        let slug: String = t
            .label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}-{slug}-{started_unix_ms}", args.topic_prefix)
    };

    if args.warmup > 0 {
        // Untimed: lets a JVM broker compile its hot paths before the first measured case.
        for t in &args.targets {
            eprintln!(
                "schloss-bench [{}] warm-up ({} s) ...",
                t.label, args.warmup
            );
            let topic = format!("{}-warmup", tag(t));
            let secs = Duration::from_secs(args.warmup);
            produce_case(t, "warm-up", &topic, Acks::One, 4, secs, &payloads)
                .and_then(|_| consume_case(args, t, "warm-up", &topic, 4, secs))
                .with_context(|| format!("warm-up of {}", t.label))?;
            delete_topic(&t.bootstrap, &topic);
        }
    }

    let n = args.targets.len().max(1);
    let specs: Vec<Spec> = specs()
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.id().contains(o.as_str())))
        .collect();
    for round in 0..args.rounds.max(1) {
        for (case_no, spec) in specs.iter().enumerate() {
            let id = spec.id();
            for k in 0..n {
                let idx = (case_no + round as usize + k) % n;
                let (Some(t), Some(run)) = (args.targets.get(idx), runs.get_mut(idx)) else {
                    continue;
                };
                if args.sync {
                    // No trial pays for the dirty page cache of the one before.
                    let _ = std::process::Command::new("sync").status();
                }
                eprintln!("schloss-bench [{}] round {round} {id} ...", t.label);
                let tag = format!("{}-r{round}", tag(t));
                let result = match spec {
                    Spec::Produce { acks, partitions } => {
                        let topic = format!("{tag}-produce-acks{}-p{partitions}", acks.name());
                        let (acks, parts, d) = (*acks, *partitions, args.duration());
                        produce_case(t, &id, &topic, acks, parts, d, &payloads)
                    }
                    Spec::Consume { partitions } => {
                        let from = format!("produce acks=1 p={partitions}");
                        let prev = run
                            .cases
                            .iter()
                            .find(|c| c.case == from && c.round == round && c.failed.is_none());
                        match prev {
                            Some(prev) => {
                                let topic = prev.topic.clone();
                                consume_case(args, t, &id, &topic, *partitions, args.duration())
                            }
                            None => Err(anyhow!("needs the topic of case '{from}', which failed")),
                        }
                    }
                    Spec::Latency { acks, linger_ms } => {
                        let topic = format!("{tag}-latency-acks{}-linger{linger_ms}", acks.name());
                        latency_case(args, t, &id, &topic, *acks, *linger_ms, &payloads)
                    }
                    Spec::GroupJoin {
                        members,
                        partitions,
                        joins,
                    } => {
                        let topic = format!("{tag}-group-p{partitions}");
                        crate::extra::group_join_case(t, &id, &topic, *partitions, *members, *joins)
                    }
                    Spec::Commit { consumers } => {
                        let topic = format!("{tag}-commit-c{consumers}");
                        let d = Duration::from_secs(args.aux_duration);
                        crate::extra::commit_case(t, &id, &topic, *consumers, d)
                    }
                    Spec::AuthProduce { sasl } => {
                        let topic = format!("{tag}-auth-{}", if *sasl { "sasl" } else { "plain" });
                        let d = Duration::from_secs(args.aux_duration);
                        if *sasl {
                            match (args.sasl_addr(&t.label), &args.ca) {
                                (Some(addr), Some(ca)) => {
                                    // Topic created over PLAINTEXT; the data goes over SASL_SSL.
                                    create_topic(&t.bootstrap, &topic, 4).and_then(|_| {
                                        let mut st = t.clone();
                                        st.bootstrap = addr;
                                        let extra = crate::extra::sasl_client_config(ca);
                                        produce_case_with(
                                            &st,
                                            &id,
                                            &topic,
                                            Acks::One,
                                            4,
                                            d,
                                            &payloads,
                                            false,
                                            &extra,
                                        )
                                    })
                                }
                                _ => Err(anyhow!(
                                    "no SASL_SSL listener (--sasl) or --ca for this target"
                                )),
                            }
                        } else {
                            produce_case_with(t, &id, &topic, Acks::One, 4, d, &payloads, true, &[])
                        }
                    }
                    Spec::AuthLogins { threads } => match (args.sasl_addr(&t.label), &args.ca) {
                        (Some(addr), Some(ca)) => {
                            let d = Duration::from_secs(args.aux_duration);
                            crate::extra::login_case(t, &addr, ca, &id, *threads, d)
                        }
                        _ => Err(anyhow!(
                            "no SASL_SSL listener (--sasl) or --ca for this target"
                        )),
                    },
                };
                let mut result = result.unwrap_or_else(|e| {
                    eprintln!("schloss-bench [{}] {id} FAILED: {e:#}", t.label);
                    CaseResult {
                        case: id.clone(),
                        failed: Some(format!("{e:#}")),
                        ..CaseResult::default()
                    }
                });
                result.round = round;
                eprintln!(
                    "schloss-bench [{}] round {round} {id}: {}",
                    t.label,
                    summary(&result)
                );
                run.cases.push(result);
            }
            // Free the disk: delete the topics no later case reads.
            let reads_later = matches!(
                spec,
                Spec::Produce {
                    acks: Acks::One,
                    ..
                }
            );
            if !reads_later {
                for (t, run) in args.targets.iter().zip(runs.iter()) {
                    for c in run
                        .cases
                        .iter()
                        .filter(|c| c.case == id && c.round == round)
                    {
                        if !c.topic.is_empty() {
                            delete_topic(&t.bootstrap, &c.topic);
                        }
                    }
                }
            }
        }
    }
    for run in &mut runs {
        run.loadavg_end = loadavg();
    }
    Ok(runs)
}

/// The first three fields of /proc/loadavg (other work on the machine skews the numbers).
fn loadavg() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn summary(r: &CaseResult) -> String {
    if let Some(f) = &r.failed {
        return format!("failed: {f}");
    }
    let mut s = format!(
        "{} records in {:.1} s = {:.0} rec/s, {:.1} MB/s, errors {}",
        r.records, r.secs, r.records_per_sec, r.mb_per_sec, r.errors
    );
    if let (Some(p50), Some(p99)) = (r.p50_ms, r.p99_ms) {
        s.push_str(&format!(", p50 {p50:.2} ms, p99 {p99:.2} ms"));
    }
    if let Some(p999) = r.p999_ms {
        s.push_str(&format!(", p99.9 {p999:.2} ms"));
    }
    if let Some(b) = r.broker_cpu_pct {
        s.push_str(&format!(", broker cpu {b:.0}%"));
    }
    if let Some(c) = r.client_cpu_pct {
        s.push_str(&format!(", client cpu {c:.0}%"));
    }
    if let Some(e) = &r.first_error {
        s.push_str(&format!(" (first error: {e})"));
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Topics

pub(crate) fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("admin client")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = rt
        .block_on(admin.create_topics([&new], &opts))
        .context("CreateTopics")?;
    for r in results {
        r.map_err(|(t, e)| anyhow!("creating topic {t}: {e}"))?;
    }
    // Wait until every partition has a leader in the metadata clients will see.
    let md_client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("metadata client")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(md) = md_client.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            let ready = md.topics().iter().any(|t| {
                t.name() == topic
                    && t.error().is_none()
                    && t.partitions().len() == partitions as usize
                    && t.partitions()
                        .iter()
                        .all(|p| p.leader() >= 0 && p.error().is_none())
            });
            if ready {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("topic {topic} has no leader for all {partitions} partitions after 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Best effort: a failed delete only costs disk space.
fn delete_topic(bootstrap: &str, topic: &str) {
    let admin: Result<AdminClient<DefaultClientContext>, _> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create();
    let Ok(admin) = admin else { return };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    match rt.block_on(admin.delete_topics(&[topic], &opts)) {
        Ok(results) => {
            for r in results {
                if let Err((t, e)) = r {
                    eprintln!("schloss-bench: deleting {t}: {e}");
                }
            }
        }
        Err(e) => eprintln!("schloss-bench: deleting {topic}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Producer with a delivery-report context

/// Counts delivery reports; with `track_latency`, keeps send -> report latency in ns.
struct Ctx {
    epoch: Instant,
    ok: AtomicU64,
    ok_bytes: AtomicU64,
    err: AtomicU64,
    first_err: Mutex<Option<String>>,
    track_latency: AtomicBool,
    latencies: Mutex<Vec<u64>>,
}

impl Ctx {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            ok: AtomicU64::new(0),
            ok_bytes: AtomicU64::new(0),
            err: AtomicU64::new(0),
            first_err: Mutex::new(None),
            track_latency: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
        }
    }

    fn now_ns(&self) -> usize {
        self.epoch.elapsed().as_nanos() as usize
    }

    fn reset(&self) {
        self.ok.store(0, Ordering::SeqCst);
        self.ok_bytes.store(0, Ordering::SeqCst);
        self.err.store(0, Ordering::SeqCst);
        if let Ok(mut l) = self.latencies.lock() {
            l.clear();
        }
        if let Ok(mut e) = self.first_err.lock() {
            *e = None;
        }
    }
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    /// Nanoseconds since `epoch` at the moment the record was handed to librdkafka.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        match result {
            Ok(msg) => {
                if self.track_latency.load(Ordering::Relaxed) {
                    let lat = self.now_ns().saturating_sub(sent_ns) as u64;
                    if let Ok(mut l) = self.latencies.lock() {
                        l.push(lat);
                    }
                }
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.ok_bytes
                    .fetch_add(msg.payload_len() as u64, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.err.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_err.lock() {
                    if f.is_none() {
                        *f = Some(e.to_string());
                    }
                }
            }
        }
    }
}

type BenchProducer = ThreadedProducer<Ctx>;

/// The same settings for every broker: librdkafka defaults except linger.ms=5, the acks level,
/// and idempotence (off for acks=1, on for acks=all).
fn make_producer(bootstrap: &str, acks: Acks, linger_ms: u32) -> Result<BenchProducer> {
    make_producer_with(bootstrap, acks, linger_ms, &[])
}

/// `make_producer` plus the settings in `extra` (security settings of the auth cases).
fn make_producer_with(
    bootstrap: &str,
    acks: Acks,
    linger_ms: u32,
    extra: &[(String, String)],
) -> Result<BenchProducer> {
    let mut cfg = ClientConfig::new();
    for (k, v) in extra {
        cfg.set(k, v);
    }
    cfg.set("bootstrap.servers", bootstrap)
        .set("client.id", "schloss-bench")
        .set("linger.ms", linger_ms.to_string())
        .set("message.timeout.ms", "120000");
    match acks {
        Acks::One => cfg.set("acks", "1").set("enable.idempotence", "false"),
        Acks::All => cfg.set("acks", "all").set("enable.idempotence", "true"),
    };
    cfg.create_with_context(Ctx::new()).context("producer")
}

fn ctx(p: &BenchProducer) -> &Ctx {
    p.client().context()
}

/// Hands one record to librdkafka, waiting while its queue is full.
fn send(p: &BenchProducer, topic: &str, value: &[u8]) -> Result<()> {
    let mut rec: BaseRecord<'_, (), [u8], usize> =
        BaseRecord::with_opaque_to(topic, ctx(p).now_ns()).payload(value);
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(e).context("produce"),
        }
    }
}

/// Connects, fetches metadata and pushes a few records through, outside the timed window.
fn warm_up(p: &BenchProducer, topic: &str, payloads: &Payloads) -> Result<()> {
    for i in 0..2_000u64 {
        send(p, topic, payloads.get(i))?;
    }
    p.flush(Duration::from_secs(60)).context("warm-up flush")?;
    let c = ctx(p);
    if c.ok.load(Ordering::SeqCst) == 0 {
        let e = c.first_err.lock().ok().and_then(|e| e.clone());
        bail!(
            "warm-up: no record acknowledged ({})",
            e.unwrap_or_default()
        );
    }
    c.reset();
    Ok(())
}

fn finish(mut r: CaseResult, p: &BenchProducer, secs: f64, cpu: &CpuMeter) -> CaseResult {
    let (b, c) = cpu.stop();
    let cx = ctx(p);
    r.records = cx.ok.load(Ordering::SeqCst);
    r.bytes = cx.ok_bytes.load(Ordering::SeqCst);
    r.errors = cx.err.load(Ordering::SeqCst);
    r.first_error = cx.first_err.lock().ok().and_then(|e| e.clone());
    r.secs = secs;
    r.records_per_sec = r.records as f64 / secs.max(1e-9);
    r.mb_per_sec = r.bytes as f64 / secs.max(1e-9) / 1e6;
    r.broker_cpu_pct = b;
    r.client_cpu_pct = c;
    r
}

// ---------------------------------------------------------------------------------------------
// Cases

/// Sends as fast as librdkafka accepts for `duration`, then flushes; the rate is acknowledged
/// records over the time from the first send to the end of the flush.
fn produce_case(
    t: &Target,
    id: &str,
    topic: &str,
    acks: Acks,
    partitions: i32,
    duration: Duration,
    payloads: &Payloads,
) -> Result<CaseResult> {
    produce_case_with(
        t,
        id,
        topic,
        acks,
        partitions,
        duration,
        payloads,
        true,
        &[],
    )
}

#[allow(clippy::too_many_arguments)]
fn produce_case_with(
    t: &Target,
    id: &str,
    topic: &str,
    acks: Acks,
    partitions: i32,
    duration: Duration,
    payloads: &Payloads,
    create: bool,
    extra: &[(String, String)],
) -> Result<CaseResult> {
    if create {
        create_topic(&t.bootstrap, topic, partitions)?;
    }
    let p = make_producer_with(&t.bootstrap, acks, 5, extra)?;
    warm_up(&p, topic, payloads)?;
    let cpu = CpuMeter::start(t.pid);
    let start = Instant::now();
    let deadline = start + duration;
    let mut i = 0u64;
    while Instant::now() < deadline {
        for _ in 0..64 {
            send(&p, topic, payloads.get(i))?;
            i += 1;
        }
    }
    p.flush(Duration::from_secs(180)).context("flush")?;
    let secs = start.elapsed().as_secs_f64();
    let r = CaseResult {
        case: id.to_owned(),
        topic: topic.to_owned(),
        partitions,
        ..CaseResult::default()
    };
    Ok(finish(r, &p, secs, &cpu))
}

/// Assigns every partition of `topic` from the beginning and reads up to the high watermarks
/// taken at the start, at most `--consume-records`, or until `duration` runs out.
fn consume_case(
    args: &RunArgs,
    t: &Target,
    id: &str,
    topic: &str,
    partitions: i32,
    duration: Duration,
) -> Result<CaseResult> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &t.bootstrap)
        .set("client.id", "schloss-bench")
        .set("group.id", "schloss-bench")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .context("consumer")?;
    let mut target = 0u64;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (lo, hi) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .with_context(|| format!("watermarks of {topic}/{p}"))?;
        target += (hi - lo).max(0) as u64;
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    if target == 0 {
        bail!("{topic} is empty");
    }
    if args.consume_records > 0 {
        target = target.min(args.consume_records);
    }
    let cpu = CpuMeter::start(t.pid);
    let start = Instant::now();
    let deadline = start + duration;
    consumer.assign(&tpl).context("assign")?;
    let (mut got, mut bytes, mut errors) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    while got < target && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                got += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => {
                errors += 1;
                if first_error.is_none() {
                    first_error = Some(e.to_string());
                }
            }
            None => {}
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let (b, c) = cpu.stop();
    Ok(CaseResult {
        case: id.to_owned(),
        topic: topic.to_owned(),
        partitions,
        records: got,
        bytes,
        secs,
        records_per_sec: got as f64 / secs.max(1e-9),
        mb_per_sec: bytes as f64 / secs.max(1e-9) / 1e6,
        errors,
        first_error,
        broker_cpu_pct: b,
        client_cpu_pct: c,
        ..CaseResult::default()
    })
}

/// Sends `rate` records/s to a one-partition topic for `latency_duration` and records, per
/// record, the time from handing it to librdkafka to its delivery report (this includes
/// linger.ms of client-side batching, identically for every broker).
#[allow(clippy::too_many_arguments)]
fn latency_case(
    args: &RunArgs,
    t: &Target,
    id: &str,
    topic: &str,
    acks: Acks,
    linger_ms: u32,
    payloads: &Payloads,
) -> Result<CaseResult> {
    create_topic(&t.bootstrap, topic, 1)?;
    let p = make_producer(&t.bootstrap, acks, linger_ms)?;
    warm_up(&p, topic, payloads)?;
    ctx(&p).track_latency.store(true, Ordering::SeqCst);
    let rate = args.rate.max(1) as f64;
    let window = Duration::from_secs(args.latency_duration);
    let cpu = CpuMeter::start(t.pid);
    let start = Instant::now();
    let mut i = 0u64;
    loop {
        let now = start.elapsed();
        if now >= window {
            break;
        }
        let due = (now.as_secs_f64() * rate) as u64;
        while i < due {
            send(&p, topic, payloads.get(i))?;
            i += 1;
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    let send_secs = start.elapsed().as_secs_f64();
    p.flush(Duration::from_secs(120)).context("flush")?;
    let r = CaseResult {
        case: id.to_owned(),
        topic: topic.to_owned(),
        partitions: 1,
        target_rate: Some(rate),
        ..CaseResult::default()
    };
    // The rate of a latency case is the achieved send rate, not a throughput.
    let mut r = finish(r, &p, send_secs, &cpu);
    let mut lat = ctx(&p)
        .latencies
        .lock()
        .map(|l| l.clone())
        .map_err(|_| anyhow!("latency samples lock poisoned"))?;
    lat.sort_unstable();
    let ms = |q: f64| quantile(&lat, q).map(|ns| ns as f64 / 1e6);
    r.p50_ms = ms(0.50);
    r.p99_ms = ms(0.99);
    r.p999_ms = ms(0.999);
    r.max_ms = ms(1.0);
    Ok(r)
}
