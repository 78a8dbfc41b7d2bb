//! ACL bindings as Cedar policies that decide, next to `base.cedar`, as Kafka's
//! `StandardAuthorizer` decides with the tenant's ACLs (docs/authorization.md, "Kafka ACLs on
//! Cedar").
//!
//! Kafka's rule (`StandardAuthorizerData.findResult`, metadata/.../authorizer): a DENY ACL
//! applies to its own operation only (ALL: to every one); an ALLOW ACL also allows DESCRIBE if
//! its operation is READ, WRITE, DELETE or ALTER, and DESCRIBE_CONFIGS if it is ALTER_CONFIGS.
//! Any matching DENY wins. So an ALLOW renders as a `permit` of its action and the actions it
//! implies, a DENY as a `forbid` of its action alone: a DENY on READ then leaves the DESCRIBE
//! that an ALLOW on READ gives, as in Kafka, whatever the engine's own (stricter) implication
//! does for hand-written policies.

use super::{AclBinding, AclHost, AclPermission, AclPrincipal, AclResourceType, PatternType};
use crate::request::Action;
use schloss_model::TenantId;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Every ACL policy's id starts so: `acl:<tenant>:<hash>`.
pub const ACL_POLICY_ID_PREFIX: &str = "acl:";

/// The Cedar policy for one binding of `tenant`, with `@id("acl:<tenant>:<hash>")`, where the
/// hash (32 hex digits of SHA-256 over the tenant and the binding's fields) is stable: the same
/// binding always renders to the same id and text.
pub fn render_policy(tenant: &TenantId, binding: &AclBinding) -> String {
    let tenant_entity = format!("Kafka::Tenant::{}", string_literal(tenant.as_str()));
    let effect = match binding.permission() {
        AclPermission::Allow => "permit",
        AclPermission::Deny => "forbid",
    };
    let principal = match binding.principal() {
        AclPrincipal::User(name) => format!(
            "principal == Kafka::User::{}",
            string_literal(&format!("{tenant}/{name}"))
        ),
        AclPrincipal::Wildcard => format!("principal in {tenant_entity}"),
    };
    let action = match actions(binding) {
        None => "action".to_owned(),
        Some(actions) => {
            let list: Vec<String> = actions
                .iter()
                .map(|a| format!("Kafka::Action::{}", string_literal(a.name())))
                .collect();
            format!("action in [{}]", list.join(", "))
        }
    };
    let kind = binding.resource_type().kind();
    let resource = match binding.resource_type() {
        // The tenant's cluster is the tenant entity itself (its name is `kafka-cluster`,
        // whatever the pattern type).
        AclResourceType::Cluster => format!("resource == {tenant_entity}"),
        _ => format!("resource is Kafka::{} in {tenant_entity}", kind.type_name()),
    };

    let mut conditions = Vec::new();
    if binding.resource_type() != AclResourceType::Cluster {
        match binding.pattern_type() {
            PatternType::Literal if binding.name() == "*" => {}
            PatternType::Literal => {
                conditions.push(format!(
                    "resource.name == {}",
                    string_literal(binding.name())
                ));
            }
            PatternType::Prefixed => conditions.push(format!(
                "resource.name like \"{}*\"",
                escape(binding.name(), true)
            )),
        }
    }
    if let AclHost::Ip(ip) = binding.host() {
        conditions.push(format!("context.clientIp == ip(\"{}\")", ip_text(*ip)));
    }

    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "@id(\"{}\")",
        escape(&policy_id(tenant, binding), false)
    );
    let _ = write!(
        text,
        "{effect} (\n  {principal},\n  {action},\n  {resource}\n)"
    );
    if !conditions.is_empty() {
        let _ = write!(text, "\nwhen {{ {} }}", conditions.join(" && "));
    }
    text.push_str(";\n");
    text
}

/// One tenant's ACLs as one policy text: each binding once (a repeated binding is one ACL, as
/// in Kafka), in the order given.
pub fn render_set(tenant: &TenantId, bindings: &[AclBinding]) -> String {
    let mut seen = BTreeSet::new();
    let mut text = String::new();
    for binding in bindings {
        if seen.insert(binding) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&render_policy(tenant, binding));
        }
    }
    text
}

/// The actions a binding's policy names; `None` for every action (ALL).
fn actions(binding: &AclBinding) -> Option<Vec<Action>> {
    let action = binding.operation().action()?;
    let mut actions = vec![action];
    if binding.permission() == AclPermission::Allow {
        // The actions this one implies, if they apply to the resource at all (they do
        // whenever `action` does; the filter keeps the policy valid regardless).
        let kind = binding.resource_type().kind();
        actions.extend(
            Action::ALL
                .into_iter()
                .filter(|implied| implied.implied_by().contains(&action))
                .filter(|implied| implied.applies_to(kind)),
        );
    }
    Some(actions)
}

fn policy_id(tenant: &TenantId, binding: &AclBinding) -> String {
    let mut hasher = Sha256::new();
    // Length-prefixed fields: no two bindings share an encoding.
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(tenant.as_str().as_bytes());
    field(&[binding.resource_type().code() as u8]);
    field(&[binding.pattern_type().code() as u8]);
    field(binding.name().as_bytes());
    field(binding.principal().to_string().as_bytes());
    field(binding.host().to_string().as_bytes());
    field(&[binding.operation().code() as u8]);
    field(&[binding.permission().code() as u8]);
    let hash: String = hasher
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{ACL_POLICY_ID_PREFIX}{tenant}:{hash}")
}

/// `"..."` with `s` escaped: nothing in `s` can end the literal or the policy.
fn string_literal(s: &str) -> String {
    format!("\"{}\"", escape(s, false))
}

/// Escapes `s` for a Cedar string literal, or for a `like` pattern, where `*` is the wildcard
/// and a literal star is `\*`. Cedar reads `\\`, `\"`, `\n`, `\r`, `\t`, `\0` and `\u{..}`
/// (cedar-policy-core's `unescape`); every other character but controls stands for itself.
fn escape(s: &str, pattern: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '*' if pattern => out.push_str("\\*"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// The address as Cedar's `ip()` reads it: IPv4 dotted, IPv6 as eight hexadecimal groups
/// (never the dotted-quad forms of IPv6, which Cedar does not read).
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|s| format!("{s:x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::AclOperation;

    #[test]
    fn escapes_quotes_backslashes_controls_and_stars_in_patterns() {
        assert_eq!(
            escape("a\"b\\c\nd\u{1}e*", false),
            "a\\\"b\\\\c\\nd\\u{1}e*"
        );
        assert_eq!(escape("a*b", true), "a\\*b");
    }

    #[test]
    fn ipv6_renders_as_eight_groups() {
        assert_eq!(ip_text("::1".parse().unwrap()), "0:0:0:0:0:0:0:1");
        assert_eq!(ip_text("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn every_allow_operation_implies_what_kafka_implies() {
        use AclResourceType as T;
        let allow = |op| {
            AclBinding::new(
                T::Topic,
                PatternType::Literal,
                "t".to_owned(),
                AclPrincipal::Wildcard,
                AclHost::Any,
                op,
                AclPermission::Allow,
            )
            .unwrap()
        };
        assert_eq!(
            actions(&allow(AclOperation::Read)),
            Some(vec![Action::Read, Action::Describe])
        );
        assert_eq!(
            actions(&allow(AclOperation::AlterConfigs)),
            Some(vec![Action::AlterConfigs, Action::DescribeConfigs])
        );
        assert_eq!(
            actions(&allow(AclOperation::Create)),
            Some(vec![Action::Create])
        );
        assert_eq!(actions(&allow(AclOperation::All)), None);
    }
}
