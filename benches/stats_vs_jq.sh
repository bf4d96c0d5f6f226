#!/usr/bin/env bash
# maestra-stats against the observability note's own jq pipelines, side by
# side on one generated file: checks both give the same answer (as JSON
# values; the latency lines as text) and prints times and ratios.
#
#   benches/stats_vs_jq.sh [LINES]      (default 1000000)
#
# Environment: JQ_RUNS (default 2) and STATS_RUNS (default 10) timed runs
# per command when hyperfine is installed; otherwise one run each with
# bash's time. Needs jq, awk, sort and a Rust toolchain.
set -euo pipefail

lines=${1:-1000000}
jq_runs=${JQ_RUNS:-2}
stats_runs=${STATS_RUNS:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

command -v jq >/dev/null || { echo "stats_vs_jq: jq is needed" >&2; exit 2; }

echo "building maestra-stats (release)..." >&2
(cd "$root" && cargo build --release -q -p maestra-stats \
    --bin maestra-stats --example gen_metrics)
stats="$target/release/maestra-stats"

export DATA="$work/metrics.jsonl"
"$target/release/examples/gen_metrics" "$lines" 8825 >"$DATA"
size=$(du -m "$DATA" | cut -f1)

# The note's pipelines, word for word, reading $DATA.
note_latency='cat "$DATA" | jq ".latency_ms" | sort -n | awk '"'"'
  BEGIN { count=0 }
  { latencies[count++]=$1 }
  END {
    print "Min:", latencies[0]
    print "P50:", latencies[int(count*0.5)]
    print "P95:", latencies[int(count*0.95)]
    print "P99:", latencies[int(count*0.99)]
    print "Max:", latencies[count-1]
  }
'"'"
all_questions=(
  "latency"
  "cost --by day"
  "cost --by surface"
  "errors --by status"
  "errors --by error"
  "requests --by surface"
)
pipelines=(
  "$note_latency"
  "cat \"\$DATA\" | jq -s 'group_by(.timestamp | split(\"T\")[0]) | map({date: .[0].timestamp | split(\"T\")[0], cost: (map(.cost_usd) | add)})'"
  "cat \"\$DATA\" | jq -s 'group_by(.surface_id) | map({surface: .[0].surface_id, cost: (map(.cost_usd) | add)})'"
  "cat \"\$DATA\" | jq -s 'group_by(.status_code) | map({status: .[0].status_code, count: length})'"
  "cat \"\$DATA\" | jq -s 'map(select(.error != null)) | group_by(.error) | map({error: .[0].error, count: length}) | sort_by(-.count)'"
  "cat \"\$DATA\" | jq -s 'group_by(.surface_id) | map({surface: .[0].surface_id, count: length})'"
)

# Mean wall time and mean CPU time (user + system) of a shell command (run
# by bash, $DATA exported), in seconds: mean_time RUNS WARMUPS COMMAND.
mean_time() {
  local runs=$1 warmup=$2 cmd=$3
  if command -v hyperfine >/dev/null; then
    hyperfine --shell bash --style none --runs "$runs" --warmup "$warmup" \
      --export-json "$work/h.json" "$cmd" >/dev/null
    jq -r '.results[0] | "\(.mean) \(.user + .system)"' "$work/h.json"
  else
    local TIMEFORMAT='%R %U %S'
    { time bash -c "$cmd" >/dev/null 2>&1; } 2>&1 | tail -1 |
      awk '{ print $1, $2 + $3 }'
  fi
}

load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }

printf 'machine: %s, %s cores; %s lines, %s MiB; load average %s\n' \
  "$(uname -m)" "$(nproc)" "$lines" "$size" "$(load)"
printf '%-22s %9s %9s %7s   %9s %9s %7s  %s\n' question \
  "ours" "note's" "wall" "ours" "note's" "CPU" same
printf '%-22s %9s %9s %7s   %9s %9s %7s  %s\n' "" \
  "wall" "wall" "ratio" "CPU" "CPU" "ratio" answer
status=0
for i in "${!all_questions[@]}"; do
  question=${all_questions[$i]}
  pipeline=${pipelines[$i]}
  if [ -n "${QUESTIONS:-}" ] && [[ ",$QUESTIONS," != *",$question,"* ]]; then
    continue
  fi

  # Same answer? latency as the note's text, the rest as JSON values.
  if [ "$question" = latency ]; then
    "$stats" --file "$DATA" latency >"$work/ours"
    bash -c "$pipeline" >"$work/theirs"
    if cmp -s "$work/ours" "$work/theirs"; then same=yes; else same=NO; fi
  else
    # shellcheck disable=SC2086
    "$stats" --file "$DATA" --json $question >"$work/ours"
    bash -c "$pipeline" >"$work/theirs"
    same=$(jq -n --slurpfile a "$work/ours" --slurpfile b "$work/theirs" \
      'if $a == $b then "yes" else "NO" end' -r)
  fi
  [ "$same" = yes ] || status=1

  if [ "$question" = latency ]; then
    ours_cmd="\"$stats\" --file \"\$DATA\" latency"
  else
    ours_cmd="\"$stats\" --file \"\$DATA\" --json $question"
  fi
  read -r ours_wall ours_cpu < <(mean_time "$stats_runs" 1 "$ours_cmd")
  # The answer check above already brought the file into the page cache.
  read -r jq_wall jq_cpu < <(mean_time "$jq_runs" 0 "$pipeline")
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
  printf '%-22s %8.3fs %8.2fs %7s   %8.3fs %8.2fs %7s  %s\n' \
    "$question" "$ours_wall" "$jq_wall" "$(ratio "$jq_wall" "$ours_wall")" \
    "$ours_cpu" "$jq_cpu" "$(ratio "$jq_cpu" "$ours_cpu")" "$same"
done
printf 'load average after: %s\n' "$(load)"
exit $status
