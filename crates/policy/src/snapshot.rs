//! One policy generation and the decision it makes. A snapshot never changes: a reload builds a
//! new one, so every decision is made by exactly one generation.

use crate::decision::{Basis, Decision, Effect, PolicyRef};
use crate::error::SourceLocation;
use crate::load::{CompiledSet, PolicyInfo};
use crate::request::{Action, DecisionRequest, PrincipalName};
use crate::schema::CedarModel;
use cedar_policy::{Authorizer, PolicyId, PolicySet, Response};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The role that acts across tenants (docs/authorization.md).
pub(crate) const OPERATOR_ROLE: &str = "operator";

pub(crate) enum Engine {
    Cedar(Box<CompiledSet>),
    /// Everything inside one's own tenant; operators everywhere (the zero-config default).
    AllowTenant,
}

/// A policy generation: the validated set (or mode `allow-tenant`), the super users, and the
/// generation number that decisions and caches are tagged with.
pub struct PolicySnapshot {
    generation: u64,
    engine: Engine,
    super_users: Arc<BTreeSet<PrincipalName>>,
    model: Arc<CedarModel>,
    authorizer: Authorizer,
}

impl PolicySnapshot {
    pub(crate) fn new(
        generation: u64,
        engine: Engine,
        super_users: Arc<BTreeSet<PrincipalName>>,
        model: Arc<CedarModel>,
    ) -> Self {
        Self {
            generation,
            engine,
            super_users,
            model,
            authorizer: Authorizer::new(),
        }
    }

    /// Increases by one with every accepted policy set, starting at 1.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The SHA-256 (hex) of the policy files; `None` in mode `allow-tenant`.
    pub fn sha256(&self) -> Option<&str> {
        match &self.engine {
            Engine::Cedar(compiled) => Some(&compiled.sha256),
            Engine::AllowTenant => None,
        }
    }

    /// The loaded policies in file order (none in mode `allow-tenant`).
    pub fn policies(&self) -> &[PolicyInfo] {
        match &self.engine {
            Engine::Cedar(compiled) => &compiled.policies,
            Engine::AllowTenant => &[],
        }
    }

    /// Validation warnings of the loaded set (Cedar's lints, such as a policy that can never
    /// apply).
    pub fn warnings(&self) -> &[crate::Problem] {
        match &self.engine {
            Engine::Cedar(compiled) => &compiled.warnings,
            Engine::AllowTenant => &[],
        }
    }

    /// Whether a decision may be reused for the same action and resource within this
    /// generation: false when a policy reads the request time.
    pub fn cacheable(&self) -> bool {
        match &self.engine {
            Engine::Cedar(compiled) => !compiled.time_dependent,
            Engine::AllowTenant => true,
        }
    }

    /// Decides `req`. Never fails: anything that prevents a decision denies.
    pub fn decide(&self, req: &DecisionRequest) -> Decision {
        // A combination the schema does not allow is a defect of the caller: deny it even to
        // super users, so it shows up instead of passing silently.
        if !req.action.applies_to(req.resource.kind()) {
            let why = format!(
                "action `{}` does not apply to a {}",
                req.action,
                req.resource.kind().type_name()
            );
            return self.deny(Basis::InvalidRequest(why));
        }
        let principal = &req.subject.principal;
        if self.super_users.iter().any(|s| s.matches(principal)) {
            return Decision::without_policies(Effect::Allow, Basis::SuperUser, self.generation);
        }
        match &self.engine {
            Engine::AllowTenant => {
                let own = req.resource.tenant() == Some(&principal.tenant)
                    || req.subject.roles.contains(OPERATOR_ROLE);
                if own {
                    Decision::without_policies(Effect::Allow, Basis::SameTenant, self.generation)
                } else {
                    self.deny(Basis::OtherTenant)
                }
            }
            Engine::Cedar(compiled) => {
                let tenant = req.subject.principal.tenant.as_str();
                let resource = req.resource.tenant().map(|t| t.as_str());
                let slices = &compiled.slices;
                self.decide_cedar(
                    &|action: Action| slices.for_request(tenant, resource, action.name()),
                    req,
                )
            }
        }
    }

    /// `decide` against the whole set rather than the request's slice: the reference the
    /// slicing is tested against. Not for the broker.
    #[doc(hidden)]
    pub fn decide_with_every_policy(&self, req: &DecisionRequest) -> Decision {
        match &self.engine {
            Engine::Cedar(compiled)
                if req.action.applies_to(req.resource.kind())
                    && !self
                        .super_users
                        .iter()
                        .any(|s| s.matches(&req.subject.principal)) =>
            {
                let whole = Arc::new(compiled.set.clone());
                self.decide_cedar(&|_| Arc::clone(&whole), req)
            }
            _ => self.decide(req),
        }
    }

    fn deny(&self, basis: Basis) -> Decision {
        Decision::without_policies(Effect::Deny, basis, self.generation)
    }

    /// Cedar on the requested action; if that is denied by no forbid and without errors, and
    /// the action is implied by others (Describe, DescribeConfigs), the implying actions are
    /// asked too and the first one permitted allows the request. A forbid on the requested
    /// action therefore always wins, and an implying action only helps when it is itself
    /// allowed (permitted and not forbidden).
    fn decide_cedar(
        &self,
        policies: &dyn Fn(Action) -> Arc<PolicySet>,
        req: &DecisionRequest,
    ) -> Decision {
        let entities = match self.model.entities(req) {
            Ok(entities) => entities,
            Err(why) => return self.deny(Basis::InvalidRequest(why)),
        };
        let context = match crate::schema::context(req) {
            Ok(context) => context,
            Err(why) => return self.deny(Basis::InvalidRequest(why)),
        };
        let evaluate = |action: Action| -> Result<Response, String> {
            let request = self.model.request(req, action, context.clone())?;
            Ok(self
                .authorizer
                .is_authorized(&request, &policies(action), &entities))
        };
        let response = match evaluate(req.action) {
            Ok(response) => response,
            Err(why) => return self.deny(Basis::InvalidRequest(why)),
        };
        let mut errors = errors_of(&response);
        if response.decision() == cedar_policy::Decision::Allow {
            if !errors.is_empty() {
                // Cedar skips a policy whose evaluation fails; if that was a forbid, the
                // allow would be an accident. Fail closed.
                return self.decision(Effect::Deny, Basis::EvaluationErrors, &response, errors);
            }
            return self.decision(Effect::Allow, Basis::Policies, &response, errors);
        }
        let forbidden = response.diagnostics().reason().next().is_some();
        // An erroring policy may be a forbid that did not get to apply: do not imply past it.
        if !forbidden && errors.is_empty() {
            let implying = req.action.implied_by().iter().copied();
            for action in implying.filter(|a| a.applies_to(req.resource.kind())) {
                match evaluate(action) {
                    Ok(implied)
                        if implied.decision() == cedar_policy::Decision::Allow
                            && errors_of(&implied).is_empty() =>
                    {
                        let basis = Basis::ImpliedBy(action);
                        return self.decision(Effect::Allow, basis, &implied, errors_of(&implied));
                    }
                    Ok(_) => {}
                    Err(why) => errors.push(why),
                }
            }
        }
        let basis = if forbidden {
            Basis::Policies
        } else {
            Basis::NoPermit
        };
        self.decision(Effect::Deny, basis, &response, errors)
    }

    fn decision(
        &self,
        effect: Effect,
        basis: Basis,
        response: &Response,
        errors: Vec<String>,
    ) -> Decision {
        let mut policies: Vec<PolicyRef> = response
            .diagnostics()
            .reason()
            .map(|id| self.policy_ref(id))
            .collect();
        policies.sort_by(|a, b| a.id.cmp(&b.id));
        Decision {
            effect,
            basis,
            policies,
            errors,
            generation: self.generation,
        }
    }

    fn policy_ref(&self, id: &PolicyId) -> PolicyRef {
        let id: &str = id.as_ref();
        let info = match &self.engine {
            Engine::Cedar(compiled) => compiled
                .by_id
                .get(id)
                .and_then(|index| compiled.policies.get(*index)),
            Engine::AllowTenant => None,
        };
        let location =
            info.map_or_else(|| SourceLocation::file("<unknown>"), |p| p.location.clone());
        PolicyRef {
            id: id.to_owned(),
            location,
        }
    }
}

fn errors_of(response: &Response) -> Vec<String> {
    response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect()
}

impl std::fmt::Debug for PolicySnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySnapshot")
            .field("generation", &self.generation)
            .field("sha256", &self.sha256())
            .field("policies", &self.policies().len())
            .finish_non_exhaustive()
    }
}
