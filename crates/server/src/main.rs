//! `schloss`: the broker binary. `schloss` alone (or `schloss serve`) runs the broker on the
//! embedded default configuration; `--config FILE` names another.

mod config;
mod conn_state;
mod connection;
mod listener;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "schloss",
    version,
    about = "A multi-tenant, Kafka-compatible event broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker (the default command).
    Serve {
        /// Configuration file; without it the embedded `config/schloss.toml` is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the embedded default configuration.
    DefaultConfig,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::DefaultConfig => {
            print!("{}", config::EMBEDDED_DEFAULT);
            Ok(())
        }
        Command::Serve { config } => {
            init_tracing();
            let config =
                config::Config::load(config.as_deref()).context("invalid configuration")?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?
                .block_on(serve(config))
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(config: config::Config) -> anyhow::Result<()> {
    let data_dir = config.broker.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let max_request_bytes = config.broker.socket_request_max_bytes;
    let broker = schloss_broker::Broker::open(config.broker)
        .await
        .with_context(|| format!("opening data dir {}", data_dir.display()))?;
    let mut bound = Vec::new();
    for l in config.listeners {
        let name = l.name.clone();
        let addr = l.address;
        bound.push(
            listener::bind(l)
                .await
                .with_context(|| format!("binding listener {name} to {addr}"))?,
        );
    }
    tokio::spawn(schloss_broker::retention::run(
        broker.clone(),
        config.retention_check_interval,
    ));
    for l in bound {
        // Tests and scripts wait for this line on stdout to learn the bound port.
        println!("schloss: listener {} on {}", l.config.name, l.local);
        tracing::info!(listener = %l.config.name, address = %l.local, cluster_id = %broker.cluster_id(), "listening");
        tokio::spawn(listener::run(l, broker.clone(), max_request_bytes));
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
