"""Broker lifecycle seen through kafka-python: restarts (clean and SIGKILL), topic
re-creation, retention, and admin validation errors."""

from __future__ import annotations

import signal
import time

import pytest

kafka = pytest.importorskip("kafka")

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka import errors as kerr  # noqa: E402
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic  # noqa: E402
from kafka.codec import has_gzip, has_lz4, has_zstd  # noqa: E402

from conftest import start_broker, wait_until  # noqa: E402

TIMEOUT_S = 20
# Recent timestamps: a restarted broker may run retention right away, and records older than
# retention.ms (7 days by default) are then legitimately deleted.
BASE_TS = (int(time.time()) - 3600) * 1000


def admin_client(b) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)


def produce(b, topic, values, partition=0, codec=None, **kw):
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", compression_type=codec, **kw)
    try:
        futs = [p.send(topic, value=v, key=b"k", partition=partition, timestamp_ms=BASE_TS + i)
                for i, v in enumerate(values)]
        p.flush(timeout=TIMEOUT_S)
        return [f.get(timeout=TIMEOUT_S).offset for f in futs]
    finally:
        p.close(timeout=5)


def read_all(b, topic, partition=0):
    tp = TopicPartition(topic, partition)
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest")
    try:
        c.assign([tp])
        end = c.end_offsets([tp])[tp]
        start = c.beginning_offsets([tp])[tp]
        c.seek(tp, start)
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while (not got or got[-1].offset < end - 1) and start < end:
            assert time.monotonic() < deadline, f"timed out reading {topic} ({len(got)} of {end - start})"
            for recs in c.poll(timeout_ms=500).values():
                got.extend(recs)
        return start, end, [(r.offset, r.value) for r in got]
    finally:
        c.close()


def topic_configs(adm, topic):
    res = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="modified")
    return {k: v["value"] for k, v in res["topic"][topic].items()}


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_data_topics_and_configs_survive_restart(tmp_path, topic_name, how):
    """Acknowledged writes (flush.messages=1 by default: fsync before ack), topic ids,
    partition counts, config overrides and the log start offset all survive a restart, a
    clean one and a SIGKILL alike."""
    work = tmp_path / "broker"
    b = start_broker(work)
    t1, t2 = topic_name("a"), topic_name("b")
    codecs = [c for c, ok in (("gzip", has_gzip()), ("lz4", has_lz4()), ("zstd", has_zstd())) if ok]
    try:
        adm = admin_client(b)
        try:
            created = adm.create_topics([NewTopic(t1, 2, 1, topic_configs={"retention.ms": "86400000"}),
                                         NewTopic(t2, 1, 1)])
            ids = {t["name"]: t["topic_id"] for t in created["topics"]}
        finally:
            adm.close()
        expected = []
        for i, codec in enumerate([None, *codecs]):
            vals = [f"{codec}-{i}-{j}".encode() for j in range(25)]
            offs = produce(b, t1, vals, partition=1, codec=codec, linger_ms=5)
            assert offs == list(range(len(expected), len(expected) + 25))
            expected.extend(vals)
        produce(b, t2, [b"x%d" % i for i in range(10)])
        adm = admin_client(b)
        try:
            adm.delete_records({TopicPartition(t2, 0): 4})
        finally:
            adm.close()
    finally:
        if how == "sigkill":
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait(timeout=10)
        b.stop()

    b = start_broker(work)
    try:
        adm = admin_client(b)
        try:
            descs = {d["name"]: d for d in adm.describe_topics([t1, t2])}
            assert len(descs[t1]["partitions"]) == 2 and len(descs[t2]["partitions"]) == 1
            assert {n: str(d["topic_id"]) for n, d in descs.items()} == {n: str(i) for n, i in ids.items()}
            assert topic_configs(adm, t1) == {"retention.ms": "86400000"}
        finally:
            adm.close()
        start, end, got = read_all(b, t1, 1)
        assert (start, end) == (0, len(expected))
        assert got == list(enumerate(expected))
        start, end, got = read_all(b, t2, 0)
        assert (start, end) == (4, 10)
        assert got == [(i, b"x%d" % i) for i in range(4, 10)]
        # Appends continue where the log ended.
        assert produce(b, t1, [b"after"], partition=1) == [len(expected)]
    finally:
        b.stop()


def test_deleted_topic_recreated_is_empty(broker, topic_name):
    topic = topic_name()
    adm = admin_client(broker)
    try:
        first = adm.create_topics([NewTopic(topic, 1, 1)])["topics"][0]["topic_id"]
        produce(broker, topic, [b"old-%d" % i for i in range(5)])
        adm.delete_topics([topic])
        wait_until(lambda: topic not in adm.list_topics(), timeout=TIMEOUT_S, what="topic deleted")
        second = adm.create_topics([NewTopic(topic, 1, 1)])["topics"][0]["topic_id"]
        assert str(first) != str(second)
        assert topic_configs(adm, topic) == {}
    finally:
        adm.close()
    assert read_all(broker, topic) == (0, 0, [])
    assert produce(broker, topic, [b"new"]) == [0]
    assert read_all(broker, topic) == (0, 1, [(0, b"new")])


def test_metadata_without_auto_create_does_not_create(broker, topic_name):
    missing = topic_name("missing")
    adm = admin_client(broker)
    try:
        (d,) = adm.describe_topics([missing])  # Metadata with allow_auto_topic_creation=false
        assert d["error_code"] == kerr.UnknownTopicOrPartitionError.errno
        assert missing not in adm.list_topics()
    finally:
        adm.close()


def test_create_topics_validation(broker, topic_name):
    adm = admin_client(broker)
    try:
        topic = topic_name()
        # validate_only creates nothing.
        res = adm.create_topics([NewTopic(topic, 3, 1)], validate_only=True)
        assert res["topics"][0]["error_code"] == 0
        assert topic not in adm.list_topics()

        cases = [
            (NewTopic("bad name!", 1, 1), kerr.InvalidTopicError),
            (NewTopic("..", 1, 1), kerr.InvalidTopicError),
            (NewTopic("x" * 250, 1, 1), kerr.InvalidTopicError),
            (NewTopic(topic_name("p0"), 0, 1), kerr.InvalidPartitionsError),
            (NewTopic(topic_name("rf3"), 1, 3), kerr.InvalidReplicationFactorError),
            (NewTopic(topic_name("asg"), -1, -1, replica_assignments={0: [2]}), kerr.InvalidReplicationAssignmentError),
            (NewTopic(topic_name("cfg"), 1, 1, topic_configs={"no.such.config": "1"}), kerr.InvalidConfigurationError),
            (NewTopic(topic_name("val"), 1, 1, topic_configs={"retention.ms": "soon"}), kerr.InvalidConfigurationError),
        ]
        for new_topic, err in cases:
            res = adm.create_topics([new_topic], raise_errors=False)
            (t,) = res["topics"]
            assert t["error_code"] == err.errno, (new_topic.name[:40], t)
        # Manual assignment on this broker: partitions from the assignment.
        manual = topic_name("manual")
        res = adm.create_topics([NewTopic(manual, -1, -1, replica_assignments={0: [1], 1: [1]})])
        assert (res["topics"][0]["error_code"], res["topics"][0]["num_partitions"]) == (0, 2)
        names = adm.list_topics()
        assert not any(n in names for n in ("bad name!", ".."))
    finally:
        adm.close()


def test_retention_ms_deletes_old_segments(broker_factory, topic_name):
    """Segments whose newest record is older than retention.ms are deleted by the periodic
    retention check and the log start offset moves past them. Records carry timestamps from
    2023, so they are expired as soon as they are written."""
    b = broker_factory(retention_check_interval_ms=200)
    topic = topic_name()
    adm = admin_client(b)
    try:
        adm.create_topics([NewTopic(topic, 1, 1, topic_configs={
            "retention.ms": "1000", "segment.bytes": "1048576"})])
    finally:
        adm.close()
    # ~3 MiB in 64 KiB values: several 1 MiB segments, all but the active one closed.
    produce(b, topic, [bytes([i % 256]) * 65536 for i in range(48)], linger_ms=0)

    tp = TopicPartition(topic, 0)
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False)
    try:
        wait_until(lambda: c.beginning_offsets([tp])[tp] > 0, timeout=30, interval=0.2,
                   what="log start offset to move")
        start = c.beginning_offsets([tp])[tp]
        assert c.end_offsets([tp])[tp] == 48
        assert 0 < start <= 48
    finally:
        c.close()
    # The remaining records (retention may have removed more meanwhile, even the active
    # segment, as Kafka does once all of it is expired) are readable from the new start.
    s, e, got = read_all(b, topic)
    assert start <= s <= 48 and e == 48
    assert [o for o, _ in got] == list(range(s, 48))
