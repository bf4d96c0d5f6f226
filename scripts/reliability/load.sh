#!/usr/bin/env bash
# Scenario 9: a million chat requests over loopback from a hundred
# thousand client IPs (X-Forwarded-For, MAESTRA_TRUST_PROXY=1) and as
# many conversations. Checks the rate limiter admitted exactly its limit
# per IP, that nothing but the intended 429s failed, and samples the
# server's resident memory. Bounded by LOAD_MAX_S (default 900 s).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

total=${LOAD_REQUESTS:-1000000}
ips=${LOAD_IPS:-100000}
limit=${LOAD_RATE_LIMIT:-8}
conns=${LOAD_CONNECTIONS:-64}
threads=2
max_s=${LOAD_MAX_S:-900}
work=$(mktemp -d /tmp/maestra-load.XXXXXX)

build_server
start_server "$work" MAESTRA_TRUST_PROXY=1 MAESTRA_RATE_LIMIT="$limit" \
    MAESTRA_RATE_WINDOW_S=86400 MAESTRA_DAILY_COST_LIMIT_USD=1000000000
sample "$SERVER_PID" "$work/rss.txt" 2 &
rss_start=$(proc_field "$SERVER_PID" VmRSS)

start=$(date +%s.%N)
wrk -t"$threads" -c"$conns" -d"${max_s}s" --timeout 10s --latency \
    -s "$root/scripts/reliability/load.lua" "$SERVER_URL" \
    -- "$total" "$ips" "$threads" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
started_pids+=("$wrk_pid")

# wrk always runs for its whole duration; once every chat is counted (the
# threads then only ask /health, which is not) SIGINT makes it report.
counted() {
    curl -s "$SERVER_URL/metrics" | sed 's/.*"total_requests":\([0-9]*\).*/\1/'
}
while kill -0 "$wrk_pid" 2>/dev/null && [ "$(counted)" -lt "$total" ]; do
    sleep 0.5
done
end=$(date +%s.%N)
kill -INT "$wrk_pid" 2>/dev/null || true
wait "$wrk_pid" || true
curl -s "$SERVER_URL/metrics" >"$work/metrics.json"
rss_end=$(proc_field "$SERVER_PID" VmRSS)
stop_server
exit_status=$STOP_STATUS

python3 - "$work" "$total" "$ips" "$limit" "$start" "$end" \
    "$rss_start" "$rss_end" "$exit_status" <<'PY'
import collections, json, sys
work, total, ips, limit = sys.argv[1], *map(int, sys.argv[2:5])
start, end = float(sys.argv[5]), float(sys.argv[6])
rss_start, rss_end, exit_status = sys.argv[7], sys.argv[8], sys.argv[9]

statuses = collections.Counter()
admitted = collections.Counter()
lines = bad = 0
with open(f"{work}/metrics.jsonl", "rb") as f:
    for raw in f:
        lines += 1
        try:
            r = json.loads(raw)
        except ValueError:
            bad += 1
            continue
        statuses[r["status_code"]] += 1
        if r["status_code"] == 200:
            admitted[r["user_id"]] += 1

per_ip = total // ips
want = min(limit, per_ip)
off = {u: n for u, n in admitted.items() if n != want}
missing = ips - len(admitted)
samples = [tuple(map(int, l.split())) for l in open(f"{work}/rss.txt")
           if len(l.split()) == 3]
warm = [s for s in samples if s[0] >= 10] or samples
m = json.load(open(f"{work}/metrics.json"))
wrk = open(f"{work}/wrk.txt").read()

print(f"load: {lines} records in {end - start:.1f} s "
      f"({lines / (end - start):.0f} req/s), {bad} bad lines")
print(f"load: statuses {dict(sorted(statuses.items()))}")
print(f"load: {len(admitted)} of {ips} IPs admitted, {missing} none; "
      f"{len(admitted) - len(off)} exactly {want}, {len(off)} otherwise "
      f"(e.g. {dict(list(off.items())[:5])})")
print(f"load: rate_limited={m['rate_limited']} records_dropped="
      f"{m['records_dropped']} log_records_dropped="
      f"{m['log_records_dropped']} active_conversations="
      f"{m['active_conversations']} p99_latency_ms={m['p99_latency_ms']}")
print(f"load: VmRSS start {rss_start} kB, after 10 s "
      f"{warm[0][1]} kB, max {max(s[1] for s in samples)} kB, "
      f"end {rss_end} kB; threads max {max(s[2] for s in samples)}")
for line in wrk.splitlines():
    if "latency p" in line or "Socket errors" in line or "Non-2xx" in line:
        print("load: wrk " + line.strip())
print(f"load: exit status {exit_status}")
PY
[ -n "${LOAD_KEEP:-}" ] || rm -rf "$work"
