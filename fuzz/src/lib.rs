//! Helpers shared by the fuzz targets: how the first bytes of an input pick a request type,
//! kafka-protocol's own encoder and decoder for every request we decode, record batches with
//! a valid header around arbitrary payloads, a heap meter, and scratch directories.

pub mod alloc_meter;
pub mod batches;
pub mod requests;
pub mod scratch;
