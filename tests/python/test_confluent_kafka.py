"""confluent-kafka (librdkafka) against a real schloss process.

librdkafka insists on a group.id for a Consumer; with assign() and no commits it never looks
up a group coordinator (schloss has no consumer groups yet), which these tests rely on.
"""

from __future__ import annotations

import time

import pytest

ck = pytest.importorskip("confluent_kafka")

from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # noqa: E402
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

from conftest import wait_until  # noqa: E402

TIMEOUT_S = 20
BASE_TS = (int(time.time()) - 3600) * 1000  # explicit CreateTime; well inside retention.ms
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


# --------------------------------------------------------------------------- helpers


def admin(broker) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "e2e-ck-admin"})


def producer(broker, **conf) -> Producer:
    base = {
        "bootstrap.servers": broker.bootstrap,
        "client.id": "e2e-ck-producer",
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": 30000,
    }
    base.update(conf)
    return Producer(base)


def consumer(broker, **conf) -> Consumer:
    base = {
        "bootstrap.servers": broker.bootstrap,
        "client.id": "e2e-ck-consumer",
        "group.id": "e2e-unused-group",  # required by librdkafka; never used (assign only)
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
    }
    base.update(conf)
    return Consumer(base)


def result(fut, timeout=TIMEOUT_S):
    return fut.result(timeout=timeout)


def create_topic(broker, name, partitions=1, config=None):
    a = admin(broker)
    (f,) = a.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                           operation_timeout=10).values()
    assert result(f) is None


def produce_all(p: Producer, topic: str, records, partition: int = 0):
    """Produce (key, value, headers, ts) tuples; return delivery reports in send order."""
    reports: list = [None] * len(records)

    def cb(idx):
        def on_delivery(err, msg):
            reports[idx] = (err, msg.partition(), msg.offset(), msg.timestamp())
        return on_delivery

    for i, (k, v, h, ts) in enumerate(records):
        while True:
            try:
                p.produce(topic, key=k, value=v, headers=h, timestamp=ts or 0,
                          partition=partition, on_delivery=cb(i))
                break
            except BufferError:
                p.poll(0.1)
    remaining = p.flush(TIMEOUT_S)
    assert remaining == 0, f"{remaining} messages not delivered"
    return reports


def consume_exactly(c: Consumer, n: int, timeout_s: float = TIMEOUT_S):
    got = []

    def more():
        m = c.poll(0.5)
        if m is not None:
            if m.error():
                raise AssertionError(f"consumer error: {m.error()}")
            got.append(m)
        return len(got) >= n

    wait_until(more, timeout=timeout_s, interval=0, what=f"{n} messages (have {len(got)})")
    extra = c.poll(0.5)
    assert extra is None or extra.error(), f"unexpected extra message at offset {extra.offset()}"
    return got


def make_records(n, ts0=BASE_TS):
    out = []
    for i in range(n):
        key = None if i % 7 == 3 else (b"" if i % 17 == 8 else f"key-{i}".encode())
        value = b"" if i % 11 == 5 else (None if i % 13 == 6 else f"value-{i}-".encode() + bytes(range(256)) * (i % 3))
        headers = [("h-index", str(i).encode()), ("h-bin", bytes([i % 256, 0, 255]))]
        if i % 5 == 0:
            headers += [("h-index", b"dup"), ("h-empty", b""), ("h-null", None)]
        out.append((key, value, headers, ts0 + i * 10))
    return out


def norm_headers(h):
    return [(k, v) for k, v in (h or [])]


# --------------------------------------------------------------------------- produce/consume


@pytest.mark.parametrize("codec", CODECS)
def test_idempotent_round_trip_each_codec(broker, topic_name, codec):
    topic = topic_name()
    create_topic(broker, topic)
    records = make_records(200)
    p = producer(broker, **{"compression.type": codec, "linger.ms": 20, "batch.num.messages": 50})
    reports = produce_all(p, topic, records)
    assert all(r[0] is None for r in reports), [r for r in reports if r[0] is not None][:3]
    assert [r[2] for r in reports] == list(range(len(records)))
    # Delivery reports carry the CreateTime the producer set.
    assert [r[3] for r in reports] == [(ck.TIMESTAMP_CREATE_TIME, ts) for *_, ts in records]

    c = consumer(broker)
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = consume_exactly(c, len(records))
    finally:
        c.close()
    assert [m.offset() for m in got] == list(range(len(records)))
    for m, (k, v, h, ts) in zip(got, records):
        assert (m.key(), m.value()) == (k, v), f"offset {m.offset()}"
        assert norm_headers(m.headers()) == h, f"offset {m.offset()}"
        assert m.timestamp() == (ck.TIMESTAMP_CREATE_TIME, ts), f"offset {m.offset()}"


def test_large_messages_and_many_batches(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, partitions=2)
    big = bytes(range(256)) * 3000  # 768000 bytes, under the 1 MiB default max.message.bytes
    records = [(str(i).encode(), big[: (i * 7919) % len(big)] + str(i).encode(), None, None) for i in range(40)]
    p = producer(broker, **{"compression.type": "lz4", "linger.ms": 5})
    reports = produce_all(p, topic, records, partition=1)
    assert all(r[0] is None for r in reports)
    c = consumer(broker, **{"fetch.max.bytes": 1_048_576, "max.partition.fetch.bytes": 262_144})
    try:
        c.assign([TopicPartition(topic, 1, OFFSET_BEGINNING)])
        got = consume_exactly(c, len(records), timeout_s=60)
    finally:
        c.close()
    assert [(m.partition(), m.offset()) for m in got] == [(1, i) for i in range(len(records))]
    assert [m.value() for m in got] == [r[1] for r in records]


def test_record_too_large_rejected(broker, topic_name):
    """A batch over the topic's max.message.bytes fails with MSG_SIZE_TOO_LARGE (error 10)
    and nothing is appended."""
    topic = topic_name()
    create_topic(broker, topic, config={"max.message.bytes": "10000"})
    p = producer(broker, **{"compression.type": "none", "enable.idempotence": False, "retries": 0})
    reports = produce_all(p, topic, [(b"k", b"x" * 50_000, None, None)])
    err = reports[0][0]
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err
    # A small one still goes through at offset 0.
    reports = produce_all(p, topic, [(b"k", b"small", None, None)])
    assert reports[0][0] is None and reports[0][2] == 0


def test_consume_from_end_sees_only_new(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    p = producer(broker)
    produce_all(p, topic, [(None, b"old-%d" % i, None, None) for i in range(5)])
    c = consumer(broker)
    got, sent = [], {}
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_END)])
        # The consumer resolves "end" asynchronously; keep producing new records until some
        # arrive. Whatever arrives must be new, contiguous, and start at or after offset 5.
        deadline = time.monotonic() + TIMEOUT_S
        i = 0
        while not got and time.monotonic() < deadline:
            (rep,) = produce_all(p, topic, [(None, b"new-%d" % i, None, None)])
            sent[rep[2]] = b"new-%d" % i
            i += 1
            m = c.poll(0.3)
            if m is not None and not m.error():
                got.append(m)
        assert got, "consumer at OFFSET_END received nothing"
        last = max(sent)
        while got[-1].offset() < last:
            m = c.poll(1.0)
            assert m is not None, f"stalled after offset {got[-1].offset()}"
            if not m.error():
                got.append(m)
    finally:
        c.close()
    offsets = [m.offset() for m in got]
    assert offsets[0] >= 5
    assert offsets == list(range(offsets[0], last + 1))
    assert [m.value() for m in got] == [sent[o] for o in offsets]


def test_read_committed_consumer(broker, topic_name):
    """isolation.level=read_committed (librdkafka's default) with no transactions in play:
    everything up to the high watermark is visible."""
    topic = topic_name()
    create_topic(broker, topic)
    produce_all(producer(broker), topic, [(None, b"%d" % i, None, None) for i in range(10)])
    c = consumer(broker, **{"isolation.level": "read_committed"})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = consume_exactly(c, 10)
    finally:
        c.close()
    assert [m.value() for m in got] == [b"%d" % i for i in range(10)]


def test_watermarks_and_offsets_for_times(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    c = consumer(broker)
    try:
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S) == (0, 0)
        p = producer(broker, **{"linger.ms": 0})
        for i in range(10):
            produce_all(p, topic, [(None, b"%d" % i, None, BASE_TS + i * 1000)])
        assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S) == (0, 10)
        res = c.offsets_for_times([TopicPartition(topic, 0, BASE_TS + 2500),
                                   ], timeout=TIMEOUT_S)
        assert (res[0].offset, res[0].error) == (3, None)
        res = c.offsets_for_times([TopicPartition(topic, 0, BASE_TS + 99_000)], timeout=TIMEOUT_S)
        assert res[0].offset == -1  # no record at or after: end (-1)
    finally:
        c.close()


# --------------------------------------------------------------------------- admin


def test_admin_create_list_describe_delete(broker, topic_name):
    topic = topic_name()
    a = admin(broker)
    (f,) = a.create_topics([NewTopic(topic, 2, 1, config={"retention.ms": "86400000"})],
                           operation_timeout=10).values()
    assert result(f) is None

    # Duplicate create: TOPIC_ALREADY_EXISTS.
    (f,) = a.create_topics([NewTopic(topic, 2, 1)]).values()
    with pytest.raises(KafkaException) as ei:
        result(f)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    md = a.list_topics(timeout=TIMEOUT_S)
    assert topic in md.topics
    tmd = md.topics[topic]
    assert tmd.error is None
    assert sorted(tmd.partitions) == [0, 1]
    assert set(md.brokers) == {1}
    assert (md.brokers[1].host, md.brokers[1].port) == (broker.host, broker.port)
    for pm in tmd.partitions.values():
        assert (pm.leader, pm.replicas, pm.isrs) == (1, [1], [1])

    (f,) = a.describe_topics(ck.TopicCollection([topic])).values()
    desc = result(f)
    assert desc.name == topic
    assert [pi.id for pi in desc.partitions] == [0, 1]
    assert all(pi.leader.id == 1 for pi in desc.partitions)
    assert desc.topic_id is not None

    cl = result(a.describe_cluster())
    assert cl.cluster_id
    assert [n.id for n in cl.nodes] == [1]
    assert cl.controller is not None and cl.controller.id == 1

    (f,) = a.delete_topics([topic], operation_timeout=10).values()
    assert result(f) is None
    wait_until(lambda: topic not in a.list_topics(timeout=5).topics, timeout=TIMEOUT_S,
               what="topic gone")
    (f,) = a.delete_topics([topic]).values()
    with pytest.raises(KafkaException) as ei:
        result(f)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def _describe(a, topic):
    (f,) = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return result(f)


def test_admin_configs(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, config={"retention.ms": "86400000"})
    a = admin(broker)

    cfg = _describe(a, topic)
    assert cfg["retention.ms"].value == "86400000"
    assert cfg["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not cfg["retention.ms"].is_default
    assert cfg["segment.bytes"].value == "1073741824"
    assert cfg["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert cfg["segment.bytes"].is_default
    assert cfg["cleanup.policy"].value == "delete"

    # Incremental: SET one key, DELETE another.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    (f,) = a.incremental_alter_configs([res]).values()
    assert result(f) is None
    cfg = _describe(a, topic)
    assert cfg["max.message.bytes"].value == "2000000"
    assert cfg["max.message.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert cfg["retention.ms"].value == "604800000"
    assert cfg["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value

    # Unknown key is rejected.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)])
    (f,) = a.incremental_alter_configs([res]).values()
    with pytest.raises(KafkaException) as ei:
        result(f)
    assert ei.value.args[0].code() == KafkaError.INVALID_CONFIG

    # Unknown topic.
    missing = topic_name("missing")
    (f,) = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, missing)]).values()
    with pytest.raises(KafkaException) as ei:
        result(f)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_admin_legacy_alter_configs(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, config={"retention.ms": "86400000"})
    a = admin(broker)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"segment.ms": "3600000"})
    (f,) = a.alter_configs([res]).values()
    assert result(f) is None
    cfg = _describe(a, topic)
    assert cfg["segment.ms"].value == "3600000"
    # AlterConfigs replaces the whole override set: retention.ms is back to its default.
    assert cfg["retention.ms"].value == "604800000"
    assert cfg["retention.ms"].is_default


def test_admin_create_partitions(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, partitions=1)
    a = admin(broker)
    (f,) = a.create_partitions([NewPartitions(topic, 4)], operation_timeout=10).values()
    assert result(f) is None
    wait_until(lambda: len(a.list_topics(topic, timeout=5).topics[topic].partitions) == 4,
               timeout=TIMEOUT_S, what="4 partitions")
    (f,) = a.create_partitions([NewPartitions(topic, 2)]).values()
    with pytest.raises(KafkaException) as ei:
        result(f)
    assert ei.value.args[0].code() == KafkaError.INVALID_PARTITIONS

    p = producer(broker)
    reports = produce_all(p, topic, [(None, b"p3", None, None)], partition=3)
    assert reports[0][0] is None and reports[0][1:3] == (3, 0)


def test_admin_list_offsets_and_delete_records(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    p = producer(broker, **{"linger.ms": 0})
    for i in range(10):
        produce_all(p, topic, [(None, b"%d" % i, None, BASE_TS + i * 1000)])
    a = admin(broker)
    tp = TopicPartition(topic, 0)

    def list_offsets(spec):
        (f,) = a.list_offsets({tp: spec}).values()
        return result(f)

    assert list_offsets(OffsetSpec.earliest()).offset == 0
    assert list_offsets(OffsetSpec.latest()).offset == 10
    r = list_offsets(OffsetSpec.for_timestamp(BASE_TS + 6000))
    assert (r.offset, r.timestamp) == (6, BASE_TS + 6000)
    r = list_offsets(OffsetSpec.max_timestamp())
    assert (r.offset, r.timestamp) == (9, BASE_TS + 9000)

    (f,) = a.delete_records([TopicPartition(topic, 0, 7)]).values()
    dr = result(f)
    assert dr.low_watermark == 7
    assert list_offsets(OffsetSpec.earliest()).offset == 7
    assert list_offsets(OffsetSpec.latest()).offset == 10

    c = consumer(broker)
    try:
        assert c.get_watermark_offsets(tp, timeout=TIMEOUT_S) == (7, 10)
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = consume_exactly(c, 3)
    finally:
        c.close()
    assert [m.offset() for m in got] == [7, 8, 9]


def test_concurrent_producers_one_partition(broker, topic_name):
    """Several idempotent producers writing to the same partition at once: every record is
    stored exactly once, offsets are dense, and each producer's order is preserved."""
    import threading

    topic = topic_name()
    create_topic(broker, topic)
    n_producers, per = 4, 400
    errors: list = []

    def run(pid):
        try:
            p = producer(broker, **{"linger.ms": 2, "compression.type": "lz4"})
            recs = [(None, f"p{pid}-{i}".encode(), [("pid", str(pid).encode())], None) for i in range(per)]
            reports = produce_all(p, topic, recs)
            if any(r[0] is not None for r in reports):
                errors.append([r[0] for r in reports if r[0] is not None][:3])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_producers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []

    c = consumer(broker)
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = consume_exactly(c, n_producers * per, timeout_s=60)
    finally:
        c.close()
    assert [m.offset() for m in got] == list(range(n_producers * per))
    for pid in range(n_producers):
        mine = [m.value() for m in got if m.value().startswith(f"p{pid}-".encode())]
        assert mine == [f"p{pid}-{i}".encode() for i in range(per)]


def test_keyed_partitioning_many_partitions(broker, topic_name):
    """librdkafka's default partitioner spreads keys over 8 partitions; reading all partitions
    back gives every record once, in per-partition order, with each key in one partition."""
    topic = topic_name()
    create_topic(broker, topic, partitions=8)
    p = producer(broker, **{"linger.ms": 5, "compression.type": "zstd"})
    delivered = []

    def on_delivery(err, msg):
        assert err is None, err
        delivered.append((msg.partition(), msg.offset(), msg.key(), msg.value()))

    for i in range(800):
        p.produce(topic, key=f"key-{i % 37}".encode(), value=f"v{i}".encode(), on_delivery=on_delivery)
        p.poll(0)
    assert p.flush(TIMEOUT_S) == 0
    assert len(delivered) == 800
    assert len({d[0] for d in delivered}) > 1
    c = consumer(broker)
    try:
        c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(8)])
        got = consume_exactly(c, 800, timeout_s=60)
    finally:
        c.close()
    assert sorted((m.partition(), m.offset(), m.key(), m.value()) for m in got) == sorted(delivered)
    key_parts: dict = {}
    for m in got:
        key_parts.setdefault(m.key(), set()).add(m.partition())
    assert all(len(s) == 1 for s in key_parts.values())
    for part in range(8):
        offs = [m.offset() for m in got if m.partition() == part]
        assert offs == list(range(len(offs)))
