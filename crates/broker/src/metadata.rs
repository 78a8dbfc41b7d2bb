//! The metadata log and the in-memory image it builds, in the shape KRaft uses: every change
//! to topics, their configs and producer-id allocation is a record appended (and fsynced) to
//! the `__cluster_metadata-0` log before it is applied to the image. A restart replays the log.
//! Records are JSON values inside ordinary v2 batches, so the log engine's CRC checks and
//! torn-tail recovery protect them like any partition.

use crate::access::{GateKey, TopicRef};
use crate::error::BrokerError;
use parking_lot::RwLock;
use schloss_log::{Appended, Durability, FileCache, Flusher, LogConfig, PartitionLog};
use schloss_model::TopicId;
use schloss_policy::AclBinding;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Directory of the metadata log inside the data directory.
pub const METADATA_DIR: &str = "__cluster_metadata-0";
/// Largest record value we accept when replaying (a topic with all its configs is far smaller).
const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// One change to the cluster's metadata.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetadataRecord {
    /// First record of a new data directory.
    Cluster {
        cluster_id: String,
    },
    TopicCreated {
        id: TopicId,
        name: String,
        partitions: i32,
        configs: BTreeMap<String, String>,
    },
    PartitionsAdded {
        id: TopicId,
        total: i32,
    },
    /// Replaces the topic's whole override map.
    TopicConfigsSet {
        id: TopicId,
        configs: BTreeMap<String, String>,
    },
    TopicDeleted {
        id: TopicId,
    },
    /// Producer ids below `next` are taken (allocated in blocks so a restart never reuses one).
    ProducerIdsReserved {
        next: i64,
    },
    /// A SCRAM credential set through AlterUserScramCredentials (like KRaft's
    /// UserScramCredentialRecord: salt, iterations and the derived keys, never the password).
    ScramCredentialSet {
        login: String,
        mechanism: String,
        salt: String,
        iterations: u32,
        stored_key: String,
        server_key: String,
    },
    ScramCredentialDeleted {
        login: String,
        mechanism: String,
    },
    /// ACLs of one tenant created and deleted by one CreateAcls or DeleteAcls request (like
    /// KRaft's AccessControlEntryRecord and RemoveAccessControlEntryRecord, batched).
    AclsChanged {
        tenant: String,
        created: Vec<AclBinding>,
        deleted: Vec<AclBinding>,
    },
}

/// A SCRAM credential held in the metadata image; byte fields are base64.
#[derive(Debug, Clone, PartialEq)]
pub struct ScramRecord {
    pub salt: String,
    pub iterations: u32,
    pub stored_key: String,
    pub server_key: String,
}

/// A topic as the image knows it. `name` is the internal (tenant-qualified) name.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMeta {
    pub id: TopicId,
    pub name: String,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
    /// Private, so a `TopicMeta` (which opens partitions) comes only from the image or from
    /// [`TopicMeta::proposed`], never from a raw id a handler made up.
    sealed: Sealed,
}

/// Only this module can name it, so only this module can build a [`TopicMeta`].
#[derive(Debug, Clone, PartialEq)]
struct Sealed;

impl TopicMeta {
    /// A topic about to be created under a name the gate allowed.
    pub fn proposed(topic: &TopicRef, partitions: i32, configs: BTreeMap<String, String>) -> Self {
        Self {
            id: uuid::Uuid::new_v4(),
            name: topic.internal().as_str().to_owned(),
            partitions,
            configs,
            sealed: Sealed,
        }
    }
}

/// The current state of the cluster's metadata. Immutable: a change produces a new image.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub cluster_id: String,
    // Private: handlers reach a topic only with a capability from the access gate.
    topics: BTreeMap<String, Arc<TopicMeta>>,
    ids: HashMap<TopicId, String>,
    pub producer_ids_reserved: i64,
    /// SCRAM credentials from AlterUserScramCredentials, keyed by (login, mechanism name).
    pub scram: BTreeMap<(String, String), ScramRecord>,
    /// Bumped on every SCRAM change, so watchers can tell cheaply that something changed.
    pub scram_generation: u64,
    /// ACLs created through the Kafka API, per tenant (rendered into the policy store's
    /// broker-managed set).
    pub acls: BTreeMap<String, BTreeSet<AclBinding>>,
}

impl Image {
    /// The topic a capability names, if it exists in this image.
    pub fn topic(&self, topic: &TopicRef) -> Option<&Arc<TopicMeta>> {
        self.topics.get(topic.internal().as_str())
    }

    /// Raw lookup by id, for the gate (which checks the namespace and asks the authorizer).
    pub fn topic_by_id(&self, id: &TopicId, _: GateKey) -> Option<&Arc<TopicMeta>> {
        self.ids.get(id).and_then(|name| self.topics.get(name))
    }

    /// Raw lookup by internal name, for broker internals that hold names the gate produced.
    pub fn topic_named(&self, name: &str, _: GateKey) -> Option<&Arc<TopicMeta>> {
        self.topics.get(name)
    }

    /// Every topic in name order, for the gate's listings and for recovery.
    pub fn all_topics(&self, _: GateKey) -> impl Iterator<Item = &Arc<TopicMeta>> {
        self.topics.values()
    }

    /// How many topics exist (a count reveals no names).
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// How many partitions all topics have together (for the broker-wide partition limit).
    pub fn partition_total(&self) -> usize {
        self.topics
            .values()
            .map(|t| usize::try_from(t.partitions).unwrap_or(0))
            .sum()
    }

    /// Applies one record. Records that no longer make sense (a change to a topic deleted
    /// since) are ignored, so replay is total.
    pub fn apply(&mut self, record: &MetadataRecord) {
        match record {
            MetadataRecord::Cluster { cluster_id } => self.cluster_id = cluster_id.clone(),
            MetadataRecord::TopicCreated {
                id,
                name,
                partitions,
                configs,
            } => {
                self.ids.insert(*id, name.clone());
                self.topics.insert(
                    name.clone(),
                    Arc::new(TopicMeta {
                        id: *id,
                        name: name.clone(),
                        partitions: *partitions,
                        configs: configs.clone(),
                        sealed: Sealed,
                    }),
                );
            }
            MetadataRecord::PartitionsAdded { id, total } => {
                self.update(id, |t| t.partitions = (*total).max(t.partitions));
            }
            MetadataRecord::TopicConfigsSet { id, configs } => {
                self.update(id, |t| t.configs = configs.clone());
            }
            MetadataRecord::TopicDeleted { id } => {
                if let Some(name) = self.ids.remove(id) {
                    self.topics.remove(&name);
                }
            }
            MetadataRecord::ProducerIdsReserved { next } => {
                self.producer_ids_reserved = self.producer_ids_reserved.max(*next);
            }
            MetadataRecord::ScramCredentialSet {
                login,
                mechanism,
                salt,
                iterations,
                stored_key,
                server_key,
            } => {
                self.scram.insert(
                    (login.clone(), mechanism.clone()),
                    ScramRecord {
                        salt: salt.clone(),
                        iterations: *iterations,
                        stored_key: stored_key.clone(),
                        server_key: server_key.clone(),
                    },
                );
                self.scram_generation += 1;
            }
            MetadataRecord::ScramCredentialDeleted { login, mechanism } => {
                self.scram.remove(&(login.clone(), mechanism.clone()));
                self.scram_generation += 1;
            }
            MetadataRecord::AclsChanged {
                tenant,
                created,
                deleted,
            } => {
                let acls = self.acls.entry(tenant.clone()).or_default();
                for binding in deleted {
                    acls.remove(binding);
                }
                acls.extend(created.iter().cloned());
                if acls.is_empty() {
                    self.acls.remove(tenant);
                }
            }
        }
    }

    fn update(&mut self, id: &TopicId, change: impl FnOnce(&mut TopicMeta)) {
        if let Some(topic) = self.ids.get(id).and_then(|n| self.topics.get_mut(n)) {
            change(Arc::make_mut(topic));
        }
    }
}

/// The metadata log plus the image it yields. Writers are serialized; readers take a
/// snapshot (`image()`) and never wait for a writer.
pub struct MetadataStore {
    log: Arc<PartitionLog>,
    image: RwLock<Arc<Image>>,
    writer: tokio::sync::Mutex<()>,
}

fn metadata_log_config() -> LogConfig {
    LogConfig {
        retention_ms: -1,
        retention_bytes: -1,
        durability: Durability::Fsync,
        ..LogConfig::default()
    }
}

impl MetadataStore {
    pub async fn open(
        data_dir: &Path,
        flusher: Flusher,
        files: FileCache,
    ) -> Result<Arc<Self>, BrokerError> {
        let dir = data_dir.join(METADATA_DIR);
        let (log, image) = tokio::task::spawn_blocking(move || -> Result<_, BrokerError> {
            let log = PartitionLog::open(&dir, metadata_log_config(), flusher, files)?;
            let image = replay(&log)?;
            Ok((log, image))
        })
        .await
        .map_err(|e| BrokerError::Internal(format!("metadata replay: {e}")))??;
        let store = Arc::new(Self {
            log: Arc::new(log),
            image: RwLock::new(Arc::new(image)),
            writer: tokio::sync::Mutex::new(()),
        });
        if store.image().cluster_id.is_empty() {
            let cluster_id = new_cluster_id();
            store
                .commit(vec![MetadataRecord::Cluster { cluster_id }])
                .await?;
        }
        Ok(store)
    }

    /// A consistent snapshot of the current metadata.
    pub fn image(&self) -> Arc<Image> {
        self.image.read().clone()
    }

    /// Makes `records` durable, then applies them; returns the new image.
    pub async fn commit(&self, records: Vec<MetadataRecord>) -> Result<Arc<Image>, BrokerError> {
        self.commit_with(|_| Ok((records, ())))
            .await
            .map(|(image, ())| image)
    }

    /// Runs `decide` against the current image while holding the writer lock (so the
    /// decision cannot race with another change), then commits what it returns.
    pub async fn commit_with<T>(
        &self,
        decide: impl FnOnce(&Image) -> Result<(Vec<MetadataRecord>, T), BrokerError>,
    ) -> Result<(Arc<Image>, T), BrokerError> {
        let _guard = self.writer.lock().await;
        let current = self.image();
        let (records, value) = decide(&current)?;
        if records.is_empty() {
            return Ok((current, value));
        }
        let now = now_ms();
        let mut waits = Vec::with_capacity(records.len());
        for record in &records {
            let json = serde_json::to_vec(record)
                .map_err(|e| BrokerError::Metadata(format!("encoding record: {e}")))?;
            let batch = schloss_model::batch::build_uncompressed(
                0,
                now,
                (-1, -1, -1),
                &[(None, Some(&json))],
            );
            let log = self.log.clone();
            let appended = tokio::task::spawn_blocking(move || {
                log.append(bytes::BytesMut::from(&batch[..]), now, 0)
            })
            .await
            .map_err(|e| BrokerError::Internal(format!("metadata append: {e}")))??;
            if let Appended::Written { durable, .. } = appended {
                waits.push(durable);
            }
        }
        for durable in waits {
            durable.wait().await?;
        }
        let mut next = (*current).clone();
        for record in &records {
            next.apply(record);
        }
        let next = Arc::new(next);
        *self.image.write() = next.clone();
        Ok((next, value))
    }
}

fn replay(log: &PartitionLog) -> Result<Image, BrokerError> {
    let mut image = Image::default();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let slice = log.read(offset, 4 * 1024 * 1024, true)?;
        if slice.data.is_empty() {
            break;
        }
        for batch in schloss_model::batch::Batches::new(&slice.data) {
            let (header, bytes) =
                batch.map_err(|e| BrokerError::Metadata(format!("replay at {offset}: {e}")))?;
            let records = schloss_protocol::records::decode_records(bytes, MAX_RECORD_BYTES)
                .map_err(|e| BrokerError::Metadata(format!("replay at {offset}: {e}")))?;
            for record in records {
                let value = record.value.unwrap_or_default();
                let parsed: MetadataRecord = serde_json::from_slice(&value).map_err(|e| {
                    BrokerError::Metadata(format!("replay at {offset}: bad record: {e}"))
                })?;
                image.apply(&parsed);
            }
            offset = header.last_offset().saturating_add(1);
        }
    }
    Ok(image)
}

fn new_cluster_id() -> String {
    // Kafka cluster ids are 22-character URL-safe base64 of a UUID.
    let id = uuid::Uuid::new_v4();
    let mut s = String::with_capacity(22);
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let value = id.as_u128();
    for i in 0..22i32 {
        let shift = 128 - 6 * (i + 1);
        let chunk = if shift >= 0 {
            value >> shift
        } else {
            value << -shift
        };
        let idx = (chunk & 0x3f) as usize;
        s.push(char::from(*ALPHABET.get(idx).unwrap_or(&b'A')));
    }
    s
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_applies_topic_lifecycle() {
        let id = uuid::Uuid::new_v4();
        let mut image = Image::default();
        image.apply(&MetadataRecord::TopicCreated {
            id,
            name: "default.t".into(),
            partitions: 2,
            configs: BTreeMap::new(),
        });
        image.apply(&MetadataRecord::PartitionsAdded { id, total: 5 });
        assert_eq!(image.topics.get("default.t").unwrap().partitions, 5);
        assert_eq!(image.ids.get(&id).unwrap(), "default.t");
        image.apply(&MetadataRecord::TopicDeleted { id });
        assert!(!image.topics.contains_key("default.t"));
        assert!(image.ids.is_empty());
    }

    #[test]
    fn records_round_trip_through_json() {
        let r = MetadataRecord::ProducerIdsReserved { next: 1000 };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<MetadataRecord>(&s).unwrap(), r);
    }

    #[test]
    fn cluster_ids_have_kafkas_shape() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
    }
}
