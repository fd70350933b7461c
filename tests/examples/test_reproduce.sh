#!/usr/bin/env bash
# The reproduction pipeline end to end at a tiny scale: scripts/reproduce.sh
# --quick (every configuration of the matrix, one seed) for one epoch on
# 2,560 training images, then its plots and tables. Checks that every run
# succeeded, that each claim's PNG is a PNG file, that the
# summary names every configuration as ok, and that a rerun resumes (skips
# all runs). Usage: test_reproduce.sh BUILD_DIR
set -euo pipefail
BUILD=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPRO=$HERE/../../scripts/reproduce.sh
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
args=(--build "$BUILD" --quick --epochs 1 --out "$OUT/r"
      --train-args "--train-limit 2560 --test-limit 500")
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! "$REPRO" "${args[@]}" >"$OUT/log" 2>&1; then
    tail -30 "$OUT/log"
    echo "FAIL: reproduce.sh exited non-zero"
    exit 1
fi
tail -3 "$OUT/log"
nconf=$("$REPRO" --list | tail -n +2 | wc -l)
nok=$(awk -F'|' '/\| ok \|/ && !seen[$2]++' "$OUT/r/summary.md" | wc -l)
if [ "$nok" -eq "$nconf" ]; then
    echo "ok: summary lists all $nconf configurations as ok"
else
    bad "summary lists $nok of $nconf configurations as ok"
fi
for claim in ef-vs-psgd saef-topk err-avg liec topology saef-topk-mismatch; do
    png=$OUT/r/plots/$claim.png
    if [ -s "$png" ] && [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]; then
        echo "ok: $claim.png is a PNG ($(stat -c %s "$png") bytes)"
    else
        bad "$claim.png missing or not a PNG"
    fi
done
if "$REPRO" "${args[@]}" >"$OUT/log2" 2>&1 &&
   grep -q "0 run(s), $nconf skipped, 0 failed" "$OUT/log2"; then
    echo "ok: a rerun skips all $nconf finished runs"
else
    bad "a rerun did not resume:"; tail -3 "$OUT/log2"
fi
exit $fail
