//! ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848): the broker assigns, members
//! reconcile. Subscribed topic names are mapped into the tenant's namespace; assignments name
//! topics by their global ids.

use super::{code, group_ref, str_bytes, topic_name};
use crate::access::Action;
use crate::groups::{Assignment, ConsumerHeartbeat};
use crate::metadata::Image;
use crate::{Broker, Session};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response as describe;
use kafka_protocol::messages::consumer_group_heartbeat_response as heartbeat;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

pub async fn heartbeat(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let local = r.group_id.0.to_string();
    // An empty id stays empty so the core rejects it.
    let group_id = if local.trim().is_empty() {
        local.clone()
    } else {
        match group_ref(broker, session, Action::Read, &local) {
            Ok(g) => g.internal().as_str().to_owned(),
            Err(e) => return ConsumerGroupHeartbeatResponse::default().with_error_code(code(e)),
        }
    };
    let req = ConsumerHeartbeat {
        group_id,
        member_id: r.member_id.to_string(),
        member_epoch: r.member_epoch,
        instance_id: r.instance_id.as_ref().map(|s| s.to_string()),
        rack_id: r.rack_id.as_ref().map(|s| s.to_string()),
        rebalance_timeout_ms: r.rebalance_timeout_ms,
        subscribed_topic_names: r.subscribed_topic_names.as_ref().map(|ts| {
            // Kafka does not validate subscribed names; a refused topic is not subscribed.
            ts.iter()
                .filter_map(|t| {
                    broker
                        .access
                        .topic_unchecked_name(session, Action::Describe, &t.0)
                        .ok()
                        .map(|t| t.internal().as_str().to_owned())
                })
                .collect()
        }),
        subscribed_topic_regex: r.subscribed_topic_regex.as_ref().map(|s| s.to_string()),
        server_assignor: r.server_assignor.as_ref().map(|s| s.to_string()),
        owned: r.topic_partitions.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.topic_id, t.partitions.clone()))
                .collect()
        }),
        client_id: session.client_id.clone(),
        client_host: session.client_host.clone(),
        version,
    };
    let result = broker
        .groups
        .run(move |c, now, image: &Image| c.consumer_heartbeat(now, image, req))
        .await
        .unwrap_or(Err((ResponseError::CoordinatorNotAvailable, None)));
    match result {
        Ok(ok) => ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(StrBytes::from_string(ok.member_id)))
            .with_member_epoch(ok.member_epoch)
            .with_heartbeat_interval_ms(ok.heartbeat_interval_ms)
            .with_assignment(ok.assignment.map(|a| {
                heartbeat::Assignment::default().with_topic_partitions(
                    a.into_iter()
                        .map(|(id, ps)| {
                            heartbeat::TopicPartitions::default()
                                .with_topic_id(id)
                                .with_partitions(ps.into_iter().collect())
                        })
                        .collect(),
                )
            })),
        Err((e, message)) => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(code(e))
            .with_error_message(message.map(StrBytes::from_string)),
    }
}

fn described_assignment(
    broker: &Broker,
    image: &Image,
    session: &Session,
    a: &Assignment,
) -> describe::Assignment {
    describe::Assignment::default().with_topic_partitions(
        a.iter()
            .map(|(id, ps)| {
                let name = broker
                    .access
                    .topic_by_id(session, Action::Describe, image, id)
                    .map(|(t, _)| t.local().to_owned())
                    .unwrap_or_default();
                describe::TopicPartitions::default()
                    .with_topic_id(*id)
                    .with_topic_name(topic_name(&name))
                    .with_partitions(ps.iter().copied().collect())
            })
            .collect(),
    )
}

pub async fn describe(
    broker: &Broker,
    session: &Session,
    version: i16,
    r: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let internal: Vec<Option<String>> = r
        .group_ids
        .iter()
        .map(|g| {
            group_ref(broker, session, Action::Describe, &g.0)
                .ok()
                .map(|g| g.internal().as_str().to_owned())
        })
        .collect();
    let refused: Vec<bool> = internal.iter().map(Option::is_none).collect();
    let described = broker
        .groups
        .run(move |c, _, _| {
            internal
                .iter()
                .map(|id| id.as_ref().and_then(|id| c.describe_consumer_group(id)))
                .collect::<Vec<_>>()
        })
        .await;
    let image = broker.metadata.image();
    let groups = r
        .group_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut d = describe::DescribedGroup::default().with_group_id(id.clone());
            if id.0.is_empty() {
                d.error_code = code(ResponseError::InvalidGroupId);
                return d;
            }
            if refused.get(i).copied().unwrap_or(true) {
                d.error_code = code(ResponseError::GroupAuthorizationFailed);
                return d;
            }
            match described.as_ref().map(|all| all.get(i).cloned().flatten()) {
                None => d.error_code = code(ResponseError::CoordinatorNotAvailable),
                Some(None) => {
                    d.error_code = code(ResponseError::GroupIdNotFound);
                    d.error_message =
                        Some(StrBytes::from_string(format!("Group {} not found.", id.0)));
                }
                Some(Some(g)) => {
                    d.group_state = str_bytes(g.state);
                    d.group_epoch = g.group_epoch;
                    d.assignment_epoch = g.assignment_epoch;
                    d.assignor_name = StrBytes::from_string(g.assignor);
                    if r.include_authorized_operations {
                        d.authorized_operations = broker.access.group_operations(session, &id.0);
                    }
                    d.members = g
                        .members
                        .iter()
                        .map(|(m, target)| {
                            let mut member = describe::Member::default()
                                .with_member_id(StrBytes::from_string(m.id.clone()))
                                .with_instance_id(m.instance_id.clone().map(StrBytes::from_string))
                                .with_rack_id(m.rack_id.clone().map(StrBytes::from_string))
                                .with_member_epoch(m.epoch)
                                .with_client_id(StrBytes::from_string(m.client_id.clone()))
                                .with_client_host(StrBytes::from_string(m.client_host.clone()))
                                .with_subscribed_topic_names(
                                    m.subscribed
                                        .iter()
                                        .filter_map(|t| {
                                            broker
                                                .access
                                                .stored_topic_name(session, Action::Describe, t)
                                                .map(|t| topic_name(t.local()))
                                        })
                                        .collect(),
                                )
                                .with_assignment(described_assignment(
                                    broker,
                                    &image,
                                    session,
                                    &m.assigned,
                                ))
                                .with_target_assignment(described_assignment(
                                    broker, &image, session, target,
                                ));
                            if version >= 1 {
                                // 1: the member speaks the consumer protocol.
                                member.member_type = 1;
                            }
                            member
                        })
                        .collect();
                }
            }
            d
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}
