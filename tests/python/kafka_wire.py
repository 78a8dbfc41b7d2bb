"""A few hand-encoded Kafka requests for checks that client libraries hide from us
(which codec a stored batch uses, the ApiVersions fallback on an unknown version) and for the
hostile clients of test_hostile.py (raw record batches, pre-encoded pipelined frames).

Only the fixed, non-flexible request versions are encoded here; this is a test helper, not a
client.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass


class Conn:
    def __init__(self, host: str, port: int, client_id: str = "e2e-wire", timeout: float = 15.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.client_id = client_id.encode()
        self.corr = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by broker")
            buf += chunk
        return buf

    def send(self, api_key: int, api_version: int, body: bytes, flexible_header: bool = False) -> int:
        """Send with request header v1 (v2 if ``flexible_header``: an empty tag buffer is
        added); return the correlation id."""
        self.corr += 1
        self.sock.sendall(frame(api_key, api_version, self.corr, body, self.client_id, flexible_header))
        return self.corr

    def receive(self, corr: int) -> bytes:
        """Read one response; return its body after response header v0."""
        (size,) = struct.unpack(">i", self._recv_exact(4))
        resp = self._recv_exact(size)
        (got,) = struct.unpack(">i", resp[:4])
        assert got == corr, f"correlation id {got} != {corr}"
        return resp[4:]

    def request(self, api_key: int, api_version: int, body: bytes, flexible_header: bool = False) -> bytes:
        return self.receive(self.send(api_key, api_version, body, flexible_header))


def frame(api_key: int, api_version: int, corr: int, body: bytes, client_id: bytes = b"e2e-wire",
          flexible_header: bool = False) -> bytes:
    """One size-prefixed request: header v1 (v2 if ``flexible_header``) and ``body``."""
    header = struct.pack(">hhih", api_key, api_version, corr, len(client_id)) + client_id
    if flexible_header:
        header += b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def split_response(data: bytes | bytearray) -> tuple[int, bytes | bytearray] | None:
    """The first whole response in ``data`` as (frame length incl. prefix, correlation id +
    body), or None if ``data`` does not hold one yet."""
    if len(data) < 4:
        return None
    (size,) = struct.unpack(">i", data[:4])
    if len(data) < 4 + size:
        return None
    return 4 + size, data[4:4 + size]


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        vals = struct.unpack(fmt, self.data[self.pos:self.pos + size])
        self.pos += size
        return vals if len(vals) > 1 else vals[0]

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def bytes_(self) -> bytes | None:
        n = self.take(">i")
        if n < 0:
            return None
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def remaining(self) -> int:
        return len(self.data) - self.pos


def api_versions(conn: Conn, version: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """ApiVersions. v0-v2 have an empty body; v3+ are flexible (client software name and
    version as compact strings). Parses only the error code and the key ranges, whose layout
    is the same in v0-v2 and in the v0-format answer a broker gives to a version it does not
    know (UNSUPPORTED_VERSION)."""
    if version >= 3:
        body = b"\x04e2e" + b"\x021" + b"\x00"
        r = Reader(conn.request(18, version, body, flexible_header=True))
        if version <= 4:
            return _api_versions_flexible(r)
    else:
        r = Reader(conn.request(18, version, b""))
    error = r.take(">h")
    n = r.take(">i")
    apis = {}
    for _ in range(n):
        key, lo, hi = r.take(">hhh")
        apis[key] = (lo, hi)
    return error, apis


def _uvarint(r: Reader) -> int:
    shift = result = 0
    while True:
        b = r.take(">B")
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result
        shift += 7


def _api_versions_flexible(r: Reader):
    error = r.take(">h")
    n = _uvarint(r) - 1
    apis = {}
    for _ in range(n):
        key, lo, hi = r.take(">hhh")
        tags = _uvarint(r)
        assert tags == 0, "unexpected tagged fields in an ApiVersions entry"
        apis[key] = (lo, hi)
    return error, apis


@dataclass
class Batch:
    base_offset: int
    magic: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    record_count: int

    @property
    def codec(self) -> str:
        return {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}[self.attributes & 7]

    @property
    def log_append_time(self) -> bool:
        return bool(self.attributes & 8)


def parse_batches(records: bytes) -> list[Batch]:
    out = []
    pos = 0
    while len(records) - pos >= 61:
        base_offset, batch_len = struct.unpack(">qi", records[pos:pos + 12])
        if pos + 12 + batch_len > len(records):
            break  # partial trailing batch, allowed in fetch responses
        (_epoch, magic, _crc, attrs, lod, bts, mts, pid, _pe, _bs, count) = struct.unpack(
            ">ibIhiqqqhii", records[pos + 12:pos + 61])
        out.append(Batch(base_offset, magic, attrs, lod, bts, mts, pid, count))
        pos += 12 + batch_len
    return out


def fetch_v4_body(topic: str, partition: int, offset: int, max_bytes: int = 1 << 20,
                  max_wait_ms: int = 100, min_bytes: int = 0) -> bytes:
    t = topic.encode()
    body = struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    return body


def fetch_v4_send(conn: Conn, topic: str, partition: int, offset: int, max_bytes: int = 1 << 20,
                  max_wait_ms: int = 100, min_bytes: int = 0) -> int:
    return conn.send(1, 4, fetch_v4_body(topic, partition, offset, max_bytes, max_wait_ms, min_bytes))


def fetch_v4(conn: Conn, topic: str, partition: int, offset: int, max_bytes: int = 1 << 20):
    """Fetch v4 (read_uncommitted). Returns (error_code, high_watermark, batches)."""
    return fetch_v4_receive(conn, fetch_v4_send(conn, topic, partition, offset, max_bytes), topic, partition)


def fetch_v4_receive(conn: Conn, corr: int, topic: str, partition: int):
    return fetch_v4_parse(conn.receive(corr), topic, partition)


def fetch_v4_parse(body: bytes, topic: str, partition: int):
    """(error_code, high_watermark, batches) from a Fetch v4 response body for one partition."""
    r = Reader(body)
    r.take(">i")  # throttle
    assert r.take(">i") == 1
    assert r.string() == topic
    assert r.take(">i") == 1
    part, err, hwm, _lso = r.take(">ihqq")
    assert part == partition
    n_aborted = r.take(">i")
    for _ in range(max(n_aborted, 0)):
        r.take(">qq")
    records = r.bytes_() or b""
    return err, hwm, parse_batches(records)


def _compact_string(r: Reader) -> str | None:
    n = _uvarint(r) - 1
    if n < 0:
        return None
    s = r.data[r.pos:r.pos + n].decode()
    r.pos += n
    return s


def _skip_tags(r: Reader) -> None:
    for _ in range(_uvarint(r)):
        _uvarint(r)  # tag
        r.pos += _uvarint(r)  # size, then skip the value


def metadata_v12_by_id(conn: Conn, topic_id: bytes, name: str | None) -> list[tuple[int, str | None, bytes, int]]:
    """Metadata v12 asking for one topic by id, with the name field set to ``name`` (None is
    encoded as a null string, "" as an empty one, which is what the Java client sends).
    Returns [(error_code, name, topic_id, partition_count)] from the response."""
    if name is None:
        name_enc = b"\x00"
    else:
        nb = name.encode()
        name_enc = bytes([len(nb) + 1]) + nb
    body = b"\x02" + topic_id + name_enc + b"\x00"  # 1 topic: id, name, no tags
    body += b"\x00" + b"\x00" + b"\x00"  # allow_auto_topic_creation, include_topic_authorized_operations, tags
    r = Reader(conn.request(3, 12, body, flexible_header=True))
    _skip_tags(r)  # response header v1
    r.take(">i")  # throttle
    for _ in range(_uvarint(r) - 1):  # brokers
        r.take(">i")
        _compact_string(r)
        r.take(">i")
        _compact_string(r)
        _skip_tags(r)
    _compact_string(r)  # cluster id
    r.take(">i")  # controller id
    out = []
    for _ in range(_uvarint(r) - 1):
        err = r.take(">h")
        tname = _compact_string(r)
        tid = r.data[r.pos:r.pos + 16]
        r.pos += 16
        r.take(">b")  # is_internal
        nparts = _uvarint(r) - 1
        for _ in range(max(nparts, 0)):
            r.take(">hiii")  # error, index, leader, leader epoch
            for _ in range(3):  # replicas, isr, offline
                r.pos += 4 * (_uvarint(r) - 1)
            _skip_tags(r)
        r.take(">i")  # topic authorized operations
        _skip_tags(r)
        out.append((err, tname, tid, nparts))
    return out


def list_offsets_v9(conn: Conn, topic: str, partition: int, timestamp: int,
                    isolation_level: int = 0) -> tuple[int, int, int, int]:
    """ListOffsets v9 (flexible) for one partition.
    Returns (error_code, timestamp, offset, leader_epoch)."""
    t = topic.encode()
    body = struct.pack(">ib", -1, isolation_level)
    body += b"\x02" + bytes([len(t) + 1]) + t  # 1 topic, compact name
    body += b"\x02" + struct.pack(">iiq", partition, -1, timestamp) + b"\x00"  # 1 partition, tags
    body += b"\x00" + b"\x00"  # topic tags, request tags
    r = Reader(conn.request(2, 9, body, flexible_header=True))
    _skip_tags(r)  # response header v1
    r.take(">i")  # throttle
    assert _uvarint(r) - 1 == 1
    assert _compact_string(r) == topic
    assert _uvarint(r) - 1 == 1
    idx, err, ts, off, epoch = r.take(">ihqqi")
    assert idx == partition
    return err, ts, off, epoch


def build_batch(values: list[bytes], codec: int = 0, ts: int | None = None,
                producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1) -> bytes:
    """A v2 record batch (base offset 0) built with kafka-python's encoder."""
    import time as _time

    from kafka.record.default_records import DefaultRecordBatchBuilder

    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                  producer_id=producer_id, producer_epoch=producer_epoch,
                                  base_sequence=base_sequence, batch_size=1 << 30)
    now = ts if ts is not None else int(_time.time() * 1000)
    for i, v in enumerate(values):
        b.append(i, timestamp=now, key=None, value=v, headers=[])
    return bytes(b.build())


def raw_batch(records: bytes, records_count: int, codec: int = 0, ts: int | None = None) -> bytes:
    """A v2 record batch (base offset 0, no producer id) around ``records`` taken as they are:
    already compressed with ``codec`` or not, valid or hostile. The header is consistent with
    ``records_count`` and the CRC-32C is correct, so only the payload can be wrong."""
    import time as _time

    import crc32c

    now = ts if ts is not None else int(_time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", codec, records_count - 1, now, now, -1, -1, -1,
                            records_count) + records
    crc = crc32c.crc32c(after_crc)
    after_length = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def produce_v3_body(topic: str, partition: int, batch: bytes, acks: int = -1,
                    timeout_ms: int = 10000) -> bytes:
    t = topic.encode()
    body = struct.pack(">hhi", -1, acks, timeout_ms)
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(batch)) + batch
    return body


def produce_v3_parse(body: bytes, topic: str, partition: int) -> tuple[int, int]:
    """(error_code, base_offset) from a Produce v3 response body for one partition."""
    r = Reader(body)
    assert r.take(">i") == 1
    assert r.string() == topic
    assert r.take(">i") == 1
    idx, err, base, _log_append_time = r.take(">ihqq")
    assert idx == partition
    return err, base


def produce_v3(conn: Conn, topic: str, partition: int, batch: bytes, acks: int = -1,
               timeout_ms: int = 10000):
    """Produce v3. With acks=0 the broker must not answer: returns None without reading.
    Otherwise returns (error_code, base_offset)."""
    body = produce_v3_body(topic, partition, batch, acks, timeout_ms)
    if acks == 0:
        conn.corr += 1
        conn.sock.sendall(frame(0, 3, conn.corr, body, conn.client_id))
        return None
    return produce_v3_parse(conn.request(0, 3, body), topic, partition)


def init_producer_id_v1(conn: Conn) -> tuple[int, int, int]:
    """InitProducerId v1 without a transactional id. Returns (error, producer_id, epoch)."""
    body = struct.pack(">hi", -1, 60000)
    r = Reader(conn.request(22, 1, body))
    r.take(">i")  # throttle
    err, pid, epoch = r.take(">hqh")
    return err, pid, epoch
