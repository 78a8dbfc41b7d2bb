//! `schloss policy`: validate, explain, test and list the Cedar policies of a directory
//! (docs/authorization.md). Works on files only; it does not talk to a running broker.

use anyhow::Context;
use clap::{Args, Subcommand};
use schloss_policy::table::{RequestSpec, Table};
use schloss_policy::{
    Mode, PolicyError, PolicySnapshot, PolicyStore, PrincipalName, ReloadEvent, ReloadHook,
    StoreConfig,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Parse and validate every `*.cedar` file of DIR against the schema, as the broker would.
    Validate {
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
    /// Decide one request and show the deciding policies with file and line.
    Explain(Box<ExplainArgs>),
    /// Run test tables (requests with their expected decision).
    Test {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the policies of DIR with their effect, file and line.
    List {
        #[arg(default_value = "policies")]
        dir: PathBuf,
    },
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The policy directory.
    #[arg(long, default_value = "policies")]
    dir: PathBuf,
    /// `tenant/name`.
    #[arg(long)]
    principal: String,
    /// A role of the principal (repeat for several).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// Kafka's operation: Read, Write, Create, Delete, Alter, Describe, DescribeConfigs,
    /// AlterConfigs, IdempotentWrite, ClusterAction.
    #[arg(long)]
    action: String,
    /// A topic of the principal's tenant.
    #[arg(long, group = "target")]
    topic: Option<String>,
    /// A consumer group of the principal's tenant.
    #[arg(long, group = "target")]
    group: Option<String>,
    /// A transactional id of the principal's tenant.
    #[arg(long, group = "target")]
    transactional_id: Option<String>,
    /// Any resource: `topic:T/NAME`, `group:T/ID`, `txn:T/ID`, `tenant:T` or `cluster`.
    #[arg(long, group = "target")]
    resource: Option<String>,
    /// Context settings such as `clientIp=10.0.0.1` (keys in docs/authorization.md).
    #[arg(long = "context")]
    context: Vec<String>,
    /// A super user (`tenant/name`), as the broker's configuration would list it.
    #[arg(long = "super-user")]
    super_users: Vec<String>,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<()> {
    // The broker treats a missing directory as an empty set that denies everything; on the
    // command line it is far more likely a typo.
    let dir = match &command {
        PolicyCommand::Validate { dir } | PolicyCommand::List { dir } => Some(dir),
        PolicyCommand::Explain(args) => Some(&args.dir),
        PolicyCommand::Test { .. } => None,
    };
    if let Some(dir) = dir {
        anyhow::ensure!(dir.is_dir(), "`{}` is not a directory", dir.display());
    }
    match command {
        PolicyCommand::Validate { dir } => validate(&dir),
        PolicyCommand::Explain(args) => explain(*args),
        PolicyCommand::Test { files } => test(&files),
        PolicyCommand::List { dir } => list(&dir),
    }
}

/// Opens the directory as the broker does, keeping the load report for display.
fn open(
    dir: &Path,
    super_users: Vec<PrincipalName>,
) -> Result<(Arc<PolicySnapshot>, Vec<String>), PolicyError> {
    let notes = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notes);
    let hook: ReloadHook = Arc::new(move |event: &ReloadEvent| {
        if let ReloadEvent::Accepted { warnings, .. } = event {
            if let Ok(mut notes) = sink.lock() {
                notes.extend(warnings.iter().cloned());
            }
        }
    });
    let store = PolicyStore::open(
        StoreConfig {
            mode: Mode::Cedar {
                dir: dir.to_owned(),
            },
            super_users,
        },
        Some(hook),
    )?;
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    Ok((store.snapshot(), notes))
}

/// Prints each problem of a refused set on its own line, then fails.
fn refused(error: PolicyError) -> anyhow::Error {
    for problem in error.problems() {
        eprintln!("{problem}");
    }
    match error.problems().len() {
        0 => anyhow::Error::new(error),
        n => anyhow::anyhow!("policy set refused: {n} problem(s)"),
    }
}

fn validate(dir: &Path) -> anyhow::Result<()> {
    let (snapshot, notes) = open(dir, Vec::new()).map_err(refused)?;
    for note in &notes {
        eprintln!("warning: {note}");
    }
    println!(
        "{}: {} policies valid, sha256 {}",
        dir.display(),
        snapshot.policies().len(),
        snapshot.sha256().unwrap_or_default()
    );
    Ok(())
}

fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let super_users = args
        .super_users
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<PrincipalName>, String>>()
        .map_err(anyhow::Error::msg)?;
    let (snapshot, _notes) = open(&args.dir, super_users).map_err(refused)?;
    let tenant = args
        .principal
        .split_once('/')
        .map(|(tenant, _)| tenant)
        .context("the principal must be `tenant/name`")?;
    let resource = match (args.topic, args.group, args.transactional_id, args.resource) {
        (Some(topic), ..) => format!("topic:{tenant}/{topic}"),
        (_, Some(group), ..) => format!("group:{tenant}/{group}"),
        (_, _, Some(txn), _) => format!("txn:{tenant}/{txn}"),
        (_, _, _, Some(resource)) => resource,
        _ => anyhow::bail!("name the resource: --topic, --group, --transactional-id or --resource"),
    };
    let context: Vec<&str> = args.context.iter().map(String::as_str).collect();
    let spec = RequestSpec::parse(
        &args.principal,
        args.roles.into_iter().collect(),
        &args.action,
        &resource,
        &context,
    )
    .map_err(anyhow::Error::msg)?;
    let decision = snapshot.decide(&spec.request());
    println!("{decision}");
    for policy in &decision.policies {
        println!("  {policy}");
    }
    for error in &decision.errors {
        println!("  error: {error}");
    }
    Ok(())
}

fn test(files: &[PathBuf]) -> anyhow::Result<()> {
    let (mut passed, mut failed) = (0, 0);
    for file in files {
        let report = Table::read(file)
            .and_then(|table| table.run())
            .map_err(refused)
            .with_context(|| format!("test table `{}`", file.display()))?;
        for failure in &report.failures {
            println!(
                "FAIL {}: {}\n     {}",
                failure.location, failure.text, failure.reason
            );
            for policy in &failure.decision.policies {
                println!("     decided by {policy}");
            }
        }
        passed += report.passed;
        failed += report.failures.len();
    }
    println!("{passed} passed, {failed} failed");
    anyhow::ensure!(failed == 0, "{failed} policy test(s) failed");
    Ok(())
}

fn list(dir: &Path) -> anyhow::Result<()> {
    let (snapshot, _notes) = open(dir, Vec::new()).map_err(refused)?;
    for policy in snapshot.policies() {
        println!("{}\t{}\t{}", policy.effect, policy.id, policy.location);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    #[test]
    fn the_repository_policies_validate_and_their_tables_pass() {
        run(PolicyCommand::Validate {
            dir: repository("policies"),
        })
        .unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(repository("policies/tests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        run(PolicyCommand::Test { files }).unwrap();
    }

    #[test]
    fn validate_refuses_a_broken_directory_and_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.cedar"),
            "permit (principal, action, resource",
        )
        .unwrap();
        let dir_path = dir.path().to_owned();
        assert!(run(PolicyCommand::Validate { dir: dir_path }).is_err());
        let missing = dir.path().join("missing");
        let err = run(PolicyCommand::Validate { dir: missing }).unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }
}
