//! A request body through our bounded decoder. Input: `api_key u8 | version i8 | body` (see
//! `schloss_fuzz::requests`); keys and versions we do not advertise must be refused cleanly.
//! A decoded request must go through kafka-protocol's encoder without panicking (it may
//! refuse), and the heap the decode held stays within what the decode budget allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schloss_fuzz::alloc_meter::{metered, Meter};
use schloss_fuzz::requests::{advertised, kp_encode, kp_size, RequestInput};
use schloss_protocol::reader::{DecodeError, DECODE_AMPLIFICATION, MIN_DECODE_BUDGET};
use schloss_protocol::request::decode_request;
use schloss_protocol::versions::decodable_range;

#[global_allocator]
static METER: Meter = Meter;

/// What a decode of `len` body bytes may hold: the decoder charges every decoded array
/// element and tagged field against a budget of `DECODE_AMPLIFICATION` x the input plus
/// `MIN_DECODE_BUDGET` (reader.rs); vectors may hold up to twice what they need while they
/// grow, and each array being decoded may reserve up to 64 KiB ahead (a few nested).
fn decode_bound(len: usize) -> usize {
    let budget = len * DECODE_AMPLIFICATION + MIN_DECODE_BUDGET;
    2 * budget + (512 << 10)
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = RequestInput::split(data) else {
        return;
    };
    let Some(api) = input.api else {
        return;
    };
    // We never advertise a version we cannot decode.
    if advertised(api, input.version) {
        assert!(decodable_range(api).is_some_and(|(min, max)| (min..=max).contains(&input.version)));
    }
    let len = input.body.len();
    let (decoded, peak) = metered(|| decode_request(api, input.version, input.body));
    assert!(
        peak <= decode_bound(len),
        "{api:?} v{}: decoding {len} bytes held {peak} bytes",
        input.version
    );
    let request = match decoded {
        Ok(request) => request,
        Err(DecodeError::UnknownApiKey(key)) => {
            assert_eq!(key, input.raw_key);
            assert!(decodable_range(api).is_none());
            return;
        }
        Err(DecodeError::UnsupportedVersion { api_key, version }) => {
            assert_eq!((api_key, version), (input.raw_key, input.version));
            return;
        }
        Err(_) => return,
    };
    assert_eq!(request.api_key(), api);
    // kafka-protocol may refuse a value it cannot express at this version; it must not panic.
    // (Its size and its encoding can disagree: see request_differential.)
    let _ = kp_encode(&request, input.version);
    let _ = kp_size(&request, input.version);
});
