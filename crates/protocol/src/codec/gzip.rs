//! gzip: one or more GZIP members (RFC 1952), as `java.util.zip.GZIPOutputStream` writes them.

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::CappedWriter;

/// zlib's default level, which Kafka's `compression.gzip.level=-1` selects.
const LEVEL: u32 = 6;

/// Inflate state with its 32 KiB window, and the decoder's 32 KiB input buffer.
pub(super) const WORKING_MEMORY: usize = 128 * 1024;
/// Deflate at level 6: a 32 KiB window (doubled), hash chains and the pending buffer.
pub(super) const ENCODER_MEMORY: usize = 512 * 1024;

pub(super) fn reader(input: &[u8]) -> MultiGzDecoder<&[u8]> {
    MultiGzDecoder::new(input)
}

pub(super) fn writer(out: CappedWriter) -> GzEncoder<CappedWriter> {
    GzEncoder::new(out, flate2::Compression::new(LEVEL))
}
