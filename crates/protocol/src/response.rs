//! Response framing: size prefix, response header, and the body through kafka-protocol.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, ResponseKind};

use crate::header::response_header_version;

/// Kafka's UNSUPPORTED_VERSION error code.
const UNSUPPORTED_VERSION: i16 = 35;

/// Why a response could not be encoded. This is a broker bug, never the client's doing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// kafka-protocol refused the message at this version (a field the version lacks was set).
    #[error("cannot encode api key {api_key} v{version} response: {reason}")]
    Message {
        api_key: i16,
        version: i16,
        reason: String,
    },
    /// The encoded response does not fit the `i32` size prefix.
    #[error("response of {0} bytes is too large for a frame")]
    TooLarge(usize),
}

/// Encodes a complete response frame: 4-byte size, header v0 (correlation id) or v1 (plus
/// empty tagged fields) as `api_key`/`version` require, then `response` at `version`.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &ResponseKind,
) -> Result<BytesMut, EncodeError> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0); // size, patched below
    buf.put_i32(correlation_id);
    if response_header_version(api_key, version) >= 1 {
        buf.put_u8(0); // no tagged fields
    }
    response
        .encode(&mut buf, version)
        .map_err(|e| EncodeError::Message {
            api_key: api_key as i16,
            version,
            reason: e.to_string(),
        })?;
    let frame_len = buf.len() - 4;
    let size = i32::try_from(frame_len).map_err(|_| EncodeError::TooLarge(frame_len))?;
    if let Some(prefix) = buf.get_mut(..4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(buf)
}

/// The answer to an ApiVersions request whose version we do not know: a v0-format response
/// with UNSUPPORTED_VERSION and our ranges, which is what Kafka sends so that the client can
/// retry with a version it shares with us.
pub fn encode_api_versions_fallback(
    correlation_id: i32,
    ranges: &[(ApiKey, i16, i16)],
) -> BytesMut {
    // size + correlation id + error code + array count + 6 bytes per range.
    let frame_len = 4 + 2 + 4 + 6 * ranges.len();
    let mut buf = BytesMut::with_capacity(4 + frame_len);
    buf.put_i32(i32::try_from(frame_len).unwrap_or(i32::MAX));
    buf.put_i32(correlation_id);
    buf.put_i16(UNSUPPORTED_VERSION);
    buf.put_i32(i32::try_from(ranges.len()).unwrap_or(i32::MAX));
    for &(key, min, max) in ranges {
        buf.put_i16(key as i16);
        buf.put_i16(min);
        buf.put_i16(max);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Buf, Bytes};
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::{ApiVersionsResponse, BrokerId, MetadataResponse};
    use kafka_protocol::protocol::{Decodable, StrBytes};

    /// Splits a frame into (correlation id, body) after checking the size prefix and header.
    fn open_frame(mut frame: Bytes, flexible_header: bool) -> (i32, Bytes) {
        let size = frame.get_i32();
        assert_eq!(size as usize, frame.len());
        let correlation_id = frame.get_i32();
        if flexible_header {
            assert_eq!(frame.get_u8(), 0, "empty tagged fields");
        }
        (correlation_id, frame)
    }

    fn metadata_response() -> MetadataResponse {
        MetadataResponse::default()
            .with_throttle_time_ms(5)
            .with_cluster_id(Some(StrBytes::from_static_str("schloss")))
            .with_controller_id(BrokerId(1))
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("localhost"))
                .with_port(9092)])
    }

    #[test]
    fn flexible_response_has_header_v1_and_decodes_with_kafka_protocol() {
        let response = metadata_response();
        let frame = encode_response(
            ApiKey::Metadata,
            12,
            42,
            &ResponseKind::Metadata(response.clone()),
        )
        .unwrap();
        let (correlation_id, mut body) = open_frame(frame.freeze(), true);
        assert_eq!(correlation_id, 42);
        assert_eq!(MetadataResponse::decode(&mut body, 12).unwrap(), response);
        assert!(body.is_empty());
    }

    #[test]
    fn classic_response_has_header_v0() {
        let response = metadata_response();
        let frame = encode_response(
            ApiKey::Metadata,
            8,
            -3,
            &ResponseKind::Metadata(response.clone()),
        )
        .unwrap();
        let (correlation_id, mut body) = open_frame(frame.freeze(), false);
        assert_eq!(correlation_id, -3);
        assert_eq!(MetadataResponse::decode(&mut body, 8).unwrap(), response);
    }

    #[test]
    fn api_versions_response_always_uses_header_v0() {
        let response = ApiVersionsResponse::default().with_api_keys(vec![ApiVersion::default()
            .with_api_key(3)
            .with_min_version(0)
            .with_max_version(12)]);
        let frame = encode_response(
            ApiKey::ApiVersions,
            3,
            9,
            &ResponseKind::ApiVersions(response.clone()),
        )
        .unwrap();
        let (correlation_id, mut body) = open_frame(frame.freeze(), false);
        assert_eq!(correlation_id, 9);
        assert_eq!(ApiVersionsResponse::decode(&mut body, 3).unwrap(), response);
    }

    #[test]
    fn version_kafka_protocol_cannot_encode_is_an_encode_error() {
        let err = encode_response(
            ApiKey::Metadata,
            99,
            1,
            &ResponseKind::Metadata(metadata_response()),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                EncodeError::Message {
                    api_key: 3,
                    version: 99,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn api_versions_fallback_is_a_v0_response_with_unsupported_version() {
        let ranges = [(ApiKey::ApiVersions, 0, 4), (ApiKey::Metadata, 0, 12)];
        let frame = encode_api_versions_fallback(17, &ranges);
        let (correlation_id, mut body) = open_frame(frame.freeze(), false);
        assert_eq!(correlation_id, 17);
        let decoded = ApiVersionsResponse::decode(&mut body, 0).unwrap();
        assert!(body.is_empty());
        assert_eq!(decoded.error_code, UNSUPPORTED_VERSION);
        let got: Vec<_> = decoded
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        assert_eq!(got, vec![(18, 0, 4), (3, 0, 12)]);
    }
}
