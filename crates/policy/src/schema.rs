//! The compiled-in Cedar schema and the translation of a [`DecisionRequest`] into Cedar's
//! request and entities, in exactly the shape the schema declares.

use crate::error::PolicyError;
use crate::request::{Action, DecisionRequest, Resource, ResourceKind, Subject};
use cedar_policy::{
    Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression,
    Schema,
};
use schloss_model::{Mechanism, TenantId};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The schema every policy set is validated against, as written in `policies/`.
pub const SCHEMA_SOURCE: &str = include_str!("../../../policies/schema.cedarschema");

/// The id of the real cluster, as Kafka names its cluster resource.
pub(crate) const CLUSTER_ID: &str = "kafka-cluster";

/// The parsed schema and the entity type names and action ids requests are built from,
/// parsed once.
pub(crate) struct CedarModel {
    pub(crate) schema: Schema,
    user: EntityTypeName,
    tenant: EntityTypeName,
    role: EntityTypeName,
    cluster: EntityTypeName,
    topic: EntityTypeName,
    group: EntityTypeName,
    transactional_id: EntityTypeName,
    action: EntityTypeName,
}

impl CedarModel {
    pub(crate) fn builtin() -> Result<Self, PolicyError> {
        let (schema, _warnings) = Schema::from_cedarschema_str(SCHEMA_SOURCE)
            .map_err(|e| PolicyError::Schema(e.to_string()))?;
        let type_name = |name: &str| {
            EntityTypeName::from_str(&format!("Kafka::{name}"))
                .map_err(|e| PolicyError::Schema(e.to_string()))
        };
        Ok(Self {
            user: type_name("User")?,
            tenant: type_name("Tenant")?,
            role: type_name("Role")?,
            cluster: type_name("Cluster")?,
            topic: type_name("Topic")?,
            group: type_name("Group")?,
            transactional_id: type_name("TransactionalId")?,
            action: type_name("Action")?,
            schema,
        })
    }

    fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
    }

    fn action_uid(&self, action: Action) -> EntityUid {
        Self::uid(&self.action, action.name())
    }

    fn resource_type(&self, kind: ResourceKind) -> &EntityTypeName {
        match kind {
            ResourceKind::Topic => &self.topic,
            ResourceKind::Group => &self.group,
            ResourceKind::TransactionalId => &self.transactional_id,
            ResourceKind::Tenant => &self.tenant,
            ResourceKind::Cluster => &self.cluster,
        }
    }

    fn tenant_uid(&self, tenant: &TenantId) -> EntityUid {
        Self::uid(&self.tenant, tenant.as_str())
    }

    pub(crate) fn user_uid(&self, subject: &Subject) -> EntityUid {
        let p = &subject.principal;
        Self::uid(&self.user, &format!("{}/{}", p.tenant, p.name))
    }

    pub(crate) fn resource_uid(&self, resource: &Resource) -> EntityUid {
        let kind = self.resource_type(resource.kind());
        match (resource.tenant(), resource.local_name()) {
            (Some(tenant), Some(name)) => Self::uid(kind, &format!("{tenant}/{name}")),
            (Some(tenant), None) => self.tenant_uid(tenant),
            _ => Self::uid(kind, CLUSTER_ID),
        }
    }

    /// Cedar's request for `action` (which may differ from `req.action` when the engine checks
    /// an implying operation), validated against the schema.
    pub(crate) fn request(
        &self,
        req: &DecisionRequest,
        action: Action,
        context: Context,
    ) -> Result<Request, String> {
        Request::new(
            self.user_uid(req.subject),
            self.action_uid(action),
            self.resource_uid(req.resource),
            context,
            self.conformance_schema(),
        )
        .map_err(|e| e.to_string())
    }

    /// The schema to check requests and entities against as they are built: in debug builds
    /// (every test) each one is checked, so a request of another shape than the schema's fails
    /// there; release builds skip the check, which costs more than the decision itself. Policies
    /// are validated against the schema in strict mode at load either way, and the schema has no
    /// action groups, so nothing needs the schema's action entities at evaluation.
    fn conformance_schema(&self) -> Option<&Schema> {
        cfg!(debug_assertions).then_some(&self.schema)
    }

    /// The entities a decision may look at: the user with its tenant and roles, the resource
    /// and its tenant, checked against the schema.
    pub(crate) fn entities(&self, req: &DecisionRequest) -> Result<Entities, String> {
        let subject = req.subject;
        let principal = &subject.principal;
        let own_tenant = self.tenant_uid(&principal.tenant);
        let role_uids: Vec<EntityUid> = subject
            .roles
            .iter()
            .map(|r| Self::uid(&self.role, r))
            .collect();

        let mut parents: HashSet<EntityUid> = role_uids.iter().cloned().collect();
        parents.insert(own_tenant.clone());
        let user = Entity::new(
            self.user_uid(subject),
            HashMap::from([
                ("name".to_owned(), string(&principal.name)),
                (
                    "tenant".to_owned(),
                    RestrictedExpression::new_entity_uid(own_tenant),
                ),
                (
                    "roles".to_owned(),
                    RestrictedExpression::new_set(subject.roles.iter().map(|r| string(r))),
                ),
            ]),
            parents,
        )
        .map_err(|e| e.to_string())?;

        let mut entities = vec![user, self.tenant_entity(&principal.tenant)?];
        entities.extend(
            role_uids
                .into_iter()
                .map(|uid| Entity::new_no_attrs(uid, HashSet::new())),
        );
        if let Some(owner) = req.resource.tenant() {
            if *owner != principal.tenant {
                entities.push(self.tenant_entity(owner)?);
            }
            if let Some(name) = req.resource.local_name() {
                let owner_uid = self.tenant_uid(owner);
                entities.push(
                    Entity::new(
                        self.resource_uid(req.resource),
                        HashMap::from([
                            ("name".to_owned(), string(name)),
                            (
                                "tenant".to_owned(),
                                RestrictedExpression::new_entity_uid(owner_uid.clone()),
                            ),
                        ]),
                        HashSet::from([owner_uid]),
                    )
                    .map_err(|e| e.to_string())?,
                );
            }
        } else {
            entities.push(Entity::new_no_attrs(
                self.resource_uid(req.resource),
                HashSet::new(),
            ));
        }
        Entities::from_entities(entities, self.conformance_schema()).map_err(|e| e.to_string())
    }

    fn tenant_entity(&self, tenant: &TenantId) -> Result<Entity, String> {
        Entity::new(
            self.tenant_uid(tenant),
            HashMap::from([("name".to_owned(), string(tenant.as_str()))]),
            HashSet::new(),
        )
        .map_err(|e| e.to_string())
    }
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// The request context, keys as `RequestContext` in the schema declares them. Built once per
/// decision (its IP address and time are parsed by Cedar's extension functions).
pub(crate) fn context(req: &DecisionRequest) -> Result<Context, String> {
    let c = req.context;
    // An IPv4 client reaching a dual-stack socket shows up as `::ffff:a.b.c.d`; policies write
    // IPv4 ranges, so compare in IPv4.
    let ip = c.client_ip.to_canonical();
    let mut pairs = vec![
        ("listener".to_owned(), string(&c.listener)),
        (
            "securityProtocol".to_owned(),
            string(c.security_protocol.name()),
        ),
        (
            "clientIp".to_owned(),
            RestrictedExpression::new_ip(ip.to_string()),
        ),
        (
            "san".to_owned(),
            RestrictedExpression::new_set(c.san.iter().map(|s| string(s))),
        ),
        ("apiName".to_owned(), string(&c.api_name)),
        (
            "time".to_owned(),
            RestrictedExpression::new_datetime(datetime_literal(c.time)),
        ),
    ];
    if let Some(mechanism) = sasl_mechanism(req.subject.principal.mechanism) {
        pairs.push(("saslMechanism".to_owned(), string(mechanism)));
    }
    if let Some(tls) = &c.tls_version {
        pairs.push(("tlsVersion".to_owned(), string(tls)));
    }
    if let Some(spiffe) = &c.spiffe_id {
        pairs.push(("spiffeId".to_owned(), string(spiffe)));
    }
    Context::from_pairs(pairs).map_err(|e| e.to_string())
}

/// Kafka's name of the SASL mechanism the principal authenticated with, if it used SASL.
pub(crate) fn sasl_mechanism(mechanism: Mechanism) -> Option<&'static str> {
    match mechanism {
        Mechanism::SaslPlain => Some("PLAIN"),
        Mechanism::ScramSha256 => Some("SCRAM-SHA-256"),
        Mechanism::ScramSha512 => Some("SCRAM-SHA-512"),
        Mechanism::Anonymous | Mechanism::MutualTls => None,
    }
}

/// `time` as Cedar's `datetime` literal, `YYYY-MM-DDThh:mm:ss.sssZ` in UTC. Times before 1970
/// (a wrong clock) are clamped to the epoch rather than refused.
pub(crate) fn datetime_literal(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of `civil_from_days`), for
/// reading times in test tables.
pub(crate) fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_builtin_schema_parses() {
        CedarModel::builtin().unwrap();
    }

    #[test]
    fn datetimes_are_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_780_000_123);
        assert_eq!(datetime_literal(t), "2025-12-03T16:40:00.123Z");
        assert_eq!(datetime_literal(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(days_from_civil(2025, 12, 3), Some(1_764_720_000 / 86_400));
        assert_eq!(
            days_from_civil(2024, 2, 29).map(civil_from_days),
            Some((2024, 2, 29))
        );
    }
}
