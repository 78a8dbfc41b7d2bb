//! `schloss-bench`: produce/consume throughput and produce latency of a Kafka-protocol broker,
//! measured with librdkafka (through the `rdkafka` crate). The same binary and the same client
//! settings run against schloss and against Apache Kafka; `bench/run.sh` starts the brokers,
//! runs `schloss-bench run` once per broker and prints `schloss-bench report`.
//!
//! This is a benchmark, not a test: it never fails on slow numbers, only on broken brokers.

mod cases;
mod extra;
mod report;
mod sys;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "schloss-bench",
    about = "schloss vs Kafka benchmark, driven by librdkafka"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every case against one broker and write the results as JSON.
    Run(RunArgs),
    /// Print the markdown comparison table from the JSON files written by `run`.
    Report(report::ReportArgs),
    /// Print a free TCP port on 127.0.0.1 (for the helper scripts).
    FreePort,
}

#[derive(Parser, Clone)]
pub struct RunArgs {
    /// A broker under test, `LABEL=HOST:PORT[/PID]` (the pid lets the report show its CPU use).
    /// Repeat for several brokers: each case runs against all of them before the next case.
    #[arg(long = "target", required = true)]
    pub targets: Vec<cases::Target>,
    /// Directory for the results, one `LABEL.json` per target.
    #[arg(long)]
    pub json_dir: PathBuf,
    /// Run `sync` before each case, so that no case pays for the previous one's dirty pages.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sync: bool,
    /// How often every case runs against every target; the report takes the median, so one
    /// trial disturbed by other work on the machine does not decide a row.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Seconds each produce trial sends for, and the cap on each consume trial.
    #[arg(long, default_value_t = 6)]
    pub duration: u64,
    /// Seconds each latency trial sends for.
    #[arg(long, default_value_t = 6)]
    pub latency_duration: u64,
    /// Records per second sent by the latency cases.
    #[arg(long, default_value_t = 5000)]
    pub rate: u64,
    /// Value size in bytes of every record (no key, no headers).
    #[arg(long, default_value_t = 1024)]
    pub record_size: usize,
    /// Seconds of untimed produce + consume before the first case (JIT warm-up for Kafka; the
    /// same for every broker).
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Records each consume case reads at most (0: everything produced), so that every broker
    /// serves the same volume whatever its produce rate was.
    #[arg(long, default_value_t = 4_000_000)]
    pub consume_records: u64,
    /// Only run cases whose id contains one of these substrings (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The SASL_SSL (SCRAM-SHA-512) listener of a target, `LABEL=HOST:PORT`, for the auth
    /// cases (which fail for a target without one).
    #[arg(long = "sasl")]
    pub sasl: Vec<String>,
    /// CA certificate (PEM) the SASL_SSL listeners' certificates are signed by.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Seconds of each commit, login and auth-produce trial.
    #[arg(long, default_value_t = 4)]
    pub aux_duration: u64,
    /// Prefix of the topic names (a unique suffix is added per run).
    #[arg(long, default_value = "bench")]
    pub topic_prefix: String,
}

impl RunArgs {
    pub fn sasl_addr(&self, label: &str) -> Option<String> {
        self.sasl.iter().find_map(|s| {
            let (l, a) = s.split_once('=')?;
            (l == label).then(|| a.to_owned())
        })
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(args) => {
            std::fs::create_dir_all(&args.json_dir)?;
            for run in cases::run_all(&args)? {
                let path = args.json_dir.join(format!("{}.json", run.label));
                std::fs::write(&path, serde_json::to_string_pretty(&run)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("schloss-bench: wrote {}", path.display());
            }
            Ok(())
        }
        Cmd::Report(args) => report::print(&args),
        Cmd::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            Ok(())
        }
    }
}
