//! FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups, DescribeGroups and
//! DeleteGroups. Group ids are tenant-scoped: the core sees `tenant.group`, clients their own
//! names, and a tenant never sees another tenant's groups.

use super::{code, group_ref, str_bytes, Reply};
use crate::access::{Action, GroupRef};
use crate::groups::{
    DescribedGroup as CoreDescribed, JoinRequest, JoinResponse, LeavingMember, Protocol,
    Reply as GroupReply, SyncRequest, SyncResponse,
};
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

pub fn find_coordinator(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let answer = |key_type: i8, key: &str| -> Result<(), (ResponseError, &'static str)> {
        match key_type {
            GROUP_KEY if group_ref(broker, session, Action::Describe, key).is_err() => Err((
                ResponseError::GroupAuthorizationFailed,
                "Not authorized to access group.",
            )),
            GROUP_KEY if broker.groups.is_available() => Ok(()),
            GROUP_KEY => Err((
                ResponseError::CoordinatorNotAvailable,
                "The coordinator is not available.",
            )),
            TRANSACTION_KEY => Err((
                ResponseError::CoordinatorNotAvailable,
                "Transactions are not supported yet.",
            )),
            _ => Err((ResponseError::InvalidRequest, "Unknown coordinator type.")),
        }
    };
    let (host, port) = (
        &session.listener.advertised_host,
        session.listener.advertised_port,
    );
    let node = broker.settings.node_id;
    if version < 4 {
        let mut resp = FindCoordinatorResponse::default();
        match answer(r.key_type, &r.key) {
            Ok(()) => {
                resp.node_id = node.into();
                resp.host = str_bytes(host);
                resp.port = port;
            }
            Err((e, msg)) => {
                resp.error_code = code(e);
                if version >= 1 {
                    resp.error_message = Some(str_bytes(msg));
                }
                resp.node_id = (-1).into();
                resp.port = -1;
            }
        }
        return resp;
    }
    let coordinators = r
        .coordinator_keys
        .iter()
        .map(|key| {
            let c = Coordinator::default().with_key(key.clone());
            match answer(r.key_type, key) {
                Ok(()) => c
                    .with_node_id(node.into())
                    .with_host(str_bytes(host))
                    .with_port(port),
                Err((e, msg)) => c
                    .with_node_id((-1).into())
                    .with_port(-1)
                    .with_error_code(code(e))
                    .with_error_message(Some(str_bytes(msg))),
            }
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}

fn join_response(j: JoinResponse, version: i16) -> JoinGroupResponse {
    let protocol_name = match (version >= 7, j.protocol_name) {
        (true, Some(n)) if n.is_empty() => None,
        (true, n) => n.map(StrBytes::from_string),
        (false, n) => Some(StrBytes::from_string(n.unwrap_or_default())),
    };
    JoinGroupResponse::default()
        .with_error_code(j.error.map_or(0, code))
        .with_generation_id(j.generation_id)
        .with_protocol_type(if version >= 7 {
            j.protocol_type.map(StrBytes::from_string)
        } else {
            None
        })
        .with_protocol_name(protocol_name)
        .with_leader(StrBytes::from_string(j.leader))
        .with_skip_assignment(version >= 9 && j.skip_assignment)
        .with_member_id(StrBytes::from_string(j.member_id))
        .with_members(
            j.members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(StrBytes::from_string(m.member_id))
                        .with_group_instance_id(if version >= 5 {
                            m.instance_id.map(StrBytes::from_string)
                        } else {
                            None
                        })
                        .with_metadata(m.metadata)
                })
                .collect(),
        )
}

pub fn join(broker: &Broker, session: &Session, version: i16, r: JoinGroupRequest) -> Reply {
    let local = r.group_id.0.to_string();
    let member_id = r.member_id.to_string();
    let config = broker.groups.config();
    let early = if local.is_empty() {
        Some(ResponseError::InvalidGroupId)
    } else if r.session_timeout_ms < config.min_session_timeout_ms
        || r.session_timeout_ms > config.max_session_timeout_ms
    {
        Some(ResponseError::InvalidSessionTimeout)
    } else {
        None
    };
    if let Some(e) = early {
        let resp = join_response(JoinResponse::error(&member_id, e), version);
        return Reply::Now(Box::new(ResponseKind::JoinGroup(resp)));
    }
    let mut protocols: Vec<Protocol> = Vec::with_capacity(r.protocols.len());
    for p in &r.protocols {
        if !protocols.iter().any(|q| q.name == p.name.as_str()) {
            protocols.push(Protocol {
                name: p.name.to_string(),
                metadata: p.metadata.clone(),
            });
        }
    }
    let group = match group_ref(broker, session, Action::Read, &local) {
        Ok(g) => g,
        Err(e) => {
            let resp = join_response(JoinResponse::error(&member_id, e), version);
            return Reply::Now(Box::new(ResponseKind::JoinGroup(resp)));
        }
    };
    let req = JoinRequest {
        group_id: group.internal().as_str().to_owned(),
        member_id: member_id.clone(),
        instance_id: r.group_instance_id.as_ref().map(|s| s.to_string()),
        protocol_type: r.protocol_type.to_string(),
        protocols,
        session_timeout_ms: r.session_timeout_ms,
        rebalance_timeout_ms: if version == 0 {
            r.session_timeout_ms
        } else {
            r.rebalance_timeout_ms
        },
        client_id: session.client_id.clone(),
        client_host: session.client_host.clone(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let groups = broker.groups.clone();
    Reply::Later(Box::pin(async move {
        let j = match groups.park(|c, now, token| c.join(now, token, req)).await {
            Some(GroupReply::Join(j)) => j,
            _ => JoinResponse::error(&member_id, ResponseError::CoordinatorNotAvailable),
        };
        ResponseKind::JoinGroup(join_response(j, version))
    }))
}

fn sync_response(s: SyncResponse, version: i16) -> SyncGroupResponse {
    let v5 = version >= 5;
    SyncGroupResponse::default()
        .with_error_code(s.error.map_or(0, code))
        .with_protocol_type(if v5 {
            s.protocol_type.map(StrBytes::from_string)
        } else {
            None
        })
        .with_protocol_name(if v5 {
            s.protocol_name.map(StrBytes::from_string)
        } else {
            None
        })
        .with_assignment(s.assignment)
}

pub fn sync(broker: &Broker, session: &Session, version: i16, r: SyncGroupRequest) -> Reply {
    let local = r.group_id.0.to_string();
    let early = if local.is_empty() {
        Some(ResponseError::InvalidGroupId)
    } else if version >= 5 && (r.protocol_type.is_none() || r.protocol_name.is_none()) {
        Some(ResponseError::InconsistentGroupProtocol)
    } else {
        None
    };
    if let Some(e) = early {
        return Reply::Now(Box::new(ResponseKind::SyncGroup(sync_response(
            SyncResponse::error(e),
            version,
        ))));
    }
    let group = match group_ref(broker, session, Action::Read, &local) {
        Ok(g) => g,
        Err(e) => {
            return Reply::Now(Box::new(ResponseKind::SyncGroup(sync_response(
                SyncResponse::error(e),
                version,
            ))))
        }
    };
    let req = SyncRequest {
        group_id: group.internal().as_str().to_owned(),
        generation_id: r.generation_id,
        member_id: r.member_id.to_string(),
        instance_id: r.group_instance_id.as_ref().map(|s| s.to_string()),
        protocol_type: r.protocol_type.as_ref().map(|s| s.to_string()),
        protocol_name: r.protocol_name.as_ref().map(|s| s.to_string()),
        assignments: r
            .assignments
            .iter()
            .map(|a| (a.member_id.to_string(), a.assignment.clone()))
            .collect(),
    };
    let groups = broker.groups.clone();
    Reply::Later(Box::pin(async move {
        let s = match groups.park(|c, now, token| c.sync(now, token, req)).await {
            Some(GroupReply::Sync(s)) => s,
            _ => SyncResponse::error(ResponseError::CoordinatorNotAvailable),
        };
        ResponseKind::SyncGroup(sync_response(s, version))
    }))
}

pub async fn heartbeat(
    broker: &Broker,
    session: &Session,
    r: HeartbeatRequest,
) -> HeartbeatResponse {
    let local = r.group_id.0.to_string();
    if local.is_empty() {
        return HeartbeatResponse::default().with_error_code(code(ResponseError::InvalidGroupId));
    }
    let group = match group_ref(broker, session, Action::Read, &local) {
        Ok(g) => g.internal().as_str().to_owned(),
        Err(e) => return HeartbeatResponse::default().with_error_code(code(e)),
    };
    let instance = r.group_instance_id.as_ref().map(|s| s.to_string());
    let member = r.member_id.to_string();
    let result = broker
        .groups
        .run(|c, now, _| c.heartbeat(now, &group, &member, instance.as_deref(), r.generation_id))
        .await
        .unwrap_or(Some(ResponseError::CoordinatorNotAvailable));
    HeartbeatResponse::default().with_error_code(result.map_or(0, code))
}

pub async fn leave(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let local = r.group_id.0.to_string();
    if local.is_empty() {
        return LeaveGroupResponse::default().with_error_code(code(ResponseError::InvalidGroupId));
    }
    let group = match group_ref(broker, session, Action::Read, &local) {
        Ok(g) => g.internal().as_str().to_owned(),
        Err(e) => return LeaveGroupResponse::default().with_error_code(code(e)),
    };
    let members: Vec<LeavingMember> = if version < 3 {
        vec![LeavingMember {
            member_id: r.member_id.to_string(),
            instance_id: None,
        }]
    } else {
        r.members
            .iter()
            .map(|m| LeavingMember {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            })
            .collect()
    };
    let leaving = members.clone();
    let result = broker
        .groups
        .run(move |c, now, _| c.leave(now, &group, &leaving))
        .await
        .unwrap_or(Err(ResponseError::CoordinatorNotAvailable));
    match result {
        Err(e) => LeaveGroupResponse::default().with_error_code(code(e)),
        Ok(codes) if version < 3 => {
            let first = codes.into_iter().flatten().next();
            LeaveGroupResponse::default().with_error_code(first.map_or(0, code))
        }
        Ok(codes) => LeaveGroupResponse::default().with_members(
            members
                .into_iter()
                .zip(codes)
                .map(|(m, c)| {
                    MemberResponse::default()
                        .with_member_id(StrBytes::from_string(m.member_id))
                        .with_group_instance_id(m.instance_id.map(StrBytes::from_string))
                        .with_error_code(c.map_or(0, code))
                })
                .collect(),
        ),
    }
}

pub async fn list(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: ListGroupsRequest,
) -> ListGroupsResponse {
    let states: Vec<String> = if version >= 4 {
        r.states_filter.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let types: Vec<String> = if version >= 5 {
        r.types_filter.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let Some(listed) = broker
        .groups
        .run(|c, _, _| c.list_groups(&states, &types))
        .await
    else {
        return ListGroupsResponse::default()
            .with_error_code(code(ResponseError::CoordinatorNotAvailable));
    };
    let groups = listed
        .into_iter()
        .filter_map(|g| {
            let group = broker
                .access
                .stored_group(session, Action::Describe, &g.group_id)?;
            let mut l = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(group.local())))
                .with_protocol_type(StrBytes::from_string(g.protocol_type));
            if version >= 4 {
                l.group_state = str_bytes(g.state);
            }
            if version >= 5 {
                l.group_type = str_bytes(g.group_type);
            }
            Some(l)
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub async fn describe(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let ids: Vec<(GroupId, Option<String>)> = r
        .groups
        .iter()
        .map(|g| {
            let allowed = group_ref(broker, session, Action::Describe, &g.0).ok();
            (g.clone(), allowed.map(|a| a.internal().as_str().to_owned()))
        })
        .collect();
    let internal: Vec<Option<String>> = ids.iter().map(|(_, i)| i.clone()).collect();
    let described = broker
        .groups
        .run(move |c, _, _| {
            internal
                .iter()
                .map(|id| id.as_ref().and_then(|id| c.describe_group(id)))
                .collect::<Vec<Option<CoreDescribed>>>()
        })
        .await;
    let include_ops = version >= 3 && r.include_authorized_operations;
    let groups = ids
        .into_iter()
        .enumerate()
        .map(|(i, (id, allowed))| {
            let mut d = DescribedGroup::default().with_group_id(id.clone());
            if allowed.is_none() {
                d.error_code = code(ResponseError::GroupAuthorizationFailed);
                return d;
            }
            match described.as_ref().map(|all| all.get(i).cloned().flatten()) {
                None => d.error_code = code(ResponseError::CoordinatorNotAvailable),
                Some(None) => {
                    d.group_state = str_bytes("Dead");
                    if version >= 6 {
                        d.error_code = code(ResponseError::GroupIdNotFound);
                        d.error_message =
                            Some(StrBytes::from_string(format!("Group {} not found.", id.0)));
                    }
                }
                Some(Some(g)) => {
                    d.group_state = str_bytes(g.state);
                    d.protocol_type = StrBytes::from_string(g.protocol_type);
                    d.protocol_data = StrBytes::from_string(g.protocol_data);
                    d.members = g
                        .members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(StrBytes::from_string(m.member_id))
                                .with_group_instance_id(if version >= 4 {
                                    m.instance_id.map(StrBytes::from_string)
                                } else {
                                    None
                                })
                                .with_client_id(StrBytes::from_string(m.client_id))
                                .with_client_host(StrBytes::from_string(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect();
                    if include_ops {
                        d.authorized_operations = broker.access.group_operations(session, &id.0);
                    }
                }
            }
            d
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub async fn delete(
    broker: &Broker,
    session: &Session,
    r: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut ids: Vec<GroupId> = Vec::with_capacity(r.groups_names.len());
    for g in r.groups_names {
        if !ids.contains(&g) {
            ids.push(g);
        }
    }
    let internal: Vec<Result<GroupRef, ResponseError>> = ids
        .iter()
        .map(|g| group_ref(broker, session, Action::Delete, &g.0))
        .collect();
    let results = broker
        .groups
        .run(move |c, now, _| {
            internal
                .iter()
                .map(|id| match id {
                    Ok(group) => c.delete_group(now, group.internal().as_str()),
                    Err(e) => Some(*e),
                })
                .collect::<Vec<_>>()
        })
        .await;
    let results = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let e = match &results {
                Some(all) => all.get(i).copied().flatten(),
                None => Some(ResponseError::CoordinatorNotAvailable),
            };
            DeletableGroupResult::default()
                .with_group_id(id)
                .with_error_code(e.map_or(0, code))
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
