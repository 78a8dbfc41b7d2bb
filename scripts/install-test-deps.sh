#!/usr/bin/env bash
# Installs what the end-to-end client suites need (tests/python, tests/java):
#   - kcat (Debian package) when it is missing,
#   - the pinned Python clients and codec libraries (tests/python/requirements.txt),
#   - the Maven dependencies and plugins of tests/java (prefetched into ~/.m2),
#   - cargo-fuzz (crates.io) for the fuzz targets in fuzz/.
#
# Idempotent and non-interactive; meant to run as root on a fresh Debian 12 machine with
# Python 3 + pip, OpenJDK 17 and Maven preinstalled. Exits non-zero on any failure.
#
# Environment:
#   SKIP_JAVA=1    do not prefetch the Maven dependencies
#   SKIP_KCAT=1    do not install kcat
#   SKIP_FUZZ=1    do not install cargo-fuzz
#   PYTHON=...     Python interpreter to install into (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        log "need root for: $*"
        return 1
    fi
}

# --- kcat ------------------------------------------------------------------------------
if [ "${SKIP_KCAT:-0}" != "1" ]; then
    if command -v kcat >/dev/null 2>&1 || command -v kafkacat >/dev/null 2>&1; then
        log "kcat present: $(command -v kcat || command -v kafkacat)"
    else
        log "installing kcat"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get update -q
        as_root apt-get install -y -q --no-install-recommends kcat
        command -v kcat >/dev/null 2>&1 || { log "kcat still missing after apt-get install"; exit 1; }
    fi
fi

# --- cargo-fuzz ------------------------------------------------------------------------
if [ "${SKIP_FUZZ:-0}" != "1" ]; then
    if cargo fuzz --version >/dev/null 2>&1; then
        log "cargo-fuzz present: $(cargo fuzz --version)"
    else
        log "installing cargo-fuzz"
        cargo install --locked cargo-fuzz
    fi
fi

# --- Python clients --------------------------------------------------------------------
log "installing Python test requirements with $($PYTHON --version 2>&1)"
PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$PYTHON" -m pip install -q -r "$ROOT/tests/python/requirements.txt"
"$PYTHON" - <<'EOF'
import confluent_kafka, kafka, pytest
from kafka.codec import has_gzip, has_snappy, has_lz4, has_zstd
missing = [n for n, ok in (("gzip", has_gzip()), ("snappy", has_snappy()),
                           ("lz4", has_lz4()), ("zstd", has_zstd())) if not ok]
if missing:
    raise SystemExit(f"kafka-python codecs unavailable: {missing}")
ck = confluent_kafka.version()
ck = ck if isinstance(ck, str) else ck[0]
print(f"install-test-deps: kafka-python {kafka.__version__}, confluent-kafka {ck} "
      f"(librdkafka {confluent_kafka.libversion()[0]}), pytest {pytest.__version__}")
EOF

# --- Java (Maven) ----------------------------------------------------------------------
if [ "${SKIP_JAVA:-0}" != "1" ]; then
    if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
        log "mvn/java not found: the Java suite cannot run here"
        exit 1
    fi
    log "prefetching Maven dependencies for tests/java"
    # dependency:go-offline misses Surefire's JUnit Platform provider, which Surefire resolves
    # only when it runs; so also compile and run Surefire with a filter that matches no test
    # (no broker needed).
    mvn -q -B -Dstyle.color=never -f "$ROOT/tests/java/pom.xml" dependency:go-offline
    mvn -q -B -Dstyle.color=never -f "$ROOT/tests/java/pom.xml" test \
        -Dtest='NoSuchTest_prefetch' -Dsurefire.failIfNoSpecifiedTests=false
fi

log "done"
