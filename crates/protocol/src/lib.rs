//! The Kafka wire, without sockets: frame length limits, request headers, bounded request
//! decoding (no count read from the wire sizes an allocation before it is checked against the
//! bytes that remain), response encoding through kafka-protocol, record iteration inside
//! batches, and the four compression codecs with capped output.

pub mod codec;
pub mod frame;
pub mod header;
pub mod reader;
pub mod records;
pub mod request;
pub mod response;
pub mod versions;

pub use kafka_protocol;
