#!/usr/bin/env bash
# Part of `make demo`: a short 4-rank Fashion-MNIST training with SAEF and
# sign compression next to the same training with P-SGD (full-precision
# averaging), per-epoch lines side by side. Usage:
#   scripts/demo_train.sh [BUILD_DIR] [EPOCHS]
set -euo pipefail
BUILD=${1:-build}
EPOCHS=${2:-3}
TRAIN=$BUILD/bin/train_mnist
if [ ! -x "$TRAIN" ]; then
    echo "demo_train: $TRAIN not built (needs libopenblas-dev and zlib1g-dev;" \
         "run scripts/install-deps.sh, then make)" >&2
    exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
common=(--epochs "$EPOCHS" --batch 64 --momentum 0.9 --lr 0.05 --seed 1)
echo "== train_mnist, 4 ranks: P-SGD, then SAEF with sign compression"
# (The per-rank exchange statistics lines are left out here.)
"$BUILD/bin/rzrun" -np 4 "$TRAIN" "${common[@]}" --method none \
    --csv "$TMP/psgd.csv" | grep -v "exchange statistics"
"$BUILD/bin/rzrun" -np 4 "$TRAIN" "${common[@]}" --method saef \
    --compressor sign --csv "$TMP/saef.csv" | grep -v "exchange statistics"
echo
echo "== per epoch: P-SGD | SAEF/sign (MB = bytes sent per rank so far)"
printf '%5s | %10s %8s %10s | %10s %8s %10s\n' epoch "loss" "acc %" "MB" \
       "loss" "acc %" "MB"
paste -d, <(grep -v '^#' "$TMP/psgd.csv" | tail -n +2) \
          <(grep -v '^#' "$TMP/saef.csv" | tail -n +2) |
    awk -F, '{ printf "%5d | %10.4f %8.2f %10.1f | %10.4f %8.2f %10.2f\n",
               $1, $2, $3, $5 / 1e6, $10, $11, $13 / 1e6 }'
