"""kcat (its own, older librdkafka) against schloss with authentication: produce and consume
with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 over SASL_SSL and SASL_PLAINTEXT; a wrong
password or an unknown user is reported as an authentication failure and kcat exits; mutual
TLS with the dev client certificate works and without a certificate it does not."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from auth_support import (
    ALICE,
    MECHANISMS,
    SASL_LISTENERS,
    dev_client_cert,
    librdkafka_conf,
    reset_brake,
    start_auth_broker,
)
from conftest import have_kcat

KCAT = have_kcat()
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat is not installed (scripts/install-test-deps.sh)")
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def auth_broker(tmp_path_factory):
    b = start_auth_broker(tmp_path_factory.mktemp("schloss-auth-kcat"), rust_log="info,schloss=debug")
    try:
        yield b
    finally:
        b.stop()


def kcat(conf: dict[str, str], *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    cmd = [KCAT, "-b", conf["bootstrap.servers"]]
    for k, v in conf.items():
        if k != "bootstrap.servers":
            cmd += ["-X", f"{k}={v}"]
    cmd += list(args)
    return subprocess.run(cmd, input=input, capture_output=True, timeout=TIMEOUT_S)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (f"kcat exited {proc.returncode}\nstdout:\n{proc.stdout.decode(errors='replace')}"
                                  f"\nstderr:\n{proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


def round_trip(conf: dict[str, str], topic: str, n: int = 10) -> None:
    lines = "".join(f"k{i}:{topic}-{i}\n" for i in range(n)).encode()
    ok(kcat(conf, "-P", "-t", topic, "-p", "0", "-K:", input=lines))
    out = ok(kcat(conf, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%k=%s\n"))
    assert out.splitlines() == [f"k{i}={topic}-{i}" for i in range(n)]


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("listener", SASL_LISTENERS)
def test_sasl_round_trip(auth_broker, listener, mechanism):
    topic = f"kcat-{listener}-{mechanism}-{uuid.uuid4().hex[:8]}".lower()
    round_trip(librdkafka_conf(auth_broker, listener, mechanism, *ALICE), topic)
    assert f"default.{topic}-0" in auth_broker.partition_dirs()


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
def test_bad_credentials_are_an_authentication_failure(auth_broker, who, mechanism):
    user, password = (ALICE[0], "not-the-password") if who == "wrong-password" else (f"default/nobody-{uuid.uuid4().hex[:8]}", ALICE[1])
    listener = "SASL_SSL" if who == "wrong-password" else "SASL_PLAINTEXT"
    reset_brake(auth_broker)
    conf = librdkafka_conf(auth_broker, listener, mechanism, user, password)
    conf["reconnect.backoff.ms"] = "1000"
    started = time.monotonic()
    proc = kcat(conf, "-L", "-m", "2")
    assert time.monotonic() - started < TIMEOUT_S
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode != 0, err
    assert "SASL authentication error" in err and "Authentication failed" in err, err


def test_mtls_dev_client_certificate(auth_broker):
    conf = librdkafka_conf(auth_broker, "SSL", cert=dev_client_cert(auth_broker))
    topic = f"kcat-mtls-{uuid.uuid4().hex[:8]}"
    round_trip(conf, topic, 5)
    assert f"default.{topic}-0" in auth_broker.partition_dirs()
    assert "principal=dev-client tenant=default" in auth_broker.log()


def test_mtls_without_a_certificate_is_refused(auth_broker):
    proc = kcat(librdkafka_conf(auth_broker, "SSL"), "-L", "-m", "2")
    assert proc.returncode != 0, proc.stdout.decode(errors="replace")
