#!/usr/bin/env bash
# Every reliability scenario, long ones included, bounded in time:
#   1. the CI-sized scenarios (tests/reliability.rs), printing figures;
#   2. the load scenario (a million requests, load.sh);
#   3. Slack faults side by side with a server without webhook (slack.sh);
#   4. cargo-fuzz of the parsers (fuzz.sh, FUZZ_SECONDS per target).
# Loopback only. Needs root for the tmpfs of the full-disk scenario
# (without it, that test falls back to a file-size limit), wrk, curl,
# python3 and bc. Prints one summary line per figure; exit status 1 if
# any part failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
status=0

echo "== CI scenarios"
(cd "$root" && cargo test -q -p maestra-backend --test reliability \
    -- --nocapture 2>&1) | grep -E "figure:|test result|panicked" || status=1

echo "== load"
"$here/load.sh" || status=1

echo "== Slack faults"
RELIABILITY_NO_BUILD=1 "$here/slack.sh" || status=1

echo "== fuzzing"
"$here/fuzz.sh" || status=1

exit $status
