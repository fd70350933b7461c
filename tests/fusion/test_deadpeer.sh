#!/usr/bin/env bash
# A rank SIGKILLs itself while the others have fusion tensors pending (see
# tests/scripts/test_kill.sh). Every survivor's handles must fail within
# RZ_TIMEOUT_MS + 5 s and its rz_fusion_destroy return within 5 s
# (test_fusion checks both and prints "survivor-ok"); rzrun exits non-zero.
# Run three times: a worker dies, the coordinator (rank 0) dies, and a worker
# freezes (SIGSTOP, its engine thread too: only RZ_TIMEOUT_MS can tell);
# this script SIGKILLs the frozen one once the survivors are done.
set -u
rzrun=$1 prog=$2
timeout_ms=3000
out=$(mktemp)
trap 'rm -f "$out"' EXIT

pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok: $1"; else fail=$((fail+1)); echo "FAIL: $1"; fi; }

# rzrun picks a free port and rank 0 binds it a moment later; another
# process on the machine can take it in between. Such a start (and only
# that) is retried once.
port_lost() { grep -q "cannot listen on .*Address already in use" "$out"; }

run() { # np victim
    local np=$1 victim=$2 start rc took survivors try
    for try in 1 2; do
        start=$(date +%s)
        "$rzrun" --grace 20 --timeout 60 -np "$np" -x RZ_TIMEOUT_MS=$timeout_ms \
            "$prog" --cases deadpeer --victim "$victim" >"$out" 2>&1
        rc=$?
        port_lost || break
        echo "note: the bootstrap port was taken; starting again"
    done
    took=$(( $(date +%s) - start ))
    cat "$out"
    check "np $np victim $victim: rzrun exits non-zero (rc=$rc)" '[ "$rc" -ne 0 ]'
    check "np $np victim $victim: rzrun names the killed rank" \
        'grep -q "rank $victim (pid [0-9]*) was killed by signal 9" "$out"'
    survivors=$(grep -c "survivor-ok" "$out")
    check "np $np victim $victim: all $((np-1)) survivors failed their handles in time (got $survivors)" \
        '[ "$survivors" -eq $((np-1)) ]'
    check "np $np victim $victim: no failed check" '! grep -q "FAIL" "$out"'
    check "np $np victim $victim: whole job ended in ${took}s" '[ "$took" -lt 40 ]'
}

stopped() { # np victim
    local np=$1 victim=$2 start rc took survivors pid i try job
    for try in 1 2; do
        start=$(date +%s)
        "$rzrun" --grace 20 --timeout 60 -np "$np" -x RZ_TIMEOUT_MS=$timeout_ms \
            "$prog" --cases deadpeer --victim "$victim" --victim-stop >"$out" 2>&1 &
        job=$!
        for i in $(seq 1 300); do
            survivors=$(grep -c "fusion rank [0-9]* of $np" "$out")
            [ "$survivors" -ge $((np-1)) ] && break
            port_lost && break
            sleep 0.1
        done
        pid=$(sed -n "s/.*rank $victim: pid \([0-9]*\) stopping myself.*/\1/p" "$out" | head -1)
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
        wait $job
        rc=$?
        port_lost || break
        echo "note: the bootstrap port was taken; starting again"
    done
    took=$(( $(date +%s) - start ))
    cat "$out"
    check "np $np frozen victim $victim: rzrun exits non-zero (rc=$rc)" '[ "$rc" -ne 0 ]'
    survivors=$(grep -c "survivor-ok" "$out")
    check "np $np frozen victim $victim: all $((np-1)) survivors failed their handles in time (got $survivors)" \
        '[ "$survivors" -eq $((np-1)) ]'
    check "np $np frozen victim $victim: no failed check" '! grep -q "FAIL" "$out"'
    check "np $np frozen victim $victim: whole job ended in ${took}s" '[ "$took" -lt 40 ]'
}

run 3 2
run 3 0
stopped 3 1
echo "fusion_deadpeer: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
