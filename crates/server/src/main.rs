//! `schloss`: the broker binary. `schloss` alone (or `schloss serve`) runs the broker on the
//! embedded default configuration; `--config FILE` names another. `schloss users` manages the
//! credential file, `schloss policy` checks Cedar policy files and `schloss certs dev` writes
//! development certificates.

mod policy_cli;

use anyhow::Context;
use clap::{Parser, Subcommand};
use schloss_auth::SaslMechanism;
use schloss_server::{certs, config, serve};
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
    /// Manage SASL users in the credential file (picked up by a running broker within a second).
    Users {
        /// The credential file (`auth.credentials_file` of the broker's config).
        #[arg(long, short, global = true, default_value = "users.toml")]
        file: PathBuf,
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Check Cedar policy files: validate, explain a decision, run test tables, list.
    Policy {
        #[command(subcommand)]
        action: policy_cli::PolicyCommand,
    },
    /// Certificates for local use.
    Certs {
        #[command(subcommand)]
        action: CertsAction,
    },
}

#[derive(Subcommand)]
enum UsersAction {
    /// Add a user, or replace its credentials. The login is `tenant/user`.
    Add {
        login: String,
        /// The password; without it, the first line of standard input is read.
        #[arg(long)]
        password: Option<String>,
        /// Mechanisms to store credentials for (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
        )]
        mechanisms: Vec<String>,
        /// Roles, e.g. `operator` (sees and manages every tenant).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Remove a user (`tenant/user`).
    Remove { login: String },
    /// List users and their mechanisms (never secrets).
    List,
}

#[derive(Subcommand)]
enum CertsAction {
    /// Write a local CA, a server certificate (localhost, 127.0.0.1) and a client certificate.
    Dev {
        #[arg(long, default_value = "certs/dev")]
        dir: PathBuf,
    },
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
                .block_on(serve::serve(config))
        }
        Command::Users { file, action } => users(&file, action),
        Command::Policy { action } => policy_cli::run(action),
        Command::Certs {
            action: CertsAction::Dev { dir },
        } => {
            certs::write_dev_certs(&dir)?;
            println!(
                "wrote ca.pem, server.pem/.key and client.pem/.key to {}",
                dir.display()
            );
            Ok(())
        }
    }
}

fn users(file: &std::path::Path, action: UsersAction) -> anyhow::Result<()> {
    match action {
        UsersAction::Add {
            login,
            password,
            mechanisms,
            roles,
        } => {
            let (tenant, name) = login
                .split_once('/')
                .context("the login must be `tenant/user`")?;
            let tenant = schloss_model::TenantId::new(tenant)?;
            let mechanisms = mechanisms
                .iter()
                .map(|m| {
                    SaslMechanism::from_name(m).with_context(|| format!("unknown mechanism `{m}`"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = match password {
                Some(p) => p,
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from stdin")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            anyhow::ensure!(!password.is_empty(), "the password is empty");
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let info =
                schloss_auth::store::add_user(file, name, &tenant, &password, &mechanisms, &roles)?;
            println!(
                "added {} ({})",
                info.login,
                mechanism_names(&info.mechanisms)
            );
        }
        UsersAction::Remove { login } => {
            schloss_auth::store::remove_user(file, &login)?;
            println!("removed {login}");
        }
        UsersAction::List => {
            for user in schloss_auth::store::list_users(file)? {
                println!(
                    "{}\t{}\t{}",
                    user.login,
                    mechanism_names(&user.mechanisms),
                    user.roles.join(",")
                );
            }
        }
    }
    Ok(())
}

fn mechanism_names(m: &[SaslMechanism]) -> String {
    m.iter().map(|m| m.name()).collect::<Vec<_>>().join(",")
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
