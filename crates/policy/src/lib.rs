//! Authorization for schloss: Cedar policies decide every request.
//!
//! This crate owns the Cedar schema (`policies/schema.cedarschema`, compiled in), loading a
//! directory of `.cedar` files with strict validation, atomic hot reload with a generation
//! number, the decision itself (Kafka's implied operations included, an explicit `forbid`
//! always winning), a per-connection decision cache and the test tables of `schloss policy
//! test`. It never sees a socket: the access gate in `broker` builds a [`DecisionRequest`]
//! from the session and asks a [`PolicySnapshot`]. Kafka's ACLs ([`acl`]) become a
//! broker-managed Cedar set next to the files ([`PolicyStore::set_managed`]). See
//! docs/authorization.md.

pub mod acl;
mod cache;
mod decision;
mod error;
mod load;
mod request;
mod schema;
mod slice;
mod snapshot;
mod store;
pub mod table;

pub use acl::{
    render_policy, render_set, AclBinding, AclBindingFilter, AclError, AclHost, AclOperation,
    AclPermission, AclPrincipal, AclResourceType, PatternType, PatternTypeFilter,
};
pub use cache::{CacheStats, DecisionCache};
pub use decision::{Basis, Decision, Effect, PolicyEffect, PolicyRef};
pub use error::{PolicyError, Problem, SourceLocation};
pub use load::PolicyInfo;
pub use request::{
    Action, DecisionRequest, PrincipalName, RequestContext, Resource, ResourceKind,
    SecurityProtocol, Subject,
};
pub use schema::SCHEMA_SOURCE;
pub use snapshot::PolicySnapshot;
pub use store::{
    load_files, Mode, PolicyStore, ReloadEvent, ReloadHook, ReloadOutcome, StoreConfig, Watcher,
    POLL_INTERVAL,
};
