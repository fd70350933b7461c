#!/usr/bin/env bash
# A rank is killed with SIGKILL in the middle of a loop of allreduces. Every
# survivor must return an error within RZ_TIMEOUT_MS + 2 s (test_fault checks
# that and prints "survivor-ok"), and rzrun must exit non-zero naming the rank.
set -u
rzrun=$1 prog=$2
np=4 victim=2 timeout_ms=3000
out=$(mktemp)
trap 'rm -f "$out"' EXIT

pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok: $1"; else fail=$((fail+1)); echo "FAIL: $1"; fi; }

# 1. The victim stalls (alive but silent): only the deadline can help.
"$rzrun" --grace 20 --timeout 120 -np $np -x RZ_TIMEOUT_MS=$timeout_ms \
    "$prog" stall $victim 30 >"$out" 2>&1
rc=$?
cat "$out"
check "stall: rzrun exits non-zero (rc=$rc)" '[ "$rc" -ne 0 ]'
survivors=$(grep -c "survivor-ok" "$out")
check "stall: all $((np-1)) survivors timed out in time (got $survivors)" '[ "$survivors" -eq $((np-1)) ]'
check "stall: the error names the timeout" 'grep -q "timed out" "$out"'

# 2. The victim is killed with SIGKILL.
start=$(date +%s)
"$rzrun" --grace 20 --timeout 120 -np $np -x RZ_TIMEOUT_MS=$timeout_ms \
    "$prog" kill $victim 30 >"$out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
cat "$out"
check "rzrun exits non-zero (rc=$rc)" '[ "$rc" -ne 0 ]'
check "rzrun names the killed rank" 'grep -q "rank $victim (pid [0-9]*) was killed by signal 9" "$out"'
survivors=$(grep -c "survivor-ok" "$out")
check "all $((np-1)) survivors got an error in time (got $survivors)" '[ "$survivors" -eq $((np-1)) ]'
check "no survivor reported a failed check" '! grep -q "FAIL line" "$out"'
check "whole job ended in ${took}s" '[ "$took" -lt 60 ]'
echo "test_kill: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
