"""DescribeUserScramCredentials / AlterUserScramCredentials through confluent-kafka's
AdminClient: an operator sets a SCRAM credential, the new user logs in with it (also after a
broker restart: the credential lives in the metadata log), non-operators are refused."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from auth_support import ALICE, librdkafka_conf, start_auth_broker

ADMIN = ("default/ops", "ops-s3cret-pw")
CAROL = ("acme/carol", "carol-s3cret-pw")


def admin_client(broker, user, password) -> AdminClient:
    return AdminClient(librdkafka_conf(broker, "SASL_PLAINTEXT", "SCRAM-SHA-512", user, password))


def can_login(broker, mechanism, user, password) -> bool:
    conf = librdkafka_conf(broker, "SASL_PLAINTEXT", mechanism, user, password)
    try:
        Producer(conf).list_topics(timeout=5)
        return True
    except KafkaException:
        return False


def wait_for_login(broker, mechanism, user, password, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if can_login(broker, mechanism, user, password):
            return True
        time.sleep(0.3)
    return False


@pytest.fixture
def scram_broker(tmp_path):
    b = start_auth_broker(tmp_path / "schloss")
    b.cli("users", "add", ADMIN[0], "--password", ADMIN[1], "--roles", "operator")
    assert wait_for_login(b, "SCRAM-SHA-512", *ADMIN), "operator picked up from the credential file"
    yield b
    b.stop()


def test_operator_sets_a_scram_credential_that_survives_a_restart(scram_broker, tmp_path):
    b = scram_broker
    admin = admin_client(b, *ADMIN)
    upsert = UserScramCredentialUpsertion(
        CAROL[0], ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192), CAROL[1].encode()
    )
    for fut in admin.alter_user_scram_credentials([upsert]).values():
        fut.result(timeout=10)
    assert wait_for_login(b, "SCRAM-SHA-256", *CAROL), "carol logs in with the new credential"
    assert not can_login(b, "SCRAM-SHA-256", CAROL[0], "wrong-password")

    described = admin.describe_user_scram_credentials([CAROL[0]])
    desc = described[CAROL[0]].result(timeout=10)
    infos = [(i.mechanism, i.iterations) for i in desc.scram_credential_infos]
    assert infos == [(ScramMechanism.SCRAM_SHA_256, 8192)]

    # The credential lives in the metadata log: it survives a restart.
    workdir = b.workdir
    b.stop()
    b2 = start_auth_broker(workdir)
    try:
        assert wait_for_login(b2, "SCRAM-SHA-256", *CAROL)
        admin2 = admin_client(b2, *ALICE)  # alice is no operator
        with pytest.raises(KafkaException) as denied:
            for fut in admin2.alter_user_scram_credentials(
                [UserScramCredentialDeletion(CAROL[0], ScramMechanism.SCRAM_SHA_256)]
            ).values():
                fut.result(timeout=10)
        assert "CLUSTER_AUTHORIZATION_FAILED" in str(denied.value) or "authoriz" in str(denied.value).lower()
    finally:
        b2.stop()


def test_deleting_a_credential_ends_its_logins_and_unknown_users_are_reported(scram_broker):
    b = scram_broker
    admin = admin_client(b, *ADMIN)
    upsert = UserScramCredentialUpsertion(
        CAROL[0], ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), CAROL[1].encode()
    )
    for fut in admin.alter_user_scram_credentials([upsert]).values():
        fut.result(timeout=10)
    assert wait_for_login(b, "SCRAM-SHA-512", *CAROL)
    for fut in admin.alter_user_scram_credentials(
        [UserScramCredentialDeletion(CAROL[0], ScramMechanism.SCRAM_SHA_512)]
    ).values():
        fut.result(timeout=10)
    deadline = time.monotonic() + 10
    while can_login(b, "SCRAM-SHA-512", *CAROL):
        assert time.monotonic() < deadline, "the deleted credential stops working"
        time.sleep(0.3)
    with pytest.raises(KafkaException) as missing:
        admin.describe_user_scram_credentials(["acme/nobody"])["acme/nobody"].result(timeout=10)
    assert "RESOURCE_NOT_FOUND" in str(missing.value) or "does not exist" in str(missing.value)
