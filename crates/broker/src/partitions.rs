//! Open partition logs, keyed by topic id and partition index, each with a notifier that wakes
//! long-polling fetches when data arrives.

use crate::access::GateKey;
use crate::error::BrokerError;
use crate::metadata::{Image, TopicMeta};
use crate::topic_config::{BrokerDefaults, EffectiveConfig};
use parking_lot::RwLock;
use schloss_log::{FileCache, Flusher, PartitionLog};
use schloss_model::{PartitionId, TopicId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;

/// One partition this broker leads.
pub struct Partition {
    pub topic_id: TopicId,
    pub index: PartitionId,
    pub log: PartitionLog,
    /// Signalled after every append, so fetches waiting for `min_bytes` re-check.
    pub appended: Notify,
}

pub struct PartitionRegistry {
    data_dir: PathBuf,
    flusher: Flusher,
    files: FileCache,
    partitions: RwLock<HashMap<(TopicId, PartitionId), Arc<Partition>>>,
}

/// Kafka's partition directory name: `<topic>-<partition>`.
pub fn partition_dir_name(topic: &str, partition: PartitionId) -> String {
    format!("{topic}-{partition}")
}

impl PartitionRegistry {
    pub fn new(data_dir: PathBuf, flusher: Flusher, files: FileCache) -> Arc<Self> {
        Arc::new(Self {
            data_dir,
            flusher,
            files,
            partitions: RwLock::new(HashMap::new()),
        })
    }

    /// A partition of a topic the caller looked up in the image with a capability.
    pub fn get(&self, topic: &TopicMeta, partition: PartitionId) -> Option<Arc<Partition>> {
        self.open(&topic.id, partition)
    }

    fn open(&self, topic_id: &TopicId, partition: PartitionId) -> Option<Arc<Partition>> {
        self.partitions.read().get(&(*topic_id, partition)).cloned()
    }

    /// Every partition of every topic, for background work such as retention (which serves no
    /// client, so it holds a `GateKey`).
    pub fn all(&self, _: GateKey) -> Vec<Arc<Partition>> {
        self.partitions.read().values().cloned().collect()
    }

    /// Blocking: opens (and recovers) the logs of every topic in the image.
    pub fn open_all(&self, image: &Image, defaults: &BrokerDefaults) -> Result<(), BrokerError> {
        // Recovery serves no client: it opens every topic, whoever owns it.
        for topic in image.all_topics(crate::access::internal_key()) {
            self.open_topic(topic, defaults)?;
        }
        Ok(())
    }

    /// Blocking: opens any partition of `topic` not open yet (new topic or added partitions).
    pub fn open_topic(
        &self,
        topic: &TopicMeta,
        defaults: &BrokerDefaults,
    ) -> Result<(), BrokerError> {
        let config = EffectiveConfig {
            overrides: &topic.configs,
            defaults,
        }
        .log_config();
        for index in 0..topic.partitions {
            if self.open(&topic.id, index).is_some() {
                continue;
            }
            let dir = self.data_dir.join(partition_dir_name(&topic.name, index));
            let log = PartitionLog::open(
                &dir,
                config.clone(),
                self.flusher.clone(),
                self.files.clone(),
            )?;
            let partition = Arc::new(Partition {
                topic_id: topic.id,
                index,
                log,
                appended: Notify::new(),
            });
            self.partitions.write().insert((topic.id, index), partition);
        }
        Ok(())
    }

    /// Applies changed configs to the open logs of a topic.
    pub fn reconfigure(&self, topic: &TopicMeta, defaults: &BrokerDefaults) {
        let config = EffectiveConfig {
            overrides: &topic.configs,
            defaults,
        }
        .log_config();
        for index in 0..topic.partitions {
            if let Some(p) = self.open(&topic.id, index) {
                p.log.update_config(config.clone());
            }
        }
    }

    /// Blocking: closes and deletes every partition of a deleted topic.
    pub fn remove_topic(&self, topic_id: &TopicId) -> Result<(), BrokerError> {
        let removed: Vec<Arc<Partition>> = {
            let mut map = self.partitions.write();
            let keys: Vec<_> = map.keys().filter(|(t, _)| t == topic_id).copied().collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for partition in removed {
            // Wake fetchers so they notice the topic is gone and drop their handles.
            partition.appended.notify_waiters();
            partition.log.delete_dir()?;
        }
        Ok(())
    }
}
