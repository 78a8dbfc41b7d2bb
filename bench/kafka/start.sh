#!/usr/bin/env bash
# Starts a single-node Apache Kafka 4.x in KRaft combined mode (broker + controller in one JVM)
# on 127.0.0.1, with Kafka's default durability (acks after the page-cache write, no fsync).
#
#   bench/kafka/start.sh LIBS_DIR WORK_DIR BROKER_PORT CONTROLLER_PORT [SASL_PORT CERT_DIR]
#
# With SASL_PORT and CERT_DIR (holding server.pem/server.key of `schloss certs dev`), also opens
# a SASL_SSL listener with SCRAM-SHA-512 on SASL_PORT (keystore: the same cert as PKCS12) and
# creates the SCRAM user default/bench (password bench-pw, 4096 iterations) at format time. No
# authorizer is configured, so the user may do everything.
#
# Formats WORK_DIR/logs (fresh each time), starts the JVM in the background, waits until the
# broker is started and prints "PID BOOTSTRAP" on stdout. The broker's output goes to
# WORK_DIR/kafka.out. Env: KAFKA_HEAP (default 1G).
set -euo pipefail

LIBS=$1 WORK=$2 PORT=$3 CPORT=$4 SPORT=${5:-} CERTS=${6:-}
HEAP=${KAFKA_HEAP:-1G}
CP="$LIBS/*"

rm -rf "$WORK"
mkdir -p "$WORK"
cat > "$WORK/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$WORK/logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
SCRAM_ARGS=()
if [[ -n "$SPORT" && -n "$CERTS" ]]; then
    openssl pkcs12 -export -in "$CERTS/server.pem" -inkey "$CERTS/server.key" -name server \
        -out "$WORK/server.p12" -passout pass:bench-ks
    sed -i -e "s|^listeners=.*|listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT,SASL_SSL://127.0.0.1:$SPORT|" \
        -e "s|^advertised.listeners=.*|advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SPORT|" \
        -e "s|^listener.security.protocol.map=.*|listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL|" \
        "$WORK/server.properties"
    cat >> "$WORK/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$WORK/server.p12
ssl.keystore.password=bench-ks
ssl.key.password=bench-ks
super.users=User:default/bench
PROPS
    SCRAM_ARGS=(--add-scram 'SCRAM-SHA-512=[name=default/bench,password=bench-pw,iterations=4096]')
fi
# WARN and up, plus the lines that tell the broker is up (what the distribution logs at INFO
# goes to files there; here it would only cost CPU).
cat > "$WORK/log4j2.yaml" <<'YAML'
Configuration:
  Appenders:
    Console:
      name: STDOUT
      target: SYSTEM_OUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
YAML

LOG4J="-Dlog4j2.configurationFile=$WORK/log4j2.yaml"
CLUSTER_ID=$(java -cp "$CP" "$LOG4J" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
java -cp "$CP" "$LOG4J" kafka.tools.StorageTool format -t "$CLUSTER_ID" \
    -c "$WORK/server.properties" --standalone "${SCRAM_ARGS[@]}" >"$WORK/format.out" 2>&1 || {
    echo "kafka storage format failed:" >&2; cat "$WORK/format.out" >&2; exit 1; }

# The JVM flags of bin/kafka-server-start.sh and bin/kafka-run-class.sh.
java -Xms"$HEAP" -Xmx"$HEAP" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 \
    -Djava.awt.headless=true "$LOG4J" -cp "$CP" kafka.Kafka "$WORK/server.properties" \
    >"$WORK/kafka.out" 2>&1 </dev/null &
PID=$!
echo "$PID" > "$WORK/kafka.pid"
for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$WORK/kafka.out" 2>/dev/null; then
        echo "$PID 127.0.0.1:$PORT"
        exit 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "kafka exited during startup:" >&2; tail -20 "$WORK/kafka.out" >&2; exit 1
    fi
    sleep 0.5
done
echo "kafka did not start within 60 s:" >&2
tail -20 "$WORK/kafka.out" >&2
kill "$PID" 2>/dev/null || true
exit 1
