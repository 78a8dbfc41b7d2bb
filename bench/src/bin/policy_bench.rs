//! The policy engine's cost, measured (never asserted): `schloss-policy-bench decisions` prints
//! decision latency (p50, p99) with and without the per-connection cache at 1,000 policies (100
//! tenants x 10) and the time from an ACL change to its effect (the managed set re-validated and
//! swapped in); `schloss-policy-bench write-policies DIR` writes that policy set, which
//! `bench/run.sh` gives its `schloss-cedar` broker for the produce-throughput comparison.

use anyhow::{Context, Result};
use schloss_model::{Mechanism, Principal, TenantId, TopicName};
use schloss_policy::{
    render_set, AclBinding, AclHost, AclOperation, AclPermission, AclPrincipal, AclResourceType,
    Action, DecisionCache, DecisionRequest, Mode, PatternType, PolicyStore, RequestContext,
    Resource, SecurityProtocol, StoreConfig, Subject,
};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

const TENANTS: usize = 100;

fn tenant(t: usize) -> String {
    format!("tenant-{t:03}")
}

/// Ten policies of one tenant, in the shapes the examples use: prefixes, roles, single users,
/// an IP range, a forbid, a tenant-wide describe.
fn tenant_policies(t: usize) -> String {
    let n = tenant(t);
    let mut out = format!(
        r#"@id("{n}-readers")
permit (principal in Kafka::Tenant::"{n}", action == Kafka::Action::"Read", resource is Kafka::Topic in Kafka::Tenant::"{n}")
when {{ resource.name like "orders-*" }};
@id("{n}-writers")
permit (principal in Kafka::Role::"writer", action == Kafka::Action::"Write", resource is Kafka::Topic in Kafka::Tenant::"{n}");
@id("{n}-analytics-groups")
permit (principal in Kafka::Role::"analytics", action == Kafka::Action::"Read", resource is Kafka::Group in Kafka::Tenant::"{n}")
when {{ resource.name like "analytics-*" }};
@id("{n}-pii")
forbid (principal, action, resource is Kafka::Topic in Kafka::Tenant::"{n}")
when {{ resource.name like "pii-*" }} unless {{ principal in Kafka::Role::"pii-reader" }};
@id("{n}-admins")
permit (principal in Kafka::Role::"admin", action, resource in Kafka::Tenant::"{n}")
when {{ context.clientIp.isInRange(ip("10.20.0.0/16")) }};
@id("{n}-describe")
permit (principal in Kafka::Tenant::"{n}", action == Kafka::Action::"Describe", resource == Kafka::Tenant::"{n}");
"#
    );
    for k in 0..4 {
        out.push_str(&format!(
            r#"@id("{n}-svc-{k}")
permit (principal == Kafka::User::"{n}/svc-{k}", action == Kafka::Action::"Write", resource == Kafka::Topic::"{n}/events-{k}");
"#
        ));
    }
    out
}

/// base.cedar, 100 tenants x 10 policies, and (for the benchmark broker) everything inside
/// tenant `default` for its users.
fn write_policies(dir: &Path, base: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    std::fs::copy(base, dir.join("base.cedar")).context("copying base.cedar")?;
    for t in 0..TENANTS {
        std::fs::write(dir.join(format!("{}.cedar", tenant(t))), tenant_policies(t))?;
    }
    std::fs::write(
        dir.join("default.cedar"),
        "@id(\"default-everything\")\npermit (principal in Kafka::Tenant::\"default\", action, resource in Kafka::Tenant::\"default\");\n",
    )?;
    Ok(2 + TENANTS * 10)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "| {what} | {} | {:.2} | {:.2} |",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
}

fn subject(t: usize, user: &str, roles: &[&str]) -> Result<Subject> {
    Ok(Subject {
        principal: Principal {
            name: user.to_owned(),
            tenant: TenantId::new(&tenant(t))?,
            mechanism: Mechanism::ScramSha512,
        },
        roles: roles
            .iter()
            .map(|r| (*r).to_owned())
            .collect::<BTreeSet<_>>(),
    })
}

fn context() -> RequestContext {
    RequestContext {
        listener: "SASL_SSL".to_owned(),
        security_protocol: SecurityProtocol::SaslSsl,
        client_ip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
        tls_version: Some("TLSv1.3".to_owned()),
        spiffe_id: None,
        san: Vec::new(),
        api_name: Cow::Borrowed("Produce"),
        time: SystemTime::now(),
    }
}

fn decisions(base: &Path) -> Result<()> {
    let dir = tempdir()?;
    let count = write_policies(&dir, base)?;
    let store = PolicyStore::open(
        StoreConfig {
            mode: Mode::Cedar { dir: dir.clone() },
            super_users: Vec::new(),
        },
        None,
    )?;
    let snapshot = store.snapshot();
    println!(
        "{count} policies loaded (generation {})\n",
        snapshot.generation()
    );
    println!("| decision | samples | p50 µs | p99 µs |\n|---|---|---|---|");
    let context = context();
    let actions = [Action::Read, Action::Write, Action::Describe];
    let topics = ["orders-eu", "events-2", "pii-customers", "billing"];
    let mut questions = Vec::new();
    for t in 0..TENANTS {
        for (u, roles) in [
            ("svc-2", &[][..]),
            ("ana", &["analytics"][..]),
            ("wes", &["writer"][..]),
        ] {
            for action in actions {
                for topic in topics {
                    let resource = Resource::Topic {
                        tenant: TenantId::new(&tenant(t))?,
                        name: TopicName::new(topic)?,
                    };
                    questions.push((subject(t, u, roles)?, action, resource));
                }
            }
        }
    }
    // Uncached: every question evaluated by Cedar (with Kafka's implied operations).
    // SCHLOSS_POLICY_BENCH_ROUNDS: more rounds of the uncached questions (for a profiler).
    let rounds = std::env::var("SCHLOSS_POLICY_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4);
    let mut uncached = Vec::with_capacity(questions.len() * rounds);
    for _ in 0..rounds {
        for (subject, action, resource) in &questions {
            let req = DecisionRequest {
                subject,
                action: *action,
                resource,
                context: &context,
            };
            let start = Instant::now();
            let decision = snapshot.decide(&req);
            uncached.push(start.elapsed());
            std::hint::black_box(decision);
        }
    }
    report("uncached (Cedar evaluation)", uncached);
    // Cached: a produce loop to one topic on one connection.
    let (subject, _, resource) = questions.get(1).context("no questions")?;
    let req = DecisionRequest {
        subject,
        action: Action::Write,
        resource,
        context: &context,
    };
    let mut cache = DecisionCache::default();
    let mut cached = Vec::with_capacity(200_000);
    for _ in 0..200_000 {
        let start = Instant::now();
        let decision = cache.decide(&snapshot, &req);
        cached.push(start.elapsed());
        std::hint::black_box(decision);
    }
    report("cached (same connection, same topic)", cached);

    // An ACL change: the managed set (every tenant's ACLs) re-rendered, validated with the
    // files and swapped in as a new generation, as CreateAcls does before its metadata write.
    let mut effect = Vec::new();
    for round in 0..10 {
        let sources = (0..TENANTS)
            .map(|t| -> Result<(String, String)> {
                let tenant = TenantId::new(&tenant(t))?;
                let bindings = (0..=round)
                    .map(|k| {
                        AclBinding::new(
                            AclResourceType::Topic,
                            PatternType::Prefixed,
                            format!("acl-{k}-"),
                            AclPrincipal::User(format!("user-{k}")),
                            AclHost::Any,
                            AclOperation::Read,
                            AclPermission::Allow,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((format!("acl:{tenant}"), render_set(&tenant, &bindings)))
            })
            .collect::<Result<Vec<_>>>()?;
        let start = Instant::now();
        store.set_managed(sources)?;
        effect.push(start.elapsed());
    }
    let acls = TENANTS * 10;
    println!();
    println!("| ACL change to effect (set re-validated, {count} file policies + up to {acls} ACL policies) | samples | p50 ms | p99 ms |\n|---|---|---|---|");
    effect.sort();
    println!(
        "| set_managed | {} | {:.1} | {:.1} |",
        effect.len(),
        percentile(&effect, 0.5).as_secs_f64() * 1e3,
        percentile(&effect, 0.99).as_secs_f64() * 1e3
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("schloss-policy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let base = root.join("policies/base.cedar");
    match args.get(1).map(String::as_str) {
        Some("write-policies") => {
            let dir = args.get(2).context("write-policies DIR")?;
            let count = write_policies(Path::new(dir), &base)?;
            eprintln!("{count} policies written to {dir}");
            Ok(())
        }
        Some("decisions") | None => decisions(&base),
        Some(other) => anyhow::bail!("unknown command {other}: decisions | write-policies DIR"),
    }
}
