"""A schloss broker with authentication, for the ``test_auth_*`` suites.

``start_auth_broker`` prepares a temporary directory with ``schloss certs dev --dir certs`` and
``schloss users add``, then runs the broker with three listeners on 127.0.0.1:0:

* ``SASL_SSL``       PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 over TLS (server cert for 127.0.0.1)
* ``SASL_PLAINTEXT`` the same mechanisms without TLS
* ``SSL``            mutual TLS (client certificate required, dev CA), principal mapping by
                     SPIFFE URI SAN, then ``CN=`` of the subject DN

and waits for each ``schloss: listener NAME on HOST:PORT`` line. Users: ``default/alice``
and ``acme/bob`` (every mechanism).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import Broker, _toml_str, launch, schloss_bin

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SASL_LISTENERS = ["SASL_SSL", "SASL_PLAINTEXT"]
ALICE = ("default/alice", "alice-py-s3cret")
BOB = ("acme/bob", "bob-py-s3cret")
RULES = (r"SAN:URI:^spiffe:\/\/([a-z0-9-]+)\/ns\/[^\/]+\/sa\/(.+)$/$2/$1/,"
         r"RULE:^CN=([^,]+),.*$/$1/,DEFAULT")


def run_cli(workdir: Path, *args: str) -> str:
    """Runs ``schloss ARGS`` in ``workdir``; fails the test with its stderr if it fails."""
    proc = subprocess.run([str(schloss_bin()), *args], cwd=str(workdir), capture_output=True,
                          timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"schloss {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


@dataclass
class AuthBroker(Broker):
    """A running schloss process with several listeners (``bootstrap_of(name)``)."""

    listeners: dict = field(default_factory=dict)

    def bootstrap_of(self, name: str) -> str:
        host, port = self.listeners[name]
        return f"{host}:{port}"

    @property
    def certs(self) -> Path:
        return self.workdir / "certs"

    @property
    def ca(self) -> str:
        return str(self.certs / "ca.pem")

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cli(self, *args: str) -> str:
        return run_cli(self.workdir, *args)

    def partition_dirs(self) -> list[str]:
        return sorted(p.name for p in self.data_dir.iterdir()
                      if p.is_dir() and not p.name.startswith("__"))


def start_auth_broker(workdir: Path, authentication_timeout_ms: int = 10000,
                      connections_max_reauth_ms: int = 0, rust_log: str = "info",
                      broker_extra: str = "", authorization: str = "") -> AuthBroker:
    """``broker_extra`` is raw TOML inside the ``[broker]`` table (e.g. connection limits);
    ``authorization`` the body of an ``[authorization]`` table (none: mode allow-tenant)."""
    workdir.mkdir(parents=True, exist_ok=True)
    run_cli(workdir, "certs", "dev", "--dir", "certs")
    for login, password in (ALICE, BOB):
        run_cli(workdir, "users", "add", login, "--password", password)
    mechanisms = "[" + ", ".join(_toml_str(m) for m in MECHANISMS) + "]"
    tls = '[listeners.tls]\ncert = "certs/server.pem"\nkey = "certs/server.key"\n'
    config = f"""\
[broker]
node_id = 1
data_dir = {_toml_str(str(workdir / "data"))}
num_partitions = 1
auto_create_topics = true
{broker_extra}

{"[authorization]" if authorization else ""}
{authorization}

[auth]
credentials_file = "users.toml"
authentication_timeout_ms = {authentication_timeout_ms}
connections_max_reauth_ms = {connections_max_reauth_ms}

[[listeners]]
name = "SASL_SSL"
address = "127.0.0.1:0"
advertised = "127.0.0.1:0"
security_protocol = "SASL_SSL"
tenant = "default"
sasl_mechanisms = {mechanisms}
{tls}
[[listeners]]
name = "SASL_PLAINTEXT"
address = "127.0.0.1:0"
advertised = "127.0.0.1:0"
security_protocol = "SASL_PLAINTEXT"
tenant = "default"
sasl_mechanisms = {mechanisms}

[[listeners]]
name = "SSL"
address = "127.0.0.1:0"
advertised = "127.0.0.1:0"
security_protocol = "SSL"
tenant = "default"
{tls}client_auth = "required"
ca = "certs/ca.pem"
principal_mapping_rules = '{RULES}'
"""
    launched = launch(workdir, config, ["SASL_SSL", "SASL_PLAINTEXT", "SSL"], rust_log=rust_log)
    host, port = launched.listeners["SASL_SSL"]
    return AuthBroker(launched.proc, workdir, host, port, launched.log_path, launched.captured,
                      launched.pump_thread, launched.listeners)


# --------------------------------------------------------------------------- client settings


def kafka_python_kwargs(broker: AuthBroker, listener: str, mechanism: str | None = None,
                        user: str | None = None, password: str | None = None,
                        cert: tuple[str, str] | None = None) -> dict:
    kw: dict = {"bootstrap_servers": broker.bootstrap_of(listener), "security_protocol": listener,
                "client_id": "auth-e2e-kafka-python"}
    if listener in ("SASL_SSL", "SSL"):
        kw["ssl_cafile"] = broker.ca
    if mechanism is not None:
        kw.update(sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
    if cert is not None:
        kw.update(ssl_certfile=cert[0], ssl_keyfile=cert[1])
    return kw


def librdkafka_conf(broker: AuthBroker, listener: str, mechanism: str | None = None,
                    user: str | None = None, password: str | None = None,
                    cert: tuple[str, str] | None = None) -> dict[str, str]:
    """librdkafka properties (confluent-kafka, and kcat's ``-X``)."""
    conf = {"bootstrap.servers": broker.bootstrap_of(listener), "security.protocol": listener,
            "client.id": "auth-e2e-librdkafka"}
    if listener in ("SASL_SSL", "SSL"):
        conf["ssl.ca.location"] = broker.ca
    if mechanism is not None:
        conf.update({"sasl.mechanisms": mechanism, "sasl.username": user, "sasl.password": password})
    if cert is not None:
        conf.update({"ssl.certificate.location": cert[0], "ssl.key.location": cert[1]})
    return conf


def dev_client_cert(broker: AuthBroker) -> tuple[str, str]:
    return str(broker.certs / "client.pem"), str(broker.certs / "client.key")


# --------------------------------------------------------------------------- raw SASL


def plain_login(broker: AuthBroker, user: str, password: str) -> tuple[int, str | None]:
    """SaslHandshake v1 + SaslAuthenticate v0 with a PLAIN token on a fresh SASL_PLAINTEXT
    connection. Returns (error code, error message)."""
    import struct

    import kafka_wire as wire

    host, port = broker.listeners["SASL_PLAINTEXT"]
    with wire.Conn(host, port, client_id="auth-e2e-raw") as conn:
        mech = b"PLAIN"
        r = wire.Reader(conn.request(17, 1, struct.pack(">h", len(mech)) + mech))
        code = r.take(">h")
        assert code == 0, f"SaslHandshake: error {code}"
        token = f"\0{user}\0{password}".encode()
        r = wire.Reader(conn.request(36, 0, struct.pack(">i", len(token)) + token))
        code = r.take(">h")
        return code, r.string()


def reset_brake(broker: AuthBroker) -> None:
    """A successful login resets the broker's per-address delay after failed logins, so each
    failure a test provokes costs only the first, shortest delay."""
    code, msg = plain_login(broker, *ALICE)
    assert code == 0, f"alice must be able to log in: {code} {msg}"


# --------------------------------------------------------------------------- consuming


def consume_error(config: dict, topic: str, group: str, timeout: float = 30.0):
    """Polls a confluent-kafka consumer subscribed to ``topic`` with ``group`` until it reports
    an error or a record; returns the ``KafkaError`` (None when a record arrived)."""
    from confluent_kafka import Consumer, KafkaError

    c = Consumer({**config, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                return m.error()
            return None
        raise AssertionError(f"neither a record nor an error from {topic} within {timeout}s")
    finally:
        c.close()
