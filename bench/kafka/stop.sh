#!/usr/bin/env bash
# Stops the Kafka started by start.sh: SIGTERM (controlled shutdown), SIGKILL after 30 s.
#
#   bench/kafka/stop.sh WORK_DIR
set -uo pipefail
WORK=$1
[[ -f "$WORK/kafka.pid" ]] || exit 0
PID=$(cat "$WORK/kafka.pid")
kill "$PID" 2>/dev/null || { rm -f "$WORK/kafka.pid"; exit 0; }
for _ in $(seq 1 60); do
    kill -0 "$PID" 2>/dev/null || { rm -f "$WORK/kafka.pid"; exit 0; }
    sleep 0.5
done
kill -9 "$PID" 2>/dev/null
rm -f "$WORK/kafka.pid"
