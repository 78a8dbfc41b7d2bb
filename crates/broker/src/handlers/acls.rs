//! CreateAcls, DescribeAcls and DeleteAcls: Kafka's ACL APIs on Cedar. A principal manages the
//! ACLs of its own tenant (an ACL's `User:alice` is the tenant's user `alice`, its topic names
//! are the tenant's names), and only with Alter (create, delete) or Describe on its tenant; an
//! operator's requests act on the operator's own tenant. Every change is validated as Cedar
//! and swapped into the policy store's managed set under the metadata writer lock, then made
//! durable in the metadata log; a failed write puts the previous set back.

use super::code;
use crate::access::Action;
use crate::metadata::{Image, MetadataRecord};
use crate::{acls, Broker, BrokerError, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use schloss_policy::{AclBinding, AclBindingFilter, AclError};
use std::collections::{BTreeMap, BTreeSet};

fn message(text: impl Into<String>) -> Option<StrBytes> {
    Some(StrBytes::from_string(text.into()))
}

fn acl_error(e: &AclError) -> (i16, Option<StrBytes>) {
    (e.error_code(), message(e.to_string()))
}

/// The tenant whose ACLs the session manages.
fn tenant_of(session: &Session) -> String {
    session.principal().tenant.as_str().to_owned()
}

/// Commits an ACL change of `tenant`: `change` decides it against the current image; the
/// resulting set is validated into the policy store first, so a change that does not render
/// is never written, and put back if the write fails.
async fn commit_change<T>(
    broker: &Broker,
    tenant: &str,
    change: impl FnOnce(&BTreeSet<AclBinding>) -> (Vec<AclBinding>, Vec<AclBinding>, T),
) -> Result<T, BrokerError> {
    let store = broker.policies().cloned();
    let tenant_name = tenant.to_owned();
    let committed = broker
        .metadata
        .commit_with(|image: &Image| {
            let empty = BTreeSet::new();
            let current = image.acls.get(&tenant_name).unwrap_or(&empty);
            let (created, deleted, value) = change(current);
            if created.is_empty() && deleted.is_empty() {
                return Ok((Vec::new(), value));
            }
            let record = MetadataRecord::AclsChanged {
                tenant: tenant_name.clone(),
                created,
                deleted,
            };
            if let Some(store) = &store {
                let mut next = image.clone();
                next.apply(&record);
                store
                    .set_managed(acls::sources(&next.acls))
                    .map_err(|e| BrokerError::Internal(format!("ACLs do not load: {e}")))?;
            }
            Ok((vec![record], value))
        })
        .await;
    match committed {
        Ok((_, value)) => Ok(value),
        Err(e) => {
            // The store may hold a set the log does not: put the log's back.
            if let Some(store) = broker.policies() {
                if let Err(resync) = acls::sync(store, &broker.metadata.image()) {
                    tracing::error!(error = %resync, "restoring the ACLs of the metadata log failed");
                }
            }
            Err(e)
        }
    }
}

pub async fn create(
    broker: &Broker,
    session: &Session,
    r: CreateAclsRequest,
) -> CreateAclsResponse {
    let result = |error: (i16, Option<StrBytes>)| {
        AclCreationResult::default()
            .with_error_code(error.0)
            .with_error_message(error.1)
    };
    if broker.access.tenant(session, Action::Alter).is_err() {
        let denied = (
            code(ResponseError::ClusterAuthorizationFailed),
            message("Not authorized to create ACLs"),
        );
        return CreateAclsResponse::default()
            .with_results(r.creations.iter().map(|_| result(denied.clone())).collect());
    }
    let parsed: Vec<Result<AclBinding, AclError>> = r
        .creations
        .iter()
        .map(|c| {
            AclBinding::from_wire(
                c.resource_type,
                &c.resource_name,
                c.resource_pattern_type,
                &c.principal,
                &c.host,
                c.operation,
                c.permission_type,
            )
        })
        .collect();
    let valid: Vec<AclBinding> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .cloned()
        .collect();
    let outcome = commit_change(broker, &tenant_of(session), |current| {
        let created = valid
            .into_iter()
            .filter(|b| !current.contains(b))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        (created, Vec::new(), ())
    })
    .await;
    let failure = outcome.err().map(|e| {
        tracing::error!(error = %e, "CreateAcls failed");
        (
            code(ResponseError::UnknownServerError),
            message("the ACLs could not be stored"),
        )
    });
    let results = parsed
        .iter()
        .map(|p| match (p, &failure) {
            (Err(e), _) => result(acl_error(e)),
            (Ok(_), Some(failed)) => result(failed.clone()),
            (Ok(_), None) => result((0, None)),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

fn filter_of(
    resource_type: i8,
    name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
) -> Result<AclBindingFilter, AclError> {
    AclBindingFilter::from_wire(
        resource_type,
        name.map(|s| &**s),
        pattern_type,
        principal.map(|s| &**s),
        host.map(|s| &**s),
        operation,
        permission,
    )
}

pub fn describe(
    broker: &Broker,
    session: &Session,
    r: DescribeAclsRequest,
) -> DescribeAclsResponse {
    if broker.access.tenant(session, Action::Describe).is_err() {
        return DescribeAclsResponse::default()
            .with_error_code(code(ResponseError::ClusterAuthorizationFailed))
            .with_error_message(message("Not authorized to describe ACLs"));
    }
    let filter = match filter_of(
        r.resource_type_filter,
        r.resource_name_filter.as_ref(),
        r.pattern_type_filter,
        r.principal_filter.as_ref(),
        r.host_filter.as_ref(),
        r.operation,
        r.permission_type,
    ) {
        Ok(filter) => filter,
        Err(e) => {
            let (error, text) = acl_error(&e);
            return DescribeAclsResponse::default()
                .with_error_code(error)
                .with_error_message(text);
        }
    };
    let image = broker.metadata.image();
    let mut resources: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    if let Some(bindings) = image.acls.get(&tenant_of(session)) {
        for b in bindings.iter().filter(|b| filter.matches(b)) {
            let key = (
                b.resource_type().code(),
                b.name().to_owned(),
                b.pattern_type().code(),
            );
            resources.entry(key).or_default().push(
                AclDescription::default()
                    .with_principal(StrBytes::from_string(b.principal().to_string()))
                    .with_host(StrBytes::from_string(b.host().to_string()))
                    .with_operation(b.operation().code())
                    .with_permission_type(b.permission().code()),
            );
        }
    }
    DescribeAclsResponse::default().with_resources(
        resources
            .into_iter()
            .map(|((resource_type, name, pattern_type), acls)| {
                DescribeAclsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(StrBytes::from_string(name))
                    .with_pattern_type(pattern_type)
                    .with_acls(acls)
            })
            .collect(),
    )
}

fn matching(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.resource_type().code())
        .with_resource_name(StrBytes::from_string(b.name().to_owned()))
        .with_pattern_type(b.pattern_type().code())
        .with_principal(StrBytes::from_string(b.principal().to_string()))
        .with_host(StrBytes::from_string(b.host().to_string()))
        .with_operation(b.operation().code())
        .with_permission_type(b.permission().code())
}

pub async fn delete(
    broker: &Broker,
    session: &Session,
    r: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let failed = |error: i16, text: Option<StrBytes>| {
        DeleteAclsFilterResult::default()
            .with_error_code(error)
            .with_error_message(text)
    };
    if broker.access.tenant(session, Action::Alter).is_err() {
        let denied = code(ResponseError::ClusterAuthorizationFailed);
        return DeleteAclsResponse::default().with_filter_results(
            r.filters
                .iter()
                .map(|_| failed(denied, message("Not authorized to delete ACLs")))
                .collect(),
        );
    }
    let filters: Vec<Result<AclBindingFilter, AclError>> = r
        .filters
        .iter()
        .map(|f| {
            filter_of(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let outcome = commit_change(broker, &tenant_of(session), |current| {
        // Per filter, the bindings it matches (a binding may match several filters, and is
        // listed under each, as Kafka does).
        let matched: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| match f {
                Ok(f) => current.iter().filter(|b| f.matches(b)).cloned().collect(),
                Err(_) => Vec::new(),
            })
            .collect();
        let deleted: BTreeSet<AclBinding> = matched.iter().flatten().cloned().collect();
        (Vec::new(), deleted.into_iter().collect(), matched)
    })
    .await;
    let results = match outcome {
        Ok(matched) => filters
            .iter()
            .zip(matched)
            .map(|(f, bindings)| match f {
                Err(e) => {
                    let (error, text) = acl_error(e);
                    failed(error, text)
                }
                Ok(_) => DeleteAclsFilterResult::default()
                    .with_matching_acls(bindings.iter().map(matching).collect()),
            })
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "DeleteAcls failed");
            let error = code(ResponseError::UnknownServerError);
            filters
                .iter()
                .map(|f| match f {
                    Err(e) => {
                        let (error, text) = acl_error(e);
                        failed(error, text)
                    }
                    Ok(_) => failed(error, message("the ACLs could not be deleted")),
                })
                .collect()
        }
    };
    DeleteAclsResponse::default().with_filter_results(results)
}
