//! The records the coordinator writes to `__consumer_offsets-0`, and their encoding.
//!
//! Each record has a key (which group, or which group's offset for which partition) and a value;
//! a `None` value is a tombstone. Replay applies records in log order, so the latest record per
//! key wins. Keys and values are JSON; opaque client bytes (member metadata, assignments) are hex.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change to group state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRecord {
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<OffsetValue>,
    },
    Classic {
        group: String,
        value: Option<ClassicSnapshot>,
    },
    Consumer {
        group: String,
        value: Option<ConsumerSnapshot>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RecordKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Classic {
        group: String,
    },
    Consumer {
        group: String,
    },
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetValue {
    pub offset: i64,
    /// -1 when the client sent none.
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: u64,
    /// Only for OffsetCommit v2-4 with an explicit retention time.
    pub expire_timestamp_ms: Option<u64>,
}

/// A classic group as persisted after each generation's assignment and when it becomes empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicSnapshot {
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub generation: i32,
    pub leader: Option<String>,
    pub state_timestamp_ms: Option<u64>,
    pub members: Vec<ClassicMemberSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicMemberSnapshot {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub protocol_type: String,
    /// (name, hex metadata) in the member's order of preference.
    pub protocols: Vec<(String, String)>,
    /// Hex.
    pub assignment: String,
}

/// Partitions by topic id.
pub type AssignmentList = Vec<(Uuid, Vec<i32>)>;

/// A KIP-848 consumer group as persisted after every change of membership or assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSnapshot {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    /// Subscribed topic name -> (id, partitions) when the target assignment was computed.
    pub subscription_metadata: Vec<(String, Uuid, i32)>,
    pub members: Vec<ConsumerMemberSnapshot>,
    /// member id -> target assignment.
    pub target: Vec<(String, AssignmentList)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberSnapshot {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topics: Vec<String>,
    pub server_assignor: Option<String>,
    pub epoch: i32,
    pub previous_epoch: i32,
    /// 0 stable, 1 unrevoked partitions, 2 unreleased partitions.
    pub state: u8,
    pub assigned: AssignmentList,
    pub pending_revocation: AssignmentList,
}

/// Why a stored record could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record without a key")]
    MissingKey,
    #[error("bad record: {0}")]
    Json(#[from] serde_json::Error),
}

impl GroupRecord {
    /// The record's key and value bytes (`None` for a tombstone).
    pub fn encode(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), serde_json::Error> {
        let (key, value) = match self {
            Self::Offset {
                group,
                topic,
                partition,
                value,
            } => (
                RecordKey::Offset {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                },
                value.as_ref().map(serde_json::to_vec).transpose()?,
            ),
            Self::Classic { group, value } => (
                RecordKey::Classic {
                    group: group.clone(),
                },
                value.as_ref().map(serde_json::to_vec).transpose()?,
            ),
            Self::Consumer { group, value } => (
                RecordKey::Consumer {
                    group: group.clone(),
                },
                value.as_ref().map(serde_json::to_vec).transpose()?,
            ),
        };
        Ok((serde_json::to_vec(&key)?, value))
    }

    pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<Self, RecordError> {
        let key: RecordKey = serde_json::from_slice(key.ok_or(RecordError::MissingKey)?)?;
        Ok(match key {
            RecordKey::Offset {
                group,
                topic,
                partition,
            } => Self::Offset {
                group,
                topic,
                partition,
                value: value.map(serde_json::from_slice).transpose()?,
            },
            RecordKey::Classic { group } => Self::Classic {
                group,
                value: value.map(serde_json::from_slice).transpose()?,
            },
            RecordKey::Consumer { group } => Self::Consumer {
                group,
                value: value.map(serde_json::from_slice).transpose()?,
            },
        })
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Decodes hex written by [`to_hex`]; anything else yields empty bytes.
pub fn from_hex(s: &str) -> bytes::Bytes {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let raw = s.as_bytes();
    let mut out = Vec::with_capacity(raw.len() / 2);
    for pair in raw.chunks(2) {
        match pair {
            [hi, lo] => match (nibble(*hi), nibble(*lo)) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return bytes::Bytes::new(),
            },
            _ => return bytes::Bytes::new(),
        }
    }
    bytes::Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_tombstones_have_no_value() {
        let r = GroupRecord::Offset {
            group: "acme.g".into(),
            topic: "acme.t".into(),
            partition: 3,
            value: Some(OffsetValue {
                offset: 42,
                leader_epoch: -1,
                metadata: "meta".into(),
                commit_timestamp_ms: 7,
                expire_timestamp_ms: None,
            }),
        };
        let (k, v) = r.encode().unwrap();
        assert_eq!(GroupRecord::decode(Some(&k), v.as_deref()).unwrap(), r);
        let t = GroupRecord::Classic {
            group: "g".into(),
            value: None,
        };
        let (k, v) = t.encode().unwrap();
        assert!(v.is_none());
        assert_eq!(GroupRecord::decode(Some(&k), None).unwrap(), t);
    }

    #[test]
    fn hex_round_trips() {
        let data = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(&from_hex(&to_hex(&data))[..], &data);
        assert!(from_hex("zz").is_empty());
    }
}
