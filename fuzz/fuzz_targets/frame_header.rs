//! A byte stream as a client would send it: frames with a 4-byte big-endian size prefix
//! (checked against a 1 MiB limit, as the connection does), and the request header parsed at
//! the front of each frame body. Stops at the first rejected size or a truncated frame, as the
//! connection closes there.
#![no_main]

use bytes::{Buf, Bytes};
use libfuzzer_sys::fuzz_target;
use schloss_protocol::frame::{check_frame_len, FrameLimits};
use schloss_protocol::header::{
    api_key, is_flexible, parse_request_header, response_header_version,
};

const LIMIT: usize = 1 << 20;
/// api key, api version, correlation id and the client id's length.
const FIXED_HEADER_LEN: usize = 10;

fuzz_target!(|data: &[u8]| {
    let mut stream = Bytes::copy_from_slice(data);
    while let Some(prefix) = stream.get(..4).and_then(|p| <[u8; 4]>::try_from(p).ok()) {
        let raw = i32::from_be_bytes(prefix);
        let Ok(size) = check_frame_len(raw, LIMIT) else {
            break;
        };
        // The pre-authentication limit is smaller, never larger.
        if let Ok(pre_auth) = FrameLimits::PRE_AUTH.check(raw) {
            assert_eq!(pre_auth, size);
        }
        stream.advance(4);
        if stream.len() < size {
            break;
        }
        let frame = stream.split_to(size);
        let mut body = frame.clone();
        let Ok(header) = parse_request_header(&mut body) else {
            continue;
        };
        // The body that remains is a suffix of the frame, after at least the fixed fields.
        assert!(frame.len() - body.len() >= FIXED_HEADER_LEN);
        assert_eq!(frame.get(frame.len() - body.len()..), Some(&body[..]));
        assert_eq!(header.api_key, i16::from_be_bytes([frame[0], frame[1]]));
        if let Ok(api) = api_key(header.api_key) {
            let flexible = is_flexible(api, header.api_version);
            let response = response_header_version(api, header.api_version);
            assert!(response == 0 || response == 1);
            assert!(!flexible || response == 1 || response_header_is_v0(api));
        }
    }
});

/// ApiVersions answers with response header v0 even in its flexible versions.
fn response_header_is_v0(api: kafka_protocol::messages::ApiKey) -> bool {
    api == kafka_protocol::messages::ApiKey::ApiVersions
}
