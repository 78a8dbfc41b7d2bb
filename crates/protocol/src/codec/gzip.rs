//! gzip: one or more GZIP members (RFC 1952), as `java.util.zip.GZIPOutputStream` writes them.

use std::io::Write;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{CappedVec, CodecError, Compression};

/// zlib's default level, which Kafka's `compression.gzip.level=-1` selects.
const LEVEL: u32 = 6;

pub(super) fn decompress(input: &[u8], out: &mut CappedVec) -> Result<(), CodecError> {
    out.read_from(MultiGzDecoder::new(input), Compression::Gzip)
}

pub(super) fn compress(input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let fail = |e: std::io::Error| CodecError::compress(Compression::Gzip, e);
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::new(LEVEL));
    encoder.write_all(input).map_err(fail)?;
    encoder.finish().map_err(fail)
}
