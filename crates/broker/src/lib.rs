//! The broker: request handlers (one file per API family under `handlers/`), the metadata
//! image and its log, the partition registry, the access gate (tenant namespaces and
//! authorization) and producer ids. It receives decoded requests from `server` and never
//! touches a socket.

pub mod access;
mod acls;
pub mod credentials;
mod error;
pub mod groups;
pub mod handlers;
mod memory;
pub mod metadata;
mod partitions;
mod producer_ids;
pub mod retention;
mod session;
pub mod storage_limits;
pub mod topic_config;

pub use access::Namespace;
pub use error::BrokerError;
pub use handlers::{Reply, SUPPORTED_APIS};
pub use memory::RequestMemory;
pub use partitions::{Partition, PartitionRegistry};
pub use session::{ListenerInfo, Session, Transport};

use metadata::MetadataStore;
use schloss_log::{FileCache, Flusher};
use std::path::PathBuf;
use std::sync::Arc;
use topic_config::BrokerDefaults;

/// Broker-wide settings, already validated by the server's config loader.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub node_id: i32,
    pub data_dir: PathBuf,
    /// `num.partitions`: partitions of a topic created without a count.
    pub num_partitions: i32,
    /// `auto.create.topics.enable`: Metadata for an unknown topic creates it.
    pub auto_create_topics: bool,
    /// `socket.request.max.bytes`, reported by DescribeConfigs.
    pub socket_request_max_bytes: usize,
    /// `connections.max.reauth.ms` (KIP-368), reported by DescribeConfigs; enforced by the
    /// server's connections.
    pub connections_max_reauth_ms: u64,
    /// Topic config defaults (`[topic_defaults]`), reported as STATIC_BROKER_CONFIG.
    pub topic_defaults: BrokerDefaults,
    /// Group coordinator settings (`group.*`, `offsets.*`); defaults are Kafka's.
    pub groups: groups::GroupConfig,
    /// The log's open-file budget and the partition limits (`log_max_open_files`,
    /// `max_partitions`, `max_partitions_per_request`).
    pub storage: storage_limits::StorageLimits,
}

/// Everything the handlers share. Cheap to clone (all parts are behind `Arc`).
#[derive(Clone)]
pub struct Broker {
    pub settings: Arc<BrokerSettings>,
    pub metadata: Arc<MetadataStore>,
    pub partitions: Arc<PartitionRegistry>,
    producer_ids: Arc<producer_ids::ProducerIds>,
    /// The group coordinator and its offsets log.
    pub groups: Arc<groups::GroupService>,
    /// The only road from a request to a resource (the server plugs in the policy store;
    /// nothing audited until the audit log lands).
    access: access::Gate,
    /// The credential file as last loaded by the server (for DescribeUserScramCredentials).
    pub file_credentials: Arc<credentials::FileCredentials>,
    /// The server's request memory pool, which produce validation is charged to; `None` when
    /// `queued.max.request.bytes` is unlimited.
    request_memory: Option<RequestMemory>,
    /// The policy store, whose broker-managed set holds the ACLs created through the Kafka
    /// API; `None` in tests that plug in an authorizer of their own.
    policies: Option<Arc<schloss_policy::PolicyStore>>,
}

impl Broker {
    /// Opens the data directory: replays the metadata log, then opens every partition log
    /// (running recovery on each).
    pub async fn open(settings: BrokerSettings) -> Result<Self, BrokerError> {
        let flusher = Flusher::start();
        // One budget for every log file of the broker, internal logs included.
        let files = FileCache::new(settings.storage.log_max_open_files);
        let metadata =
            MetadataStore::open(&settings.data_dir, flusher.clone(), files.clone()).await?;
        let groups = groups::GroupService::open(
            &settings.data_dir,
            flusher.clone(),
            files.clone(),
            settings.groups.clone(),
            Arc::new(groups::clock::SystemClock),
            metadata.clone(),
        )
        .await?;
        let partitions = PartitionRegistry::new(settings.data_dir.clone(), flusher, files);
        let image = metadata.image();
        let defaults = settings.topic_defaults.clone();
        let registry = partitions.clone();
        tokio::task::spawn_blocking(move || registry.open_all(&image, &defaults))
            .await
            .map_err(|e| BrokerError::Internal(format!("opening partitions: {e}")))??;
        let producer_ids = producer_ids::ProducerIds::new(metadata.clone());
        Ok(Self {
            settings: Arc::new(settings),
            metadata,
            partitions,
            producer_ids: Arc::new(producer_ids),
            groups,
            access: access::Gate::default(),
            file_credentials: Arc::default(),
            request_memory: None,
            policies: None,
        })
    }

    /// Replaces the access gate (`allow-tenant` with no audit by default); the policy engine
    /// plugs in here.
    pub fn with_access(mut self, gate: access::Gate) -> Self {
        self.access = gate;
        self
    }

    /// The policy store behind the gate: the ACLs of the metadata log are loaded into its
    /// broker-managed set now (a set that does not validate is an error: the broker must not
    /// start deciding without them), and after every ACL change.
    pub fn with_policies(
        mut self,
        store: Arc<schloss_policy::PolicyStore>,
    ) -> Result<Self, schloss_policy::PolicyError> {
        acls::sync(&store, &self.metadata.image())?;
        self.policies = Some(store);
        Ok(self)
    }

    pub(crate) fn policies(&self) -> Option<&Arc<schloss_policy::PolicyStore>> {
        self.policies.as_ref()
    }

    /// Charges produce validation to the server's request memory pool.
    pub fn with_request_memory(mut self, pool: Option<RequestMemory>) -> Self {
        self.request_memory = pool;
        self
    }

    pub(crate) fn request_memory(&self) -> Option<&RequestMemory> {
        self.request_memory.as_ref()
    }

    pub fn cluster_id(&self) -> String {
        self.metadata.image().cluster_id.clone()
    }
}
