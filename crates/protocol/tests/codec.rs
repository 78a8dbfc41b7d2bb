//! Codec round trips, interop with the framings real Kafka clients write, and capped output.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{self as kp, Compressor, Decompressor};
use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
use schloss_protocol::codec::{compress, decompress, CodecError, Compression};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const MIB: usize = 1024 * 1024;

/// Half compressible text, half pseudo-random bytes, so blocks hit both encoder paths.
fn sample(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|i| {
            if (i / 1000) % 2 == 0 {
                b"the quick brown fox jumps over the lazy dog "[i % 44]
            } else {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            }
        })
        .collect()
}

#[test]
fn every_codec_round_trips_small_and_multi_block_inputs() {
    for codec in CODECS {
        for len in [0, 1, 100, 32 * 1024, 64 * 1024 + 1, 300_000] {
            let input = sample(len);
            let packed = compress(codec, &input).unwrap();
            let unpacked = decompress(codec, &packed, len).unwrap();
            assert_eq!(unpacked, input, "{} with {len} bytes", codec.name());
        }
    }
}

#[test]
fn output_exactly_at_the_cap_is_allowed_and_one_byte_over_is_not() {
    let input = sample(100_000);
    for codec in CODECS {
        let packed = compress(codec, &input).unwrap();
        assert!(decompress(codec, &packed, input.len()).is_ok());
        assert_eq!(
            decompress(codec, &packed, input.len() - 1),
            Err(CodecError::OutputTooLarge {
                limit: input.len() - 1
            }),
            "{}",
            codec.name()
        );
    }
}

/// kafka-protocol's own codecs: flate2, snap in xerial framing, liblz4 (the C library that
/// librdkafka uses) and libzstd.
fn kafka_protocol_compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let fill = |tmp: &mut BytesMut| -> anyhow::Result<()> {
        tmp.put_slice(data);
        Ok(())
    };
    match codec {
        Compression::Gzip => kp::Gzip::compress(&mut out, fill).unwrap(),
        Compression::Snappy => kp::Snappy::compress(&mut out, fill).unwrap(),
        Compression::Lz4 => kp::Lz4::compress(&mut out, fill).unwrap(),
        Compression::Zstd => kp::Zstd::compress(&mut out, fill).unwrap(),
        Compression::None => out.put_slice(data),
    }
    out.to_vec()
}

fn kafka_protocol_decompress(codec: Compression, data: &[u8]) -> Vec<u8> {
    let mut input = Bytes::copy_from_slice(data);
    let take = |b: &mut Bytes| -> anyhow::Result<Vec<u8>> { Ok(b.to_vec()) };
    match codec {
        Compression::Gzip => kp::Gzip::decompress(&mut input, take).unwrap(),
        Compression::Snappy => kp::Snappy::decompress(&mut input, take).unwrap(),
        Compression::Lz4 => kp::Lz4::decompress(&mut input, take).unwrap(),
        Compression::Zstd => kp::Zstd::decompress(&mut input, take).unwrap(),
        Compression::None => data.to_vec(),
    }
}

#[test]
fn other_implementations_read_what_we_write_and_we_read_theirs() {
    let input = sample(200_000);
    for codec in CODECS {
        let theirs = kafka_protocol_compress(codec, &input);
        assert_eq!(
            decompress(codec, &theirs, MIB).unwrap(),
            input,
            "{}",
            codec.name()
        );
        let ours = compress(codec, &input).unwrap();
        assert_eq!(
            kafka_protocol_decompress(codec, &ours),
            input,
            "{}",
            codec.name()
        );
    }
}

#[test]
fn gzip_concatenated_members_decode_as_one_stream() {
    let mut stream = Vec::new();
    for part in [&b"first member "[..], b"second member"] {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(part).unwrap();
        stream.extend(encoder.finish().unwrap());
    }
    let out = decompress(Compression::Gzip, &stream, 1024).unwrap();
    assert_eq!(out, b"first member second member");
}

fn xerial(blocks: &[&[u8]]) -> Vec<u8> {
    let mut out = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01".to_vec();
    for block in blocks {
        let raw = snap::raw::Encoder::new().compress_vec(block).unwrap();
        out.extend_from_slice(&(raw.len() as i32).to_be_bytes());
        out.extend_from_slice(&raw);
    }
    out
}

#[test]
fn snappy_writes_the_java_clients_xerial_header() {
    let packed = compress(Compression::Snappy, b"hello").unwrap();
    assert_eq!(&packed[..16], b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01");
}

#[test]
fn snappy_reads_xerial_blocks_raw_snappy_and_concatenated_streams() {
    let data = sample(70_000);
    let (a, b) = data.split_at(32 * 1024);
    let framed = xerial(&[a, b]);
    assert_eq!(decompress(Compression::Snappy, &framed, MIB).unwrap(), data);

    let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
    assert_eq!(decompress(Compression::Snappy, &raw, MIB).unwrap(), data);

    let mut twice = xerial(&[b"one "]);
    twice.extend(xerial(&[b"two"]));
    assert_eq!(
        decompress(Compression::Snappy, &twice, 64).unwrap(),
        b"one two"
    );
}

#[test]
fn snappy_block_length_is_checked_against_the_cap_before_allocating() {
    // A raw block whose preamble claims 4 GiB - 1 of output.
    let raw = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    assert_eq!(
        decompress(Compression::Snappy, &raw, MIB),
        Err(CodecError::OutputTooLarge { limit: MIB })
    );
    let mut framed = xerial(&[]);
    framed.extend_from_slice(&(raw.len() as i32).to_be_bytes());
    framed.extend_from_slice(&raw);
    assert_eq!(
        decompress(Compression::Snappy, &framed, MIB),
        Err(CodecError::OutputTooLarge { limit: MIB })
    );
}

#[test]
fn snappy_rejects_bad_block_lengths() {
    for tail in [&[0xff, 0xff, 0xff, 0xff][..], &[0, 0, 0, 9, 1], &[0, 0]] {
        let mut framed = xerial(&[b"abc"]);
        framed.extend_from_slice(tail);
        assert!(matches!(
            decompress(Compression::Snappy, &framed, MIB),
            Err(CodecError::Corrupt {
                codec: "snappy",
                ..
            })
        ));
    }
}

fn lz4_frame(info: FrameInfo, data: &[u8]) -> Vec<u8> {
    let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn lz4_reads_frames_with_every_flag_combination() {
    let data = sample(600_000);
    for block_size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max4MB] {
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for checksums in [false, true] {
                for content_size in [None, Some(data.len() as u64)] {
                    let mut info = FrameInfo::new()
                        .block_size(block_size)
                        .block_mode(mode)
                        .block_checksums(checksums)
                        .content_checksum(checksums);
                    info.content_size = content_size;
                    let frame = lz4_frame(info, &data);
                    let out = decompress(Compression::Lz4, &frame, MIB).unwrap();
                    assert_eq!(
                        out, data,
                        "{block_size:?} {mode:?} {checksums} {content_size:?}"
                    );
                }
            }
        }
    }
}

/// The frame Kafka's `Lz4BlockOutputStream` writes: FLG 0x60 (version 1, independent blocks),
/// BD 0x40 (64 KiB), blocks that do not shrink stored uncompressed (high bit of the size),
/// and an end mark.
#[test]
fn lz4_reads_the_java_clients_frame_with_an_uncompressed_block() {
    let header = lz4_frame(
        FrameInfo::new()
            .block_size(BlockSize::Max64KB)
            .block_mode(BlockMode::Independent),
        b"",
    );
    assert_eq!(&header[..6], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
    let mut frame = header[..7].to_vec();
    let text = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".repeat(20);
    let compressed = lz4_flex::block::compress(&text);
    frame.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
    frame.extend_from_slice(&compressed);
    let stored = sample(3000);
    frame.extend_from_slice(&(stored.len() as u32 | 0x8000_0000).to_le_bytes());
    frame.extend_from_slice(&stored);
    frame.extend_from_slice(&0u32.to_le_bytes());

    let out = decompress(Compression::Lz4, &frame, MIB).unwrap();
    assert_eq!(out, [text, stored].concat());
}

#[test]
fn lz4_decodes_concatenated_frames_and_rejects_trailing_garbage() {
    let mut two = compress(Compression::Lz4, b"left ").unwrap();
    two.extend(compress(Compression::Lz4, b"right").unwrap());
    assert_eq!(
        decompress(Compression::Lz4, &two, 64).unwrap(),
        b"left right"
    );

    let mut junk = compress(Compression::Lz4, b"left").unwrap();
    junk.extend_from_slice(b"junk");
    assert!(decompress(Compression::Lz4, &junk, 64).is_err());
}

#[test]
fn zstd_reads_streamed_frames_without_content_size_and_concatenated_frames() {
    let data = sample(900_000);
    // zstd-jni's ZstdOutputStream streams without a pledged size, at the producer's level.
    for level in [1, 3, 19] {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
        encoder.include_contentsize(false).unwrap();
        encoder.write_all(&data).unwrap();
        let frame = encoder.finish().unwrap();
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&frame),
            Ok(None)
        ));
        assert_eq!(decompress(Compression::Zstd, &frame, MIB).unwrap(), data);
    }
    let mut two = zstd::bulk::compress(b"one ", 3).unwrap();
    two.extend(zstd::bulk::compress(b"two", 3).unwrap());
    assert_eq!(decompress(Compression::Zstd, &two, 64).unwrap(), b"one two");
}

/// A zstd frame of `blocks` RLE blocks of 128 KiB zero bytes each, four bytes per block.
fn zstd_rle_bomb(blocks: usize, content_size: Option<u64>) -> Vec<u8> {
    let mut out = 0xfd2f_b528u32.to_le_bytes().to_vec();
    match content_size {
        // Single segment, 8-byte content size: the window is the content size.
        Some(size) => {
            out.push(0xe0);
            out.extend_from_slice(&size.to_le_bytes());
        }
        // Window descriptor for a 1 MiB window, no content size.
        None => out.extend_from_slice(&[0x00, 0x50]),
    }
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((128 * 1024) << 3); // RLE block of 128 KiB
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

#[test]
fn a_zstd_bomb_expanding_past_10_gib_fails_fast_with_bounded_output() {
    let blocks = 10 * 1024 * 8 + 1; // 10 GiB / 128 KiB, plus one
    let bomb = zstd_rle_bomb(blocks, None);
    assert!(bomb.len() < 400 * 1024);
    let started = Instant::now();
    assert_eq!(
        decompress(Compression::Zstd, &bomb, MIB),
        Err(CodecError::OutputTooLarge { limit: MIB })
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Sanity: the same construction decodes when it fits.
    let small = zstd_rle_bomb(2, None);
    assert_eq!(
        decompress(Compression::Zstd, &small, MIB).unwrap(),
        vec![0; 256 * 1024]
    );
}

#[test]
fn a_zstd_frame_claiming_10_gib_is_refused_before_decoding() {
    let bomb = zstd_rle_bomb(8, Some(10 << 30));
    assert!(bomb.len() < 1024);
    assert_eq!(
        decompress(Compression::Zstd, &bomb, MIB),
        Err(CodecError::OutputTooLarge { limit: MIB })
    );
}

#[test]
fn a_gzip_bomb_fails_fast_with_bounded_output() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; MIB];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 128 * 1024);
    let started = Instant::now();
    assert_eq!(
        decompress(Compression::Gzip, &bomb, MIB),
        Err(CodecError::OutputTooLarge { limit: MIB })
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn lz4_and_snappy_bombs_hit_the_cap() {
    let zeros = vec![0u8; 8 * MIB];
    for codec in [Compression::Lz4, Compression::Snappy] {
        let bomb = compress(codec, &zeros).unwrap();
        assert!(bomb.len() < MIB / 2);
        assert_eq!(
            decompress(codec, &bomb, MIB),
            Err(CodecError::OutputTooLarge { limit: MIB })
        );
    }
}

#[test]
fn truncated_streams_are_errors_not_short_output() {
    let input = sample(50_000);
    for codec in [
        Compression::Gzip,
        Compression::Lz4,
        Compression::Zstd,
        Compression::Snappy,
    ] {
        let packed = compress(codec, &input).unwrap();
        let cut = &packed[..packed.len() - 5];
        assert!(decompress(codec, cut, MIB).is_err(), "{}", codec.name());
    }
}

#[test]
fn empty_input_decodes_to_nothing() {
    for codec in CODECS {
        assert_eq!(decompress(codec, b"", 0).unwrap(), Vec::<u8>::new());
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn random_bytes_never_panic_or_exceed_the_cap(
            codec in 0usize..5,
            data in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            if let Ok(out) = decompress(CODECS[codec], &data, 4096) {
                prop_assert!(out.len() <= 4096);
            }
        }

        #[test]
        fn mutated_valid_streams_never_panic(
            codec in 0usize..5,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut packed = compress(CODECS[codec], &sample(5000)).unwrap();
            for (at, byte) in flips {
                let i = at.index(packed.len());
                packed[i] ^= byte;
            }
            if let Ok(out) = decompress(CODECS[codec], &packed, 8192) {
                prop_assert!(out.len() <= 8192);
            }
        }
    }
}

#[test]
fn legacy_lz4_frames_are_refused_before_their_8_mib_buffers() {
    // Found by the record_batch fuzz target: lz4_flex decodes the legacy frame format (magic
    // 0x184C2102, 8 MiB blocks), which no Kafka client writes; its buffers would pass the
    // working memory reported for LZ4.
    let mut legacy = vec![0x02, 0x21, 0x4c, 0x18];
    legacy.extend_from_slice(&16u32.to_le_bytes());
    legacy.extend_from_slice(&[0u8; 16]);
    assert!(matches!(
        decompress(Compression::Lz4, &legacy, MIB),
        Err(CodecError::Corrupt { .. })
    ));
}
