//! Our bounded decoder against kafka-protocol's own. Input: `api_key u8 | version i8 | body`
//! (see `schloss_fuzz::requests`).
//!
//! kafka-protocol's decoder sizes allocations from wire counts (DESIGN.md, "Untrusted input"),
//! so it only ever sees a body ours has accepted: every count in it was then checked against
//! the bytes present, as long as both read the same fields at the same places. An abort in
//! `kp_decode` ("memory allocation of N bytes failed") therefore also means the two parsers
//! diverged. On such a body both must accept and produce equal values (both ignore
//! trailing bytes). Ours may refuse what kafka-protocol accepts: it is the stricter one by
//! design (counts larger than the input, overlong varints, tag numbers above `i32::MAX`, the
//! decode budget). The other direction is a bug.
//!
//! Where kafka-protocol 0.18 itself departs from Apache Kafka, the target adjusts for it:
//!
//! * Optional-struct markers (DescribeTopicPartitions' `cursor`, the only one in a request we
//!   decode): Kafka's generated reader takes a negative marker as null and any other as
//!   present (`if (_readable.readByte() < 0)`); so do we. kafka-protocol takes only `1` as
//!   present and everything else as null. A non-negative marker is rewritten to `1` before
//!   kafka-protocol sees the body.
//! * Re-encoding: kafka-protocol counts every unknown tagged field but writes only those
//!   numbered above the tags the message knows at any version (`write_unknown_tagged_fields(buf,
//!   2.., ..)` in Fetch), so a value holding e.g. an unknown tag 1 at Fetch v12 (tag 1 is
//!   `replica_state` from v15) encodes to a malformed body. When kafka-protocol's computed size
//!   disagrees with its own encoding, it dropped a field, and the round trip is skipped.
//!
//! The value ours produced must otherwise survive kafka-protocol's encoder and our decoder.
//!
//! Found by this target and fixed (regression tests in crates/protocol/tests/request_decode.rs):
//! a Fetch tag outside the versions that define it was kept as unknown (Kafka refuses it), and
//! a known tag's value that did not fill its declared size was accepted (Kafka would parse the
//! rest differently). Both are now decode errors.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::ApiKey;
use libfuzzer_sys::fuzz_target;
use schloss_fuzz::requests::{kp_decode, kp_encode, kp_size, RequestInput};
use schloss_protocol::reader::Reader;
use schloss_protocol::request::decode_request;

fuzz_target!(|data: &[u8]| {
    let Some(input) = RequestInput::split(data) else {
        return;
    };
    let Some(api) = input.api else {
        return;
    };
    let version = input.version;
    let Ok(ours) = decode_request(api, version, input.body.clone()) else {
        return;
    };
    let body = kafka_protocol_markers(api, input.body);
    let Some((theirs, _left)) = kp_decode(api, version, body) else {
        panic!("{api:?}: we decode a request kafka-protocol has no decoder for");
    };
    match theirs {
        Ok(theirs) => assert_eq!(ours, theirs, "{api:?} v{version}: decoded values differ"),
        Err(e) => {
            panic!("{api:?} v{version}: we accept what kafka-protocol rejects ({e}): {ours:?}")
        }
    }
    let Ok(encoded) = kp_encode(&ours, version) else {
        return; // a value kafka-protocol cannot express at this version
    };
    if kp_size(&ours, version) != Ok(encoded.len()) {
        return; // kafka-protocol dropped an unknown tagged field (see above)
    }
    match decode_request(api, version, encoded) {
        Ok(again) => assert_eq!(
            again, ours,
            "{api:?} v{version}: re-encoding changed the value"
        ),
        Err(e) => panic!(
            "{api:?} v{version}: kafka-protocol's encoding of our value does not decode: {e}"
        ),
    }
});

/// The body with DescribeTopicPartitions' cursor marker set to `1` where Kafka reads the
/// cursor as present (any non-negative marker), so kafka-protocol reads it too.
fn kafka_protocol_markers(api: ApiKey, body: Bytes) -> Bytes {
    if api != ApiKey::DescribeTopicPartitions {
        return body;
    }
    // v0 (the only version): topics (compact array of compact string + tagged fields),
    // response_partition_limit i32, then the cursor's marker byte.
    let mut r = Reader::new(body.clone());
    let skipped = r
        .array(true, |r| {
            r.string(true)?;
            r.unknown_tagged_fields().map(drop)
        })
        .and_then(|_| r.i32());
    let at = body.len() - r.remaining();
    match (skipped, body.get(at)) {
        (Ok(_), Some(&marker)) if (marker as i8) >= 0 && marker != 1 => {
            let mut patched = BytesMut::from(&body[..]);
            patched[at] = 1;
            patched.freeze()
        }
        _ => body,
    }
}
