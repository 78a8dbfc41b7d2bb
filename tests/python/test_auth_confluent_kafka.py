"""confluent-kafka (a current librdkafka) against schloss with authentication: every mechanism
over SASL_SSL and SASL_PLAINTEXT; wrong passwords and unknown users surface as
``_AUTHENTICATION`` errors; re-authentication (KIP-368) keeps a producer working past several
session lifetimes."""

from __future__ import annotations

import time
import uuid

import pytest

ck = pytest.importorskip("confluent_kafka")

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

from auth_support import ALICE, MECHANISMS, SASL_LISTENERS, librdkafka_conf, reset_brake, start_auth_broker  # noqa: E402

TIMEOUT_S = 30
LIFETIME_MS = 3000


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory):
    b = start_auth_broker(tmp_path_factory.mktemp("schloss-auth-ck"),
                          connections_max_reauth_ms=LIFETIME_MS, rust_log="info,schloss=debug")
    try:
        yield b
    finally:
        b.stop()


def round_trip(conf: dict, topic: str, n: int = 10) -> None:
    errors: list = []
    p = Producer({**conf, "enable.idempotence": True, "error_cb": errors.append})
    for i in range(n):
        p.produce(topic, value=f"{topic}-{i}".encode(), key=b"k%d" % i, partition=0)
    assert p.flush(TIMEOUT_S) == 0, errors
    c = Consumer({**conf, "group.id": "auth-e2e-ck", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got: list[str] = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value().decode())
        assert got == [f"{topic}-{i}" for i in range(n)]
    finally:
        c.close()


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("listener", SASL_LISTENERS)
def test_sasl_round_trip(auth_broker, listener, mechanism):
    topic = f"ck-{listener}-{mechanism}-{uuid.uuid4().hex[:8]}".lower()
    round_trip(librdkafka_conf(auth_broker, listener, mechanism, *ALICE), topic)
    assert f"default.{topic}-0" in auth_broker.partition_dirs()


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
def test_bad_credentials_raise_an_authentication_error(auth_broker, who, mechanism):
    user, password = (ALICE[0], "not-the-password") if who == "wrong-password" else (f"default/nobody-{uuid.uuid4().hex[:8]}", ALICE[1])
    listener = "SASL_SSL" if who == "wrong-password" else "SASL_PLAINTEXT"
    reset_brake(auth_broker)
    errors: list = []
    conf = librdkafka_conf(auth_broker, listener, mechanism, user, password)
    p = Producer({**conf, "error_cb": errors.append, "reconnect.backoff.ms": 1000})
    deadline = time.monotonic() + TIMEOUT_S
    while not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        assert time.monotonic() < deadline, f"no authentication error reported: {errors}"
        p.poll(0.1)
    err = next(e for e in errors if e.code() == KafkaError._AUTHENTICATION)
    assert "Authentication failed" in err.str(), err.str()
    del p


def test_reauthentication_keeps_a_producer_working(auth_broker):
    conf = librdkafka_conf(auth_broker, "SASL_SSL", "SCRAM-SHA-512", *ALICE)
    topic = f"ck-reauth-{uuid.uuid4().hex[:8]}"
    errors: list = []
    p = Producer({**conf, "error_cb": errors.append, "linger.ms": 0})
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < 3 * LIFETIME_MS / 1000 + 1:
        p.produce(topic, value=b"v%d" % sent, partition=0)
        assert p.flush(TIMEOUT_S) == 0, errors
        sent += 1
        time.sleep(0.2)
    assert not errors, errors
    assert "session expired" not in auth_broker.log()
    round_trip(conf, topic + "-check", 2)
