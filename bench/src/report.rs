//! The markdown comparison table, built from the JSON files of `schloss-bench run`.

use crate::cases::{CaseResult, RunResult};
use anyhow::{Context, Result};
use clap::Parser;
use std::path::{Path, PathBuf};

#[derive(Parser)]
pub struct ReportArgs {
    /// Results of schloss with its default durability (flush.messages=1: fsync before ack).
    #[arg(long)]
    pub schloss: Option<PathBuf>,
    /// Results of schloss acknowledging after the OS write (flush.messages=i64::MAX).
    #[arg(long)]
    pub schloss_os_cache: Option<PathBuf>,
    /// Results of Apache Kafka.
    #[arg(long)]
    pub kafka: Option<PathBuf>,
    /// Why Kafka has no results, printed under the table.
    #[arg(long)]
    pub kafka_missing: Option<String>,
    /// Also write all runs as one JSON array here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

fn load(p: &Option<PathBuf>) -> Result<Option<RunResult>> {
    let Some(p) = p else { return Ok(None) };
    if !Path::new(p).exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?,
    ))
}

/// Median over the rounds of one case against one broker; failed trials are left out
/// (a case is "failed" only if every trial failed).
fn case(run: &Option<RunResult>, id: &str) -> Option<CaseResult> {
    let trials: Vec<&CaseResult> = run
        .as_ref()?
        .cases
        .iter()
        .filter(|c| c.case == id)
        .collect();
    let first = *trials.first()?;
    let ok: Vec<&CaseResult> = trials
        .iter()
        .copied()
        .filter(|c| c.failed.is_none())
        .collect();
    if ok.is_empty() {
        return Some(first.clone());
    }
    let med = |f: &dyn Fn(&CaseResult) -> Option<f64>| median(ok.iter().filter_map(|c| f(c)));
    Some(CaseResult {
        case: id.to_owned(),
        partitions: first.partitions,
        records: ok.iter().map(|c| c.records).sum(),
        bytes: ok.iter().map(|c| c.bytes).sum(),
        secs: ok.iter().map(|c| c.secs).sum(),
        records_per_sec: med(&|c| Some(c.records_per_sec)).unwrap_or(0.0),
        mb_per_sec: med(&|c| Some(c.mb_per_sec)).unwrap_or(0.0),
        errors: ok.iter().map(|c| c.errors).sum(),
        first_error: ok.iter().find_map(|c| c.first_error.clone()),
        target_rate: first.target_rate,
        p50_ms: med(&|c| c.p50_ms),
        p99_ms: med(&|c| c.p99_ms),
        p999_ms: med(&|c| c.p999_ms),
        max_ms: med(&|c| c.max_ms),
        broker_cpu_pct: med(&|c| c.broker_cpu_pct),
        client_cpu_pct: med(&|c| c.client_cpu_pct),
        ..CaseResult::default()
    })
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0),
    }
}

/// "min–max" of a metric over the successful rounds, and how many there were.
fn spread(run: &Option<RunResult>, id: &str, m: Metric) -> String {
    let Some(run) = run else {
        return "–".to_owned();
    };
    let vals: Vec<f64> = run
        .cases
        .iter()
        .filter(|c| c.case == id)
        .filter_map(|c| match m {
            Metric::Throughput => value(c, m).map(|_| c.mb_per_sec),
            _ => value(c, m),
        })
        .collect();
    let failed = run
        .cases
        .iter()
        .filter(|c| c.case == id && c.failed.is_some())
        .count();
    let (Some(lo), Some(hi)) = (
        vals.iter().copied().reduce(f64::min),
        vals.iter().copied().reduce(f64::max),
    ) else {
        return "–".to_owned();
    };
    let fmt = |v: f64| match m {
        Metric::Throughput => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    };
    let mut out = format!("{}–{} (n={})", fmt(lo), fmt(hi), vals.len());
    if failed > 0 {
        out.push_str(&format!(", {failed} failed"));
    }
    out
}

#[derive(Clone, Copy)]
enum Metric {
    Throughput,
    P50,
    P99,
    P999,
}

fn value(c: &CaseResult, m: Metric) -> Option<f64> {
    if c.failed.is_some() {
        return None;
    }
    match m {
        Metric::Throughput => Some(c.records_per_sec),
        Metric::P50 => c.p50_ms,
        Metric::P99 => c.p99_ms,
        Metric::P999 => c.p999_ms,
    }
}

fn cell(c: Option<&CaseResult>, m: Metric) -> String {
    let Some(c) = c else { return "–".to_owned() };
    if c.failed.is_some() {
        return "failed".to_owned();
    }
    let errs = if c.errors > 0 {
        format!(" ⚠ {} errors", c.errors)
    } else {
        String::new()
    };
    match (m, value(c, m)) {
        (Metric::Throughput, Some(v)) => {
            format!("{} rec/s · {:.1} MB/s{errs}", thousands(v), c.mb_per_sec)
        }
        (_, Some(v)) => format!("{v:.2} ms{errs}"),
        (_, None) => "–".to_owned(),
    }
}

fn ratio(a: Option<&CaseResult>, b: Option<&CaseResult>, m: Metric) -> String {
    match (a.and_then(|a| value(a, m)), b.and_then(|b| value(b, m))) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_owned(),
    }
}

fn thousands(v: f64) -> String {
    let mut n = v.round() as u64;
    let mut groups = Vec::new();
    while n >= 1000 {
        groups.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    groups.push(n.to_string());
    groups.reverse();
    groups.join(",")
}

const THROUGHPUT_CASES: [&str; 6] = [
    "produce acks=1 p=1",
    "produce acks=1 p=16",
    "produce acks=all p=1",
    "produce acks=all p=16",
    "consume p=1",
    "consume p=16",
];
const LATENCY_CASES: [&str; 4] = [
    "latency acks=1",
    "latency acks=all",
    "latency acks=1 linger=0",
    "latency acks=all linger=0",
];

pub fn print(args: &ReportArgs) -> Result<()> {
    let s = load(&args.schloss)?;
    let o = load(&args.schloss_os_cache)?;
    let k = load(&args.kafka)?;

    let mut rows: Vec<(String, Metric, &str)> = Vec::new();
    for id in THROUGHPUT_CASES {
        rows.push((format!("{id} (↑)"), Metric::Throughput, id));
    }
    for id in LATENCY_CASES {
        rows.push((format!("{id} p50 (↓)"), Metric::P50, id));
        rows.push((format!("{id} p99 (↓)"), Metric::P99, id));
        rows.push((format!("{id} p99.9 (↓)"), Metric::P999, id));
    }

    let any = s.as_ref().or(o.as_ref()).or(k.as_ref());
    if let Some(r) = any {
        println!(
            "{} B records; {} rounds; produce trials {} s (consume capped at the same), latency trials {} s at {} rec/s; librdkafka {}; {} CPUs",
            r.record_size, r.rounds.max(1), r.duration_secs, r.latency_duration_secs, r.rate, r.librdkafka, r.cpus
        );
        println!();
    }
    println!(
        "| case | schloss (fsync per ack) | schloss (os-cache acks) | kafka | schloss ÷ kafka | os-cache ÷ kafka |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, m, id) in &rows {
        let (cs, co, ck) = (case(&s, id), case(&o, id), case(&k, id));
        let (cs, co, ck) = (cs.as_ref(), co.as_ref(), ck.as_ref());
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            cell(cs, *m),
            cell(co, *m),
            cell(ck, *m),
            ratio(cs, ck, *m),
            ratio(co, ck, *m)
        );
    }
    println!();
    println!(
        "Median of the rounds. ↑ higher is better, ↓ lower is better. MB = 10^6 bytes of record values."
    );
    println!();
    println!("Spread over the rounds, min–max (MB/s for throughput rows, ms for latency rows):");
    println!();
    println!("| case | schloss (fsync per ack) | schloss (os-cache acks) | kafka |");
    println!("|---|---:|---:|---:|");
    for (name, m, id) in &rows {
        println!(
            "| {name} | {} | {} | {} |",
            spread(&s, id, *m),
            spread(&o, id, *m),
            spread(&k, id, *m)
        );
    }

    println!();
    println!("CPU over each case (median of the rounds), % of one core (broker process / benchmark client):");
    println!();
    println!("| case | schloss (fsync per ack) | schloss (os-cache acks) | kafka |");
    println!("|---|---:|---:|---:|");
    for id in THROUGHPUT_CASES
        .iter()
        .chain(LATENCY_CASES.iter())
        .chain(EXTRA_CASES.iter())
    {
        let f = |c: Option<&CaseResult>| match c {
            Some(c) if c.failed.is_none() => format!(
                "{} / {}",
                c.broker_cpu_pct
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or_else(|| "?".into()),
                c.client_cpu_pct
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or_else(|| "?".into())
            ),
            _ => "–".to_owned(),
        };
        println!(
            "| {id} | {} | {} | {} |",
            f(case(&s, id).as_ref()),
            f(case(&o, id).as_ref()),
            f(case(&k, id).as_ref())
        );
    }

    print_extra(&s, &o, &k);

    let mut notes = Vec::new();
    for (label, run) in [("schloss", &s), ("schloss os-cache", &o), ("kafka", &k)] {
        let Some(run) = run else { continue };
        if let (Some(a), Some(b)) = (&run.loadavg_start, &run.loadavg_end) {
            notes.push(format!("{label}: load average {a} at start, {b} at end"));
        }
        for c in &run.cases {
            if let Some(f) = &c.failed {
                notes.push(format!("{label} / {}: failed: {f}", c.case));
            } else if let Some(e) = &c.first_error {
                notes.push(format!(
                    "{label} / {}: {} delivery errors, first: {e}",
                    c.case, c.errors
                ));
            }
            if let Some(t) = c.target_rate {
                if c.records_per_sec < 0.95 * t {
                    notes.push(format!(
                        "{label} / {}: achieved {:.0} rec/s of the {t:.0} asked",
                        c.case, c.records_per_sec
                    ));
                }
            }
        }
    }
    if k.is_none() {
        notes.push(format!(
            "kafka: no results ({})",
            args.kafka_missing.as_deref().unwrap_or("not run")
        ));
    }
    // All targets of one run share the machine: identical lines (load average) once.
    let mut seen = std::collections::HashSet::new();
    let notes: Vec<String> = notes
        .into_iter()
        .map(|n| match n.split_once(": load average") {
            Some((_, rest)) => format!("load average{rest}"),
            None => n,
        })
        .filter(|n| seen.insert(n.clone()))
        .collect();
    if !notes.is_empty() {
        println!();
        for n in notes {
            println!("- {n}");
        }
    }

    if let Some(out) = &args.json_out {
        let all: Vec<&RunResult> = [&s, &o, &k].into_iter().flatten().collect();
        std::fs::write(out, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

const GROUP_JOIN: &str = "group join n=10 p=20";
const COMMIT_CASES: [&str; 2] = ["group commit c=1", "group commit c=4"];
const AUTH_PLAIN: &str = "auth produce plaintext p=4";
const AUTH_SASL: &str = "auth produce sasl_ssl p=4";
const AUTH_LOGINS: &str = "auth logins t=16";
const EXTRA_CASES: [&str; 6] = [
    GROUP_JOIN,
    "group commit c=1",
    "group commit c=4",
    AUTH_PLAIN,
    AUTH_SASL,
    AUTH_LOGINS,
];

/// Join times pooled over every round: (p50, p99, count).
fn pooled_joins(run: &Option<RunResult>) -> Option<(f64, f64, usize)> {
    let mut v: Vec<f64> = run
        .as_ref()?
        .cases
        .iter()
        .filter(|c| c.case == GROUP_JOIN && c.failed.is_none())
        .flat_map(|c| c.samples_ms.iter().copied())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |q: f64| {
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v.get(rank - 1).copied().unwrap_or(0.0)
    };
    Some((q(0.5), q(0.99), v.len()))
}

/// Median over the rounds of sasl_ssl ÷ plaintext produce throughput (the two run back to back
/// in each round against the same broker, so the ratio cancels most of the machine's noise).
fn tls_ratio(run: &Option<RunResult>) -> Option<f64> {
    let run = run.as_ref()?;
    let rounds: std::collections::BTreeSet<u32> = run.cases.iter().map(|c| c.round).collect();
    median(rounds.into_iter().filter_map(|r| {
        let get = |id: &str| {
            run.cases
                .iter()
                .find(|c| c.case == id && c.round == r && c.failed.is_none())
                .map(|c| c.records_per_sec)
        };
        match (get(AUTH_SASL), get(AUTH_PLAIN)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        }
    }))
}

/// The consumer-group and authentication table.
fn print_extra(s: &Option<RunResult>, o: &Option<RunResult>, k: &Option<RunResult>) {
    let runs = [s, o, k];
    let present = runs.iter().any(|r| {
        r.as_ref().is_some_and(|r| {
            r.cases
                .iter()
                .any(|c| EXTRA_CASES.contains(&c.case.as_str()))
        })
    });
    if !present {
        return;
    }
    println!();
    println!("Consumer groups and authentication (median of the rounds; join times pooled over all rounds):");
    println!();
    println!(
        "| case | schloss (fsync per ack) | schloss (os-cache acks) | kafka | schloss ÷ kafka | os-cache ÷ kafka |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let row = |name: &str, vals: [Option<f64>; 3], fmt: &dyn Fn(f64) -> String| {
        let cell = |v: Option<f64>| v.map(fmt).unwrap_or_else(|| "–".to_owned());
        let r = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
            _ => "–".to_owned(),
        };
        let [a, b, c] = vals;
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            cell(a),
            cell(b),
            cell(c),
            r(a, c),
            r(b, c)
        );
    };
    let joins = runs.map(pooled_joins);
    let n = joins.iter().flatten().map(|j| j.2).max().unwrap_or(0);
    let ms = |v: f64| format!("{v:.1} ms");
    row(
        &format!("{GROUP_JOIN}: join → assignment p50 (↓, {n} joins)"),
        joins.map(|j| j.map(|j| j.0)),
        &ms,
    );
    row(
        &format!("{GROUP_JOIN}: join → assignment p99 (↓)"),
        joins.map(|j| j.map(|j| j.1)),
        &ms,
    );
    let get = |id: &str, f: &dyn Fn(&CaseResult) -> Option<f64>| {
        runs.map(|r| {
            case(r, id)
                .filter(|c| c.failed.is_none())
                .and_then(|c| f(&c))
        })
    };
    let per_s = |v: f64| format!("{} /s", thousands(v));
    for id in COMMIT_CASES {
        row(
            &format!("{id}: commits/s (↑)"),
            get(id, &|c| Some(c.records_per_sec)),
            &per_s,
        );
        row(
            &format!("{id}: commit p50 (↓)"),
            get(id, &|c| c.p50_ms),
            &|v| format!("{v:.2} ms"),
        );
        row(
            &format!("{id}: commit p99 (↓)"),
            get(id, &|c| c.p99_ms),
            &|v| format!("{v:.2} ms"),
        );
    }
    let mbs = |c: &CaseResult| Some(c.mb_per_sec);
    let mb = |v: f64| format!("{v:.1} MB/s");
    row(&format!("{AUTH_PLAIN} (↑)"), get(AUTH_PLAIN, &mbs), &mb);
    row(&format!("{AUTH_SASL} (↑)"), get(AUTH_SASL, &mbs), &mb);
    row(
        "sasl_ssl ÷ plaintext, same broker (↑, target ≥ 0.85)",
        runs.map(tls_ratio),
        &|v| format!("{v:.2}"),
    );
    row(
        &format!("{AUTH_LOGINS}: logins/s (↑)"),
        get(AUTH_LOGINS, &|c| Some(c.records_per_sec)),
        &per_s,
    );
    row(
        &format!("{AUTH_LOGINS}: login p50 (↓)"),
        get(AUTH_LOGINS, &|c| c.p50_ms),
        &ms,
    );
    row(
        &format!("{AUTH_LOGINS}: login p99 (↓)"),
        get(AUTH_LOGINS, &|c| c.p99_ms),
        &ms,
    );

    println!();
    println!("Spread over the rounds, min–max of the per-round value:");
    println!();
    println!("| case | schloss (fsync per ack) | schloss (os-cache acks) | kafka |");
    println!("|---|---:|---:|---:|");
    let spread_of =
        |id: &str, f: &dyn Fn(&CaseResult) -> Option<f64>, fmt: &dyn Fn(f64) -> String| {
            let cells = runs.map(|r| {
                let vals: Vec<f64> = r
                    .as_ref()
                    .map(|r| {
                        r.cases
                            .iter()
                            .filter(|c| c.case == id && c.failed.is_none())
                            .filter_map(f)
                            .collect()
                    })
                    .unwrap_or_default();
                match (
                    vals.iter().copied().reduce(f64::min),
                    vals.iter().copied().reduce(f64::max),
                ) {
                    (Some(lo), Some(hi)) => format!("{}–{} (n={})", fmt(lo), fmt(hi), vals.len()),
                    _ => "–".to_owned(),
                }
            });
            let [a, b, c] = cells;
            (a, b, c)
        };
    let num0 = |v: f64| format!("{v:.0}");
    let num1 = |v: f64| format!("{v:.1}");
    let lines: Vec<(String, (String, String, String))> = vec![
        (
            format!("{GROUP_JOIN} p50 ms"),
            spread_of(GROUP_JOIN, &|c| c.p50_ms, &num1),
        ),
        (
            "group commit c=1 /s".to_owned(),
            spread_of("group commit c=1", &|c| Some(c.records_per_sec), &num0),
        ),
        (
            "group commit c=4 /s".to_owned(),
            spread_of("group commit c=4", &|c| Some(c.records_per_sec), &num0),
        ),
        (
            format!("{AUTH_PLAIN} MB/s"),
            spread_of(AUTH_PLAIN, &|c| Some(c.mb_per_sec), &num0),
        ),
        (
            format!("{AUTH_SASL} MB/s"),
            spread_of(AUTH_SASL, &|c| Some(c.mb_per_sec), &num0),
        ),
        (
            format!("{AUTH_LOGINS} /s"),
            spread_of(AUTH_LOGINS, &|c| Some(c.records_per_sec), &num0),
        ),
    ];
    for (name, (a, b, c)) in lines {
        println!("| {name} | {a} | {b} | {c} |");
    }
}
