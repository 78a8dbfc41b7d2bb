#!/usr/bin/env bash
# schloss vs Apache Kafka benchmark, driven by librdkafka. Builds release binaries, starts the
# brokers itself on 127.0.0.1, runs every case against each of them, stops them, and prints a
# markdown table (also written to $BENCH_WORK/results.md, raw numbers to results.json).
#
#   bench/run.sh [extra `schloss-bench run` args, e.g. --only produce]
#
# Brokers (all three run side by side; each case runs against each of them before the next
# case, and the whole list of cases runs BENCH_ROUNDS times; the table shows medians):
#   schloss           default durability: flush.messages=1, fsync before every ack (group commit)
#   schloss-os-cache  flush.messages=i64::MAX: ack after the OS write, as Kafka does by default
#   schloss-cedar     as schloss, but mode cedar with 1,002 policies (not in the default list:
#                     BENCH_BROKERS="schloss schloss-cedar" --only produce compares the two)
#   kafka             Apache Kafka $KAFKA_VERSION (default 4.1.1), KRaft combined mode, defaults
#
# Env:
#   BENCH_ROUNDS=3             repetitions of every case against every broker
#   BENCH_DURATION=6           seconds per produce trial (and cap per consume trial)
#   BENCH_LATENCY_DURATION=6   seconds per latency trial
#   BENCH_RATE=5000            records/s in the latency cases
#   BENCH_RECORD_SIZE=1024     value bytes per record
#   BENCH_WORK=/tmp/schloss-bench   data dirs, logs, results
#   BENCH_BROKERS="schloss schloss-os-cache kafka"   which to run
#   KAFKA_VERSION, KAFKA_CACHE, KAFKA_HEAP   see bench/kafka/*.sh
#
# Every broker also gets a SASL_SSL listener (TLS with the dev certificates of
# `schloss certs dev`, SCRAM-SHA-512 user default/bench) for the auth cases, and an initial
# rebalance delay of 0 for the group cases.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_WORK:-/tmp/schloss-bench}
BROKERS=${BENCH_BROKERS:-schloss schloss-os-cache kafka}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

mkdir -p "$WORK"
echo "== building release binaries" >&2
(cd "$ROOT" && cargo build --release -p schloss-server -p schloss-bench >&2)
SCHLOSS="$TARGET_DIR/release/schloss"
BENCH="$TARGET_DIR/release/schloss-bench"

SCHLOSS_PIDS=()
KAFKA_STARTED=""
cleanup() {
    for pid in "${SCHLOSS_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    SCHLOSS_PIDS=()
    if [[ -n "$KAFKA_STARTED" ]]; then
        "$ROOT/bench/kafka/stop.sh" "$WORK/kafka" || true
        KAFKA_STARTED=""
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TARGETS=()

# The dev certificates (CA + server cert for 127.0.0.1) and the SASL user of the auth cases,
# shared by every broker: login default/bench, password bench-pw (SCRAM, 4096 iterations).
CERTS="$WORK/certs"
rm -rf "$CERTS"
"$SCHLOSS" certs dev --dir "$CERTS" >&2

# start_schloss LABEL FLUSH_MESSAGES [cedar]: appends LABEL=ADDR/PID to TARGETS, LABEL=ADDR to
# SASL. With `cedar`, the broker decides every request with 1,002 Cedar policies (base.cedar,
# 100 tenants x 10, and everything inside tenant `default`) instead of mode allow-tenant.
start_schloss() {
    local label=$1 flush=$2 mode=${3:-allow-tenant} dir="$WORK/$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp -r "$CERTS" "$dir/certs"
    "$SCHLOSS" users --file "$dir/users.toml" add default/bench --password bench-pw >&2
    local authorization="[authorization]
mode = \"allow-tenant\""
    if [[ "$mode" == cedar ]]; then
        "$TARGET_DIR/release/schloss-policy-bench" write-policies "$dir/policies" >&2
        authorization="[authorization]
mode = \"cedar\"
policy_dir = \"policies\""
    fi
    cat > "$dir/schloss.toml" <<TOML
[broker]
node_id = 1
data_dir = "$dir/data"
num_partitions = 1
auto_create_topics = true

[topic_defaults]
"flush.messages" = "$flush"

[groups]
initial_rebalance_delay_ms = 0

[auth]
credentials_file = "users.toml"

$authorization

[[listeners]]
name = "PLAINTEXT"
address = "127.0.0.1:0"
advertised = "127.0.0.1:0"
security_protocol = "PLAINTEXT"
tenant = "default"

[[listeners]]
name = "SASL_SSL"
address = "127.0.0.1:0"
advertised = "127.0.0.1:0"
security_protocol = "SASL_SSL"
tenant = "default"
sasl_mechanisms = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
[listeners.tls]
cert = "certs/server.pem"
key = "certs/server.key"
TOML
    echo "== $label: starting schloss (flush.messages=$flush)" >&2
    : >"$dir/schloss.out"
    # Working directory = $dir: the config's relative paths (users.toml, certs/) resolve there.
    (cd "$dir" && exec "$SCHLOSS" serve --config "$dir/schloss.toml" >"$dir/schloss.out" 2>"$dir/schloss.err" </dev/null) &
    local pid=$!
    SCHLOSS_PIDS+=("$pid")
    local addr=""
    for _ in $(seq 1 100); do
        addr=$(sed -n 's/^schloss: listener PLAINTEXT on \(.*\)$/\1/p' "$dir/schloss.out" | head -1 || true)
        [[ -n "$addr" ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if [[ -z "$addr" ]]; then
        echo "schloss ($label) did not start; stderr:" >&2
        tail -20 "$dir/schloss.err" >&2
        exit 1
    fi
    TARGETS+=(--target "$label=$addr/$pid")
    local saddr=""
    for _ in $(seq 1 50); do
        saddr=$(sed -n 's/^schloss: listener SASL_SSL on \(.*\)$/\1/p' "$dir/schloss.out" | head -1 || true)
        [[ -n "$saddr" ]] && break
        sleep 0.1
    done
    [[ -n "$saddr" ]] && TARGETS+=(--sasl "$label=$saddr")
}

KAFKA_MISSING=""
start_kafka() {
    local libs reason
    if ! libs=$("$ROOT/bench/kafka/fetch.sh" 2>"$WORK/kafka-fetch.err"); then
        reason=$(tr '\n' ' ' <"$WORK/kafka-fetch.err")
        KAFKA_MISSING="could not fetch Kafka: $reason"
        echo "== kafka: skipped: $KAFKA_MISSING" >&2
        return 0
    fi
    local port cport sport started
    port=$("$BENCH" free-port)
    cport=$("$BENCH" free-port)
    [[ "$cport" == "$port" ]] && cport=$("$BENCH" free-port)
    sport=$("$BENCH" free-port)
    while [[ "$sport" == "$port" || "$sport" == "$cport" ]]; do sport=$("$BENCH" free-port); done
    echo "== kafka: starting Apache Kafka ${KAFKA_VERSION:-4.1.1} (KRaft combined, ports $port/$cport)" >&2
    KAFKA_STARTED=1
    if ! started=$("$ROOT/bench/kafka/start.sh" "$libs" "$WORK/kafka" "$port" "$cport" "$sport" "$CERTS" 2>"$WORK/kafka-start.err"); then
        reason=$(tail -5 "$WORK/kafka-start.err" | tr '\n' ' ')
        KAFKA_MISSING="Kafka did not start: $reason"
        echo "== kafka: skipped: $KAFKA_MISSING" >&2
        "$ROOT/bench/kafka/stop.sh" "$WORK/kafka" || true
        KAFKA_STARTED=""
        return 0
    fi
    TARGETS+=(--target "kafka=${started##* }/${started%% *}" --sasl "kafka=127.0.0.1:$sport")
}

rm -f "$WORK"/schloss.json "$WORK"/schloss-os-cache.json "$WORK"/kafka.json
for b in $BROKERS; do
    case $b in
        schloss) start_schloss schloss 1 ;;
        schloss-os-cache) start_schloss schloss-os-cache 9223372036854775807 ;;
        schloss-cedar) start_schloss schloss-cedar 1 cedar ;;
        kafka) start_kafka ;;
        *) echo "unknown broker $b" >&2; exit 2 ;;
    esac
done
[[ " $BROKERS " != *" kafka "* ]] && KAFKA_MISSING="not selected in BENCH_BROKERS"
if [[ ${#TARGETS[@]} -eq 0 ]]; then
    echo "no broker to benchmark" >&2
    exit 1
fi

"$BENCH" run "${TARGETS[@]}" --json-dir "$WORK" --ca "$CERTS/ca.pem" \
    --rounds "${BENCH_ROUNDS:-3}" \
    --duration "${BENCH_DURATION:-6}" --latency-duration "${BENCH_LATENCY_DURATION:-6}" \
    --rate "${BENCH_RATE:-5000}" --record-size "${BENCH_RECORD_SIZE:-1024}" "$@"
du -sh "$WORK"/schloss/data "$WORK"/schloss-os-cache/data "$WORK"/kafka/logs 2>/dev/null >&2 || true
cleanup
rm -rf "$WORK"/schloss/data "$WORK"/schloss-os-cache/data "$WORK"/kafka/logs

REPORT_ARGS=(--schloss "$WORK/schloss.json" --schloss-os-cache "$WORK/schloss-os-cache.json"
             --kafka "$WORK/kafka.json" --json-out "$WORK/results.json")
[[ -n "$KAFKA_MISSING" ]] && REPORT_ARGS+=(--kafka-missing "$KAFKA_MISSING")
echo >&2
"$BENCH" report "${REPORT_ARGS[@]}" | tee "$WORK/results.md"
