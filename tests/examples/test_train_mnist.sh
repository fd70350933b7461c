#!/usr/bin/env bash
# Smoke test of examples/train_mnist on 2 ranks (docs/REPRODUCTION.md):
#   progress  P-SGD and SAEF/sign over two full epochs: the training loss
#             falls, and after one epoch the test accuracy is far above
#             chance (10%).
#   bitwise   with the identity compressor LIEC gives P-SGD's weights bit
#             for bit (ALGORITHMS.md 5.3 L1, also with model averaging
#             every 3 steps), and SAEF gives EF's (5.2 E1).
#   bytes     the CSV's bytes column equals rank 0's exchange statistics,
#             and both equal the byte formula of ALGORITHMS.md 3.4 for
#             sharded sign with error averaging, on both ranks.
# Usage: test_train_mnist.sh RZRUN TRAIN_MNIST [quick]
#   quick: only small runs (the sanitizer build).
set -euo pipefail
RZRUN=$1
TRAIN=$2
MODE=${3:-full}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0

run() { # run NAME ARGS... ; output in $TMP/NAME.out, CSV in $TMP/NAME.csv
    local name=$1
    shift
    if ! "$RZRUN" --timeout 300 -np 2 "$TRAIN" --csv "$TMP/$name.csv" \
            "$@" >"$TMP/$name.out" 2>&1; then
        echo "FAIL: $name: train_mnist exited non-zero:"
        cat "$TMP/$name.out"
        exit 1
    fi
    grep -E "epoch|final" "$TMP/$name.out" | sed "s/^/  $name: /"
}
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# Column $2 of epoch $3 in CSV $1.
col() { awk -F, -v c="$2" -v e="$3" '!/^#/ && $1 == e { print $c }' "$1"; }

# --------------------------------------------------------------- progress
if [ "$MODE" = full ]; then
    for cfg in "psgd:--method none --momentum 0.9 --lr 0.05" \
               "saef:--method saef --compressor sign --momentum 0.9 --lr 0.05"; do
        name=${cfg%%:*}
        # shellcheck disable=SC2086
        run "$name" --epochs 2 ${cfg#*:}
        l1=$(col "$TMP/$name.csv" 2 1)
        l2=$(col "$TMP/$name.csv" 2 2)
        a1=$(col "$TMP/$name.csv" 3 1)
        # ln(10) = 2.303 is the loss of a uniform guess.
        if awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(a < 1.0 && b < a) }'; then
            ok "$name: train loss falls: 2.303 (chance) -> $l1 -> $l2"
        else
            bad "$name: train loss does not fall: $l1 -> $l2"
        fi
        if awk -v a="$a1" 'BEGIN { exit !(a >= 75.0) }'; then
            ok "$name: test accuracy after one epoch $a1% >= 75% (chance 10%)"
        else
            bad "$name: test accuracy after one epoch $a1% < 75%"
        fi
    done
fi

# ---------------------------------------------------------------- bitwise
small=(--epochs 1 --train-limit 3200 --test-limit 1000 --momentum 0.9
       --weight-decay 5e-4 --lr 0.05 --seed 7)
run psgd_small --method none "${small[@]}" --save "$TMP/psgd.bin"
run liec_id --method liec --compressor none "${small[@]}" --save "$TMP/liec.bin"
run liec_id_sync --method liec --compressor none --sync 3 "${small[@]}" \
    --save "$TMP/liec_sync.bin"
run ef_id --method ef --compressor none "${small[@]}" --save "$TMP/ef.bin"
run saef_id --method saef --compressor none "${small[@]}" --save "$TMP/saef.bin"
run ef_sign --method ef --compressor sign "${small[@]}" --save "$TMP/ef_sign.bin"
for pair in "psgd liec" "psgd liec_sync" "ef saef"; do
    read -r a b <<<"$pair"
    set -- "$a" "$b"
    if cmp -s "$TMP/$1.bin" "$TMP/$2.bin"; then
        ok "$2 with the identity compressor = $1, bitwise ($(stat -c %s "$TMP/$1.bin") bytes)"
    else
        bad "$2 with the identity compressor differs from $1"
    fi
done
# The comparison can fail: a real compressor changes the weights.
if cmp -s "$TMP/ef.bin" "$TMP/ef_sign.bin"; then
    bad "ef with sign gave the identity compressor's weights"
else
    ok "ef with sign differs from ef with the identity compressor (control)"
fi
for name in psgd_small ef_id saef_id ef_sign; do
    grep -q "bitwise identical on every rank" "$TMP/$name.out" ||
        bad "$name: the model differs across ranks"
done

# ------------------------------------------------------------------ bytes
# 100 steps per epoch (6400 samples / (2 ranks x 32)), 2 epochs, error
# averaging every 7 steps.
P=7
run bytes --method saef --compressor sign --err-avg $P --epochs 2 \
    --train-limit 6400 --test-limit 1000 --momentum 0.9 --lr 0.05
steps=100
# Per tensor (n elements) and step, sharded, K = 2: rank i sends its
# compressed chunk 1-i to its owner and, as owner of chunk i, the server
# message: c(n_{1-i}) + c(n_i) with c(n) = ceil(n/8) + 4, n_0 = ceil(n/2),
# n_1 = floor(n/2). An averaging call (call t with (t+2) mod P == 0) adds
# 4(n - n_{i+1}) + 4(n - n_{i+2}) = 4n.
expect() { # expect RANK CALLS
    awk -v r="$1" -v T="$2" -v P="$P" 'function c(n) { return n ? int((n + 7) / 8) + 4 : 0 }
        BEGIN {
            split("200704 256 32768 128 1280 10", sz, " ")
            per = 0; avg = 0
            for (j = 1; j <= 6; j++) {
                n = sz[j]; n0 = int((n + 1) / 2); n1 = n - n0
                per += (r == 0) ? c(n1) + c(n0) : c(n0) + c(n1)
                avg += 4 * n
            }
            na = 0
            for (t = 0; t < T; t++) if ((t + 2) % P == 0) na++
            printf "%d\n", T * per + na * avg
        }'
}
for e in 1 2; do
    got=$(col "$TMP/bytes.csv" 5 $e)
    want=$(expect 0 $((e * steps)))
    if [ "$got" = "$want" ]; then
        ok "CSV bytes after epoch $e: $got = ALGORITHMS.md 3.4 formula"
    else
        bad "CSV bytes after epoch $e: $got, formula $want"
    fi
done
for r in 0 1; do
    stat=$(sed -n "s/^\[$r\] rank $r: exchange statistics: bytes sent \([0-9]*\),.*/\1/p" \
           "$TMP/bytes.out")
    want=$(expect $r $((2 * steps)))
    if [ "$stat" = "$want" ]; then
        ok "rank $r exchange statistics: $stat bytes sent = formula"
    else
        bad "rank $r exchange statistics: '$stat' bytes sent, formula $want"
    fi
done
last=$(col "$TMP/bytes.csv" 5 2)
stat0=$(sed -n 's/^\[0\] rank 0: exchange statistics: bytes sent \([0-9]*\),.*/\1/p' \
        "$TMP/bytes.out")
if [ "$last" = "$stat0" ]; then
    ok "CSV bytes column = rank 0's exchange statistics ($last)"
else
    bad "CSV bytes $last != rank 0's exchange statistics $stat0"
fi

# ------------------------------------------------------------ bad input
if "$RZRUN" --timeout 60 -np 2 "$TRAIN" --data "$TMP/nowhere" --epochs 1 \
        >"$TMP/nodata.out" 2>&1; then
    bad "a missing data directory did not fail"
elif grep -q "cannot open $TMP/nowhere/train-images-idx3-ubyte" "$TMP/nodata.out"; then
    ok "a missing data directory fails with a clear message"
else
    bad "a missing data directory: unclear message:"; cat "$TMP/nodata.out"
fi
if "$TRAIN" --method bogus >"$TMP/badarg.out" 2>&1; then
    bad "--method bogus accepted"
else
    if grep -q "want none, ef, saef or liec" "$TMP/badarg.out"; then
        ok "--method bogus refused with a clear message"
    else
        bad "--method bogus: unclear message"
    fi
fi

exit $fail
