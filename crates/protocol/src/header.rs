//! The request header (v1, and v2 with tagged fields for flexible versions).

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::StrBytes;

use crate::reader::{DecodeError, Reader};

/// The fixed fields of a request header. Header v2's tagged fields are read and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<StrBytes>,
}

/// Parses the request header at the front of `body` and advances `body` past it.
///
/// For an api key kafka-protocol does not know, the fixed fields still come back (with `body`
/// positioned after the client id) so the caller can log it and close the connection; use
/// [`api_key`] to turn the raw key into an [`ApiKey`].
pub fn parse_request_header(body: &mut Bytes) -> Result<RequestHeader, DecodeError> {
    let mut r = Reader::new(body.clone());
    let api_key = r.i16()?;
    let api_version = r.i16()?;
    let correlation_id = r.i32()?;
    // The client id stays a classic nullable string even in header v2.
    let client_id = r.nullable_string(false)?;
    if let Ok(key) = ApiKey::try_from(api_key) {
        if is_flexible(key, api_version) {
            r.tagged_fields()?;
        }
    }
    *body = r.into_rest();
    Ok(RequestHeader {
        api_key,
        api_version,
        correlation_id,
        client_id,
    })
}

/// The [`ApiKey`] for a raw header key, or [`DecodeError::UnknownApiKey`].
pub fn api_key(raw: i16) -> Result<ApiKey, DecodeError> {
    ApiKey::try_from(raw).map_err(|()| DecodeError::UnknownApiKey(raw))
}

/// Whether `version` of `api_key` is a flexible version (request header v2, tagged fields).
pub fn is_flexible(api_key: ApiKey, version: i16) -> bool {
    api_key.request_header_version(version) >= 2
}

/// The response header version: 0 (correlation id) or 1 (plus tagged fields). ApiVersions
/// always answers with 0 so that clients can parse it before they know our versions.
pub fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};

    fn header_bytes(api_key: i16, version: i16, client_id: Option<&str>, tail: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(api_key);
        b.put_i16(version);
        b.put_i32(77);
        match client_id {
            Some(s) => {
                b.put_i16(s.len() as i16);
                b.put_slice(s.as_bytes());
            }
            None => b.put_i16(-1),
        }
        b.put_slice(tail);
        b.freeze()
    }

    #[test]
    fn header_v1_leaves_body_after_client_id() {
        let mut buf = header_bytes(3, 4, Some("rdkafka"), &[9, 9]);
        let h = parse_request_header(&mut buf).unwrap();
        assert_eq!(h.api_key, 3);
        assert_eq!(h.api_version, 4);
        assert_eq!(h.correlation_id, 77);
        assert_eq!(h.client_id.as_deref(), Some("rdkafka"));
        assert_eq!(&buf[..], &[9, 9]);
    }

    #[test]
    fn header_v2_skips_tagged_fields() {
        // Metadata v9 is flexible: one tagged field (tag 5, two bytes), then the body.
        let mut buf = header_bytes(3, 9, None, &[1, 5, 2, 0xaa, 0xbb, 7]);
        let h = parse_request_header(&mut buf).unwrap();
        assert_eq!(h.client_id, None);
        assert_eq!(&buf[..], &[7]);
    }

    #[test]
    fn unknown_api_key_still_returns_fixed_fields() {
        let mut buf = header_bytes(999, 0, Some("x"), &[1, 2]);
        let h = parse_request_header(&mut buf).unwrap();
        assert_eq!((h.api_key, h.correlation_id), (999, 77));
        assert_eq!(api_key(h.api_key), Err(DecodeError::UnknownApiKey(999)));
        assert_eq!(&buf[..], &[1, 2]);
    }

    #[test]
    fn truncated_header_is_an_error() {
        let full = header_bytes(18, 3, Some("client"), &[0]);
        for len in 0..full.len() - 1 {
            let mut buf = full.slice(..len);
            assert!(parse_request_header(&mut buf).is_err(), "prefix {len}");
        }
    }

    #[test]
    fn flexible_and_response_header_versions_follow_kafka() {
        assert!(!is_flexible(ApiKey::Metadata, 8));
        assert!(is_flexible(ApiKey::Metadata, 9));
        assert!(is_flexible(ApiKey::ApiVersions, 3));
        assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(response_header_version(ApiKey::Metadata, 8), 0);
        assert_eq!(response_header_version(ApiKey::Produce, 9), 1);
    }
}
