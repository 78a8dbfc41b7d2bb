//! Producer id allocation for InitProducerId. Ids are reserved in blocks through the metadata
//! log, so a restart continues after the last reserved block and never hands out an id twice.

use crate::error::BrokerError;
use crate::metadata::{MetadataRecord, MetadataStore};
use std::sync::Arc;

const BLOCK: i64 = 1000;

pub struct ProducerIds {
    metadata: Arc<MetadataStore>,
    /// Next id to hand out and the end (exclusive) of the reserved block.
    state: tokio::sync::Mutex<(i64, i64)>,
}

impl ProducerIds {
    pub fn new(metadata: Arc<MetadataStore>) -> Self {
        let reserved = metadata.image().producer_ids_reserved;
        Self {
            metadata,
            state: tokio::sync::Mutex::new((reserved, reserved)),
        }
    }

    pub async fn next(&self) -> Result<i64, BrokerError> {
        let mut state = self.state.lock().await;
        if state.0 >= state.1 {
            let (image, ()) = self
                .metadata
                .commit_with(|image| {
                    let next = image.producer_ids_reserved + BLOCK;
                    Ok((vec![MetadataRecord::ProducerIdsReserved { next }], ()))
                })
                .await?;
            *state = (
                image.producer_ids_reserved - BLOCK,
                image.producer_ids_reserved,
            );
        }
        let id = state.0;
        state.0 += 1;
        Ok(id)
    }
}
