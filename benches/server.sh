#!/usr/bin/env bash
# maestra-backend under wrk on loopback beside a bare hyper server
# (benches/examples/bare_server.rs) answering the same bodies:
#
#   GET  /health             server vs bare hyper, same JSON body
#   POST /api/maestra/chat   full observability stack vs the same handler
#                            without records, logs, metrics (bare server),
#                            and the stack with logs at WARNING, which
#                            leaves out the two INFO lines of a request
#
#   benches/server.sh [SECONDS]        (default 10 per case)
#
# Environment: WRK_THREADS (2), WRK_CONNECTIONS (32), ROUNDS (1): each
# round runs the five cases once, the sides alternating so that a
# change of load on a shared machine hits both sides alike. Records and
# logs go to a temporary folder on disk, as in service. Needs wrk.
set -euo pipefail

secs=${1:-10}
threads=${WRK_THREADS:-2}
conns=${WRK_CONNECTIONS:-32}
rounds=${ROUNDS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "server.sh: wrk is needed" >&2; exit 2; }

echo "building maestra-backend and bare_server (release)..." >&2
(cd "$root" && cargo build --release -q -p maestra-backend \
    --bin maestra-backend && cargo build --release -q -p maestra-benches \
    --example bare_server)

# Waits for "... http://ADDR" or "listening on ADDR" in $1, prints ADDR.
address_in() {
    local log=$1 addr=""
    for _ in $(seq 1 100); do
        addr=$(grep -oE '127\.0\.0\.1:[0-9]+' "$log" | head -n1 || true)
        [ -n "$addr" ] && { echo "$addr"; return 0; }
        sleep 0.1
    done
    echo "server.sh: no listening line in $log" >&2
    cat "$log" >&2
    return 1
}

# Starts maestra-backend with its records and logs under $work/$1, the
# rate and cost limits out of reach, and any further VAR=value given.
start_full() {
    local name=$1; shift
    env MAESTRA_BIND=127.0.0.1:0 \
        MAESTRA_METRICS_PATH="$work/$name/metrics/maestra_metrics.jsonl" \
        MAESTRA_LOG_DIR="$work/$name/logs" \
        MAESTRA_RATE_LIMIT=1000000000 \
        MAESTRA_DAILY_COST_LIMIT_USD=1000000000 \
        "$@" "$target/release/maestra-backend" 2>"$work/$name.err" &
    pids+=($!)
}

start_full full
full=$(address_in "$work/full.err")
# The same stack without its two INFO lines a request, to show what the
# request logs cost apart from the rest.
start_full quiet MAESTRA_LOG_LEVEL=WARNING
quiet=$(address_in "$work/quiet.err")

"$target/release/examples/bare_server" 127.0.0.1:0 2>"$work/bare.err" &
pids+=($!)
bare=$(address_in "$work/bare.err")

cat >"$work/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"message":"What should I work on next? I have three open ' ..
  'threads and a deadline on Friday.","user_id":"justinharmon",' ..
  '"surface_id":"windsurf","conversation_id":"conv_2025-12-28_jh_abc12345"}'
LUA

# Checks that both servers give the same kind of answer before timing.
for addr in "$full" "$quiet" "$bare"; do
    curl -sf "http://$addr/health" | grep -q '"status":"ok"'
    curl -sf -X POST -H 'Content-Type: application/json' \
        --data '{"message":"hi","user_id":"u","surface_id":"s"}' \
        "http://$addr/api/maestra/chat" | grep -q '"reply"'
done

# Prints the requests per second of one wrk run. A run with any answer
# other than 2xx measured a refusal path, not the case: it stops the
# script rather than give a figure.
rps() {
    local url=$1; shift
    local out
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" "$@" "$url")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "server.sh: $url gave errors or non-2xx answers:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

declare -A sum
for key in health_bare health_full chat_bare chat_full chat_quiet; do
    sum[$key]=0
done
for round in $(seq 1 "$rounds"); do
    for case in health chat; do
        sides="bare full"
        [ "$case" = chat ] && sides="bare full quiet"
        for side in $sides; do
            case $side in
                bare) addr=$bare ;;
                full) addr=$full ;;
                quiet) addr=$quiet ;;
            esac
            if [ "$case" = health ]; then
                r=$(rps "http://$addr/health")
            else
                r=$(rps "http://$addr/api/maestra/chat" -s "$work/chat.lua")
            fi
            echo "round $round $case $side: $r requests/s" >&2
            sum[${case}_$side]=$(awk -v a="${sum[${case}_$side]}" -v b="$r" \
                'BEGIN { print a + b }')
        done
    done
done

avg() { awk -v s="${sum[$1]}" -v n="$rounds" 'BEGIN { printf "%.0f", s / n }'; }
hb=$(avg health_bare); hf=$(avg health_full)
cb=$(avg chat_bare); cf=$(avg chat_full); cq=$(avg chat_quiet)
lines=$(wc -l <"$work/full/metrics/maestra_metrics.jsonl")

echo
echo "wrk -t$threads -c$conns -d${secs}s, $rounds round(s), $(nproc) CPUs," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %12s %8s\n' case bare full ratio
printf '%-34s %12s %12s %8s\n' "GET /health (requests/s)" "$hb" "$hf" \
    "$(awk -v a="$hf" -v b="$hb" 'BEGIN { printf "%.2f", a / b }')"
printf '%-34s %12s %12s %8s\n' "POST /api/maestra/chat (requests/s)" \
    "$cb" "$cf" "$(awk -v a="$cf" -v b="$cb" 'BEGIN { printf "%.2f", a / b }')"
echo "chat: the observability stack costs" \
    "$(awk -v a="$cf" -v b="$cb" 'BEGIN { printf "%.1f", (1 - a / b) * 100 }')%" \
    "of the requests/s; $lines records written by the full server"
echo "chat with the stack but logs at WARNING (no request lines): $cq" \
    "requests/s, $(awk -v a="$cq" -v b="$cb" \
    'BEGIN { printf "%.1f", (1 - a / b) * 100 }')% below bare"
