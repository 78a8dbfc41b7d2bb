"""Hostile clients over real sockets, each attack run while a well-behaved librdkafka client
(confluent-kafka Producer and Consumer, each in a background thread) keeps producing and
consuming on the same broker.

Every test pins three things: the attack meets the limit meant for it (connections refused,
slow or idle connections dropped, bombs refused, pipelining stalled), the good client keeps
getting acknowledgements and reading its messages back *during* the attack and after it, and
the broker's resident memory stays under ``RSS_BOUND_BYTES`` throughout.

Each test starts its own broker (``broker`` is parametrized indirectly with the ``[broker]``
limits it needs), so one test's leftovers cannot help or hurt another. Waits are bounded by
timeouts; nothing here asserts how fast the broker is.
"""

from __future__ import annotations

import errno
import itertools
import resource
import select
import selectors
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import pytest

ck = pytest.importorskip("confluent_kafka")
pytest.importorskip("crc32c")

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

import kafka_wire as wire  # noqa: E402
from conftest import Broker, _toml_str, start_broker, wait_until  # noqa: E402

# The broker's resident set (VmRSS sampled every 50 ms, and VmHWM, the kernel's own peak) must
# stay under this in every test. The dev build idles at about 10 MiB; the legitimate peaks here
# are well below the bound: 16 in-flight 1 MiB produce requests on one connection, four
# concurrent bomb decompressions (streamed: each holds a read buffer and the zstd window, not
# its output), a few hundred admitted connections. What the limits exist to prevent
# is far larger: a zstd bomb expands to 10 GiB, and a client that pipelines without reading can
# queue hundreds of MiB of requests or responses. So a broker near this bound has let an
# attack through.
RSS_BOUND_BYTES = 512 * 1024 * 1024
RSS_SAMPLE_INTERVAL_S = 0.05

# How long to wait for the broker to act on an attack (closing, refusing, answering). These
# bound waiting only; none is a speed claim.
WAIT_S = 30.0
# Acks and reads the good client must make while an attack is under way.
PROGRESS_N = 10

CODEC_ZSTD = 4
ERR_CORRUPT_MESSAGE = 2
ERR_MESSAGE_TOO_LARGE = 10
ERR_INVALID_RECORD = 87
BOMB_REFUSALS = {ERR_CORRUPT_MESSAGE, ERR_MESSAGE_TOO_LARGE, ERR_INVALID_RECORD}


def _raise_nofile_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit, before any broker starts (it inherits it): a
    flood holds thousands of sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_raise_nofile_limit()


# --------------------------------------------------------------------------- the broker


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_str(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML rendering for {v!r}")


def limits_toml(limits: dict) -> str:
    """``[broker]`` lines for ``limits``."""
    return "\n".join(f"{k} = {_toml_value(v)}" for k, v in limits.items())


@pytest.fixture
def broker(request, tmp_path) -> Iterator[Broker]:
    """A broker with the limits the test is parametrized with (see ``limits``). Named
    ``broker`` so conftest's failure hook attaches its log tail."""
    b = start_broker(tmp_path / "schloss", broker_extra=limits_toml(getattr(request, "param", {})))
    try:
        yield b
    finally:
        b.stop()


def limits(test_id: str, **settings):
    """Run the test against a broker with these ``[broker]`` settings."""
    return pytest.mark.parametrize("broker", [pytest.param(settings, id=test_id)], indirect=True)


# --------------------------------------------------------------------------- memory


class RssSampler:
    """Samples the broker's VmRSS every 50 ms in a thread; at the end also reads VmHWM (the
    peak the kernel recorded, which catches spikes between samples)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.max_rss = 0
        self.samples = 0
        self.unreadable: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _field(self, name: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        raise LookupError(f"{name} not in /proc/{self.pid}/status")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.max_rss = max(self.max_rss, self._field("VmRSS"))
                self.samples += 1
            except (OSError, LookupError, ValueError) as e:
                self.unreadable = repr(e)  # the broker exited; asserted on at the end
                return
            self._stop.wait(RSS_SAMPLE_INTERVAL_S)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def assert_bounded(self) -> None:
        """Stop sampling and check both the sampled maximum and the kernel's peak."""
        self._stop.set()
        self._thread.join(timeout=5)
        assert self.unreadable is None, f"broker memory became unreadable: {self.unreadable}"
        hwm = self._field("VmHWM")
        mib = 1024 * 1024
        assert self.samples > 0
        assert self.max_rss < RSS_BOUND_BYTES, (
            f"broker VmRSS reached {self.max_rss / mib:.0f} MiB (bound {RSS_BOUND_BYTES / mib:.0f} MiB)")
        assert hwm < RSS_BOUND_BYTES, (
            f"broker VmHWM reached {hwm / mib:.0f} MiB (bound {RSS_BOUND_BYTES / mib:.0f} MiB)")


# --------------------------------------------------------------------------- the good client


class GoodClient:
    """A librdkafka producer (idempotent, acks=all) producing a numbered message every 20 ms
    and a consumer reading the same partition back, each in its own thread. ``conf`` is added
    to both clients' properties (e.g. SASL settings and another bootstrap listener)."""

    PRODUCE_INTERVAL_S = 0.02

    def __init__(self, broker: Broker, topic: str, conf: dict | None = None):
        self.topic = topic
        self.lock = threading.Lock()
        self.acked: list[bytes] = []
        self.delivery_errors: list[str] = []
        self.consumed: set[bytes] = set()
        self.consumer_errors: list[str] = []  # error events from poll(), shown when progress stalls
        self._stop_producing = threading.Event()
        self._stop_consuming = threading.Event()
        self.producer = Producer({
            "bootstrap.servers": broker.bootstrap,
            "client.id": "e2e-good-producer",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 30000,
            **(conf or {}),
        })
        self.consumer = Consumer({
            "bootstrap.servers": broker.bootstrap,
            "client.id": "e2e-good-consumer",
            "group.id": "e2e-unused-group",  # required by librdkafka; unused with assign()
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
            "fetch.wait.max.ms": 200,
            **(conf or {}),
        })
        self._producing = threading.Thread(target=self._produce_loop, daemon=True)
        self._consuming = threading.Thread(target=self._consume_loop, daemon=True)

    # -- threads

    def _on_delivery(self, err, msg) -> None:
        with self.lock:
            if err is not None:
                self.delivery_errors.append(f"{msg.value()!r}: {err}")
            else:
                self.acked.append(msg.value())

    def _produce_loop(self) -> None:
        i = 0
        while not self._stop_producing.is_set():
            try:
                self.producer.produce(self.topic, value=b"good-%08d" % i, partition=0,
                                      on_delivery=self._on_delivery)
                i += 1
            except BufferError:
                pass
            self.producer.poll(self.PRODUCE_INTERVAL_S)

    def _consume_loop(self) -> None:
        while not self._stop_consuming.is_set():
            m = self.consumer.poll(0.2)
            if m is None:
                continue
            with self.lock:
                if m.error():
                    self.consumer_errors.append(str(m.error()))
                else:
                    self.consumed.add(m.value())

    # -- what tests use

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return len(self.acked), len(self.consumed)

    def start(self) -> "GoodClient":
        """Start producing; start consuming once the first message is acknowledged (the
        topic is auto-created by the first produce)."""
        self._producing.start()
        wait_until(lambda: self.counts()[0] > 0 or self.delivery_errors, timeout=WAIT_S,
                   what="the good producer's first acknowledgement")
        assert not self.delivery_errors, self.delivery_errors[:5]
        self.consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._consuming.start()
        self.progress("before the attack")
        return self

    def progress(self, when: str, n: int = PROGRESS_N) -> None:
        """Wait (bounded) until ``n`` more messages are acknowledged and ``n`` more consumed,
        and check no delivery failed. Called while an attack is under way, this is the proof
        that the good client was served during it."""
        acked0, consumed0 = self.counts()
        try:
            wait_until(lambda: (self.counts()[0] >= acked0 + n and self.counts()[1] >= consumed0 + n)
                       or bool(self.delivery_errors),
                       timeout=WAIT_S, what=f"the good client to get {n} acks and {n} reads {when}")
        except AssertionError as e:
            raise AssertionError(f"{e} (had {acked0} acked, {consumed0} consumed; now {self.counts()}; "
                                 f"consumer errors: {self.consumer_errors[-5:]})") from None
        assert not self.delivery_errors, f"deliveries failed {when}: {self.delivery_errors[:5]}"

    def finish(self) -> None:
        """Stop producing, wait for every outstanding delivery, and check every acknowledged
        message was consumed back."""
        self._stop_producing.set()
        self._producing.join(timeout=WAIT_S)
        remaining = self.producer.flush(WAIT_S)
        assert remaining == 0, f"{remaining} good messages never delivered"
        assert not self.delivery_errors, f"deliveries failed: {self.delivery_errors[:5]}"
        with self.lock:
            acked = list(self.acked)
        assert acked, "the good client got no acknowledgement at all"
        wait_until(lambda: self.counts()[1] >= len(set(acked)) and set(acked) <= self.consumed,
                   timeout=WAIT_S,
                   what=f"the good consumer to read back all {len(acked)} acknowledged messages")
        self._close()

    def _close(self) -> None:
        if self.producer is None:
            return
        self._stop_producing.set()
        self._stop_consuming.set()
        self._producing.join(timeout=WAIT_S)
        self._consuming.join(timeout=WAIT_S)
        self.consumer.close()
        # Drop undelivered messages and let librdkafka go, so a failed test leaves no client
        # reconnecting to its stopped broker.
        self.producer.purge()
        self.producer.flush(1)
        self.producer = self.consumer = None

    def __enter__(self) -> "GoodClient":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            self._close()


# --------------------------------------------------------------------------- raw sockets


def api_versions_roundtrip(sock: socket.socket, corr: int, timeout: float = WAIT_S) -> None:
    """ApiVersions v0 on an already connected socket; asserts a well-formed, error-free
    answer with the same correlation id."""
    sock.settimeout(timeout)
    sock.sendall(wire.frame(18, 0, corr, b"", b"e2e-hostile"))
    head = _recv_exact(sock, 4)
    (size,) = struct.unpack(">i", head)
    body = _recv_exact(sock, size)
    got_corr, err = struct.unpack(">ih", body[:6])
    assert got_corr == corr and err == 0, (got_corr, err)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def fresh_connection_works(broker: Broker, source: str | None = None) -> bool:
    """A new connection (from ``source``) that completes one ApiVersions exchange."""
    try:
        s = socket.create_connection((broker.host, broker.port), timeout=5,
                                     source_address=(source, 0) if source else None)
    except OSError:
        return False
    try:
        api_versions_roundtrip(s, 1, timeout=5)
        return True
    except (OSError, ConnectionError):
        return False
    finally:
        s.close()


def wait_closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True if the peer closes ``sock`` (EOF or reset) within ``timeout``; data is an error."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(1)
    except socket.timeout:
        return False
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    assert data == b"", f"the broker sent unrequested bytes {data!r}"
    return True


def open_flood(host: str, port: int, count: int, source: str | None = None) -> tuple[list[socket.socket], list[str]]:
    """Start ``count`` non-blocking connects at once; wait (bounded) for them to complete.
    Returns the connected sockets (a connect the broker reset straight away counts as
    connected: it was accepted) and a description of each connect that failed."""
    sel = selectors.DefaultSelector()
    connected: list[socket.socket] = []
    failed: list[str] = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if source:
            s.bind((source, 0))
        rc = s.connect_ex((host, port))
        if rc == 0:
            connected.append(s)
        elif rc == errno.EINPROGRESS:
            sel.register(s, selectors.EVENT_WRITE)
        else:
            failed.append(errno.errorcode.get(rc, str(rc)))
            s.close()
    deadline = time.monotonic() + WAIT_S
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc in (0, errno.ECONNRESET):
                connected.append(s)
            else:
                failed.append(errno.errorcode.get(rc, str(rc)))
                s.close()
    for key in list(sel.get_map().values()):
        failed.append("connect did not complete (the broker stopped accepting?)")
        key.fileobj.close()
    sel.close()
    return connected, failed


class Flood(NamedTuple):
    """How the broker treated a flood of connections."""

    admitted: list[socket.socket]  # answered an ApiVersions
    closed_unprompted: int  # closed by the broker before sending anything
    closed_on_probe: int  # looked open, but closed when the client sent its first request
    hung: int  # neither answered nor closed within WAIT_S

    def __repr__(self) -> str:
        return (f"Flood(admitted={len(self.admitted)}, closed_unprompted={self.closed_unprompted}, "
                f"closed_on_probe={self.closed_on_probe}, hung={self.hung})")


def classify_flood(socks: list[socket.socket], expect_refused: int) -> Flood:
    """Split a flood (sockets that have sent nothing) into admitted and refused connections.

    First watch for the broker's closes until at least ``expect_refused`` came and then none
    for a second (or none for three seconds, or WAIT_S). Then send one ApiVersions on every
    connection still open and read the outcome: an answer means admitted, EOF or reset means
    refused. The probe is needed because of the kernel, not the broker: connections that
    complete while the listen queue overflows are answered with SYN cookies and their final
    ACK is dropped, so the client believes it is connected while the broker never saw the
    connection; the first data segment makes the kernel create it, and only then can the
    broker accept (and refuse) it."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed_ids: set[int] = set()
    last_close = time.monotonic()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            if _read_outcome(s) is None:
                continue
            sel.unregister(s)
            closed_ids.add(id(s))
            last_close = time.monotonic()
        quiet = time.monotonic() - last_close
        if (len(closed_ids) >= expect_refused and quiet >= 1.0) or quiet >= 3.0:
            break
    survivors = [s for s in socks if id(s) not in closed_ids]

    # Probe every survivor with one ApiVersions (correlation id = its index).
    pending: dict[int, tuple[socket.socket, bytearray]] = {}
    admitted: list[socket.socket] = []
    closed_on_probe = 0
    for i, s in enumerate(survivors):
        try:
            s.send(wire.frame(18, 0, i, b"", b"e2e-hostile"))  # 30 bytes: fits any send buffer
            pending[i] = (s, bytearray())
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            sel.unregister(s)
            closed_on_probe += 1
    index = {id(s): i for i, (s, _) in pending.items()}
    deadline = time.monotonic() + WAIT_S
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            i = index[id(s)]
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except (ConnectionResetError, ConnectionAbortedError):
                chunk = b""
            if not chunk:
                closed_on_probe += 1
            else:
                buf = pending[i][1]
                buf += chunk
                response = wire.split_response(buf)
                if response is None:
                    continue
                corr, err = struct.unpack(">ih", bytes(response[1][:6]))
                assert (corr, err) == (i, 0), f"ApiVersions answered with {(corr, err)}"
                admitted.append(s)
            sel.unregister(s)
            del pending[i]
    sel.close()
    return Flood(admitted, len(closed_ids), closed_on_probe, len(pending))


def _read_outcome(s: socket.socket) -> bytes | None:
    """What a readable socket that sent nothing has to say: b"" once closed, None if the
    readiness was spurious."""
    try:
        data = s.recv(1)
    except BlockingIOError:
        return None
    except (ConnectionResetError, ConnectionAbortedError):
        return b""
    assert data == b"", f"the broker sent unrequested bytes {data!r}"
    return data


def established_to(port: int) -> int:
    """Established IPv4 TCP connections on this host whose remote port is ``port`` (the
    client ends of connections to the broker)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].split(":")[1], 16) == port:
                n += 1
    return n


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


# --------------------------------------------------------------------------- 1. connection floods

MAX_CONNECTIONS = 200
FLOOD = 2000


# These floods open connections far faster than the default `connection_creation_rate` (100/s
# per address) allows; the rate is turned off so they meet the limit they are about (the rate
# has its own tests in test_preauth_dos.py).
@limits("max_connections=200", max_connections=MAX_CONNECTIONS, connection_creation_rate=-1)
def test_connection_flood_beyond_the_limit_is_refused(broker, topic_name):
    """2,000 connections at once against `max_connections = 200`: the broker accepts and
    closes those beyond the limit, the admitted ones stay usable, the good client (whose
    connections were admitted first) is served throughout, and once the flood is gone new
    connections are admitted again."""
    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        socks, failed = open_flood(broker.host, broker.port, FLOOD)
        try:
            assert not failed, f"{len(failed)} connects failed, e.g. {failed[:5]}"
            flood = classify_flood(socks, FLOOD - MAX_CONNECTIONS)
            good_connections = established_to(broker.port) - len(flood.admitted)
            assert flood.hung == 0, flood
            assert len(flood.admitted) + flood.closed_unprompted + flood.closed_on_probe == FLOOD, flood
            # Never more than the limit, counting the good client's connections (admitted
            # before the flood), and the limit is not applied early either.
            assert len(flood.admitted) + good_connections <= MAX_CONNECTIONS, (flood, good_connections)
            assert len(flood.admitted) >= MAX_CONNECTIONS - good_connections - 2, (flood, good_connections)
            # Most refusals come without the client sending a byte (the SYN-cookie stragglers
            # described in classify_flood are the exception).
            assert flood.closed_unprompted >= FLOOD // 2, flood

            # At the limit, one more is refused ...
            extra = socket.create_connection((broker.host, broker.port), timeout=5)
            try:
                assert wait_closed_by_peer(extra, WAIT_S), "a connection beyond the limit was kept open"
            finally:
                extra.close()
            # ... and the good client, admitted before the flood, is still served.
            good.progress("while the flood holds every connection slot")
        finally:
            close_all(socks)

        wait_until(lambda: all(fresh_connection_works(broker) for _ in range(5)), timeout=WAIT_S,
                   what="new connections to be admitted after the flood closed")
        good.progress("after the flood")
        good.finish()
        assert broker.alive()
        rss.assert_bounded()


ATTACKER_IP = "127.0.0.2"  # all of 127/8 is loopback on Linux; the good client uses 127.0.0.1
ATTACKER_IP_LIMIT = 50
PER_IP_FLOOD = 500


@limits("per-ip-override", max_connections_per_ip_overrides={ATTACKER_IP: ATTACKER_IP_LIMIT},
        connection_creation_rate=-1)
def test_connection_flood_from_one_address_hits_its_per_ip_limit(broker, topic_name):
    """500 connections from 127.0.0.2 with `max_connections_per_ip_overrides = { "127.0.0.2" =
    50 }`: exactly 50 are admitted, the rest are accepted and closed, while connections from
    127.0.0.1 (the good client, and new ones) are not limited; after the flood closes,
    127.0.0.2 is admitted again."""
    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        socks, failed = open_flood(broker.host, broker.port, PER_IP_FLOOD, source=ATTACKER_IP)
        try:
            assert not failed, f"{len(failed)} connects failed, e.g. {failed[:5]}"
            flood = classify_flood(socks, PER_IP_FLOOD - ATTACKER_IP_LIMIT)
            assert flood.hung == 0, flood
            assert len(flood.admitted) == ATTACKER_IP_LIMIT, (
                f"{len(flood.admitted)} of {PER_IP_FLOOD} connections from {ATTACKER_IP} admitted: {flood}")
            assert flood.closed_unprompted >= PER_IP_FLOOD // 2, flood

            extra = socket.create_connection((broker.host, broker.port), timeout=5,
                                             source_address=(ATTACKER_IP, 0))
            try:
                assert wait_closed_by_peer(extra, WAIT_S), f"a 51st connection from {ATTACKER_IP} was kept open"
            finally:
                extra.close()
            others = [socket.create_connection((broker.host, broker.port), timeout=5) for _ in range(20)]
            try:
                for i, s in enumerate(others):
                    api_versions_roundtrip(s, 200 + i)
            finally:
                close_all(others)
            good.progress(f"while {ATTACKER_IP} is at its limit")
        finally:
            close_all(socks)

        wait_until(lambda: fresh_connection_works(broker, ATTACKER_IP), timeout=WAIT_S,
                   what=f"{ATTACKER_IP} to be admitted again after its flood closed")
        good.progress("after the flood")
        good.finish()
        assert broker.alive()
        rss.assert_bounded()


# --------------------------------------------------------------------------- 2. slow and idle clients

TRICKLE_LIMIT_S = 10.0


def _trickle(broker: Broker, first: bytes, rest: bytes, outcome: dict) -> None:
    """Send ``first``, then ``rest`` one byte a second, until the broker closes the
    connection or TRICKLE_LIMIT_S passes. Records whether it was closed and the local port."""
    s = socket.create_connection((broker.host, broker.port), timeout=5)
    outcome["port"] = s.getsockname()[1]
    outcome["closed"] = False
    try:
        s.sendall(first)
        deadline = time.monotonic() + TRICKLE_LIMIT_S
        sent = 0
        while time.monotonic() < deadline and sent < len(rest):
            if wait_closed_by_peer(s, 1.0):
                outcome["closed"] = True
                return
            try:
                s.sendall(rest[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                outcome["closed"] = True
                return
            sent += 1
        outcome["complete_frame_sent"] = sent >= len(rest)
    except BaseException as e:  # noqa: BLE001 - reported by the test
        outcome["error"] = repr(e)
    finally:
        s.close()


@limits("frame_timeout_ms=2000", frame_timeout_ms=2000)
def test_trickling_client_is_dropped_at_the_frame_timeout(broker, topic_name):
    """Three clients start a frame and then send one byte a second (from inside the length
    prefix, inside a small request, inside a 1 MiB produce after a 64 KiB burst). With
    `frame_timeout_ms = 2000` the broker closes each while it is still trickling, and logs
    the frame timeout as the reason; the good client is served throughout."""
    api_versions = wire.frame(18, 0, 1, b"", b"e2e-hostile-trickling-client")
    big = wire.frame(0, 3, 1, wire.produce_v3_body("t", 0, b"\0" * (1 << 20)), b"e2e-hostile")
    cases = {
        "inside the length prefix": (api_versions[:2], api_versions[2:]),
        "inside a small request": (api_versions[:6], api_versions[6:]),
        "inside a 1 MiB request": (big[:65536], big[65536:65536 + 64]),
    }
    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        outcomes: dict[str, dict] = {name: {} for name in cases}
        threads = [threading.Thread(target=_trickle, args=(broker, first, rest, outcomes[name]), daemon=True)
                   for name, (first, rest) in cases.items()]
        for t in threads:
            t.start()
        good.progress("while clients trickle")
        for t in threads:
            t.join(timeout=TRICKLE_LIMIT_S + WAIT_S)
        for name, o in outcomes.items():
            assert "error" not in o, f"{name}: {o['error']}"
            assert not o.get("complete_frame_sent"), f"{name}: the test sent a whole frame"
            assert o["closed"], f"{name}: still open after {TRICKLE_LIMIT_S:.0f} s of trickling"

        def logged(port: int) -> bool:
            peer = f"127.0.0.1:{port}"
            for line in broker.log_path.read_text(errors="replace").splitlines():
                low = line.lower()
                if peer in line and "frame" in low and ("timeout" in low or "timed out" in low):
                    return True
            return False

        for name, o in outcomes.items():
            wait_until(lambda: logged(o["port"]), timeout=WAIT_S,
                       what=f"a broker log line naming 127.0.0.1:{o['port']} ({name}) and the frame timeout")
        good.progress("after the tricklers")
        good.finish()
        assert broker.alive()
        rss.assert_bounded()


@limits("connections_max_idle_ms=2000", connections_max_idle_ms=2000)
def test_idle_connection_is_closed_after_connections_max_idle_ms(broker, topic_name):
    """With `connections_max_idle_ms = 2000`, a connection silent after one ApiVersions is
    closed by the broker, while one that sends a request every half second stays open past
    the idle limit; the good client (always busy) is served throughout."""
    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        idle = socket.create_connection((broker.host, broker.port), timeout=5)
        busy = socket.create_connection((broker.host, broker.port), timeout=5)
        try:
            api_versions_roundtrip(idle, 1)
            api_versions_roundtrip(busy, 1)
            # The busy connection: 12 requests half a second apart, three times the idle limit.
            for corr in range(2, 14):
                time.sleep(0.5)
                api_versions_roundtrip(busy, corr)
            good.progress("while a connection idles")
            assert wait_closed_by_peer(idle, WAIT_S), "an idle connection was not closed"
        finally:
            idle.close()
            busy.close()
        good.progress("after the idle connection was closed")
        good.finish()
        assert broker.alive()
        rss.assert_bounded()


# --------------------------------------------------------------------------- 3. zstd bombs

ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)
ZSTD_MAX_BLOCK = 128 * 1024
TEN_GIB = 10 << 30


def _zstd_rle_block(size: int, last: bool) -> bytes:
    """An RLE block (RFC 8878 3.1.1.2): 3-byte header (last flag, type 1, size) and the byte
    repeated ``size`` times."""
    header = (1 if last else 0) | (1 << 1) | (size << 3)
    return struct.pack("<I", header)[:3] + b"\0"


def _zstd_frame(blocks: int, content_size: int | None) -> bytes:
    """A zstd frame of ``blocks`` 128 KiB RLE blocks with a 128 KiB window and, if given, a
    declared (8-byte) frame content size; no checksum."""
    window = bytes([(17 - 10) << 3])  # Window_Descriptor: 2^17 bytes
    if content_size is None:
        header = ZSTD_MAGIC + b"\x00" + window
    else:
        header = ZSTD_MAGIC + b"\xc0" + window + struct.pack("<Q", content_size)
    body = _zstd_rle_block(ZSTD_MAX_BLOCK, False) * (blocks - 1) + _zstd_rle_block(ZSTD_MAX_BLOCK, True)
    return header + body


def zstd_bombs() -> dict[str, bytes]:
    """(a) ~1 KiB that declares 10 GiB of content; (b) ~330 KiB that really expands to
    10 GiB (81,920 blocks of 128 KiB), without declaring it."""
    return {
        "declares 10 GiB": _zstd_frame(256, TEN_GIB),
        "expands to 10 GiB": _zstd_frame(TEN_GIB // ZSTD_MAX_BLOCK, None),
    }


def test_zstd_bomb_frames_are_what_they_claim():
    """The hand-built frames are valid zstd: checked on small versions with the zstandard
    library, so the broker test below attacks with real bombs, not garbage."""
    zstandard = pytest.importorskip("zstandard")
    small = _zstd_frame(3, None)
    assert zstandard.ZstdDecompressor().decompressobj().decompress(small) == b"\0" * (3 * ZSTD_MAX_BLOCK)
    declared = _zstd_frame(3, 3 * ZSTD_MAX_BLOCK)
    assert zstandard.ZstdDecompressor().decompress(declared) == b"\0" * (3 * ZSTD_MAX_BLOCK)
    bombs = zstd_bombs()
    assert zstandard.frame_content_size(bombs["declares 10 GiB"]) == TEN_GIB
    assert len(bombs["declares 10 GiB"]) < 1100
    assert zstandard.frame_content_size(bombs["expands to 10 GiB"]) == -1  # not declared
    assert len(bombs["expands to 10 GiB"]) < 330 * 1024


BOMB_CONNECTIONS = 4
BOMB_ROUNDS = 5  # per connection: each bomb to each topic 4 x 5 = 20 times


def _create_topics(broker: Broker, topics: dict[str, dict[str, str]]) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "e2e-hostile-admin"})
    futures = admin.create_topics([NewTopic(t, 1, 1, config=c) for t, c in topics.items()],
                                  operation_timeout=10)
    for f in futures.values():
        assert f.result(timeout=WAIT_S) is None


def _bomb_from_connections(broker: Broker, topics: dict[str, str], batches: dict[str, bytes],
                           good: "GoodClient") -> dict[tuple[str, str], list]:
    """Produces every batch to every topic from ``BOMB_CONNECTIONS`` connections at once, at
    least ``BOMB_ROUNDS`` times each and until ``good`` has made progress meanwhile; returns
    each (topic label, batch label)'s answers (error codes, or how the connection failed)."""
    results: dict[tuple[str, str], list] = {(t, b): [] for t in topics for b in batches}
    results_lock = threading.Lock()
    stop = threading.Event()

    def attack() -> None:
        rounds = 0
        try:
            with wire.Conn(broker.host, broker.port, client_id="e2e-hostile-bomber", timeout=WAIT_S) as c:
                while rounds < BOMB_ROUNDS or not stop.is_set():
                    for t_name, topic in topics.items():
                        for b_name, batch in batches.items():
                            err, _base = wire.produce_v3(c, topic, 0, batch)
                            with results_lock:
                                results[(t_name, b_name)].append(err)
                    rounds += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            with results_lock:
                for v in results.values():
                    v.append(f"connection failed: {e!r}")

    attackers = [threading.Thread(target=attack, daemon=True) for _ in range(BOMB_CONNECTIONS)]
    for t in attackers:
        t.start()
    try:
        good.progress("while bombs are being produced")
    finally:
        stop.set()
        for t in attackers:
            t.join(timeout=300)
    assert not any(t.is_alive() for t in attackers), "a bomb produce request got no answer"
    assert broker.alive(), "the broker died"
    for codes in results.values():
        assert len(codes) >= BOMB_CONNECTIONS * BOMB_ROUNDS, _summary(results)
    return results


def _summary(results: dict[tuple[str, str], list]) -> dict[str, list[str]]:
    return {f"{b} -> {t}": sorted(set(map(str, v))) for (t, b), v in results.items()}


def test_zstd_bomb_is_rejected_and_memory_stays_bounded(broker, topic_name):
    """Produce v3 requests whose one record batch (correct CRC-32C, zstd, one record) holds a
    zstd bomb, 20 times each from four connections at once, to a topic that keeps the
    producer's codec and to one that recompresses to lz4 (so the broker must decompress).
    Every answer is a partition error (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE or INVALID_RECORD),
    the broker stays up, its memory stays bounded and the good client is served throughout."""
    topics = {
        "producer codec": (topic_name("bomb-producer"), {}),
        "recompressed to lz4": (topic_name("bomb-lz4"), {"compression.type": "lz4"}),
    }
    _create_topics(broker, dict(topics.values()))
    batches = {name: wire.raw_batch(bomb, 1, CODEC_ZSTD) for name, bomb in zstd_bombs().items()}

    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        results = _bomb_from_connections(broker, {t: name for t, (name, _) in topics.items()}, batches, good)
        assert fresh_connection_works(broker)
        good.progress("after the bombs")
        good.finish()

        summary = _summary(results)
        for (t, b), codes in results.items():
            assert set(codes) <= BOMB_REFUSALS, f"{b} -> {t}: answered {sorted(set(map(str, codes)))}; all: {summary}"
        rss.assert_bounded()


def _varint(v: int) -> bytes:
    """Zig-zag varint, as record fields are written."""
    u = (v << 1) ^ (v >> 63)
    out = bytearray()
    while True:
        b = u & 0x7F
        u >>= 7
        if u:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zstd_record_bomb(expands_to: int) -> bytes:
    """A zstd frame (no content size, 128 KiB window) that decompresses to one well-formed
    record whose value claims 2 GiB: a raw block with the record's length and fields, then
    128 KiB RLE blocks of zeros (the value) up to ``expands_to`` bytes. Unlike a frame of
    zeros, every byte it expands to is valid record data, so the broker has to decompress all
    of it up to its cap before it can refuse."""
    value_len = (1 << 31) - 64
    fields = b"\0" + _varint(0) + _varint(0) + _varint(-1) + _varint(value_len)
    record = _varint(len(fields) + value_len + 1) + fields
    raw_block = struct.pack("<I", len(record) << 3)[:3] + record  # raw block, not last
    blocks = expands_to // ZSTD_MAX_BLOCK
    body = _zstd_rle_block(ZSTD_MAX_BLOCK, False) * (blocks - 1) + _zstd_rle_block(ZSTD_MAX_BLOCK, True)
    return ZSTD_MAGIC + b"\x00" + bytes([(17 - 10) << 3]) + raw_block + body


def test_zstd_record_bomb_is_valid_zstd():
    """The record bomb decodes with the zstandard library into a record prefix and zeros."""
    zstandard = pytest.importorskip("zstandard")
    small = _zstd_record_bomb(3 * ZSTD_MAX_BLOCK)
    out = zstandard.ZstdDecompressor().decompressobj().decompress(small)
    assert out.endswith(b"\0" * (3 * ZSTD_MAX_BLOCK)) and len(out) > 3 * ZSTD_MAX_BLOCK
    assert len(_zstd_record_bomb(TEN_GIB)) < 330 * 1024


ONE_GIB = 1 << 30
# The broker's max_message_bytes_ceiling default: the most a client may raise max.message.bytes to.
MAX_MESSAGE_BYTES_CEILING = 16 << 20
ERR_INVALID_CONFIG = 40


def test_raised_limit_zstd_bombs_are_refused_and_nothing_is_stored(broker, topic_name):
    """Issue 9's crash: a client raised its topic's max.message.bytes to 2147483647 (then
    accepted, making the decompression cap 32 GiB) and sent a 330 KiB zstd batch that expands to
    10 GiB. Now the raise is refused past the broker ceiling, and at the ceiling the bombs
    (10 GiB and 1 GiB of well-formed record data, from four connections at once, to a topic that
    keeps the producer's codec and to one that recompresses) are refused with CORRUPT_MESSAGE,
    nothing is stored, memory stays bounded and a good client is served throughout."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    topics = {
        "producer codec": topic_name("raised-producer"),
        "recompressed to gzip": topic_name("raised-gzip"),
    }
    _create_topics(broker, {topics["producer codec"]: {}, topics["recompressed to gzip"]: {"compression.type": "gzip"}})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "e2e-hostile-raiser"})

    def set_max_message_bytes(topic: str, value: int):
        res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
            ConfigEntry("max.message.bytes", str(value), incremental_operation=AlterConfigOpType.SET)])
        (f,) = admin.incremental_alter_configs([res]).values()
        return f.exception(timeout=WAIT_S)

    for topic in topics.values():
        refused = set_max_message_bytes(topic, 2147483647)
        assert refused is not None and refused.args[0].code() == ERR_INVALID_CONFIG, refused
        assert "max_message_bytes_ceiling" in refused.args[0].str(), refused
        assert set_max_message_bytes(topic, MAX_MESSAGE_BYTES_CEILING) is None
    # Creating a topic with the raised value is refused the same way.
    (f,) = admin.create_topics([NewTopic(topic_name("raised-new"), 1, 1,
                                         config={"max.message.bytes": "2147483647"})]).values()
    refused = f.exception(timeout=WAIT_S)
    assert refused is not None and refused.args[0].code() == ERR_INVALID_CONFIG, refused

    batches = {
        "expands to 10 GiB": wire.raw_batch(_zstd_record_bomb(TEN_GIB), 1, CODEC_ZSTD),
        "expands to 1 GiB": wire.raw_batch(_zstd_record_bomb(ONE_GIB), 1, CODEC_ZSTD),
    }
    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        results = _bomb_from_connections(broker, topics, batches, good)
        good.progress("after the bombs")
        good.finish()

        for (t, b), codes in results.items():
            assert set(codes) == {ERR_CORRUPT_MESSAGE}, f"{b} -> {t}: {_summary(results)}"
        for topic in topics.values():
            assert _high_watermark(broker, topic) == 0, f"a bomb was stored in {topic}"
        rss.assert_bounded()


def _record(fields: bytes, declared_extra: int = 0) -> bytes:
    return _varint(len(fields) + declared_extra) + fields


def test_malformed_uncompressed_records_are_refused_and_not_stored(broker, topic_name):
    """Uncompressed batches are walked record by record too (Kafka's log validator does): a
    batch whose header and CRC are right but whose records are not is refused with
    CORRUPT_MESSAGE and never reaches a consumer; a well-formed one built the same way is
    stored."""
    topic = topic_name("plain-records")
    _create_topics(broker, {topic: {}})
    good_fields = b"\0" + _varint(0) + _varint(0) + _varint(-1) + _varint(3) + b"abc" + _varint(0)
    hostile = {
        "value longer than the batch": _record(b"\0" + _varint(0) + _varint(0) + _varint(-1)
                                               + _varint((1 << 31) - 64) + b"x" * 8, (1 << 31) - 72),
        "length beyond its fields": _record(good_fields, 2) + b"\0\0",
        "bytes after the last record": _record(good_fields) + b"\x02" * 8,
        "header count past the bytes": _record(b"\0" + _varint(0) + _varint(0) + _varint(-1)
                                               + _varint(0) + _varint(1000) + b"\0" * 4),
        "varint too long": b"\xff" * 12,
    }
    with wire.Conn(broker.host, broker.port, client_id="e2e-hostile-records", timeout=WAIT_S) as c:
        for name, records in hostile.items():
            err, _ = wire.produce_v3(c, topic, 0, wire.raw_batch(records, 1))
            assert err == ERR_CORRUPT_MESSAGE, f"{name}: answered {err}"
        assert _high_watermark(broker, topic) == 0, "a malformed batch was stored"
        err, base = wire.produce_v3(c, topic, 0, wire.raw_batch(_record(good_fields), 1))
        assert (err, base) == (0, 0)
    assert _high_watermark(broker, topic) == 1


# --------------------------------------------------------------------------- 4. pipelining

IN_FLIGHT = 16
PIPELINE_CLIENT_ID = b"e2e-hostile-pipeliner-" + b"x" * 2000  # ~2 KiB requests, 0.4 KiB answers
MAX_PIPELINED_REQUESTS = 50_000  # ~100 MiB: far beyond any socket buffer
PRODUCE_RECORD = 900_000  # under the default max.message.bytes (1 MiB)
MAX_PIPELINED_PRODUCES = 200  # ~180 MiB


def _kernel_socket_buffers() -> int:
    """The most the kernel can hold in flight on one loopback connection in one direction:
    the sender's maximum send buffer plus the receiver's maximum receive buffer."""
    def max_of(path: str, fallback: int) -> int:
        try:
            return int(Path(path).read_text().split()[2])
        except (OSError, IndexError, ValueError):
            return fallback
    return max_of("/proc/sys/net/ipv4/tcp_wmem", 4 << 20) + max_of("/proc/sys/net/ipv4/tcp_rmem", 6 << 20)


class Pipeliner:
    """A non-blocking socket that writes pre-encoded frames without reading, until the
    kernel refuses more (EAGAIN) and keeps refusing for a second, i.e. the broker stopped
    reading. Then it reads every response, finishing the frame it was cut off in."""

    def __init__(self, broker: Broker):
        self.sock = socket.create_connection((broker.host, broker.port), timeout=5)
        self.sock.setblocking(False)
        self.sent_frames = 0  # frames written completely
        self.sent_bytes = 0
        self.pending = b""  # the rest of a frame cut off by EAGAIN

    def write_until_blocked(self, frames: Iterable[bytes]) -> bool:
        """True once the broker stops reading; False if ``frames`` ran out first."""
        for f in frames:
            view = memoryview(f)
            while view:
                try:
                    n = self.sock.send(view)
                    view = view[n:]
                    self.sent_bytes += n
                except BlockingIOError:
                    _, writable, _ = select_write(self.sock, 1.0)
                    if not writable:
                        self.pending = bytes(view)
                        return True
            self.sent_frames += 1
        return False

    def still_blocked(self, seconds: float) -> bool:
        return not select_write(self.sock, seconds)[1]

    def read_all(self, expected: int, on_response) -> None:
        """Send the cut-off frame's rest while reading ``expected`` responses in order,
        calling ``on_response(index, correlation_id, body)`` for each."""
        if self.pending:
            self.sent_frames += 1  # will be sent whole below
            expected += 1
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if self.pending else 0))
        buf = bytearray()
        got = 0
        deadline = time.monotonic() + 2 * WAIT_S
        while got < expected:
            assert time.monotonic() < deadline, f"only {got} of {expected} responses arrived"
            for _, events in sel.select(timeout=0.5):
                if events & selectors.EVENT_WRITE and self.pending:
                    try:
                        n = self.sock.send(self.pending)
                        self.pending = self.pending[n:]
                    except BlockingIOError:
                        pass
                    if not self.pending:
                        sel.modify(self.sock, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    try:
                        chunk = self.sock.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    assert chunk, f"the broker closed the connection after {got} of {expected} responses"
                    buf += chunk
                    while (response := wire.split_response(buf)) is not None:
                        length, payload = response
                        (corr,) = struct.unpack(">i", payload[:4])
                        on_response(got, corr, bytes(payload[4:]))
                        del buf[:length]
                        got += 1
        sel.close()

    def close(self) -> None:
        self.sock.close()


def select_write(sock: socket.socket, timeout: float):
    return select.select([], [sock], [], timeout)


def _high_watermark(broker: Broker, topic: str) -> int:
    with wire.Conn(broker.host, broker.port, client_id="e2e-hostile-observer") as c:
        err, _ts, offset, _epoch = wire.list_offsets_v9(c, topic, 0, -1)
        assert err == 0, err
        return offset


@limits("max_in_flight=16", max_in_flight_requests_per_connection=IN_FLIGHT)
def test_pipelined_requests_hit_the_in_flight_limit(broker, topic_name):
    """A client that pipelines requests and never reads: (1) ~2 KiB ApiVersions requests,
    tens of thousands of them; (2) ~1 MiB Produce requests behind a long-polling Fetch that
    holds the head of the response queue. In both the broker stops reading (the client's
    send blocks and stays blocked), in (2) it appends no more than the in-flight limit
    allows, and once the client reads, every request it sent is answered, in order. The good
    client is served throughout and memory stays bounded."""
    plug_topic, data_topic = topic_name("plug"), topic_name("data")
    _create_topics(broker, {plug_topic: {}, data_topic: {}})
    with RssSampler(broker.proc.pid) as rss, GoodClient(broker, topic_name("good")) as good:
        # (1) Small requests, never reading the answers.
        p = Pipeliner(broker)
        try:
            frames = (wire.frame(18, 0, corr, b"", PIPELINE_CLIENT_ID)
                      for corr in range(1, MAX_PIPELINED_REQUESTS + 1))
            assert p.write_until_blocked(frames), (
                f"the broker read all {MAX_PIPELINED_REQUESTS} pipelined requests "
                f"({p.sent_bytes} bytes) without the client reading one answer")
            assert p.still_blocked(1.0), "the broker resumed reading while no answer was read"
            good.progress("while a pipelining client is stalled")
            corrs: list[int] = []

            def check_api_versions(i: int, corr: int, body: bytes) -> None:
                corrs.append(corr)
                assert struct.unpack(">h", body[:2])[0] == 0, f"request {corr}: error"

            p.read_all(p.sent_frames, check_api_versions)
            assert corrs == list(range(1, len(corrs) + 1)), "responses out of order"
            assert len(corrs) == p.sent_frames
        finally:
            p.close()

        # (2) Large produce requests behind a fetch that waits for data on an empty topic.
        batch = wire.build_batch([b"p" * PRODUCE_RECORD])
        produce_body = wire.produce_v3_body(data_topic, 0, batch, acks=1)
        plug = wire.frame(1, 4, 1, wire.fetch_v4_body(plug_topic, 0, 0, max_wait_ms=30000, min_bytes=1))
        p = Pipeliner(broker)
        try:
            frames = itertools.chain([plug], (wire.frame(0, 3, corr, produce_body, b"e2e-hostile")
                                              for corr in range(2, MAX_PIPELINED_PRODUCES + 2)))
            assert p.write_until_blocked(frames), (
                f"the broker read all {MAX_PIPELINED_PRODUCES} pipelined produce requests "
                f"({p.sent_bytes} bytes) while the fetch at their head was unanswered")
            appended = _high_watermark(broker, data_topic)
            assert p.still_blocked(1.0), "the broker resumed reading while no answer was read"
            assert _high_watermark(broker, data_topic) == appended
            # The fetch plus the produce requests dispatched behind it are the requests in
            # flight; the broker must not have taken more.
            assert 1 + appended <= IN_FLIGHT, f"{appended} produce requests dispatched behind the unanswered fetch"
            bound = _kernel_socket_buffers() + (IN_FLIGHT + 2) * len(produce_body)
            assert p.sent_bytes <= bound, f"{p.sent_bytes} bytes accepted; bound {bound}"
            good.progress("while a pipelining producer is stalled")

            # Release the plug: one record on its topic answers the fetch.
            with wire.Conn(broker.host, broker.port, client_id="e2e-hostile-releaser") as c:
                assert wire.produce_v3(c, plug_topic, 0, wire.build_batch([b"release"]))[0] == 0
            answers: list[tuple[int, int]] = []

            def check(i: int, corr: int, body: bytes) -> None:
                if corr == 1:
                    err, _hwm, batches = wire.fetch_v4_parse(body, plug_topic, 0)
                    assert err != 0 or batches, "the long poll was answered without the release record"
                    answers.append((corr, err))
                else:
                    err, _base = wire.produce_v3_parse(body, data_topic, 0)
                    answers.append((corr, err))

            p.read_all(p.sent_frames, check)
            assert [c for c, _ in answers] == list(range(1, len(answers) + 1)), "responses out of order"
            assert len(answers) == p.sent_frames
            assert all(err == 0 for _, err in answers), [a for a in answers if a[1] != 0][:5]
        finally:
            p.close()

        good.progress("after the pipelining clients")
        good.finish()
        assert broker.alive()
        rss.assert_bounded()

