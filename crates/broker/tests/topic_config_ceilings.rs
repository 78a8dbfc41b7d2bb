//! No topic config value a client may set raises an allocation bound above the broker's
//! ceiling: property-tested over every key, hostile values, and arbitrary ceilings, both for
//! values that pass validation and for values stored without it (a ceiling lowered after they
//! were set), which the effective getters must still clamp.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;
use schloss_broker::topic_config::{
    validate, BrokerDefaults, EffectiveConfig, TopicCeilings, TOPIC_CONFIG_KEYS,
};
use schloss_model::batch::Compression;
use schloss_protocol::records::batch_memory;
use std::collections::BTreeMap;

fn ceilings() -> impl Strategy<Value = TopicCeilings> {
    (
        1usize..=(1 << 31),
        1usize..=(1 << 34),
        1i64..=i64::from(i32::MAX),
        1i64..=(1 << 40),
    )
        .prop_map(|(mmb, unc, seg_bytes, seg_ms)| TopicCeilings {
            max_message_bytes: mmb,
            max_uncompressed_batch_bytes: unc,
            min_segment_bytes: seg_bytes,
            min_segment_ms: seg_ms,
        })
}

/// What a client might send: extremes, numbers of every size, and text that is not a number.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (0i64..=(1 << 32)).prop_map(|v| v.to_string()),
        prop::sample::select(vec![
            "2147483647",
            "-2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "0",
            "-1",
            "1",
            " 1048588",
            "1e9",
            "",
            "producer",
            "zstd",
            "LogAppendTime",
            "true",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
    ]
}

fn settings() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (0..TOPIC_CONFIG_KEYS.len(), value())
            .prop_map(|(k, v)| (TOPIC_CONFIG_KEYS[k].name.to_owned(), v)),
        0..12,
    )
}

/// Every bound the broker derives from a topic's configuration lies within its ceilings.
fn assert_bounded(eff: &EffectiveConfig, c: &TopicCeilings) -> Result<(), TestCaseError> {
    prop_assert!(eff.max_message_bytes() <= c.max_message_bytes);
    prop_assert!(eff.decompression_cap() <= c.max_uncompressed_batch_bytes);
    let log = eff.log_config();
    prop_assert!(log.segment_bytes >= u64::try_from(c.min_segment_bytes).unwrap_or(0));
    prop_assert!(log.segment_ms >= c.min_segment_ms);
    // The produce path's working memory for the worst payloads a client can declare: a raw
    // snappy block claiming 4 GiB of output, and a zstd frame claiming a 2 GiB window.
    let cap = eff.decompression_cap();
    let snappy = batch(Compression::Snappy, &[0xff, 0xff, 0xff, 0xff, 0x0f]);
    let zstd = batch(Compression::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3]);
    for b in [snappy, zstd] {
        if let Ok(memory) =
            batch_memory(&b, cap, Some((Compression::Zstd, eff.max_message_bytes())))
        {
            // read buffer + (the block or window: at most the cap, or zstd's 128 MiB window
            // floor of 8 MiB) + encoder + its capped output.
            let decoder = cap.clamp(8 << 20, 128 << 20) + (512 << 10);
            prop_assert!(
                memory <= (64 << 10) + decoder.max(cap) + (4 << 20) + c.max_message_bytes,
                "{memory} bytes for a cap of {cap}"
            );
        }
    }
    Ok(())
}

/// A one-record batch header around a raw payload compressed with `codec`.
fn batch(codec: Compression, payload: &[u8]) -> Vec<u8> {
    let mut b = schloss_model::batch::build_uncompressed(0, 0, (-1, -1, -1), &[(None, None)]);
    b.truncate(schloss_model::batch::HEADER_LEN);
    b[22] = (b[22] & !0x07) | codec as u8;
    b.extend_from_slice(payload);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = schloss_model::batch::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn accepted_topic_configs_stay_within_the_broker_ceilings(
        c in ceilings(),
        defaults in settings(),
        overrides in settings(),
    ) {
        let accepted = |pairs: Vec<(String, String)>| -> BTreeMap<String, String> {
            pairs.into_iter().filter(|(k, v)| validate(k, v, &c).is_ok()).collect()
        };
        let defaults = BrokerDefaults::new(accepted(defaults), c).unwrap();
        let overrides = accepted(overrides);
        if let Some(v) = overrides.get("max.message.bytes") {
            prop_assert!(v.trim().parse::<usize>().unwrap() <= c.max_message_bytes);
        }
        let eff = EffectiveConfig { overrides: &overrides, defaults: &defaults };
        assert_bounded(&eff, &c)?;
    }

    #[test]
    fn values_stored_without_validation_are_clamped_where_they_are_used(
        c in ceilings(),
        overrides in settings(),
    ) {
        let defaults = BrokerDefaults::new(BTreeMap::new(), c).unwrap();
        let overrides: BTreeMap<String, String> = overrides.into_iter().collect();
        let eff = EffectiveConfig { overrides: &overrides, defaults: &defaults };
        assert_bounded(&eff, &c)?;
    }
}
