#!/usr/bin/env bash
# Runs each cargo-fuzz target of bins/maestra-backend/fuzz for a bounded
# time (FUZZ_SECONDS each, default 60) and prints one line per target:
# runs, corpus size, crashes. Exits 1 when a target found a crash; the
# input is then under bins/maestra-backend/fuzz/artifacts/TARGET/.
#
# cargo-fuzz wants a nightly compiler for -Zsanitizer; RUSTC_BOOTSTRAP=1
# lets the stable one accept those flags.
set -euo pipefail

secs=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz=$root/bins/maestra-backend/fuzz
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=$fuzz/target

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

status=0
for target in chat_parse record_reader today_totals; do
    corpus=$fuzz/corpus/$target
    mkdir -p "$corpus"
    cp -n "$fuzz/seeds/$target"/* "$corpus"/
    log=$(mktemp)
    if cargo fuzz run --fuzz-dir "$fuzz" "$target" "$corpus" -- \
        -max_total_time="$secs" -max_len=8192 -timeout=10 >"$log" 2>&1
    then
        result=ok
    else
        result=CRASH
        status=1
        tail -40 "$log"
    fi
    runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo 0)
    files=$(find "$corpus" -type f | wc -l)
    echo "fuzz $target: $result, $runs runs in ${secs}s, corpus $files inputs"
    rm -f "$log"
done
exit $status
