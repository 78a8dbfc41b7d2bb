"""kcat (librdkafka's command-line client) against a real schloss process."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import have_kcat

KCAT = have_kcat()
pytestmark = pytest.mark.skipif(KCAT is None, reason="kcat is not installed (scripts/install-test-deps.sh)")

TIMEOUT_S = 60
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def kcat(broker, *args, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [KCAT, "-b", broker.bootstrap, "-X", "client.id=e2e-kcat", *args]
    proc = subprocess.run(cmd, input=input, capture_output=True, timeout=TIMEOUT_S)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout.decode(errors='replace')}"
            f"\nstderr:\n{proc.stderr.decode(errors='replace')}")
    return proc


def produce(broker, topic, lines: list[tuple[str, str]], *extra, partition=0):
    data = "".join(f"{k}:{v}\n" for k, v in lines).encode()
    kcat(broker, "-P", "-t", topic, "-p", str(partition), "-K:", *extra, input=data)


def consume(broker, topic, fmt, *extra, partition=0, offset="beginning") -> str:
    fmt_args = ["-f", fmt] if fmt is not None else []
    return kcat(broker, "-C", "-t", topic, "-p", str(partition), "-o", str(offset), "-e", "-q",
                *fmt_args, *extra).stdout.decode()


def test_metadata_lists_broker_and_topics(broker, topic_name):
    t1, t2 = topic_name("a"), topic_name("b")
    produce(broker, t1, [("k", "v")])
    produce(broker, t2, [("k", "v")])
    md = json.loads(kcat(broker, "-L", "-J").stdout)
    assert md["controllerid"] == 1
    assert [(b["id"], b["name"]) for b in md["brokers"]] == [(1, f"{broker.host}:{broker.port}")]
    topics = {t["topic"]: t for t in md["topics"]}
    assert {t1, t2} <= set(topics)
    for t in (t1, t2):
        assert "error" not in topics[t]
        (p,) = topics[t]["partitions"]
        assert (p["partition"], p["leader"]) == (0, 1)
        assert [r["id"] for r in p["replicas"]] == [1]
        assert [r["id"] for r in p["isrs"]] == [1]

    # Plain-text listing mentions the broker and the topics too.
    text = kcat(broker, "-L").stdout.decode()
    assert f"broker 1 at {broker.host}:{broker.port}" in text
    assert f'topic "{t1}" with 1 partitions' in text


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_keys_each_codec(broker, topic_name, codec):
    topic = topic_name()
    lines = [(f"key{i}", f"value {i} " + "abc" * i) for i in range(100)]
    produce(broker, topic, lines, "-z", codec)
    out = consume(broker, topic, "%o|%k|%s\n")
    assert out == "".join(f"{i}|{k}|{v}\n" for i, (k, v) in enumerate(lines))


def test_offsets_beginning_end_and_relative(broker, topic_name):
    topic = topic_name()
    produce(broker, topic, [(f"k{i}", f"v{i}") for i in range(10)], "-z", "zstd")
    assert consume(broker, topic, "%o ", offset="beginning") == " ".join(str(i) for i in range(10)) + " "
    assert consume(broker, topic, "%o ", offset="end") == ""
    assert consume(broker, topic, "%o ", offset=7) == "7 8 9 "
    assert consume(broker, topic, "%o ", offset=-3) == "7 8 9 "  # relative to the end
    # -c limits the count.
    out = kcat(broker, "-C", "-t", topic, "-p", "0", "-o", "2", "-c", "3", "-q", "-f", "%s\n").stdout.decode()
    assert out == "v2\nv3\nv4\n"


def test_headers_and_null_values(broker, topic_name):
    topic = topic_name()
    kcat(broker, "-P", "-t", topic, "-p", "0", "-K:", "-H", "trace=abc", "-H", "tenant=t1", "-H", "trace=again",
         "-z", "lz4", input=b"k1:v1\nk2:v2\n")
    out = consume(broker, topic, "%k=%s [%h]\n")
    assert out == "k1=v1 [trace=abc,tenant=t1,trace=again]\nk2=v2 [trace=abc,tenant=t1,trace=again]\n"

    # -Z: empty input values become NULL (tombstones) and print as NULL.
    kcat(broker, "-P", "-t", topic, "-p", "0", "-K:", "-Z", input=b"k3:\n")
    out = consume(broker, topic, "%o %k %S %s\n", "-Z", offset=2)
    assert out == "2 k3 -1 NULL\n"


def test_json_envelope_timestamps(broker, topic_name):
    topic = topic_name()
    produce(broker, topic, [("a", "1"), ("b", "2")], "-z", "gzip")
    out = consume(broker, topic, None, "-J")
    msgs = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [(m["offset"], m["key"], m["payload"], m["tstype"], m["broker"]) for m in msgs] == [
        (0, "a", "1", "create", 1), (1, "b", "2", "create", 1)]
    assert all(m["ts"] > 1_600_000_000_000 for m in msgs)


def test_query_offset_by_timestamp(broker, topic_name):
    topic = topic_name()
    produce(broker, topic, [("a", "1"), ("b", "2"), ("c", "3")])
    out = consume(broker, topic, "%T\n")
    ts = [int(x) for x in out.split()]
    assert len(ts) == 3
    q = kcat(broker, "-Q", "-t", f"{topic}:0:{ts[0]}").stdout.decode()
    assert f"{topic} [0] offset 0" in q, q
    # A timestamp after all records: end of log (-1).
    q = kcat(broker, "-Q", "-t", f"{topic}:0:{ts[-1] + 3_600_000}").stdout.decode()
    assert f"{topic} [0] offset -1" in q, q


def test_multiple_partitions_and_delimiters(broker_factory, topic_name):
    b = broker_factory(num_partitions=3)
    topic = topic_name()
    for part in range(3):
        kcat(b, "-P", "-t", topic, "-p", str(part), "-D", "|", "-K", "#",
             input=f"a{part}#x{part}|b{part}#y{part}".encode())
    md = json.loads(kcat(b, "-L", "-J", "-t", topic).stdout)
    (t,) = md["topics"]
    assert sorted(p["partition"] for p in t["partitions"]) == [0, 1, 2]
    for part in range(3):
        assert consume(b, topic, "%k=%s;", partition=part) == f"a{part}=x{part};b{part}=y{part};"
