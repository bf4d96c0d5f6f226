# Shared by the reliability scripts: start and stop the release server,
# read /proc figures, clean up whatever was started. Source it.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/target/release/maestra-backend
started_pids=()

cleanup() {
    for pid in "${started_pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# build_server: the release binary of this package only (skipped when
# RELIABILITY_NO_BUILD is set and the binary exists).
build_server() {
    if [ -n "${RELIABILITY_NO_BUILD:-}" ] && [ -x "$bin" ]; then
        return
    fi
    (cd "$root" && cargo build --release -q -p maestra-backend)
}

# start_server DIR [VAR=VALUE...]: starts the server with records and
# logs under DIR; sets SERVER_PID and SERVER_URL.
start_server() {
    local dir=$1
    shift
    mkdir -p "$dir"
    env -i PATH="$PATH" HOME="$dir" MAESTRA_BIND=127.0.0.1:0 \
        MAESTRA_METRICS_PATH="$dir/metrics.jsonl" \
        MAESTRA_LOG_DIR="$dir/logs" "$@" \
        "$bin" 2>"$dir/stderr.log" >/dev/null &
    SERVER_PID=$!
    started_pids+=("$SERVER_PID")
    local addr=""
    for _ in $(seq 300); do
        addr=$(sed -n 's/.*listening on http:\/\///p' "$dir/stderr.log" 2>/dev/null || true)
        [ -n "$addr" ] && break
        sleep 0.1
    done
    if [ -z "$addr" ]; then
        echo "server did not start:" >&2
        cat "$dir/stderr.log" >&2
        exit 1
    fi
    SERVER_URL=http://$addr
}

# stop_server: SIGTERM, then SIGKILL after 30 s; sets STOP_STATUS to the
# exit status (call it without a subshell: only this shell can wait).
stop_server() {
    kill -TERM "$SERVER_PID"
    for _ in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    STOP_STATUS=0
    wait "$SERVER_PID" || STOP_STATUS=$?
}

# proc_field PID FIELD: a number of /proc/PID/status (VmRSS in kB,
# Threads).
proc_field() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# sample PID OUT SECONDS: appends "elapsed_s rss_kb threads" to OUT every
# SECONDS until PID exits.
sample() {
    local pid=$1 out=$2 every=$3 t0
    t0=$(date +%s)
    while kill -0 "$pid" 2>/dev/null; do
        echo "$(( $(date +%s) - t0 )) $(proc_field "$pid" VmRSS) \
$(proc_field "$pid" Threads)" >>"$out" 2>/dev/null || true
        sleep "$every"
    done
}
