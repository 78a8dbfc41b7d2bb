//! The answer to a [`crate::DecisionRequest`]: allow or deny, and why, for the audit log.

use crate::error::SourceLocation;
use crate::request::Action;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// Whether a policy permits or forbids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyEffect {
    Permit,
    Forbid,
}

impl fmt::Display for PolicyEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyEffect::Permit => "permit",
            PolicyEffect::Forbid => "forbid",
        })
    }
}

/// Why the decision came out as it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Basis {
    /// The principal is a super user: no policy was consulted.
    SuperUser,
    /// Mode `allow-tenant`: the resource belongs to the principal's tenant (or the principal
    /// holds the `operator` role).
    SameTenant,
    /// Mode `allow-tenant`: the resource belongs to another tenant, or is the real cluster.
    OtherTenant,
    /// Cedar decided the requested action itself: the permits that allowed it, or the forbids
    /// that denied it.
    Policies,
    /// Allowed because the listed policies permit `0`, which implies the requested action
    /// (Kafka's implied operations); no forbid applied to the requested action.
    ImpliedBy(Action),
    /// Denied because no permit applied (Cedar's default deny).
    NoPermit,
    /// Denied although permits applied: some policy failed to evaluate, and Cedar skips such
    /// a policy, which might have been a forbid (`errors` says which and why).
    EvaluationErrors,
    /// Denied without evaluation: the request does not fit the schema (the action does not
    /// apply to this kind of resource, or an attribute could not be built).
    InvalidRequest(String),
}

/// A policy that took part in a decision, with where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRef {
    pub id: String,
    pub location: SourceLocation,
}

impl fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.location)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub effect: Effect,
    pub basis: Basis,
    /// The deciding policies: the permits of an allow, the forbids of a deny (none for a
    /// default deny).
    pub policies: Vec<PolicyRef>,
    /// Policies whose evaluation failed and that Cedar therefore skipped, with its message.
    pub errors: Vec<String>,
    /// The policy generation that made the decision.
    pub generation: u64,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow
    }

    pub(crate) fn without_policies(effect: Effect, basis: Basis, generation: u64) -> Self {
        Self {
            effect,
            basis,
            policies: Vec::new(),
            errors: Vec::new(),
            generation,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.effect)?;
        match &self.basis {
            Basis::SuperUser => f.write_str(" (super user)")?,
            Basis::SameTenant => f.write_str(" (mode allow-tenant: own tenant)")?,
            Basis::OtherTenant => {
                f.write_str(" (mode allow-tenant: not the principal's tenant)")?
            }
            Basis::Policies if self.effect == Effect::Deny => f.write_str(" (forbidden)")?,
            Basis::Policies => {}
            Basis::ImpliedBy(action) => write!(f, " (implied by {action})")?,
            Basis::NoPermit => f.write_str(" (no permit applies)")?,
            Basis::EvaluationErrors => f.write_str(" (a policy failed to evaluate)")?,
            Basis::InvalidRequest(why) => write!(f, " (invalid request: {why})")?,
        }
        write!(f, " [generation {}]", self.generation)
    }
}
