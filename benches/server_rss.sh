#!/usr/bin/env bash
# Resident size of maestra-backend across many chat requests: wrk on
# loopback in rounds until REQUESTS have been answered, VmRSS of the
# server read from /proc/PID/status after each round.
#
#   benches/server_rss.sh [REQUESTS]     (default 1000000)
#
# Environment: WRK_THREADS (2), WRK_CONNECTIONS (32), ROUND_SECONDS (10).
# Records and logs go to a temporary folder (logs rotate at their default
# 10 MiB). Prints one line per round and the growth after the first
# round, which includes the start-up allocations and the first wave of
# connections. Needs wrk and Linux's /proc.
set -euo pipefail

want=${1:-1000000}
threads=${WRK_THREADS:-2}
conns=${WRK_CONNECTIONS:-32}
round_s=${ROUND_SECONDS:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "server_rss.sh: wrk is needed" >&2; exit 2; }

echo "building maestra-backend (release)..." >&2
(cd "$root" && cargo build --release -q -p maestra-backend \
    --bin maestra-backend)

MAESTRA_BIND=127.0.0.1:0 \
MAESTRA_METRICS_PATH="$work/metrics/maestra_metrics.jsonl" \
MAESTRA_LOG_DIR="$work/logs" \
MAESTRA_RATE_LIMIT=1000000000 \
MAESTRA_DAILY_COST_LIMIT_USD=1000000000 \
    "$target/release/maestra-backend" 2>"$work/err" &
pid=$!
addr=""
for _ in $(seq 1 100); do
    addr=$(grep -oE '127\.0\.0\.1:[0-9]+' "$work/err" | head -n1 || true)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { cat "$work/err" >&2; exit 1; }

cat >"$work/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local body = '{"message":"What should I work on next?",' ..
    '"user_id":"justinharmon","surface_id":"windsurf",' ..
    '"conversation_id":"conv_' .. (counter % 5000) .. '"}'
  return wrk.format(nil, nil, nil, body)
end
LUA

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

start=$(rss)
echo "start: VmRSS $start KiB" >&2
done_n=0
round=0
first=""
while [ "$done_n" -lt "$want" ]; do
    round=$((round + 1))
    out=$(wrk -t"$threads" -c"$conns" -d"${round_s}s" -s "$work/chat.lua" \
        "http://$addr/api/maestra/chat")
    # A refused request (429, 5xx) is not the path being measured.
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "server_rss.sh: round $round gave errors or non-2xx:" >&2
        echo "$out" >&2
        exit 1
    fi
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    done_n=$((done_n + n))
    now=$(rss)
    [ -z "$first" ] && first=$now
    echo "round $round: $done_n requests, VmRSS $now KiB" >&2
done

echo
echo "requests $done_n, VmRSS start $start KiB, after round 1 $first KiB," \
    "end $now KiB, growth after round 1 $((now - first)) KiB"
