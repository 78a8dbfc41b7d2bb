"""Policy reload under load: a confluent-kafka producer writes at full rate while the policies
flip between allowing and denying its writes every second. Every request is decided by one
policy generation (a two-topic Produce request never comes back half allowed), the producer
never stalls (every record is either written or refused with TOPIC_AUTHORIZATION_FAILED), the
new generation decides the very next request once the broker has logged it, and a broken
policy file dropped in mid-run is refused while the previous set keeps deciding.

CI runs 6 flips; ``SCHLOSS_LONG_TESTS=1`` runs 30 (the issue's 30-second run), asserting the
same."""

from __future__ import annotations

import os
import re
import shutil
import struct
import threading
import time
from pathlib import Path

import pytest

ck = pytest.importorskip("confluent_kafka")

from confluent_kafka import KafkaError, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

import kafka_wire as wire  # noqa: E402
from conftest import start_broker, wait_until  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FLIPS = 30 if os.environ.get("SCHLOSS_LONG_TESTS") == "1" else 6
TOPICS = ("flip-a", "flip-b")
ALLOWED, DENIED = (0, 0), (KafkaError.TOPIC_AUTHORIZATION_FAILED,) * 2

# The listener's ANONYMOUS principal may create and describe; writing is what flips.
STANDING = """\
@id("anonymous-manages-default")
permit (
  principal == Kafka::User::"default/ANONYMOUS",
  action in [Kafka::Action::"Create", Kafka::Action::"Describe", Kafka::Action::"Read"],
  resource in Kafka::Tenant::"default"
);
"""
FLIP = """\
@id("anonymous-writes")
permit (
  principal == Kafka::User::"default/ANONYMOUS",
  action == Kafka::Action::"Write",
  resource is Kafka::Topic in Kafka::Tenant::"default"
);
"""
ACCEPTED = re.compile(r"policy set accepted.*generation\W+(\d+)")


def produce_both(conn: wire.Conn, batch: bytes) -> tuple[int, int]:
    """One Produce v3 request writing to partition 0 of both topics; their two error codes."""
    body = struct.pack(">hhi", -1, -1, 10000) + struct.pack(">i", len(TOPICS))
    for topic in TOPICS:
        t = topic.encode()
        body += struct.pack(">h", len(t)) + t + struct.pack(">i", 1)
        body += struct.pack(">ii", 0, len(batch)) + batch
    r = wire.Reader(conn.request(0, 3, body))
    errors = {}
    for _ in range(r.take(">i")):
        topic = r.string()
        assert r.take(">i") == 1
        _idx, err, _base, _time = r.take(">ihqq")
        errors[topic] = err
    return errors[TOPICS[0]], errors[TOPICS[1]]


def generation(broker) -> int:
    found = ACCEPTED.findall(broker.log_path.read_text(errors="replace"))
    return int(found[-1]) if found else 0


def test_policies_flip_under_a_full_rate_producer(tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(REPO / "policies" / "base.cedar", policies)
    (policies / "standing.cedar").write_text(STANDING)
    flip = policies / "flip.cedar"
    flip.write_text(FLIP)
    broker = start_broker(tmp_path / "broker",
                          authorization=f'mode = "cedar"\npolicy_dir = "{policies}"')
    try:
        bootstrap = broker.bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for f in admin.create_topics([NewTopic(t, 1, 1) for t in TOPICS]).values():
            f.result(30)

        # The load: a producer writing as fast as librdkafka lets it, the whole time.
        outcomes: dict[int, int] = {}
        stop = threading.Event()

        def delivered(err, _msg):
            code = 0 if err is None else err.code()
            outcomes[code] = outcomes.get(code, 0) + 1

        def load():
            p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "acks": "all",
                          "message.timeout.ms": 30000, "queue.buffering.max.messages": 20000,
                          "topic.metadata.refresh.interval.ms": 500})
            i = 0
            while not stop.is_set():
                try:
                    p.produce(TOPICS[i % 2], value=b"x" * 100, on_delivery=delivered)
                    i += 1
                except BufferError:
                    p.poll(0.01)
                except ck.KafkaException as refused:
                    # librdkafka refuses at once what Metadata said is not authorized.
                    delivered(refused.args[0], None)
                    i += 1
                    p.poll(0.01)
                p.poll(0)
            assert p.flush(60) == 0

        loader = threading.Thread(target=load, daemon=True)
        loader.start()

        batch = wire.build_batch([b"probe"])
        allowed = True
        seen = {True: 0, False: 0}
        with wire.Conn(broker.host, broker.port, client_id="reload-probe") as conn:
            assert produce_both(conn, batch) == ALLOWED
            for n in range(FLIPS):
                before = generation(broker)
                if n == FLIPS // 2:
                    # A broken file mid-run: refused, and the standing set keeps deciding.
                    broken = policies / "broken.cedar"
                    broken.write_text('@id("broken")\npermit (principal, action, resource)\nwhen { nope };\n')
                    wait_until(lambda: "broken.cedar" in broker.log_path.read_text(errors="replace"),
                               timeout=30, what="the broken file to be refused")
                    assert produce_both(conn, batch) == (ALLOWED if allowed else DENIED)
                    broken.unlink()
                    time.sleep(1.2)  # the watcher sees the file gone; the set is unchanged
                    assert generation(broker) == before, "an unchanged set made a new generation"
                allowed = not allowed
                if allowed:
                    flip.write_text(FLIP)
                else:
                    flip.unlink()
                wait_until(lambda: generation(broker) > before, timeout=30,
                           what=f"generation {before + 1}")
                # Logged means swapped in: the very next request is decided by it.
                expected = ALLOWED if allowed else DENIED
                assert produce_both(conn, batch) == expected, f"flip {n}: stale decision"
                # Until the next flip, every request is decided whole by this generation.
                until = time.monotonic() + 0.5
                while time.monotonic() < until:
                    assert produce_both(conn, batch) == expected
                    seen[allowed] += 1
        stop.set()
        loader.join(90)
        assert not loader.is_alive(), "the producer stalled"
        # Every record was decided: written, or refused as not authorized; nothing timed out
        # (_MSG_TIMED_OUT) and no connection failed (_TRANSPORT). After a produce is refused with
        # TOPIC_AUTHORIZATION_FAILED, librdkafka puts the topic in an error state (no
        # partitions) and fails the records it still had queued for it with _UNKNOWN_PARTITION:
        # those are refusals too, counted by the client instead of answered by the broker.
        refused = {KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError._UNKNOWN_PARTITION}
        assert set(outcomes) <= {0} | refused, outcomes
        assert outcomes.get(0, 0) > 0 and outcomes.get(KafkaError.TOPIC_AUTHORIZATION_FAILED, 0) > 0, outcomes
        assert seen[True] > 0 and seen[False] > 0
    finally:
        broker.stop()
