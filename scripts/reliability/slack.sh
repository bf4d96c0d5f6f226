#!/usr/bin/env bash
# Scenario 4, long form. For each Slack fault (accepting, hanging,
# refused, answering 429 and 500 in turn) two servers run side by side:
# one with the faulty webhook and one without a webhook, each under the
# same wrk load at the same time, so machine noise hits both alike.
# Prints both p99 latencies, the alert counters and the faulty server's
# resident memory. SLACK_SECONDS of load per case (default 20).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

secs=${SLACK_SECONDS:-20}
# Few connections: latency then shows service time more than queueing.
conns=${SLACK_CONNECTIONS:-4}
key=k-reliability-key
here=$root/scripts/reliability
common=(MAESTRA_API_KEYS="$key" MAESTRA_TRUST_PROXY=1
    MAESTRA_RATE_LIMIT=1000000000 MAESTRA_DAILY_COST_LIMIT_USD=1000000000)
build_server

load() {
    wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$here/slack.lua" "$1" \
        -- "$key" >"$2" 2>&1
}

for mode in ok hang refused flaky; do
    work=$(mktemp -d /tmp/maestra-slack.XXXXXX)
    fake=""
    if [ "$mode" = refused ]; then
        port=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    else
        python3 "$here/fake_slack.py" "$mode" "$work/port" &
        fake=$!
        started_pids+=("$fake")
        for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
        port=$(cat "$work/port")
    fi

    start_server "$work/plain" "${common[@]}"
    plain_pid=$SERVER_PID plain_url=$SERVER_URL
    start_server "$work/slack" "${common[@]}" \
        MAESTRA_SLACK_WEBHOOK_URL="http://127.0.0.1:$port/services/T0/B0/X"
    rss_before=$(proc_field "$SERVER_PID" VmRSS)
    sample "$SERVER_PID" "$work/rss.txt" 1 &

    load "$plain_url" "$work/plain.txt" &
    plain_wrk=$!
    load "$SERVER_URL" "$work/slack.txt"
    wait "$plain_wrk"

    metrics=$(curl -s -H "X-Api-Key: $key" "$SERVER_URL/metrics")
    rss_after=$(proc_field "$SERVER_PID" VmRSS)
    t0=$(date +%s.%N)
    stop_server
    status=$STOP_STATUS
    stop_s=$(echo "$(date +%s.%N) - $t0" | bc)
    SERVER_PID=$plain_pid
    stop_server

    rss_max=$(awk '{ if ($2 > m) m = $2 } END { print m }' "$work/rss.txt")
    p99() { sed -n 's/latency p99: //p' "$1"; }
    rps() { sed -n 's/Requests\/sec: *//p' "$1"; }
    counters=$(echo "$metrics" | python3 -c 'import json, sys
m = json.load(sys.stdin)
print(" ".join(f"{k}={m[k]}" for k in ("alerts_sent", "alerts_failed",
      "alerts_folded", "alerts_dropped")))')
    echo "slack $mode: p99 $(p99 "$work/slack.txt") ($(rps "$work/slack.txt")" \
        "req/s) vs no webhook $(p99 "$work/plain.txt")" \
        "($(rps "$work/plain.txt") req/s); $counters;" \
        "VmRSS $rss_before -> $rss_after kB (max $rss_max);" \
        "stop in $(printf %.1f "$stop_s") s, exit $status"
    if [ -n "$fake" ]; then
        kill "$fake" 2>/dev/null || true
    fi
    rm -rf "$work"
done
