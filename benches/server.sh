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
# change of load on a shared machine hits both sides alike. Beside
# requests/s each run gives the server's CPU time a request (user +
# system of all its threads, from /proc), the steadier figure when other
# work shares the cores. Records and logs go to a temporary folder on
# disk, as in service. Needs wrk and curl.
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
full_pid=${pids[-1]}
# The same stack without its two INFO lines a request, to show what the
# request logs cost apart from the rest.
start_full quiet MAESTRA_LOG_LEVEL=WARNING
quiet=$(address_in "$work/quiet.err")
quiet_pid=${pids[-1]}

"$target/release/examples/bare_server" 127.0.0.1:0 2>"$work/bare.err" &
pids+=($!)
bare=$(address_in "$work/bare.err")
bare_pid=${pids[-1]}

cat >"$work/chat.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"message":"What should I work on next? I have three open ' ..
  'threads and a deadline on Friday.","user_id":"justinharmon",' ..
  '"surface_id":"windsurf","conversation_id":"conv_2025-12-28_jh_abc12345"}'
LUA

# Checks that every server gives the same kind of answer before timing.
for addr in "$full" "$quiet" "$bare"; do
    curl -sf "http://$addr/health" | grep -q '"status":"ok"'
    curl -sf -X POST -H 'Content-Type: application/json' \
        --data '{"message":"hi","user_id":"u","surface_id":"s"}' \
        "http://$addr/api/maestra/chat" | grep -q '"reply"'
done

# CPU time (user + system, all threads) of process $1, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

# Prints "REQUESTS_PER_S CPU_US_PER_REQUEST" of one wrk run against the
# server with pid $1. CPU per request counts the server's own work
# only, so it moves less than requests/s when other work shares the
# cores. A run with any answer other than 2xx measured a refusal path,
# not the case: it stops the script rather than give a figure.
measure() {
    local pid=$1 url=$2; shift 2
    local out before after
    before=$(cpu_ticks "$pid")
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" "$@" "$url")
    after=$(cpu_ticks "$pid")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        echo "server.sh: $url gave errors or non-2xx answers:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk -v cpu=$((after - before)) -v us="$tick_us" '
        /requests in/ { n = $1 }
        /^Requests\/sec:/ { r = $2 }
        END { printf "%s %.2f\n", r, cpu * us / n }' <<<"$out"
}

declare -A rps cpu
for key in health_bare health_full chat_bare chat_full chat_quiet; do
    rps[$key]=0
    cpu[$key]=0
done
for round in $(seq 1 "$rounds"); do
    for case in health chat; do
        sides="bare full"
        [ "$case" = chat ] && sides="bare full quiet"
        for side in $sides; do
            case $side in
                bare) addr=$bare pid=$bare_pid ;;
                full) addr=$full pid=$full_pid ;;
                quiet) addr=$quiet pid=$quiet_pid ;;
            esac
            if [ "$case" = health ]; then
                m=$(measure "$pid" "http://$addr/health")
            else
                m=$(measure "$pid" "http://$addr/api/maestra/chat" \
                    -s "$work/chat.lua")
            fi
            read -r r c <<<"$m"
            echo "round $round $case $side: $r requests/s," \
                "$c us CPU a request" >&2
            key=${case}_$side
            rps[$key]=$(awk -v a="${rps[$key]}" -v b="$r" 'BEGIN { print a + b }')
            cpu[$key]=$(awk -v a="${cpu[$key]}" -v b="$c" 'BEGIN { print a + b }')
        done
    done
done

# Averages over the rounds: requests/s, then CPU us a request.
avg_rps() { awk -v s="${rps[$1]}" -v n="$rounds" 'BEGIN { printf "%.0f", s / n }'; }
avg_cpu() { awk -v s="${cpu[$1]}" -v n="$rounds" 'BEGIN { printf "%.2f", s / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() {
    local label=$1 bare=$2 other=$3
    printf '%-34s %12s %12s %8s\n' "$label" "$bare" "$other" \
        "$(ratio "$other" "$bare")"
}

lines=$(wc -l <"$work/full/metrics/maestra_metrics.jsonl")
echo
echo "wrk -t$threads -c$conns -d${secs}s, $rounds round(s), $(nproc) CPUs," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %12s %8s\n' case bare full ratio
row "GET /health (requests/s)" "$(avg_rps health_bare)" \
    "$(avg_rps health_full)"
row "GET /health (us CPU a request)" "$(avg_cpu health_bare)" \
    "$(avg_cpu health_full)"
row "POST /api/maestra/chat (requests/s)" "$(avg_rps chat_bare)" \
    "$(avg_rps chat_full)"
row "chat (us CPU a request)" "$(avg_cpu chat_bare)" "$(avg_cpu chat_full)"
row "chat, logs at WARNING (requests/s)" "$(avg_rps chat_bare)" \
    "$(avg_rps chat_quiet)"
row "chat, logs at WARNING (us CPU)" "$(avg_cpu chat_bare)" \
    "$(avg_cpu chat_quiet)"
echo "chat: the observability stack costs" \
    "$(awk -v a="$(avg_rps chat_full)" -v b="$(avg_rps chat_bare)" \
        'BEGIN { printf "%.1f", (1 - a / b) * 100 }')% of the requests/s" \
    "($(awk -v a="$(avg_rps chat_quiet)" -v b="$(avg_rps chat_bare)" \
        'BEGIN { printf "%.1f", (1 - a / b) * 100 }')% with logs at" \
    "WARNING); $lines records written by the full server"
# Where the full server's CPU went over the whole run (health and chat),
# by thread name: the request threads, and the log and record writers.
echo "full server CPU by thread:"
for task in "/proc/$full_pid/task"/*; do
    echo "$(tr ' ' _ <"$task/comm") $(awk '{ print $14 + $15 }' "$task/stat")"
done | awk '{ s[$1] += $2; all += $2 }
    END { for (k in s) printf "  %-18s %5.1f%%\n", k, 100 * s[k] / all }' \
    | sort
