#!/usr/bin/env bash
# Builds and runs the cargo-fuzz targets in fuzz/ (see fuzz/README.md).
#
#   scripts/fuzz.sh build            cargo fuzz build --sanitizer none (stable toolchain)
#   scripts/fuzz.sh smoke [SECONDS]  every target for SECONDS (default 30), no sanitizer
#   scripts/fuzz.sh asan [SECONDS]   every target for SECONDS (default 600) under
#                                    AddressSanitizer (RUSTC_BOOTSTRAP=1 on stable)
#
# Each run starts from a scratch copy of fuzz/corpus/<target> in a temporary directory, so the
# committed seeds never change; libFuzzer's new inputs go there and are deleted afterwards.
# The first crash, leak, timeout or limit breach stops the script with a non-zero status; the
# input that caused it is kept in fuzz/artifacts/<target>/.
#
# Environment:
#   FUZZ_TARGETS   space-separated targets to run instead of every one `cargo fuzz list` shows
#   FUZZ_RESULTS   a file to append one line per target to: target, sanitizer, seconds, runs,
#                  executions per second
#   FUZZ_JOBS      cargo build jobs (default: cargo's)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

# Memory bounds. -rss_limit_mb holds in every build; -malloc_limit_mb (one allocation) needs a
# sanitizer's malloc hooks, so it only bites under asan. The targets that decode hostile sizes
# also meter their own heap (fuzz/src/alloc_meter.rs).
RSS_LIMIT_MB=2048
SMOKE_MALLOC_LIMIT_MB=2048
ASAN_MALLOC_LIMIT_MB=256
# One input taking longer than this is a hang (argon2id logins included, even under asan).
INPUT_TIMEOUT_S=120
# ASan builds go to their own target directory: switching sanitizers in one directory
# rebuilds every dependency each time.
ASAN_TARGET_DIR="target/asan"

log() { printf '\n==> %s\n' "$*"; }

# The scratch directory of the run in progress, removed however the script ends.
scratch=""
trap 'if [ -n "$scratch" ]; then rm -rf "$scratch"; fi' EXIT

ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        log "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
}

jobs_args() {
    if [ -n "${FUZZ_JOBS:-}" ]; then
        printf -- '--jobs\n%s\n' "$FUZZ_JOBS"
    fi
}

targets() {
    if [ -n "${FUZZ_TARGETS:-}" ]; then
        # shellcheck disable=SC2086 # split the list on purpose
        printf '%s\n' $FUZZ_TARGETS
    else
        cargo fuzz list
    fi
}

build() {
    ensure_cargo_fuzz
    mapfile -t jobs < <(jobs_args)
    cargo fuzz build --sanitizer none "${jobs[@]}"
}

# run_target MODE TARGET SECONDS: fuzzes one target from a scratch copy of its corpus.
run_target() {
    local mode="$1" target="$2" seconds="$3"
    local status=0
    scratch="$(mktemp -d "${TMPDIR:-/tmp}/schloss-fuzz-$target.XXXXXX")"
    mkdir -p "$scratch/corpus" "artifacts/$target"
    if [ -d "corpus/$target" ]; then
        cp -R "corpus/$target/." "$scratch/corpus/"
    fi
    local -a cargo_args libfuzzer_args env_args=()
    libfuzzer_args=(
        "-max_total_time=$seconds"
        "-rss_limit_mb=$RSS_LIMIT_MB"
        "-timeout=$INPUT_TIMEOUT_S"
        "-print_final_stats=1"
    )
    local -a jobs
    mapfile -t jobs < <(jobs_args)
    case "$mode" in
        smoke)
            cargo_args=(--sanitizer none)
            libfuzzer_args+=("-malloc_limit_mb=$SMOKE_MALLOC_LIMIT_MB")
            ;;
        asan)
            cargo_args=(--sanitizer address --target-dir "$ASAN_TARGET_DIR")
            libfuzzer_args+=("-malloc_limit_mb=$ASAN_MALLOC_LIMIT_MB")
            env_args=(RUSTC_BOOTSTRAP=1)
            ;;
    esac
    log "$target: $mode, ${seconds}s"
    env "${env_args[@]}" cargo fuzz run "${cargo_args[@]}" "${jobs[@]}" "$target" \
        "$scratch/corpus" -- "${libfuzzer_args[@]}" >"$scratch/log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$scratch/log" >&2
        echo "fuzz.sh: $target failed ($mode, exit $status); the input is in fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
    # libFuzzer ends with "Done N runs in S second(s)" and, with -print_final_stats, the
    # stat:: lines.
    local runs secs rate rss line
    runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$scratch/log" | tail -n 1)"
    secs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$scratch/log" | tail -n 1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$scratch/log" | tail -n 1)"
    rss="$(sed -n 's/^stat::peak_rss_mb: *\([0-9]*\).*/\1/p' "$scratch/log" | tail -n 1)"
    line="$(printf '%-22s %-5s %5ss %11s runs %8s exec/s %6s MiB peak rss' \
        "$target" "$mode" "${secs:-?}" "${runs:-?}" "${rate:-?}" "${rss:-?}")"
    echo "$line"
    if [ -n "${FUZZ_RESULTS:-}" ]; then
        echo "$line" >>"$FUZZ_RESULTS"
    fi
    rm -rf "$scratch"
    scratch=""
}

run_all() {
    local mode="$1" seconds="$2"
    ensure_cargo_fuzz
    mapfile -t all < <(targets)
    if [ "${#all[@]}" -eq 0 ]; then
        echo "fuzz.sh: no fuzz targets" >&2
        exit 1
    fi
    for target in "${all[@]}"; do
        run_target "$mode" "$target" "$seconds"
    done
}

case "${1:-}" in
    build)
        build
        ;;
    smoke)
        run_all smoke "${2:-30}"
        ;;
    asan)
        run_all asan "${2:-600}"
        ;;
    *)
        echo "usage: $0 build | smoke [SECONDS] | asan [SECONDS]" >&2
        exit 2
        ;;
esac
