#!/usr/bin/env bash
# perf/compare_mpi.sh at a tiny scale: it must run every Open MPI
# configuration and ringzip at np 2 and print a numeric ringzip/ompi_best
# ratio for every size. Skips (77) without Open MPI.
#
# Usage: test_compare_mpi.sh /path/to/compare_mpi.sh BUILD_DIR
#
# Conditions are eval'd single-quoted strings, hence:
# shellcheck disable=SC2016,SC2034
set -u
script=${1:-} build=${2:-}
if [ -z "$script" ] || [ -z "$build" ]; then
    echo "usage: $0 /path/to/compare_mpi.sh BUILD_DIR" >&2
    exit 2
fi
if ! command -v mpirun >/dev/null; then
    echo "SKIP: mpirun not found (Open MPI is not installed)"
    exit 77
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/test_compare_mpi.XXXXXX") || exit 2
trap 'rm -rf "$out"' EXIT

pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok: $1"; else fail=$((fail+1)); echo "FAIL: $1"; fi; }

bash "$script" --build "$build" --np 2 -b 4 -e 64K -f 4 --reps 1 -n 10 \
    --timeout 60 --memcpy-size 8M --out "$out/run" >"$out/log" 2>&1
rc=$?
cat "$out/log"
if [ "$rc" -eq 77 ]; then
    echo "SKIP: compare_mpi.sh skipped"
    exit 77
fi
check "compare_mpi.sh exits 0 (rc=$rc)" '[ "$rc" -eq 0 ]'
check "tables.txt written" '[ -s "$out/run/tables.txt" ]'
check "memcpy bandwidth reported" \
    'grep -Eq "^# memcpy .*: median [0-9.]+ GB/s" "$out/run/tables.txt"'
# One row per size, each with numbers in every configuration's column and
# a numeric ratio (column 7).
for size in 4 16 64 256 1024 4096 16384 65536; do
    row=$(awk -v s="$size" '$1 == s && NF == 10' "$out/run/tables.txt" 2>/dev/null)
    check "size $size: numeric busbw for all programs and a numeric ratio" \
        '[ -n "$row" ] && echo "$row" | awk '\''{ for (i = 2; i <= 9; i++)
            if ($i !~ /^[0-9]+(\.[0-9]+)?$/) exit 1 }'\'''
done

# With two or more CPUs every run is framed by cache-line round trips
# (rz_xcore_lat), and the table by host placement follows each table.
xcore_rows() { awk -F'\t' '$3 ~ /^[0-9.]+$/ && $3 > 0' "$1" | wc -l; }
rows_labelled() {
    [ -s "$1" ] && awk -F'\t' 'NF != 8 || $8 !~ /^[0-9.]+$/ { exit 1 }' "$1"
}
# placement_row_ok FILE SIZE: one 9-column row whose reps columns (5 and 9,
# "ringzip/ompi_best") hold ringzip's one repetition in one kind of run,
# and at most one per kind for ompi_best (its configurations may differ).
placement_row_ok() {
    awk -v s="$2" '$1 == s && NF == 9 && $5 ~ /\// {
            split($5, q, "/"); split($9, w, "/")
            if (q[1] + w[1] == 1 && q[2] <= 1 && w[2] <= 1 &&
                q[2] + w[2] >= 1) ok++
        }
        END { exit ok != 1 }' "$1"
}
if [ "$(nproc)" -ge 2 ]; then
    check "round trips recorded: one before the first run, one after each of 4" \
        '[ "$(xcore_rows "$out/run/xcore.tsv")" -eq 5 ]'
    check "every result row carries its run's round trip" \
        'rows_labelled "$out/run/results.tsv"'
    check "table by host placement printed" \
        'grep -q "^# np 2 by host placement" "$out/run/tables.txt"'
    for size in 4 65536; do
        check "size $size: one placement row, reps adding up to 1/1" \
            'placement_row_ok "$out/run/tables.txt" "$size"'
    done
fi
bash "$script" --build "$build" --np 2 -b 4 -e 16 -f 4 --reps 1 -n 5 --no-xcore \
    --configs vader --timeout 60 --memcpy-size 1M --out "$out/nox" >"$out/nox.log" 2>&1
rc=$?
check "--no-xcore: exits 0 (rc=$rc)" '[ "$rc" -eq 0 ]'
check "--no-xcore: no round trips, no placement table, '-' in results" \
    '[ ! -s "$out/nox/xcore.tsv" ] && ! grep -q "by host placement" "$out/nox/tables.txt" &&
     awk -F"\t" "\$8 != \"-\" { exit 1 }" "$out/nox/results.tsv"'

echo "test_compare_mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
