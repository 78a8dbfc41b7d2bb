//! Differential and hostile-input tests for the bounded request decoders.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod decode_support;

use bytes::Bytes;
use decode_support::{kp_decode, kp_encode, sample_request, Filler, Nulls};
use kafka_protocol::messages::ApiKey;
use proptest::prelude::*;
use schloss_protocol::reader::DecodeError;
use schloss_protocol::request::decode_request;
use schloss_protocol::versions::DECODABLE;

const SEEDS: u64 = 6;

fn fillers(seed: u64) -> [Filler; 3] {
    [
        Filler::new(seed, Nulls::AllSet),
        Filler::new(seed, Nulls::AllNull),
        Filler::new(seed, Nulls::Random),
    ]
}

/// Encodes a sample with kafka-protocol and checks that ours and kafka-protocol's decoder both
/// give the sample back.
fn check_round_trip(api: ApiKey, version: i16, f: &mut Filler) -> Bytes {
    let original = sample_request(api, version, f);
    let body = kp_encode(&original, version);
    let ours = decode_request(api, version, body.clone())
        .unwrap_or_else(|e| panic!("{api:?} v{version}: our decoder failed: {e}"));
    assert_eq!(
        ours, original,
        "{api:?} v{version}: ours differs from the original"
    );
    let theirs = kp_decode(api, version, body.clone());
    assert_eq!(
        theirs, original,
        "{api:?} v{version}: kafka-protocol differs from the original"
    );
    body
}

#[test]
fn every_api_and_version_decodes_like_kafka_protocol() {
    for &(api, min, max) in DECODABLE {
        for version in min..=max {
            for seed in 0..SEEDS {
                for mut f in fillers(seed) {
                    check_round_trip(api, version, &mut f);
                }
            }
        }
    }
}

#[test]
fn trailing_bytes_after_a_body_are_ignored() {
    let mut f = Filler::new(7, Nulls::AllSet);
    let original = sample_request(ApiKey::Metadata, 12, &mut f);
    let mut body = kp_encode(&original, 12).to_vec();
    body.extend_from_slice(&[1, 2, 3]);
    assert_eq!(
        decode_request(ApiKey::Metadata, 12, body.into()).unwrap(),
        original
    );
}

#[test]
fn every_truncation_of_a_valid_body_is_handled_without_panic() {
    for &(api, min, max) in DECODABLE {
        for version in min..=max {
            let mut f = Filler::new(u64::from(version as u16), Nulls::Random);
            let body = check_round_trip(api, version, &mut f);
            for len in 0..body.len() {
                // Either an error or (rarely, when a shorter encoding is itself valid) a value.
                let _ = decode_request(api, version, body.slice(..len));
            }
        }
    }
}

#[test]
fn create_topics_v5_with_huge_compact_count_is_rejected() {
    let body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = decode_request(ApiKey::CreateTopics, 5, body).unwrap_err();
    assert!(matches!(err, DecodeError::InvalidLength { .. }), "{err}");
}

#[test]
fn metadata_v1_with_huge_array_count_is_rejected() {
    let body = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
    let err = decode_request(ApiKey::Metadata, 1, body).unwrap_err();
    assert_eq!(
        err,
        DecodeError::InvalidLength {
            length: 0x7fff_ffff,
            remaining: 2
        }
    );
}

#[test]
fn overlong_varint_is_rejected() {
    let body = Bytes::from_static(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(
        decode_request(ApiKey::CreateTopics, 5, body).unwrap_err(),
        DecodeError::VarintOverflow
    );
}

#[test]
fn invalid_utf8_in_a_string_is_rejected() {
    // SaslHandshake v1: one i16-length string.
    let body = Bytes::from_static(&[0, 2, 0xc3, 0x28]);
    assert_eq!(
        decode_request(ApiKey::SaslHandshake, 1, body).unwrap_err(),
        DecodeError::InvalidUtf8
    );
}

#[test]
fn null_in_a_non_nullable_field_is_rejected() {
    let body = Bytes::from_static(&[0xff, 0xff]);
    assert_eq!(
        decode_request(ApiKey::SaslHandshake, 1, body).unwrap_err(),
        DecodeError::UnexpectedNull
    );
}

#[test]
fn versions_outside_the_table_and_unknown_apis_are_refused() {
    assert_eq!(
        decode_request(ApiKey::Produce, 2, Bytes::new()).unwrap_err(),
        DecodeError::UnsupportedVersion {
            api_key: 0,
            version: 2
        }
    );
    assert_eq!(
        decode_request(ApiKey::Fetch, 19, Bytes::new()).unwrap_err(),
        DecodeError::UnsupportedVersion {
            api_key: 1,
            version: 19
        }
    );
    assert_eq!(
        decode_request(ApiKey::AddPartitionsToTxn, 3, Bytes::new()).unwrap_err(),
        DecodeError::UnknownApiKey(ApiKey::AddPartitionsToTxn as i16)
    );
}

#[test]
fn acl_apis_refuse_v0_which_kafka_4_removed() {
    for api in [ApiKey::CreateAcls, ApiKey::DescribeAcls, ApiKey::DeleteAcls] {
        assert_eq!(
            decode_request(api, 0, Bytes::new()).unwrap_err(),
            DecodeError::UnsupportedVersion {
                api_key: api as i16,
                version: 0
            }
        );
    }
}

#[test]
fn delete_acls_v1_with_huge_filter_count_is_rejected() {
    let body = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 1, 0]);
    assert_eq!(
        decode_request(ApiKey::DeleteAcls, 1, body).unwrap_err(),
        DecodeError::InvalidLength {
            length: 0x7fff_ffff,
            remaining: 2
        }
    );
}

#[test]
fn create_acls_v3_with_huge_compact_count_is_rejected() {
    let body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = decode_request(ApiKey::CreateAcls, 3, body).unwrap_err();
    assert!(matches!(err, DecodeError::InvalidLength { .. }), "{err}");
}

fn api_version() -> impl Strategy<Value = (ApiKey, i16)> {
    proptest::sample::select(DECODABLE.to_vec())
        .prop_flat_map(|(api, min, max)| (Just(api), min..=max))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic((api, version) in api_version(), body in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_request(api, version, Bytes::from(body));
    }

    #[test]
    fn mutated_valid_bodies_never_panic(
        (api, version) in api_version(),
        seed in any::<u64>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut f = Filler::new(seed, Nulls::Random);
        let mut body = kp_encode(&sample_request(api, version, &mut f), version).to_vec();
        if !body.is_empty() {
            for (at, byte) in flips {
                let i = at.index(body.len());
                body[i] = byte;
            }
        }
        let _ = decode_request(api, version, Bytes::from(body));
    }
}

fn check_api_with_random_values(api: ApiKey) -> impl Strategy<Value = (i16, u64, u8)> {
    let (min, max) = schloss_protocol::versions::decodable_range(api).unwrap();
    (min..=max, any::<u64>(), 0u8..3)
}

fn nulls(n: u8) -> Nulls {
    match n {
        0 => Nulls::AllSet,
        1 => Nulls::AllNull,
        _ => Nulls::Random,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn produce_random_values_round_trip((version, seed, n) in check_api_with_random_values(ApiKey::Produce)) {
        check_round_trip(ApiKey::Produce, version, &mut Filler::new(seed, nulls(n)));
    }

    #[test]
    fn fetch_random_values_round_trip((version, seed, n) in check_api_with_random_values(ApiKey::Fetch)) {
        check_round_trip(ApiKey::Fetch, version, &mut Filler::new(seed, nulls(n)));
    }

    #[test]
    fn metadata_random_values_round_trip((version, seed, n) in check_api_with_random_values(ApiKey::Metadata)) {
        check_round_trip(ApiKey::Metadata, version, &mut Filler::new(seed, nulls(n)));
    }

    #[test]
    fn create_topics_random_values_round_trip((version, seed, n) in check_api_with_random_values(ApiKey::CreateTopics)) {
        check_round_trip(ApiKey::CreateTopics, version, &mut Filler::new(seed, nulls(n)));
    }
}

fn unhex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

/// Found by the request_differential fuzz target: Fetch v14 with top-level tag 1
/// (ReplicaState, defined from v15) was kept as an unknown field; Kafka refuses it.
#[test]
fn a_tag_outside_its_versions_is_refused() {
    let body = unhex("00000000000001f400000001001000000000000000ffffffff01010101010100");
    assert_eq!(
        decode_request(ApiKey::Fetch, 14, body).unwrap_err(),
        DecodeError::TagNotValid {
            tag: 1,
            version: 14
        }
    );
}

/// Found by the request_differential fuzz target: Fetch v12 whose ClusterId tag declares two
/// bytes but whose value (a null compact string) takes one; Kafka would read the next byte as
/// the following tag, so the two parses differ. Refused.
#[test]
fn a_known_tag_must_fill_its_declared_size() {
    let body = unhex("ffffffff000001f400000001001000000000000000ffffffff01010102000201000700");
    assert_eq!(
        decode_request(ApiKey::Fetch, 12, body).unwrap_err(),
        DecodeError::TaggedFieldSize { tag: 0, left: 1 }
    );
}
