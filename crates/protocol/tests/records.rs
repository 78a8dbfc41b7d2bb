//! Record decoding and batch re-encoding, cross-checked against kafka-protocol.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};
use schloss_model::batch::{
    build_uncompressed, compute_crc, put_varlong, set_log_append_time, validate, BatchError,
    BatchHeader, Compression, HEADER_LEN,
};
use schloss_protocol::codec::CodecError;
use schloss_protocol::records::{
    check_records, decode_records, encode_batch, recompress_batch, record_timestamps,
    MalformedRecord, Record, RecordError, RecordHeader,
};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const MIB: usize = 1024 * 1024;
const BASE_TS: i64 = 1_700_000_000_000;

fn kp_codec(codec: Compression) -> KpCompression {
    match codec {
        Compression::None => KpCompression::None,
        Compression::Gzip => KpCompression::Gzip,
        Compression::Snappy => KpCompression::Snappy,
        Compression::Lz4 => KpCompression::Lz4,
        Compression::Zstd => KpCompression::Zstd,
    }
}

/// Records as an idempotent producer would send them: keys, null keys and values, headers.
fn kp_records(base_offset: i64, n: i64) -> Vec<KpRecord> {
    (0..n)
        .map(|i| {
            let mut headers = IndexMap::new();
            if i % 3 == 0 {
                headers.insert(
                    StrBytes::from_static_str("trace"),
                    Some(Bytes::from(format!("t{i}"))),
                );
                headers.insert(StrBytes::from_static_str("empty"), None);
            }
            KpRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 5,
                producer_id: 42,
                producer_epoch: 1,
                timestamp_type: KpTimestampType::Creation,
                offset: base_offset + i,
                sequence: 10 + i as i32,
                timestamp: BASE_TS + i * 7,
                key: (i % 4 != 1).then(|| Bytes::from(format!("key-{i}"))),
                value: (i % 5 != 2)
                    .then(|| Bytes::from(format!("value-{i}-").repeat(i as usize % 50))),
                headers,
            }
        })
        .collect()
}

fn kp_encode(records: &[KpRecord], codec: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: kp_codec(codec),
    };
    RecordBatchEncoder::encode(&mut buf, records, &options).unwrap();
    buf.to_vec()
}

fn assert_same(ours: &[Record], header: &BatchHeader, theirs: &[KpRecord]) {
    assert_eq!(ours.len(), theirs.len());
    for (o, t) in ours.iter().zip(theirs) {
        assert_eq!(header.base_offset + i64::from(o.offset_delta), t.offset);
        assert_eq!(header.base_timestamp + o.timestamp_delta, t.timestamp);
        assert_eq!(o.key, t.key);
        assert_eq!(o.value, t.value);
        let headers: Vec<(Bytes, Option<Bytes>)> = t
            .headers
            .iter()
            .map(|(k, v)| (Bytes::copy_from_slice(k.as_bytes()), v.clone()))
            .collect();
        let ours: Vec<(Bytes, Option<Bytes>)> = o
            .headers
            .iter()
            .map(|h| (h.key.clone(), h.value.clone()))
            .collect();
        assert_eq!(ours, headers);
    }
}

#[test]
fn batches_from_kafka_protocol_decode_to_the_same_records() {
    let theirs = kp_records(100, 60);
    for codec in CODECS {
        let batch = kp_encode(&theirs, codec);
        let header = validate(&batch).unwrap();
        assert_eq!(header.compression().unwrap(), codec);
        let ours = decode_records(&batch, MIB).unwrap();
        assert_same(&ours, &header, &theirs);
    }
}

#[test]
fn our_batches_decode_in_kafka_protocol_to_the_same_records() {
    let theirs = kp_records(7, 40);
    let source = kp_encode(&theirs, Compression::None);
    let template = BatchHeader::parse(&source).unwrap();
    let records = decode_records(&source, MIB).unwrap();
    for codec in CODECS {
        let batch = encode_batch(&template, &records, codec).unwrap();
        let header = validate(&batch).unwrap();
        assert_eq!(header.compression().unwrap(), codec);
        let set = RecordBatchDecoder::decode(&mut Bytes::from(batch.clone())).unwrap();
        assert_eq!(set.compression, kp_codec(codec));
        assert_eq!(set.records.len(), theirs.len());
        for (got, want) in set.records.iter().zip(&theirs) {
            assert_eq!(got.offset, want.offset);
            assert_eq!(got.timestamp, want.timestamp);
            assert_eq!(got.key, want.key);
            assert_eq!(got.value, want.value);
            assert_eq!(got.headers, want.headers);
            assert_eq!((got.producer_id, got.producer_epoch), (42, 1));
            assert_eq!(got.sequence, want.sequence);
            assert_eq!(got.partition_leader_epoch, 5);
        }
    }
}

#[test]
fn encode_batch_keeps_the_template_header_but_the_codec() {
    let mut source = build_uncompressed(9, BASE_TS, (3, 2, 1), &[(Some(b"k"), Some(b"v"))]);
    // Transactional + LogAppendTime bits, then re-seal.
    source[22] |= 0x10;
    set_log_append_time(&mut source, BASE_TS + 50);
    let template = validate(&source).unwrap();
    let records = decode_records(&source, MIB).unwrap();
    let batch = encode_batch(&template, &records, Compression::Zstd).unwrap();
    let header = validate(&batch).unwrap();
    assert_eq!(
        header.attributes,
        template.attributes | Compression::Zstd as i16
    );
    assert!(header.is_transactional());
    let same = |h: &BatchHeader| {
        (
            h.base_offset,
            h.partition_leader_epoch,
            h.last_offset_delta,
            h.base_timestamp,
        )
    };
    assert_eq!(same(&header), same(&template));
    assert_eq!(header.max_timestamp, BASE_TS + 50);
    assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        (3, 2, 1)
    );
    assert_eq!(header.records_count, 1);
}

#[test]
fn recompression_between_every_pair_of_codecs_preserves_records() {
    let theirs = kp_records(0, 25);
    for from in CODECS {
        let source = kp_encode(&theirs, from);
        let expected = decode_records(&source, MIB).unwrap();
        for to in CODECS {
            let batch = recompress_batch(&source, to, MIB, MIB).unwrap();
            let header = validate(&batch).unwrap();
            assert_eq!(header.compression().unwrap(), to);
            assert_eq!(decode_records(&batch, MIB).unwrap(), expected);
        }
    }
}

#[test]
fn record_timestamps_give_absolute_offsets_and_create_times() {
    let theirs = kp_records(1000, 5);
    let batch = kp_encode(&theirs, Compression::Lz4);
    let got = record_timestamps(&batch, MIB).unwrap();
    let want: Vec<(i64, i64)> = theirs.iter().map(|r| (r.offset, r.timestamp)).collect();
    assert_eq!(got, want);
}

#[test]
fn log_append_time_batches_give_every_record_the_max_timestamp() {
    let mut batch = kp_encode(&kp_records(1000, 5), Compression::Gzip);
    set_log_append_time(&mut batch, 77);
    let got = record_timestamps(&batch, MIB).unwrap();
    assert_eq!(got, (1000..1005).map(|o| (o, 77)).collect::<Vec<_>>());
}

#[test]
fn an_empty_compacted_batch_decodes_to_no_records() {
    let source = kp_encode(&kp_records(0, 1), Compression::Gzip);
    let mut template = BatchHeader::parse(&source).unwrap();
    template.records_count = 0;
    let empty = encode_batch(&template, &[], Compression::None).unwrap();
    assert_eq!(decode_records(&empty, MIB).unwrap(), vec![]);
    // Kafka writes the header alone, keeping the original codec bits.
    let mut header_only = empty[..HEADER_LEN].to_vec();
    header_only[22] |= Compression::Gzip as u8;
    reseal(&mut header_only);
    assert_eq!(decode_records(&header_only, MIB).unwrap(), vec![]);
}

#[test]
fn the_uncompressed_size_cap_applies() {
    let batch = kp_encode(&kp_records(0, 60), Compression::Zstd);
    assert!(matches!(
        decode_records(&batch, 100),
        Err(RecordError::Codec(CodecError::OutputTooLarge {
            limit: 100
        }))
    ));
}

#[test]
fn header_keys_that_are_not_utf8_are_kept_verbatim() {
    let source = build_uncompressed(0, BASE_TS, (-1, -1, -1), &[(None, Some(b"v"))]);
    let template = BatchHeader::parse(&source).unwrap();
    let mut records = decode_records(&source, MIB).unwrap();
    records[0].headers.push(RecordHeader {
        key: Bytes::from_static(b"\xff\xfe"),
        value: Some(Bytes::from_static(b"x")),
    });
    let batch = encode_batch(&template, &records, Compression::Snappy).unwrap();
    let back = decode_records(&batch, MIB).unwrap();
    assert_eq!(back, records);
    assert_eq!(back[0].headers[0].key_str(), None);
}

// ---- malformed input ----

fn reseal(batch: &mut [u8]) {
    let len = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = compute_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// An uncompressed batch claiming `count` records whose payload is exactly `payload`.
fn raw_batch(count: i32, payload: &[u8]) -> Vec<u8> {
    let mut batch = build_uncompressed(0, BASE_TS, (-1, -1, -1), &[(None, None)]);
    batch.truncate(HEADER_LEN);
    batch[57..61].copy_from_slice(&count.to_be_bytes());
    batch.extend_from_slice(payload);
    reseal(&mut batch);
    batch
}

fn record(fields: &[i64], extra: &[u8]) -> Vec<u8> {
    let mut body = vec![0u8]; // attributes
    for f in fields {
        put_varlong(&mut body, *f);
    }
    body.extend_from_slice(extra);
    let mut out = Vec::new();
    put_varlong(&mut out, body.len() as i64);
    out.extend(body);
    out
}

fn malformed(batch: &[u8]) -> MalformedRecord {
    assert!(
        matches!(
            check_records(batch, MIB),
            Err(RecordError::Malformed { .. })
        ),
        "the streaming walk refuses it too"
    );
    match decode_records(batch, MIB) {
        Err(RecordError::Malformed { kind, .. }) => kind,
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

#[test]
fn a_well_formed_hand_built_record_decodes() {
    // ts delta 3, offset delta 0, key "k", value null, one header ("h", null).
    let mut tail = b"k".to_vec();
    put_varlong(&mut tail, -1); // value
    put_varlong(&mut tail, 1); // header count
    put_varlong(&mut tail, 1);
    tail.extend_from_slice(b"h");
    put_varlong(&mut tail, -1);
    let framed = record(&[3, 0, 1], &tail);
    let records = decode_records(&raw_batch(1, &framed), MIB).unwrap();
    assert_eq!(records[0].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(records[0].value, None);
    assert_eq!(records[0].timestamp_delta, 3);
    assert_eq!(records[0].headers[0].key_str(), Some("h"));
    assert_eq!(records[0].headers[0].value, None);
}

#[test]
fn a_record_whose_fields_overrun_or_underrun_its_length_is_rejected() {
    // Fields: ts, offset, key null, value null, headers 0, then a stray byte inside the length.
    let long = record(&[0, 0, -1, -1, 0], &[9]);
    assert!(matches!(
        malformed(&raw_batch(1, &long)),
        MalformedRecord::SizeMismatch { .. }
    ));
    // Declared length one byte short of the fields.
    let mut short = record(&[0, 0, -1, -1, 0], &[]);
    short[0] -= 2; // zig-zag: length - 1
    short.push(0);
    assert_eq!(malformed(&raw_batch(1, &short)), MalformedRecord::Truncated);
}

#[test]
fn bad_lengths_and_counts_are_rejected() {
    let negative_key = record(&[0, 0, -2, -1, 0], &[]);
    assert_eq!(
        malformed(&raw_batch(1, &negative_key)),
        MalformedRecord::Length(-2)
    );
    let huge_key = record(&[0, 0, i64::from(i32::MAX), -1, 0], &[]);
    assert_eq!(
        malformed(&raw_batch(1, &huge_key)),
        MalformedRecord::Truncated
    );
    let negative_headers = record(&[0, 0, -1, -1, -3], &[]);
    assert_eq!(
        malformed(&raw_batch(1, &negative_headers)),
        MalformedRecord::HeaderCount(-3)
    );
    let huge_headers = record(&[0, 0, -1, -1, i64::from(i32::MAX)], &[]);
    assert_eq!(
        malformed(&raw_batch(1, &huge_headers)),
        MalformedRecord::Truncated
    );
    let mut negative_length = Vec::new();
    put_varlong(&mut negative_length, -5);
    assert_eq!(
        malformed(&raw_batch(1, &negative_length)),
        MalformedRecord::Length(-5)
    );
    let too_long = [0xffu8; 12];
    assert_eq!(
        malformed(&raw_batch(1, &too_long)),
        MalformedRecord::VarintTooLong
    );
}

#[test]
fn record_count_must_match_the_records_present() {
    let one = record(&[0, 0, -1, -1, 0], &[]);
    assert_eq!(malformed(&raw_batch(2, &one)), MalformedRecord::Truncated);
    assert_eq!(
        decode_records(&raw_batch(1, &[one.clone(), one.clone()].concat()), MIB),
        Err(RecordError::TrailingBytes(one.len()))
    );
    // A huge count over a tiny compressed payload fails without a huge allocation.
    let mut batch = kp_encode(&kp_records(0, 2), Compression::Zstd);
    batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    reseal(&mut batch);
    assert!(matches!(
        decode_records(&batch, MIB),
        Err(RecordError::Malformed { index: 2, .. })
    ));
    let mut negative = kp_encode(&kp_records(0, 2), Compression::None);
    negative[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    reseal(&mut negative);
    assert!(matches!(
        decode_records(&negative, MIB),
        Err(RecordError::Batch(_))
    ));
}

#[test]
fn batch_level_damage_is_reported_before_decompressing() {
    let mut batch = kp_encode(&kp_records(0, 3), Compression::Gzip);
    let last = batch.len() - 1;
    batch[last] ^= 0x55;
    assert!(matches!(
        decode_records(&batch, MIB),
        Err(RecordError::Batch(BatchError::Crc { .. }))
    ));
    let whole = kp_encode(&kp_records(0, 3), Compression::Gzip);
    assert!(matches!(
        decode_records(&whole[..whole.len() - 1], MIB),
        Err(RecordError::Batch(BatchError::Length(_)))
    ));
    assert!(matches!(
        decode_records(&whole[..20], MIB),
        Err(RecordError::Batch(BatchError::Truncated { .. }))
    ));
    let mut bad_codec = whole.clone();
    bad_codec[22] |= 0x07;
    reseal(&mut bad_codec);
    assert!(matches!(
        decode_records(&bad_codec, MIB),
        Err(RecordError::Batch(BatchError::Codec(7)))
    ));
}

/// The streaming walk (what the produce path runs) accepts exactly the batches the buffered
/// decode accepts, with the same records.
fn assert_walks_agree(batch: &[u8], cap: usize) {
    let decoded = decode_records(batch, cap);
    assert_eq!(
        check_records(batch, cap).ok(),
        decoded.as_ref().ok().map(Vec::len),
        "check_records and decode_records disagree: {decoded:?}"
    );
    let header = BatchHeader::parse(batch);
    let expected = decoded.ok().zip(header.ok()).map(|(records, header)| {
        records
            .iter()
            .map(|r| {
                let offset = header.base_offset + i64::from(r.offset_delta);
                let ts = if header.timestamp_type()
                    == schloss_model::batch::TimestampType::LogAppendTime
                {
                    header.max_timestamp
                } else {
                    header.base_timestamp + r.timestamp_delta
                };
                (offset, ts)
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(record_timestamps(batch, cap).ok(), expected);
}

#[test]
fn the_streaming_walk_agrees_with_the_buffered_decode_on_real_batches() {
    for codec in CODECS {
        assert_walks_agree(&kp_encode(&kp_records(0, 50), codec), MIB);
    }
}

#[test]
fn a_recompressed_batch_over_its_limit_is_refused_while_it_is_written() {
    let source = kp_encode(&kp_records(0, 200), Compression::None);
    let whole = recompress_batch(&source, Compression::Gzip, MIB, MIB).unwrap();
    assert_eq!(
        recompress_batch(&source, Compression::Gzip, MIB, whole.len()).unwrap(),
        whole
    );
    assert!(matches!(
        recompress_batch(&source, Compression::Gzip, MIB, whole.len() - 1),
        Err(RecordError::Codec(CodecError::CompressedTooLarge { .. }))
    ));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_payloads_behind_a_valid_header_never_panic(
            codec in 0usize..5,
            count in -2i32..40,
            payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut batch = raw_batch(count, &payload);
            batch[22] |= CODECS[codec] as u8;
            reseal(&mut batch);
            assert_walks_agree(&batch, 64 * 1024);
        }

        #[test]
        fn mutated_real_batches_never_panic(
            codec in 0usize..5,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut batch = kp_encode(&kp_records(0, 8), CODECS[codec]);
            for (at, byte) in flips {
                let i = HEADER_LEN + at.index(batch.len() - HEADER_LEN);
                batch[i] ^= byte;
            }
            reseal(&mut batch);
            assert_walks_agree(&batch, 64 * 1024);
            let recompressed = recompress_batch(&batch, Compression::Lz4, 64 * 1024, 64 * 1024);
            prop_assert_eq!(recompressed.is_ok(), check_records(&batch, 64 * 1024).is_ok());
        }

        #[test]
        fn random_bytes_as_a_batch_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let _ = decode_records(&data, 4096);
        }
    }
}
