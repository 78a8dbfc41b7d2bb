"""Protocol checks that client libraries do not expose, with hand-encoded requests
(kafka_wire.py). Records are produced with kafka-python."""

from __future__ import annotations

import time

import pytest

kafka = pytest.importorskip("kafka")

from kafka import KafkaAdminClient, KafkaProducer  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd  # noqa: E402

import kafka_wire as wire  # noqa: E402

# What schloss advertises (Kafka 4.x ranges); see the project brief / broker handlers.
ADVERTISED = {
    18: (0, 4),   # ApiVersions
    3: (0, 13),   # Metadata
    19: (2, 7),   # CreateTopics
    20: (1, 6),   # DeleteTopics
    37: (0, 3),   # CreatePartitions
    0: (3, 13),   # Produce
    1: (4, 18),   # Fetch
    2: (1, 10),   # ListOffsets
    23: (2, 4),   # OffsetForLeaderEpoch
    21: (0, 2),   # DeleteRecords
    32: (1, 4),   # DescribeConfigs
    33: (0, 2),   # AlterConfigs
    44: (0, 1),   # IncrementalAlterConfigs
    60: (0, 2),   # DescribeCluster
    75: (0, 0),   # DescribeTopicPartitions
    22: (0, 5),   # InitProducerId
}

AVAILABLE_CODECS = [c for c, ok in (("none", True), ("gzip", has_gzip()), ("snappy", has_snappy()),
                                    ("lz4", has_lz4()), ("zstd", has_zstd())) if ok]


@pytest.mark.parametrize("version", [0, 1, 2, 3, 4])
def test_api_versions_each_version(broker, version):
    with wire.Conn(broker.host, broker.port) as c:
        err, apis = wire.api_versions(c, version)
    assert err == 0
    for key, rng in ADVERTISED.items():
        assert apis.get(key) == rng, f"api key {key}: {apis.get(key)} != {rng}"


def test_api_versions_unknown_version_falls_back(broker):
    """Kafka answers an ApiVersions version it does not know with a v0-format response:
    UNSUPPORTED_VERSION (35) plus its ranges, and keeps the connection open so the client
    can retry with a version from that list (Java's NetworkClient does exactly this)."""
    with wire.Conn(broker.host, broker.port) as c:
        err, apis = wire.api_versions(c, 9)
        assert err == 35
        assert apis.get(18) == (0, 4)
        err, apis = wire.api_versions(c, 4)
        assert err == 0 and apis.get(18) == (0, 4)


def _produce(broker, topic, codec, n=30):
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=None if codec == "none" else codec,
                      linger_ms=50, batch_size=1 << 20, acks="all")
    try:
        ts0 = int(time.time() * 1000) - 60_000
        futs = [p.send(topic, key=b"k%d" % i, value=b"value %d " % i * 20, partition=0, timestamp_ms=ts0 + i)
                for i in range(n)]
        p.flush(timeout=20)
        for f in futs:
            f.get(timeout=20)
    finally:
        p.close(timeout=5)


def _create(broker, topic, configs=None):
    adm = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        adm.create_topics([NewTopic(topic, 1, 1, topic_configs=configs or {})])
    finally:
        adm.close()


@pytest.mark.parametrize("codec", AVAILABLE_CODECS)
def test_stored_batches_keep_producer_codec(broker, topic_name, codec):
    """compression.type=producer (the default): batches are stored as the producer sent them."""
    topic = topic_name()
    _create(broker, topic)
    _produce(broker, topic, codec)
    with wire.Conn(broker.host, broker.port) as c:
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 0)
    assert (err, hwm) == (0, 30)
    assert batches, "no batches fetched"
    assert {b.codec for b in batches} == {codec}
    assert all(b.magic == 2 for b in batches)
    assert sum(b.record_count for b in batches) == 30
    assert batches[0].base_offset == 0
    for prev, nxt in zip(batches, batches[1:]):
        assert nxt.base_offset == prev.base_offset + prev.last_offset_delta + 1


@pytest.mark.parametrize("topic_codec", ["uncompressed", "gzip", "snappy", "lz4", "zstd"])
def test_topic_compression_type_is_what_is_stored(broker, topic_name, topic_codec):
    """compression.type=<codec>: the broker stores batches in that codec whatever the
    producer used (Kafka recompresses on the produce path)."""
    topic = topic_name()
    _create(broker, topic, {"compression.type": topic_codec})
    producer_codec = "gzip" if topic_codec != "gzip" else ("lz4" if has_lz4() else "none")
    if producer_codec not in AVAILABLE_CODECS:
        pytest.skip(f"{producer_codec} not available in kafka-python here")
    _produce(broker, topic, producer_codec)
    with wire.Conn(broker.host, broker.port) as c:
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 0)
    assert (err, hwm) == (0, 30)
    expected = "none" if topic_codec == "uncompressed" else topic_codec
    assert {b.codec for b in batches} == {expected}
    assert sum(b.record_count for b in batches) == 30


def test_fetch_out_of_range(broker, topic_name):
    topic = topic_name()
    _create(broker, topic)
    _produce(broker, topic, "none", n=3)
    with wire.Conn(broker.host, broker.port) as c:
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 4)
        assert err == 1  # OFFSET_OUT_OF_RANGE
        assert batches == []
        # At the log end: no error, no data.
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 3)
        assert (err, hwm, batches) == (0, 3, [])


@pytest.mark.parametrize("name_field", [None, ""], ids=["null-name", "empty-name"])
def test_metadata_by_topic_id(broker, topic_name, name_field):
    """Metadata v12+ by topic id. Kafka looks topics up by id whenever a non-zero id is given
    and ignores the name field; the Java client (4.x Admin.describeTopics(TopicCollection.ofTopicIds))
    sends the name as an empty string, not null."""
    import uuid
    topic = topic_name()
    adm = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        res = adm.create_topics([NewTopic(topic, 2, 1)])
    finally:
        adm.close()
    tid = uuid.UUID(str(res["topics"][0]["topic_id"])).bytes
    with wire.Conn(broker.host, broker.port) as c:
        topics = wire.metadata_v12_by_id(c, tid, name_field)
        assert topics == [(0, topic, tid, 2)]
        # Unknown id: UNKNOWN_TOPIC_ID (100), echoing the id.
        unknown = uuid.uuid4().bytes
        ((err, _name, got_id, _n),) = wire.metadata_v12_by_id(c, unknown, name_field)
        assert (err, got_id) == (100, unknown)


def test_list_offsets_special_timestamps(broker, topic_name):
    """ListOffsets' special timestamps (Kafka's ListOffsetsRequest constants):
    -1 latest, -2 earliest, -3 max timestamp, -4 earliest local (= log start offset without
    tiered storage), -5 latest tiered (offset -1 without tiered storage)."""
    topic = topic_name()
    _create(broker, topic)
    _produce(broker, topic, "none", n=10)
    adm = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        from kafka import TopicPartition
        adm.delete_records({TopicPartition(topic, 0): 3})
    finally:
        adm.close()
    with wire.Conn(broker.host, broker.port) as c:
        assert wire.list_offsets_v9(c, topic, 0, -1)[:3] == (0, -1, 10)
        assert wire.list_offsets_v9(c, topic, 0, -2)[:3] == (0, -1, 3)
        err, ts, off, _ = wire.list_offsets_v9(c, topic, 0, -3)
        assert (err, off) == (0, 9) and ts > 0
        assert wire.list_offsets_v9(c, topic, 0, -4)[:3] == (0, -1, 3)
        assert wire.list_offsets_v9(c, topic, 0, -5)[:3] == (0, -1, -1)


def test_produce_acks0_gets_no_response(broker, topic_name):
    """acks=0: the broker appends but sends no response; the next request's response is the
    next thing on the wire (Conn.request checks the correlation id)."""
    topic = topic_name()
    _create(broker, topic)
    with wire.Conn(broker.host, broker.port) as c:
        for i in range(3):
            assert wire.produce_v3(c, topic, 0, wire.build_batch([b"a%d" % i, b"b%d" % i]), acks=0) is None
        err, apis = wire.api_versions(c, 2)
        assert err == 0
        # acks=1 after them: offsets continue after the 6 unacknowledged records.
        assert wire.produce_v3(c, topic, 0, wire.build_batch([b"c"]), acks=1) == (0, 6)


def test_produce_errors_keep_connection(broker, topic_name):
    topic = topic_name()
    _create(broker, topic)
    with wire.Conn(broker.host, broker.port) as c:
        good = wire.build_batch([b"x", b"y"])
        # Corrupt CRC (flip a byte inside the CRC-covered part): CORRUPT_MESSAGE (2).
        bad = bytearray(good)
        bad[-1] ^= 0xFF
        assert wire.produce_v3(c, topic, 0, bytes(bad))[0] == 2
        # Partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION (3).
        assert wire.produce_v3(c, topic, 7, good)[0] == 3
        # The connection is still usable and nothing was appended by the failures.
        assert wire.produce_v3(c, topic, 0, good) == (0, 0)
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 0)
        assert (err, hwm) == (0, 2)


def test_fetch_returns_oversized_first_batch(broker, topic_name):
    """KIP-74: the first batch is returned whole even when larger than the fetch limits, so a
    consumer can always make progress."""
    topic = topic_name()
    _create(broker, topic)
    big = bytes(range(256)) * 1200  # ~300 KB, one record, uncompressed
    with wire.Conn(broker.host, broker.port) as c:
        assert wire.produce_v3(c, topic, 0, wire.build_batch([big])) == (0, 0)
        assert wire.produce_v3(c, topic, 0, wire.build_batch([b"small"])) == (0, 1)
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 0, max_bytes=1024)
    assert (err, hwm) == (0, 2)
    assert len(batches) == 1 and batches[0].base_offset == 0 and batches[0].record_count == 1


def test_idempotent_produce_duplicates_and_gaps(broker, topic_name):
    """Idempotent producer semantics (KIP-98): a retried batch (same producer id, epoch and
    sequence) is not appended again and is acknowledged with its original offset; a sequence
    gap is OUT_OF_ORDER_SEQUENCE_NUMBER (45)."""
    topic = topic_name()
    _create(broker, topic)
    with wire.Conn(broker.host, broker.port) as c:
        err, pid, epoch = wire.init_producer_id_v1(c)
        assert err == 0 and pid >= 0 and epoch >= 0

        def batch(seq, values):
            return wire.build_batch(values, producer_id=pid, producer_epoch=epoch, base_sequence=seq)

        assert wire.produce_v3(c, topic, 0, batch(0, [b"a", b"b"])) == (0, 0)
        assert wire.produce_v3(c, topic, 0, batch(2, [b"c"])) == (0, 2)
        # Retry of the first batch: same offsets back, nothing appended.
        assert wire.produce_v3(c, topic, 0, batch(0, [b"a", b"b"])) == (0, 0)
        assert wire.produce_v3(c, topic, 0, batch(2, [b"c"])) == (0, 2)
        # Gap: expected sequence 3, got 5.
        assert wire.produce_v3(c, topic, 0, batch(5, [b"x"]))[0] == 45
        # In order again.
        assert wire.produce_v3(c, topic, 0, batch(3, [b"d"])) == (0, 3)
        err, hwm, batches = wire.fetch_v4(c, topic, 0, 0)
    assert (err, hwm) == (0, 4)
    assert [(b.base_offset, b.record_count, b.producer_id) for b in batches] == [(0, 2, pid), (2, 1, pid), (3, 1, pid)]


def test_fetch_long_poll_returns_new_data(broker, topic_name):
    """Fetch with min_bytes=1 at the log end waits (up to max_wait_ms) for data instead of
    answering empty at once; a record produced meanwhile comes back in that same response."""
    topic = topic_name()
    _create(broker, topic)
    _produce(broker, topic, "none", n=2)
    with wire.Conn(broker.host, broker.port, timeout=30) as waiting, wire.Conn(broker.host, broker.port) as other:
        corr = wire.fetch_v4_send(waiting, topic, 0, 2, max_wait_ms=15000, min_bytes=1)
        # Make sure the fetch reached the broker before producing: a request on the same
        # connection is answered only after it (responses go back in order), so use another.
        time.sleep(0.5)
        assert wire.produce_v3(other, topic, 0, wire.build_batch([b"late"])) == (0, 2)
        err, hwm, batches = wire.fetch_v4_receive(waiting, corr, topic, 0)
    assert (err, hwm) == (0, 3)
    assert [(b.base_offset, b.record_count) for b in batches] == [(2, 1)]
