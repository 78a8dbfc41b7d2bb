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
    for id in THROUGHPUT_CASES.iter().chain(LATENCY_CASES.iter()) {
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
