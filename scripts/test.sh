#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this). Installs what the tests
# need (kcat, Python clients, Maven dependencies), builds the broker, then runs:
#   1. cargo fmt --check and cargo clippy (warnings are errors)
#   2. cargo test for the workspace (unit, property and librdkafka end-to-end suites)
#   3. pytest: kafka-python, confluent-kafka and kcat against the broker binary
#   4. the Java kafka-clients suite (Maven), when a JDK and Maven are present
#   5. every cargo-fuzz target built on stable and run for 30 s (FUZZ_SECONDS to change)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Each suite's wall-clock duration, printed as it ends and again in a summary at the end (CI
# time is a budget: .ci/run must stay well within 60 minutes on a 2-core machine).
durations=()
timed() {
    local name="$1" start=$SECONDS
    shift
    "$@"
    local took=$((SECONDS - start))
    durations+=("$(printf '%-34s %4d s' "$name" "$took")")
    printf '==> %s took %d s\n' "$name" "$took"
}

step "installing test dependencies"
timed "install test dependencies" bash scripts/install-test-deps.sh

step "formatting and lints"
timed "fmt and clippy" bash -c 'cargo fmt --all -- --check && cargo clippy --workspace --all-targets --locked -- -D warnings'

step "building the broker"
timed "build broker" cargo build --locked --bin schloss
export SCHLOSS_BIN="$PWD/target/debug/schloss"

step "cargo test"
timed "cargo test" cargo test --workspace --locked

step "python and kcat suites"
timed "pytest (python clients, kcat)" python3 -m pytest tests/python -q

if command -v mvn >/dev/null 2>&1 && command -v java >/dev/null 2>&1 && [ -f tests/java/pom.xml ]; then
    step "java kafka-clients suite"
    timed "java kafka-clients" mvn -q -B -f tests/java/pom.xml test
else
    step "java suite skipped: no JDK/Maven on this machine"
fi

step "fuzz targets: build, then ${FUZZ_SECONDS:-30} s each"
timed "fuzz build" bash scripts/fuzz.sh build
timed "fuzz smoke" bash scripts/fuzz.sh smoke "${FUZZ_SECONDS:-30}"

step "suite durations"
printf '%s\n' "${durations[@]}"
printf '%-34s %4d s\n' "total" "$SECONDS"

step "all suites passed"
