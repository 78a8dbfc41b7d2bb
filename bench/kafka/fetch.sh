#!/usr/bin/env bash
# Fetches the Apache Kafka server jars (KRaft broker + controller, storage tool) from Maven
# Central into a cache directory, once, with `mvn dependency:copy-dependencies`.
#
#   bench/kafka/fetch.sh            -> prints the directory holding the jars (its libs/)
#
# Env: KAFKA_VERSION (default 4.1.1), KAFKA_CACHE (default /tmp/schloss-bench-cache/kafka-$KAFKA_VERSION).
# Needs java (17+) and mvn on PATH. Exits non-zero with the reason on stderr when it cannot.
set -euo pipefail

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_CACHE=${KAFKA_CACHE:-/tmp/schloss-bench-cache/kafka-$KAFKA_VERSION}

command -v java >/dev/null || { echo "java not found (Kafka 4.x needs Java 17+)" >&2; exit 1; }
command -v mvn >/dev/null || { echo "mvn not found (used to fetch the Kafka jars from Maven Central)" >&2; exit 1; }
JAVA_MAJOR=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [[ -z "$JAVA_MAJOR" || "$JAVA_MAJOR" -lt 17 ]]; then
    echo "java ${JAVA_MAJOR:-?} is too old: Kafka 4.x brokers need Java 17+" >&2
    exit 1
fi

if [[ -f "$KAFKA_CACHE/libs/kafka_2.13-$KAFKA_VERSION.jar" && -f "$KAFKA_CACHE/.complete" ]]; then
    echo "$KAFKA_CACHE/libs"
    exit 0
fi

mkdir -p "$KAFKA_CACHE"
cat > "$KAFKA_CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>schloss.bench</groupId>
  <artifactId>kafka-server-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- the broker and controller (kafka.Kafka) and the KRaft storage tool (kafka.tools.StorageTool) -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- the slf4j 1.x -> log4j2 binding the Kafka distribution ships, so the broker can log -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
echo "fetching Kafka $KAFKA_VERSION jars into $KAFKA_CACHE/libs ..." >&2
if ! (cd "$KAFKA_CACHE" && mvn -q -B dependency:copy-dependencies \
        -DoutputDirectory="$KAFKA_CACHE/libs" -DincludeScope=runtime >"$KAFKA_CACHE/mvn.log" 2>&1); then
    echo "mvn could not fetch Kafka $KAFKA_VERSION (see $KAFKA_CACHE/mvn.log):" >&2
    tail -5 "$KAFKA_CACHE/mvn.log" >&2
    exit 1
fi
touch "$KAFKA_CACHE/.complete"
echo "$KAFKA_CACHE/libs"
