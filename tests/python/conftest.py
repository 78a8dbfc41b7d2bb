"""Shared fixtures for the end-to-end suites that drive schloss with third-party clients.

The broker runs as a real process (``schloss serve --config FILE``) in its own temporary
directory. It binds 127.0.0.1:0 and announces the chosen port on stdout with the line
``schloss: listener PLAINTEXT on 127.0.0.1:PORT``; the fixture waits for that line.

Environment:
  SCHLOSS_BIN   path of the broker binary (default: <repo>/target/debug/schloss)
  RUST_LOG      passed through to the broker (its stderr goes to <tmp>/broker.log, whose
                tail is printed when a test fails)
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^schloss: listener (\S+) on (\S+):(\d+)\s*$")
START_TIMEOUT_S = 60.0


def schloss_bin() -> Path:
    env = os.environ.get("SCHLOSS_BIN")
    path = Path(env) if env else REPO_ROOT / "target" / "debug" / "schloss"
    if not path.is_file():
        pytest.fail(
            f"schloss binary not found at {path}: build it with "
            "`cargo build --bin schloss` or set SCHLOSS_BIN",
            pytrace=False,
        )
    return path


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Broker:
    """A running schloss process."""

    proc: subprocess.Popen
    workdir: Path
    host: str
    port: int
    log_path: Path
    _stdout_lines: list = field(default_factory=list)
    _pump: threading.Thread | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def log_tail(self, n: int = 80) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "<no broker log>"
        return "\n".join(lines[-n:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._pump is not None:
            self._pump.join(timeout=5)
        if self.proc.stdout is not None and (self._pump is None or not self._pump.is_alive()):
            self.proc.stdout.close()


class Launched(NamedTuple):
    """What :func:`launch` returns: the process, the announced listeners
    (name -> (host, port)), the stderr log, the captured stdout lines and their pump thread."""

    proc: subprocess.Popen
    listeners: dict[str, tuple[str, int]]
    log_path: Path
    captured: list[str]
    pump_thread: threading.Thread


def launch(
    workdir: Path,
    config_text: str,
    expected_listeners: int | Iterable[str],
    rust_log: str | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Launched:
    """The one place that starts a broker process: writes ``config_text`` to
    ``workdir/schloss.toml``, runs ``schloss serve --config`` there (stderr to
    ``workdir/broker.log``, stdout pumped by a daemon thread into a list) and waits until the
    expected listeners announce themselves with ``schloss: listener NAME on HOST:PORT``.

    ``expected_listeners`` is either the names to wait for or how many listeners (any names).
    ``rust_log`` sets ``RUST_LOG``; without it the caller's ``RUST_LOG`` is kept (default
    ``info``). ``preexec_fn`` runs in the child before exec (e.g. to lower its RLIMIT_NOFILE).
    On timeout or early exit the process is reaped and ``RuntimeError`` raised with
    the log tail."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "schloss.toml"
    cfg_path.write_text(config_text)
    log_path = workdir / "broker.log"
    env = dict(os.environ)
    if rust_log is None:
        env.setdefault("RUST_LOG", "info")
    else:
        env["RUST_LOG"] = rust_log
    env["NO_COLOR"] = "1"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [str(schloss_bin()), "serve", "--config", str(cfg_path)],
            cwd=str(workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=env,
            preexec_fn=preexec_fn,
        )

    lines: queue.Queue = queue.Queue()
    captured: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            captured.append(line)
            lines.put(line)
        lines.put(None)

    pump_thread = threading.Thread(target=pump, daemon=True)
    pump_thread.start()

    if isinstance(expected_listeners, int):
        count, names = expected_listeners, None
    else:
        names = set(expected_listeners)
        count = len(names)

    def complete(found: dict) -> bool:
        return names <= set(found) if names is not None else len(found) >= count

    found: dict[str, tuple[str, int]] = {}
    deadline = time.monotonic() + START_TIMEOUT_S
    while not complete(found):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise RuntimeError(
                f"schloss did not announce its listener(s) within {START_TIMEOUT_S}s; "
                f"log:\n{log_path.read_text(errors='replace')[-4000:]}"
            )
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            rc = proc.wait()
            raise RuntimeError(
                f"schloss exited (rc={rc}) before announcing its listener(s); "
                f"log:\n{log_path.read_text(errors='replace')[-4000:]}"
            )
        m = READY_RE.match(line)
        if m:
            found[m.group(1)] = (m.group(2), int(m.group(3)))
    return Launched(proc, found, log_path, captured, pump_thread)


def start_broker(
    workdir: Path,
    topic_defaults: dict[str, str] | None = None,
    num_partitions: int = 1,
    auto_create_topics: bool = True,
    retention_check_interval_ms: int = 300000,
    broker_extra: str = "",
    preexec_fn: Callable[[], None] | None = None,
    authorization: str = "",
) -> Broker:
    """A broker with one PLAINTEXT listener; ``broker_extra`` is raw TOML inside the
    ``[broker]`` table (e.g. connection limits), ``authorization`` the body of an
    ``[authorization]`` table (none: mode allow-tenant)."""
    data_dir = workdir / "data"
    defaults = "\n".join(
        f"{_toml_str(k)} = {_toml_str(v)}" for k, v in (topic_defaults or {}).items()
    )
    config = f"""\
[broker]
node_id = 1
data_dir = {_toml_str(str(data_dir))}
num_partitions = {num_partitions}
auto_create_topics = {"true" if auto_create_topics else "false"}
retention_check_interval_ms = {retention_check_interval_ms}
{broker_extra}

[topic_defaults]
{defaults}

[[listeners]]
name = "PLAINTEXT"
address = "127.0.0.1:0"
advertised = "127.0.0.1:0"
security_protocol = "PLAINTEXT"
tenant = "default"
"""
    if authorization:
        config += f"\n[authorization]\n{authorization}\n"
    launched = launch(workdir, config, ["PLAINTEXT"], preexec_fn=preexec_fn)
    host, port = launched.listeners["PLAINTEXT"]
    return Broker(launched.proc, workdir, host, port, launched.log_path, launched.captured,
                  launched.pump_thread)


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[Broker]:
    """One broker per test module; tests use unique topic names (see ``topic_name``)."""
    b = start_broker(tmp_path_factory.mktemp("schloss"))
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def broker_factory(tmp_path) -> Iterator[Callable[..., Broker]]:
    """Start brokers with custom settings (e.g. topic_defaults); stopped at test end."""
    started: list[Broker] = []

    def make(**kwargs) -> Broker:
        b = start_broker(tmp_path / f"schloss-{len(started)}", **kwargs)
        started.append(b)
        return b

    try:
        yield make
    finally:
        for b in started:
            b.stop()


@pytest.fixture
def topic_name(request) -> Callable[[str], str]:
    """Unique, valid topic names derived from the test name."""

    def make(suffix: str = "") -> str:
        base = re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:80]
        return f"{base}{'-' + suffix if suffix else ''}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tail of every broker log the test used."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not rep.failed:
        return
    for name in ("broker", "auth_broker"):
        b = item.funcargs.get(name)
        if isinstance(b, Broker):
            rep.sections.append(("schloss broker log (tail)", b.log_tail()))
            if not b.alive():
                rep.sections.append(("schloss broker", f"exited with {b.proc.returncode}"))


def wait_until(pred: Callable[[], bool], timeout: float = 20.0, interval: float = 0.1, what: str = "") -> None:
    """Poll ``pred`` until it is true; fail after ``timeout`` seconds (never asserts speed)."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or pred}" + (f": {last_exc!r}" if last_exc else ""))


def have_kcat() -> str | None:
    return shutil.which("kcat") or shutil.which("kafkacat")
