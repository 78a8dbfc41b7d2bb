//! Test tables: requests with the decision they must get, run by `schloss policy test` and by
//! this crate's tests over `policies/tests/`. The format is documented in
//! docs/authorization.md; in short, one item per line, `#` starts a comment:
//!
//! ```text
//! policies ../base.cedar ../examples/prefixed.cedar
//! super-user acme/root
//! allow acme/billing Read topic:acme/billing-events apiName=Fetch
//! deny  acme/ann[analytics] Write topic:acme/orders by=base-tenant-isolation
//! ```

use crate::decision::{Decision, Effect};
use crate::error::{PolicyError, Problem, SourceLocation};
use crate::request::{
    Action, DecisionRequest, PrincipalName, RequestContext, Resource, SecurityProtocol, Subject,
};
use crate::schema::days_from_civil;
use crate::snapshot::PolicySnapshot;
use schloss_model::{Mechanism, Principal};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The extension of test-table files.
pub const TABLE_EXTENSION: &str = "table";

/// A request written as text: a principal with roles, an action, a resource and `key=value`
/// context settings. Shared by test tables and `schloss policy explain`.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub subject: Subject,
    pub action: Action,
    pub resource: Resource,
    pub context: RequestContext,
}

impl RequestSpec {
    /// `principal` is `tenant/name`; `context` holds `key=value` items (see
    /// docs/authorization.md for the keys and their defaults).
    pub fn parse(
        principal: &str,
        roles: BTreeSet<String>,
        action: &str,
        resource: &str,
        context: &[&str],
    ) -> Result<Self, String> {
        let name: PrincipalName = principal.parse()?;
        let action = Action::from_name(action).ok_or_else(|| {
            format!("unknown action `{action}`: expected one of Kafka's operations, such as `Read`")
        })?;
        let resource: Resource = resource.parse()?;
        let (context, mechanism) = parse_context(context)?;
        let subject = Subject {
            principal: Principal {
                name: name.name,
                tenant: name.tenant,
                mechanism,
            },
            roles,
        };
        Ok(Self {
            subject,
            action,
            resource,
            context,
        })
    }

    pub fn request(&self) -> DecisionRequest<'_> {
        DecisionRequest {
            subject: &self.subject,
            action: self.action,
            resource: &self.resource,
            context: &self.context,
        }
    }
}

/// The context of `key=value` items, and the authentication mechanism they imply.
fn parse_context(items: &[&str]) -> Result<(RequestContext, Mechanism), String> {
    let mut context = RequestContext {
        listener: "SASL_SSL".to_owned(),
        security_protocol: SecurityProtocol::SaslSsl,
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        tls_version: None,
        spiffe_id: None,
        san: Vec::new(),
        api_name: Cow::Borrowed("Metadata"),
        time: SystemTime::now(),
    };
    // `None` = not given; `Some(None)` = given as `none`.
    let mut mechanism: Option<Option<Mechanism>> = None;
    let mut tls: Option<Option<String>> = None;
    for item in items {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| format!("context item `{item}` is not `key=value`"))?;
        match key {
            "listener" => context.listener = value.to_owned(),
            "securityProtocol" => {
                context.security_protocol = SecurityProtocol::from_name(value).ok_or_else(|| {
                    format!("unknown security protocol `{value}`: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
                })?;
            }
            "saslMechanism" => {
                mechanism = Some(match value {
                    "none" => None,
                    "PLAIN" => Some(Mechanism::SaslPlain),
                    "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
                    "SCRAM-SHA-512" => Some(Mechanism::ScramSha512),
                    _ => return Err(format!("unknown SASL mechanism `{value}`: expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or none")),
                });
            }
            "clientIp" => {
                context.client_ip = value
                    .parse()
                    .map_err(|_| format!("`{value}` is not an IP address"))?;
            }
            "tlsVersion" => tls = Some((value != "none").then(|| value.to_owned())),
            "spiffeId" => context.spiffe_id = Some(value.to_owned()),
            "san" => context.san = value.split(',').map(str::to_owned).collect(),
            "apiName" => context.api_name = Cow::Owned(value.to_owned()),
            "time" => context.time = parse_time(value)?,
            _ => return Err(format!("unknown context key `{key}`: expected listener, securityProtocol, saslMechanism, clientIp, tlsVersion, spiffeId, san, apiName or time")),
        }
    }
    let protocol = context.security_protocol;
    context.tls_version = tls.unwrap_or_else(|| protocol.uses_tls().then(|| "TLSv1.3".to_owned()));
    let mechanism = match (mechanism, protocol) {
        (Some(Some(m)), _) => m,
        (_, SecurityProtocol::Plaintext) => Mechanism::Anonymous,
        (_, SecurityProtocol::Ssl) | (Some(None), _) => Mechanism::MutualTls,
        (None, _) => Mechanism::ScramSha512,
    };
    Ok((context, mechanism))
}

/// `YYYY-MM-DDThh:mm:ssZ`, in UTC.
fn parse_time(value: &str) -> Result<SystemTime, String> {
    let bad = || format!("time `{value}` is not `YYYY-MM-DDThh:mm:ssZ`");
    let (date, time) = value
        .strip_suffix('Z')
        .and_then(|v| v.split_once('T'))
        .ok_or_else(bad)?;
    let numbers =
        |s: &str, sep: char| -> Option<Vec<u64>> { s.split(sep).map(|n| n.parse().ok()).collect() };
    let (Some([year, month, day]), Some([h, m, s])) = (
        numbers(date, '-').and_then(|v| <[u64; 3]>::try_from(v).ok()),
        numbers(time, ':').and_then(|v| <[u64; 3]>::try_from(v).ok()),
    ) else {
        return Err(bad());
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day).ok_or_else(bad)?;
    Ok(UNIX_EPOCH + Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

/// One request line of a table.
#[derive(Clone, Debug)]
pub struct Case {
    pub line: usize,
    pub expect: Effect,
    /// Policy ids that must be among the deciding policies (`by=ID`).
    pub by: Vec<String>,
    pub spec: RequestSpec,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub path: PathBuf,
    /// Policy files to load, resolved against the table's directory.
    pub policies: Vec<PathBuf>,
    pub super_users: Vec<PrincipalName>,
    pub cases: Vec<Case>,
}

/// A case whose decision was not the expected one.
#[derive(Clone, Debug)]
pub struct Failure {
    pub location: SourceLocation,
    pub text: String,
    pub decision: Decision,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub passed: usize,
    pub failures: Vec<Failure>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::ReadFile {
            file: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, PolicyError> {
        let base = path.parent().unwrap_or(Path::new("."));
        let file = path.display().to_string();
        let mut table = Table {
            path: path.to_owned(),
            policies: Vec::new(),
            super_users: Vec::new(),
            cases: Vec::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            let fail = |message: String| {
                PolicyError::Table(Problem {
                    location: SourceLocation::at_line(&file, line),
                    message,
                })
            };
            let mut words = content.split_whitespace();
            let Some(first) = words.next() else { continue };
            let rest: Vec<&str> = words.collect();
            match first {
                "policies" => table.policies.extend(rest.iter().map(|p| base.join(p))),
                "super-user" => {
                    for name in rest {
                        table.super_users.push(name.parse().map_err(fail)?);
                    }
                }
                "allow" | "deny" => {
                    let expect = if first == "allow" {
                        Effect::Allow
                    } else {
                        Effect::Deny
                    };
                    let case = parse_case(expect, &rest).map_err(fail)?;
                    table.cases.push(Case {
                        line,
                        text: content.to_owned(),
                        ..case
                    });
                }
                other => {
                    return Err(fail(format!(
                    "unknown line `{other}`: expected `policies`, `super-user`, `allow` or `deny`"
                )))
                }
            }
        }
        if table.policies.is_empty() {
            return Err(PolicyError::Table(Problem {
                location: SourceLocation::file(&file),
                message: "no `policies` line names the policy files to test".to_owned(),
            }));
        }
        Ok(table)
    }

    /// Loads the table's policy files (refusing them as a load would) and checks every case.
    pub fn run(&self) -> Result<Report, PolicyError> {
        let snapshot = crate::store::load_files(&self.policies, &self.super_users)?;
        Ok(self.check(&snapshot))
    }

    pub fn check(&self, snapshot: &PolicySnapshot) -> Report {
        let file = self.path.display().to_string();
        let mut report = Report::default();
        for case in &self.cases {
            let decision = snapshot.decide(&case.spec.request());
            let missing: Vec<&String> = case
                .by
                .iter()
                .filter(|id| !decision.policies.iter().any(|p| &p.id == *id))
                .collect();
            let reason = if decision.effect != case.expect {
                format!("expected {}, got {decision}", case.expect)
            } else if !missing.is_empty() {
                format!("decided by {:?}, not by {missing:?}", ids(&decision))
            } else {
                report.passed += 1;
                continue;
            };
            report.failures.push(Failure {
                location: SourceLocation::at_line(&file, case.line),
                text: case.text.clone(),
                decision,
                reason,
            });
        }
        report
    }
}

fn ids(decision: &Decision) -> Vec<&str> {
    decision.policies.iter().map(|p| p.id.as_str()).collect()
}

/// `principal[roles] action resource [key=value | by=ID]...`
fn parse_case(expect: Effect, words: &[&str]) -> Result<Case, String> {
    let [principal, action, resource, items @ ..] = words else {
        return Err(
            "a case is `allow|deny principal[roles] action resource [key=value]...`".to_owned(),
        );
    };
    let (principal, roles) = match principal.split_once('[') {
        Some((name, roles)) => {
            let roles = roles
                .strip_suffix(']')
                .ok_or_else(|| format!("`{principal}`: roles end with `]`"))?;
            let roles = roles
                .split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
            (name, roles)
        }
        None => (*principal, BTreeSet::new()),
    };
    let mut by = Vec::new();
    let mut context = Vec::new();
    for item in items {
        match item.strip_prefix("by=") {
            Some(id) => by.push(id.to_owned()),
            None => context.push(*item),
        }
    }
    let spec = RequestSpec::parse(principal, roles, action, resource, &context)?;
    Ok(Case {
        line: 0,
        expect,
        by,
        spec,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_parse_principal_roles_context_and_expectations() {
        let text = "policies ../base.cedar # the base\n\
                    allow acme/ann[analytics,admin] Read topic:acme/orders clientIp=10.0.0.1 by=x\n";
        let table = Table::parse(Path::new("/p/tests/t.table"), text).unwrap();
        assert_eq!(table.policies, [PathBuf::from("/p/tests/../base.cedar")]);
        let case = &table.cases[0];
        assert_eq!(case.line, 2);
        assert_eq!(case.expect, Effect::Allow);
        assert_eq!(case.by, ["x"]);
        assert_eq!(case.spec.subject.roles.len(), 2);
        assert_eq!(case.spec.context.client_ip.to_string(), "10.0.0.1");
        assert_eq!(
            case.spec.subject.principal.mechanism,
            Mechanism::ScramSha512
        );
    }

    #[test]
    fn table_errors_name_the_line() {
        let err = Table::parse(
            Path::new("t.table"),
            "policies a.cedar\n\nallow acme/a Fly cluster\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("t.table:3: unknown action `Fly`"),
            "{err}"
        );
        let err = Table::parse(Path::new("t.table"), "allow acme/a Read cluster\n").unwrap_err();
        assert!(err.to_string().contains("no `policies` line"), "{err}");
    }

    #[test]
    fn mutual_tls_is_implied_by_the_ssl_protocol() {
        let spec = RequestSpec::parse(
            "acme/svc",
            BTreeSet::new(),
            "Write",
            "topic:acme/orders",
            &["securityProtocol=SSL", "time=2026-12-03T17:00:00Z"],
        )
        .unwrap();
        assert_eq!(spec.subject.principal.mechanism, Mechanism::MutualTls);
        assert_eq!(spec.context.tls_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(
            spec.context.time,
            UNIX_EPOCH + Duration::from_secs(1_796_317_200)
        );
    }
}
