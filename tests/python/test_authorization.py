"""Cedar authorization end to end with confluent-kafka (librdkafka) and kcat: a broker in mode
``cedar`` with the repository's base.cedar and two of its examples, two tenants and several
principals per tenant. Allowed operations work; denied ones get the error code librdkafka
expects (29 topic, 30 group, 31 cluster) on a connection that stays open; Metadata hides what a
principal may not describe and answers a denied name the same whether or not it exists; policy
edits, credential removals and role changes apply to live connections at their next request;
a broken policy file is refused (at startup the broker does not start)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

ck = pytest.importorskip("confluent_kafka")

from confluent_kafka import Consumer, KafkaError, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

from auth_support import consume_error, librdkafka_conf, run_cli, start_auth_broker  # noqa: E402
from conftest import have_kcat, wait_until  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 30
MECHANISM = "SCRAM-SHA-256"
LISTENER = "SASL_PLAINTEXT"

ADMIN = ("acme/admin", "admin-s3cret")
BILLING = ("acme/billing", "billing-s3cret")  # policies/examples/prefixed.cedar
ANA = ("acme/ana", "ana-s3cret")  # role analytics: policies/examples/analytics-readonly.cedar
TEMP = ("acme/temp", "temp-s3cret")  # removed from the credential file by a test
WES = ("acme/wes", "wes-s3cret")  # role writer (below); loses it in a test
GINA = ("globex/gina", "gina-s3cret")
ROOT = ("ops/root", "root-s3cret")  # role operator: every tenant, by internal names

# Written next to the repository's policies for this broker only.
TEST_POLICIES = {
    "acme-admin.cedar": """\
@id("acme-admin-everything")
permit (principal == Kafka::User::"acme/admin", action, resource in Kafka::Tenant::"acme");

@id("acme-writers")
permit (
  principal in Kafka::Role::"writer",
  action == Kafka::Action::"Write",
  resource is Kafka::Topic in Kafka::Tenant::"acme"
);

@id("acme-temp-writes")
permit (
  principal == Kafka::User::"acme/temp",
  action == Kafka::Action::"Write",
  resource is Kafka::Topic in Kafka::Tenant::"acme"
);
""",
    "globex.cedar": """\
@id("globex-everything")
permit (principal in Kafka::Tenant::"globex", action, resource in Kafka::Tenant::"globex");
""",
}

AUTHORIZATION = 'mode = "cedar"\npolicy_dir = "policies"\nsuper_users = []'


def prepare(workdir: Path) -> Path:
    policies = workdir / "policies"
    policies.mkdir(parents=True)
    shutil.copy(REPO / "policies" / "base.cedar", policies)
    for example in ("prefixed.cedar", "analytics-readonly.cedar"):
        shutil.copy(REPO / "policies" / "examples" / example, policies)
    for name, text in TEST_POLICIES.items():
        (policies / name).write_text(text)
    return policies


@pytest.fixture(scope="module")
def cedar_broker(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("schloss-cedar")
    prepare(workdir)
    run_cli(workdir, "users", "add", ANA[0], "--password", ANA[1], "--roles", "analytics")
    run_cli(workdir, "users", "add", WES[0], "--password", WES[1], "--roles", "writer")
    run_cli(workdir, "users", "add", ROOT[0], "--password", ROOT[1], "--roles", "operator")
    for login, password in (ADMIN, BILLING, TEMP, GINA):
        run_cli(workdir, "users", "add", login, "--password", password)
    b = start_auth_broker(workdir, authorization=AUTHORIZATION, rust_log="info,schloss=debug")
    try:
        admin = AdminClient(conf(b, ADMIN))
        futures = admin.create_topics(
            [NewTopic(t, num_partitions=1, replication_factor=1)
             for t in ("orders", "billing-invoices", "pii-customers")])
        for f in futures.values():
            f.result(TIMEOUT_S)
        for topic in ("orders", "billing-invoices"):
            errors = produce(conf(b, ADMIN), topic, 3)
            assert errors == [], errors
        yield b
    finally:
        b.stop()


def conf(broker, who: tuple[str, str], **extra) -> dict:
    return {**librdkafka_conf(broker, LISTENER, MECHANISM, *who), **extra}


def produce(config: dict, topic: str, n: int = 1, **extra) -> list:
    """Produces ``n`` records; returns the delivery errors (empty when all were written)."""
    errors: list = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    extra = {k.replace("_", "."): v for k, v in extra.items()}
    p = Producer({**config, "message.timeout.ms": 10000, **extra})
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), on_delivery=delivered)
    assert p.flush(TIMEOUT_S) == 0
    return errors


def codes(errors: list) -> set[int]:
    return {e.code() for e in errors}


def topic_names(config: dict) -> set[str]:
    md = AdminClient(config).list_topics(timeout=TIMEOUT_S)
    return set(md.topics)


def topic_error(config: dict, topic: str) -> int:
    md = AdminClient(config).list_topics(topic=topic, timeout=TIMEOUT_S)
    err = md.topics[topic].error
    return 0 if err is None else err.code()


def test_allowed_operations_work(cedar_broker):
    assert produce(conf(cedar_broker, BILLING), "billing-invoices", 2) == []
    assert consume_error(conf(cedar_broker, BILLING), "billing-invoices", "billing-consumers") is None
    assert consume_error(conf(cedar_broker, ANA), "orders", "analytics-dashboards") is None
    assert {"orders", "billing-invoices", "pii-customers"} <= topic_names(conf(cedar_broker, ADMIN))


def test_denied_topic_write_is_29_and_the_connection_survives(cedar_broker):
    p_conf = conf(cedar_broker, BILLING)
    errors: list = []
    p = Producer({**p_conf, "message.timeout.ms": 10000, "error_cb": errors.append})
    delivered: list = []
    p.produce("orders", b"x", on_delivery=lambda e, m: delivered.append(e))
    p.produce("billing-invoices", b"y", on_delivery=lambda e, m: delivered.append(e))
    assert p.flush(TIMEOUT_S) == 0
    assert sorted((e.code() if e else 0) for e in delivered) == [0, KafkaError.TOPIC_AUTHORIZATION_FAILED]
    assert not any(e.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN) for e in errors), errors
    # The analytics role reads but never writes.
    assert codes(produce(conf(cedar_broker, ANA), "orders")) == {KafkaError.TOPIC_AUTHORIZATION_FAILED}


def test_denied_read_and_group_get_29_and_30(cedar_broker):
    # As with Kafka, a subscription reports the topic's denial (an assignment of a topic one
    # may not describe waits for metadata instead).
    err = consume_error(conf(cedar_broker, BILLING), "orders", "billing-readers")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    err = consume_error(conf(cedar_broker, BILLING), "billing-invoices", "not-a-billing-group")
    assert err is not None and err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, err
    err = consume_error(conf(cedar_broker, ANA), "orders", "not-analytics")
    assert err is not None and err.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, err


def test_an_idempotent_producer_needs_idempotent_write_or_write_on_a_topic(cedar_broker):
    # KIP-679: Write on any topic is enough (billing writes billing-*) ...
    assert produce(conf(cedar_broker, BILLING), "billing-invoices", enable_idempotence=True) == []
    # ... and a principal that may write nowhere gets CLUSTER_AUTHORIZATION_FAILED.
    errors: list = []
    p = Producer({**conf(cedar_broker, ANA), "enable.idempotence": True,
                  "message.timeout.ms": 10000, "error_cb": errors.append})
    try:
        p.produce("orders", b"z")
        p.flush(15)
    except ck.KafkaException as fatal:
        errors.append(fatal.args[0])
    assert any(e.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
               or "CLUSTER_AUTHORIZATION_FAILED" in e.str() for e in errors), errors


def test_metadata_omits_what_is_not_described_and_names_answer_alike(cedar_broker):
    billing = conf(cedar_broker, BILLING)
    assert topic_names(billing) == {"billing-invoices"}
    assert topic_names(conf(cedar_broker, GINA)) == set()
    assert topic_names(conf(cedar_broker, ANA)) == {"orders", "billing-invoices", "pii-customers"}
    # Existing and missing names the principal may not describe answer the same.
    assert topic_error(billing, "orders") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert topic_error(billing, "no-such-topic") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Another tenant's name is a name in one's own tenant: gina's `orders` is globex's own
    # (created on first use: she may create topics in globex), never acme's.
    gina = conf(cedar_broker, GINA)
    assert topic_error(gina, "orders") == 0
    assert (cedar_broker.data_dir / "globex.orders-0").is_dir()


def test_kcat_lists_only_permitted_topics(cedar_broker):
    kcat = have_kcat()
    if kcat is None:
        pytest.skip("kcat not installed")
    args = [kcat, "-L", "-J"]
    for k, v in conf(cedar_broker, BILLING).items():
        args += ["-X", f"{k}={v}"]
    out = subprocess.run(args, capture_output=True, timeout=60, text=True)
    assert out.returncode == 0, out.stderr
    import json
    listed = {t["topic"] for t in json.loads(out.stdout)["topics"]}
    assert listed == {"billing-invoices"}


def test_a_policy_edit_applies_to_a_live_connection(cedar_broker):
    policies = cedar_broker.workdir / "policies"
    grant = policies / "grant-orders.cedar"
    errors: list = []

    def delivered(err, _msg):
        errors.append(err)

    p = Producer({**conf(cedar_broker, BILLING), "message.timeout.ms": 5000})

    def attempt() -> int:
        errors.clear()
        p.produce("orders", b"reload", on_delivery=delivered)
        p.flush(TIMEOUT_S)
        return 0 if errors[0] is None else errors[0].code()

    assert attempt() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    grant.write_text('@id("grant-billing-orders")\npermit (principal == Kafka::User::"acme/billing", '
                     'action == Kafka::Action::"Write", resource == Kafka::Topic::"acme/orders");\n')
    wait_until(lambda: attempt() == 0, timeout=TIMEOUT_S, what="the new permit to apply")
    grant.unlink()
    wait_until(lambda: attempt() == KafkaError.TOPIC_AUTHORIZATION_FAILED, timeout=TIMEOUT_S,
               what="the removed permit to stop applying")


def test_a_broken_policy_file_is_refused_and_the_old_set_stays(cedar_broker):
    policies = cedar_broker.workdir / "policies"
    broken = policies / "broken.cedar"
    broken.write_text('@id("typo")\npermit (principal, action, resource)\nwhen { resource.nmae == "x" };\n')
    try:
        wait_until(lambda: "broken.cedar" in cedar_broker.log() and "policy set refused" in cedar_broker.log(),
                   timeout=TIMEOUT_S, what="the refusal in the log")
        refusal = next(line for line in cedar_broker.log().splitlines()
                       if "policy set refused" in line and "broken.cedar" in line)
        assert "broken.cedar:3" in refusal, refusal
        assert produce(conf(cedar_broker, BILLING), "billing-invoices") == []
        assert codes(produce(conf(cedar_broker, BILLING), "orders")) == {KafkaError.TOPIC_AUTHORIZATION_FAILED}
    finally:
        broken.unlink()


def test_a_removed_user_loses_its_live_connection(cedar_broker):
    p = Producer({**conf(cedar_broker, TEMP), "message.timeout.ms": 5000, "reconnect.backoff.ms": 500})
    delivered: list = []
    p.produce("orders", b"before", on_delivery=lambda e, m: delivered.append(e))
    assert p.flush(TIMEOUT_S) == 0 and delivered == [None], delivered
    reloads = cedar_broker.log().count("credential file reloaded")
    cedar_broker.cli("users", "remove", TEMP[0])
    # The broker re-reads the credential file every second.
    wait_until(lambda: cedar_broker.log().count("credential file reloaded") > reloads,
               timeout=TIMEOUT_S, what="the credential file to be re-read")
    delivered.clear()
    p.produce("orders", b"after", on_delivery=lambda e, m: delivered.append(e))
    p.flush(TIMEOUT_S)
    assert delivered and delivered[0] is not None, "a removed user must not write"
    assert "removed from the credential store" in cedar_broker.log()


def test_a_role_removed_from_the_credential_file_stops_applying(cedar_broker):
    p = Producer({**conf(cedar_broker, WES), "message.timeout.ms": 5000})
    delivered: list = []

    def attempt() -> int:
        delivered.clear()
        p.produce("orders", b"role", on_delivery=lambda e, m: delivered.append(e))
        p.flush(TIMEOUT_S)
        return 0 if delivered[0] is None else delivered[0].code()

    assert attempt() == 0
    # Same password, no roles: the live session loses what the role gave it, without
    # logging in again (the broker re-reads the credential file every second).
    cedar_broker.cli("users", "add", WES[0], "--password", WES[1])
    wait_until(lambda: attempt() == KafkaError.TOPIC_AUTHORIZATION_FAILED, timeout=TIMEOUT_S,
               what="the removed role to stop applying")


def test_a_broken_policy_set_refuses_to_start(tmp_path):
    policies = prepare(tmp_path)
    (policies / "typed.cedar").write_text(
        '// a type error under the schema\n@id("bad-type")\npermit (principal, action, resource)\n'
        'when { context.clientIp == "127.0.0.1" };\n')
    (policies / "unknown.cedar").write_text(
        '@id("unknown-entity")\npermit (principal == Kafka::Person::"x", action, resource);\n')
    with pytest.raises(RuntimeError):
        start_auth_broker(tmp_path, authorization=AUTHORIZATION)
    message = (tmp_path / "broker.log").read_text(errors="replace")
    assert "typed.cedar:3" in message or "typed.cedar:4" in message, message
    assert "unknown.cedar:2" in message, message


def test_internal_logs_are_no_topics_even_for_operators(cedar_broker):
    admin = AdminClient(conf(cedar_broker, ROOT))
    assert "acme.orders" in admin.list_topics(timeout=TIMEOUT_S).topics
    for name in ("__consumer_offsets", "__cluster_metadata"):
        with pytest.raises(ck.KafkaException) as created:
            admin.create_topics([NewTopic(name, 1, 1)])[name].result(TIMEOUT_S)
        assert created.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        with pytest.raises(ck.KafkaException) as deleted:
            admin.delete_topics([name])[name].result(TIMEOUT_S)
        assert deleted.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert (cedar_broker.data_dir / "__consumer_offsets-0").is_dir()


def test_broker_configs_show_tenants_no_paths(cedar_broker):
    def broker_configs(who) -> dict:
        admin = AdminClient(conf(cedar_broker, who))
        resource = ConfigResource("broker", "1")
        return {k: v.value for k, v in admin.describe_configs([resource])[resource].result(TIMEOUT_S).items()}

    assert "log.dirs" in broker_configs(ROOT)
    tenant_view = broker_configs(ADMIN)
    assert "log.dirs" not in tenant_view
    assert not any(str(cedar_broker.workdir) in str(v) for v in tenant_view.values()), tenant_view


def test_authorized_operations_follow_the_policies(cedar_broker):
    """KIP-430: what a principal may do, as Metadata/DescribeCluster/DescribeGroups report it."""
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AclOperation

    def topic_ops(who, topic: str) -> set:
        admin = AdminClient(conf(cedar_broker, who))
        described = admin.describe_topics(TopicCollection([topic]),
                                          include_authorized_operations=True)[topic].result(TIMEOUT_S)
        return set(described.authorized_operations)

    everything = {AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE,
                  AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
                  AclOperation.ALTER_CONFIGS}
    assert topic_ops(ADMIN, "orders") == everything
    # The analytics role reads and reads configs; Describe is implied by Read.
    assert topic_ops(ANA, "orders") == {AclOperation.READ, AclOperation.DESCRIBE,
                                        AclOperation.DESCRIBE_CONFIGS}
    assert topic_ops(BILLING, "billing-invoices") == {AclOperation.READ, AclOperation.WRITE,
                                                      AclOperation.DESCRIBE}

    def cluster_ops(who) -> set:
        admin = AdminClient(conf(cedar_broker, who))
        return set(admin.describe_cluster(include_authorized_operations=True).result(TIMEOUT_S)
                   .authorized_operations)

    # An operator's cluster is the real one (all 7 of Kafka's cluster operations); a tenant's
    # is its tenant, where ClusterAction (broker-to-broker) never applies.
    assert len(cluster_ops(ROOT)) == 7
    assert cluster_ops(ADMIN) == {AclOperation.CREATE, AclOperation.ALTER, AclOperation.DESCRIBE,
                                  AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS,
                                  AclOperation.IDEMPOTENT_WRITE}
    assert cluster_ops(ANA) == {AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS}

    # A live group of ana's (analytics-*): she may read it, hence describe it.
    c = Consumer({**conf(cedar_broker, ANA), "group.id": "analytics-ops", "auto.offset.reset": "earliest"})
    try:
        c.subscribe(["orders"])
        deadline = time.monotonic() + TIMEOUT_S
        while not c.assignment() and time.monotonic() < deadline:
            c.poll(0.2)
        admin = AdminClient(conf(cedar_broker, ANA))
        group = admin.describe_consumer_groups(["analytics-ops"], include_authorized_operations=True)[
            "analytics-ops"].result(TIMEOUT_S)
        assert set(group.authorized_operations) == {AclOperation.READ, AclOperation.DESCRIBE}
        admin = AdminClient(conf(cedar_broker, ADMIN))
        group = admin.describe_consumer_groups(["analytics-ops"], include_authorized_operations=True)[
            "analytics-ops"].result(TIMEOUT_S)
        assert set(group.authorized_operations) == {AclOperation.READ, AclOperation.DESCRIBE,
                                                    AclOperation.DELETE}
    finally:
        c.close()


def test_offsets_of_a_denied_topic_answer_29(cedar_broker):
    """OffsetCommit and OffsetFetch name topics too: a topic one may not read answers
    TOPIC_AUTHORIZATION_FAILED per partition, whether or not it exists, as in Kafka."""
    from confluent_kafka import TopicPartition

    c = Consumer({**conf(cedar_broker, BILLING), "group.id": "billing-offsets",
                  "enable.auto.commit": False})
    try:
        for topic in ("orders", "no-such-topic"):
            try:
                result = c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
                errors = {tp.error.code() for tp in result if tp.error is not None}
            except ck.KafkaException as e:
                errors = {e.args[0].code()}
            assert errors == {KafkaError.TOPIC_AUTHORIZATION_FAILED}, (topic, errors)
        fetched = c.committed([TopicPartition("orders", 0)], timeout=TIMEOUT_S)
        assert fetched[0].error is not None
        assert fetched[0].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        # Its own topic commits and reads back.
        c.commit(offsets=[TopicPartition("billing-invoices", 0, 2)], asynchronous=False)
        assert c.committed([TopicPartition("billing-invoices", 0)], timeout=TIMEOUT_S)[0].offset == 2
    finally:
        c.close()
