//! Client certificate -> principal: ordered rules over the subject DN (Kafka's
//! `ssl.principal.mapping.rules`) and over SANs, each also naming the tenant.
//!
//! ```text
//! SAN:URI:^spiffe:\/\/([a-z0-9-]+)\/ns\/[^\/]+\/sa\/(.+)$/$2/$1/,
//! RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L,
//! DEFAULT
//! ```
//!
//! The first rule maps `spiffe://acme/ns/prod/sa/orders` to principal `orders` of tenant
//! `acme` (`/` separates the fields, so slashes inside a pattern are written `\/`); the
//! second is Kafka's, with the listener's default tenant.
//!
//! Rules are tried in order; the first that matches decides (a later rule is not tried even
//! if the first yields an invalid tenant). No match is a failure: the mapper fails closed.
//! Patterns use the `regex` crate's syntax, which is Java's minus look-around and
//! back-references, and must match the whole DN or SAN, as Java's `matches()` does.

mod dn;
mod rules;

pub use dn::{CertIdentity, San};
pub use rules::RuleError;

use crate::authenticated::Authenticated;
use crate::error::{AuthError, FailureReason};
use rules::{Case, Rule, SanKind, Source};
use schloss_model::{Mechanism, Principal, TenantId};
use std::collections::BTreeSet;

/// Longest tenant text quoted back in an error.
const MAX_QUOTED: usize = 128;

/// An ordered list of mapping rules and the listener's default tenant.
#[derive(Debug)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
    /// For `DEFAULT` and for rules without a tenant template.
    default_tenant: Option<TenantId>,
}

impl PrincipalMapper {
    /// Parses a rule list. Rules without a tenant template (Kafka's own `RULE:` form and
    /// `DEFAULT`) need `default_tenant`.
    pub fn parse(rules: &str, default_tenant: Option<TenantId>) -> Result<Self, RuleError> {
        let rules = rules::parse_rules(rules, default_tenant.is_some())?;
        Ok(Self {
            rules,
            default_tenant,
        })
    }

    /// Maps the DER of a verified leaf certificate to an authenticated principal.
    pub fn map_certificate(&self, leaf_der: &[u8]) -> Result<Authenticated, AuthError> {
        let fail = |reason| AuthError::new(Mechanism::MutualTls, reason);
        let identity = CertIdentity::from_der(leaf_der).map_err(fail)?;
        let principal = self.map_identity(&identity).map_err(fail)?;
        Ok(Authenticated::new(principal, BTreeSet::new()))
    }

    /// Applies the rules to what a certificate says.
    pub fn map_identity(&self, identity: &CertIdentity) -> Result<Principal, FailureReason> {
        for rule in &self.rules {
            if let Some((name, tenant)) = self.apply(rule, identity) {
                return finish(name, tenant, self.default_tenant.as_ref());
            }
        }
        Err(FailureReason::NoMatchingRule(identity.subject_dn.clone()))
    }

    /// The principal name and tenant text a rule yields, if it matches.
    fn apply(&self, rule: &Rule, identity: &CertIdentity) -> Option<(String, Option<String>)> {
        let rule = match rule {
            Rule::Default => return Some((identity.subject_dn.clone(), None)),
            Rule::Match(rule) => rule,
        };
        // The DN, or the first SAN of the rule's kind, that the pattern matches as a whole.
        let input = match rule.source {
            Source::SubjectDn => {
                Some(identity.subject_dn.as_str()).filter(|dn| rule.full.is_match(dn))
            }
            Source::San(kind) => identity
                .sans
                .iter()
                .filter_map(|san| san_of_kind(kind, san))
                .find(|value| rule.full.is_match(value)),
        }?;
        let name = rule.replace(input, &rule.principal);
        let name = match rule.case {
            Case::Keep => name,
            Case::Lower => name.to_lowercase(),
            Case::Upper => name.to_uppercase(),
        };
        let tenant = rule.tenant.as_ref().map(|t| rule.replace(input, t));
        Some((name, tenant))
    }
}

fn san_of_kind(kind: SanKind, san: &San) -> Option<&str> {
    match (kind, san) {
        (SanKind::Uri, San::Uri(v))
        | (SanKind::Dns, San::Dns(v))
        | (SanKind::Email, San::Email(v)) => Some(v),
        _ => None,
    }
}

fn finish(
    name: String,
    tenant: Option<String>,
    default_tenant: Option<&TenantId>,
) -> Result<Principal, FailureReason> {
    if name.is_empty() {
        return Err(FailureReason::MappedPrincipalEmpty);
    }
    let tenant = match tenant {
        Some(text) => TenantId::new(&text).map_err(|_| {
            FailureReason::MappedTenantInvalid(text.chars().take(MAX_QUOTED).collect())
        })?,
        // INVARIANT: parse_rules rejects rules without a tenant template when there is no
        // default tenant; failing here keeps that closed even if it ever did not.
        None => default_tenant
            .cloned()
            .ok_or_else(|| FailureReason::MappedTenantInvalid(String::new()))?,
    };
    Ok(Principal {
        name,
        tenant,
        mechanism: Mechanism::MutualTls,
    })
}

#[cfg(test)]
mod tests;
