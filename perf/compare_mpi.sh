#!/usr/bin/env bash
# compare_mpi.sh: ringzip's allreduce against Open MPI's on this machine, side
# by side, with the same benchmark columns, inputs, checks and timing rule.
# Run with --help for what it does and how to read its tables.
set -euo pipefail

PROG=compare_mpi.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")

usage() {
    cat <<'EOF'
NAME
    compare_mpi.sh - ringzip allreduce vs Open MPI allreduce on this machine

SYNOPSIS
    perf/compare_mpi.sh [options]

DESCRIPTION
    For each rank count (--np) and each repetition (--reps), runs the same
    allreduce sweep (f32, sum, out-of-place) with
      ompi_default  mpirun -np N mpi_allreduce_perf
      ompi_ucx      mpirun ... --mca pml ucx -x UCX_TLS=<sm,self> (Open MPI
                    4.1 enables pml ucx only on Mellanox devices by default,
                    so --mca pml_ucx_tls any --mca pml_ucx_devices any is
                    added too; UCX_TLS is sm,self when ucx_info accepts it,
                    else posix,sysv,cma,self)
      ompi_vader    mpirun ... --mca pml ob1 --mca btl vader,self
      ringzip       rzrun -np N rz_allreduce_perf
    Every mpirun gets --allow-run-as-root, --bind-to core when N <= cores
    (else --bind-to none --oversubscribe). rzrun passes its environment on,
    so RZ_* (and UCX_*) variables set by the caller reach ringzip's ranks.

    The programs alternate: within each repetition, each band of sizes
    (below) is run by every program in turn before the next band, and the
    order of the programs rotates from one repetition to the next, so
    drift in the machine's speed hits them all alike.

    Iterations: with -n, every size runs -n timed iterations (one run per
    program). Without -n (the default), iterations shrink as sizes grow:
    n = 1000 while size * 1000 <= 256 MiB, else 200, 50, 12 or 3 by the
    same rule, with n/10 (at least 1) warm-up iterations; consecutive sizes
    that share an n form one band, run as one job. Small sizes get many
    iterations because their mean is fragile: one preemption of 200 us in
    a 200-iteration run of a 0.3 us call triples it. The defaults (np 2 4,
    3 reps, 4 B .. 256 MiB) take about 3 minutes on a 2-core machine.

    rz_memcpy_bw (single-thread memcpy, 64 MiB) runs before each rank
    count's block and after each repetition; its median is printed beside
    each table as the machine's yardstick.

    rz_xcore_lat (the round trip of one cache line between two cores, by
    default the first CPU and the next one on another core; 0.15 s) runs
    before the first run and after every run, so each run is
    framed by two figures. Every byte that moves between ranks on
    different cores crosses that path, and in a VM its speed is not
    constant: the host moves the vCPUs between core complexes, and the
    round trip jumps (on the 2-core machine of docs/PERFORMANCE.md, from
    50-95 ns to about 330 ns for seconds at a time), doubling allreduce
    times for whichever programs run then. A run whose two figures are
    both at most twice the smallest round trip of the whole comparison is
    "quiet", else "slow"; the second table per rank count compares the
    programs within each kind of run. Not done on a single-CPU machine or
    without bin/rz_xcore_lat.

READING THE TABLES
    One table per rank count N. One row per message size (bytes per rank).
    ompi_default, ompi_ucx, ompi_vader, ompi_best and ringzip are busbw in
    GB/s (GB = 1e9 B): size / time * 2(N-1)/N, as in nccl-tests, where time
    is the median over the repetitions of the benchmark's time_us (the
    slowest rank's mean per iteration). ompi_best is the fastest Open MPI
    configuration at that size (named in best_cfg); ratio is ringzip /
    ompi_best (> 1: ringzip is faster), computed from the times so it is
    exact even where busbw rounds to 0.000. best_us and rz_us are the
    latencies (time_us) behind ompi_best and ringzip. '-' marks a
    configuration that failed or was not run. On one host, busbw is bounded
    by memory bandwidth: compare it with the memcpy figure in the header.
    Small sizes are latency-bound: read best_us and rz_us there. The
    footer gives the load average at the start and the end: other work on
    the machine (or a wide memcpy range) means the numbers are disturbed.

    The second table per rank count ("by host placement") splits the runs
    by the round trips around them (see rz_xcore_lat above): q_best,
    q_ringzip and q_ratio are ompi_best, ringzip and ratio over the quiet
    runs only, s_* the same over the slow runs, and q_reps and s_reps the
    repetitions each median used, as ringzip/ompi_best. When the host
    switched placement during a comparison, the first table mixes the two
    machines in proportions that differ from program to program; compare
    within a kind of run, and treat medians of one or two repetitions
    with care.

OPTIONS
    --np "LIST"       rank counts (default "2 4")
    -b SIZE           smallest size in bytes (default 4); K, M, G = 2^10..
    -e SIZE           largest size (default 256M)
    -f F              integer size multiplier (default 4)
    -n N              fixed timed iterations for every size (default: auto)
    -w N              warm-up iterations (default: n/10, at least 1)
    --reps R          repetitions per program (default 3)
    --build DIR       build directory with bin/rzrun, bin/rz_allreduce_perf,
                      bin/mpi_allreduce_perf, bin/rz_memcpy_bw (default
                      build/ in the source tree)
    --out DIR         where raw outputs go (default: a new mktemp dir)
    --configs "LIST"  Open MPI configurations, from "default ucx vader"
                      (default all three)
    --ucx-tls TLS     UCX_TLS for ompi_ucx (default: sm,self, see above)
    --timeout S       limit for one run, in seconds (default 300)
    --memcpy-size S   rz_memcpy_bw size (default 64M)
    --no-xcore        do not run rz_xcore_lat (no second table)
    -h, --help        this text

OUTPUT FILES (in --out)
    <np>/<rep>/<program>.b<size>.{out,err}  each run's stdout and stderr
    commands.log      every command run, with its exit status and seconds
    results.tsv       np rep program size time_us busbw wrong xcore_ns,
                      every row; xcore_ns is the larger round trip around
                      the run ('-' without rz_xcore_lat)
    xcore.tsv         np when ns, one row per rz_xcore_lat run
    medians.tsv       np program size median_time_us nreps wrong
    memcpy.tsv        np when GB/s, one row per rz_memcpy_bw run
    tables.txt        the tables printed at the end

EXIT STATUS
    0 all runs succeeded with correct results; 1 a run failed, timed out
    or gave wrong results (the tables are still printed, with '-');
    2 bad usage or missing programs; 77 Open MPI (mpirun) or
    mpi_allreduce_perf is absent, so there is nothing to compare with.

EXAMPLES
    perf/compare_mpi.sh                      # full default comparison
    perf/compare_mpi.sh --reps 1 -e 16M      # a quick look
    RZ_SPIN_US=0 perf/compare_mpi.sh --np 4 --build build-rel
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }

to_bytes() {
    # K/M/G suffixes are powers of 1024, as in the benchmarks.
    local s=$1 n mult=1
    case $s in
        *[kK]) n=${s%?}; mult=1024 ;;
        *[mM]) n=${s%?}; mult=$((1024 * 1024)) ;;
        *[gG]) n=${s%?}; mult=$((1024 * 1024 * 1024)) ;;
        *) n=$s ;;
    esac
    [[ $n =~ ^[0-9]+$ ]] || die "bad size '$s'"
    echo $((n * mult))
}

# ------------------------------------------------------------------ options
NPS="2 4" MINB=4 MAXB=$((256 << 20)) FACTOR=4 ITERS="" WARMUP="" REPS=3
BUILD="$REPO/build" OUT="" CONFIGS="default ucx vader" UCX_TLS_OMPI=""
RUN_TIMEOUT=300 MEMCPY_SIZE=64M XCORE=1
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --np) NPS=${2:?}; shift ;;
        -b) MINB=$(to_bytes "${2:?}"); shift ;;
        -e) MAXB=$(to_bytes "${2:?}"); shift ;;
        -f) FACTOR=${2:?}; shift ;;
        -n) ITERS=${2:?}; shift ;;
        -w) WARMUP=${2:?}; shift ;;
        --reps) REPS=${2:?}; shift ;;
        --build) BUILD=${2:?}; shift ;;
        --out) OUT=${2:?}; shift ;;
        --configs) CONFIGS=${2:?}; shift ;;
        --ucx-tls) UCX_TLS_OMPI=${2:?}; shift ;;
        --timeout) RUN_TIMEOUT=${2:?}; shift ;;
        --memcpy-size) MEMCPY_SIZE=${2:?}; shift ;;
        --no-xcore) XCORE=0 ;;
        *) echo "$PROG: unknown option '$1'; see --help" >&2; exit 2 ;;
    esac
    shift
done
is_int() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ]; }
is_int "$FACTOR" 2 || die "-f must be an integer >= 2"
is_int "$REPS" 1 || die "--reps must be >= 1"
[ -z "$ITERS" ] || is_int "$ITERS" 1 || die "-n must be >= 1"
[ -z "$WARMUP" ] || is_int "$WARMUP" 0 || die "-w must be >= 0"
is_int "$RUN_TIMEOUT" 1 || die "--timeout must be >= 1"
if [ "$MINB" -lt 4 ] || [ "$MAXB" -lt "$MINB" ]; then
    die "need 4 <= -b <= -e"
fi
for np in $NPS; do
    is_int "$np" 1 || die "bad rank count '$np'"
done
for c in $CONFIGS; do
    case $c in default|ucx|vader) ;; *) die "unknown Open MPI configuration '$c'" ;; esac
done

[ -d "$BUILD/bin" ] || die "$BUILD/bin not found; build first (or pass --build DIR)"
BUILD=$(cd "$BUILD" && pwd)
BIN="$BUILD/bin"
for p in rzrun rz_allreduce_perf rz_memcpy_bw; do
    [ -x "$BIN/$p" ] || die "$BIN/$p not found; build first (or pass --build DIR)"
done
MPIRUN=$(command -v mpirun || true)
if [ -z "$MPIRUN" ]; then
    echo "$PROG: SKIP: Open MPI is not installed (no mpirun in PATH);" \
         "install openmpi-bin libopenmpi-dev (scripts/install-deps.sh)" >&2
    exit 77
fi
if [ ! -x "$BIN/mpi_allreduce_perf" ]; then
    echo "$PROG: SKIP: $BIN/mpi_allreduce_perf was not built (CMake found no" \
         "MPI when it configured $BUILD); install libopenmpi-dev and re-run cmake" >&2
    exit 77
fi
if ! "$MPIRUN" --version 2>/dev/null | grep -q "Open MPI"; then
    echo "$PROG: SKIP: $MPIRUN is not Open MPI" >&2
    exit 77
fi
OMPI_VERSION=$("$MPIRUN" --version 2>/dev/null | head -1)

# Open MPI refuses root without these (we run as root in CI containers).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

CORES=$(lscpu -p=CORE,SOCKET 2>/dev/null | grep -v '^#' | sort -u | wc -l || true)
[ "${CORES:-0}" -ge 1 ] || CORES=$(nproc)

if [ -z "$UCX_TLS_OMPI" ]; then
    # UCX 1.13 knows "sm" as an alias; older versions may not.
    UCX_TLS_OMPI="posix,sysv,cma,self"
    if command -v ucx_info >/dev/null &&
       ! UCX_TLS=sm,self ucx_info -e -u t 2>&1 | grep -q "not available"; then
        UCX_TLS_OMPI="sm,self"
    fi
fi

if [ -z "$OUT" ]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/compare_mpi.XXXXXX")
else
    mkdir -p "$OUT"
fi
OUT=$(cd "$OUT" && pwd)
: >"$OUT/results.tsv"
: >"$OUT/memcpy.tsv"
: >"$OUT/xcore.tsv"
: >"$OUT/commands.log"
echo "$PROG: raw outputs in $OUT"

# ------------------------------------------------------- running, cleanly
# Each run gets its own session (setsid), so whatever it leaves behind --
# mpirun puts its ranks in their own process groups -- can be found by
# session id and killed, by pid, after the run.
CUR_SID=""
sweep_session() {
    local sid=$1 pids
    pids=$(ps -eo pid=,sid= | awk -v s="$sid" '$2 == s && $1 != s { print $1 }')
    if [ -n "$pids" ]; then
        echo "$PROG: killing leftover processes of the last run: ${pids//$'\n'/ }" >&2
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
}
on_signal() {
    if [ -n "$CUR_SID" ]; then
        kill -TERM "$CUR_SID" 2>/dev/null || true
        sleep 3
        sweep_session "$CUR_SID"
    fi
    echo "$PROG: interrupted; partial outputs in $OUT" >&2
    exit 130
}
trap on_signal INT TERM HUP

# run_job LOG_BASE CMD...: runs CMD under timeout with stdout/stderr in
# LOG_BASE.{out,err}; returns its exit status.
run_job() {
    local base=$1 rc=0 t0 t1
    shift
    t0=$EPOCHREALTIME
    setsid --wait timeout -k 10 "$RUN_TIMEOUT" "$@" \
        >"$base.out" 2>"$base.err" </dev/null &
    CUR_SID=$!
    wait "$CUR_SID" || rc=$?
    sweep_session "$CUR_SID"
    CUR_SID=""
    t1=$EPOCHREALTIME
    printf '%s\trc=%d\t%ss\t%s\n' "$*" "$rc" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
        "$base" >>"$OUT/commands.log"
    return "$rc"
}

show_failure() {
    local what=$1 base=$2 rc=$3
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "$PROG: ERROR: $what timed out after ${RUN_TIMEOUT}s (rc $rc)" >&2
    else
        echo "$PROG: ERROR: $what failed (rc $rc)" >&2
    fi
    echo "---- last lines of $base.err:" >&2
    tail -n 15 "$base.err" >&2 || true
    echo "---- last lines of $base.out:" >&2
    tail -n 5 "$base.out" >&2 || true
    echo "----" >&2
}

# ------------------------------------------------------------ the sweep
# Sizes as the benchmarks generate them, each with its iteration count.
auto_iters() {
    local size=$1 n
    for n in 1000 200 50 12; do
        if [ $((size * n)) -le $((256 << 20)) ]; then
            echo "$n"
            return
        fi
    done
    echo 3
}
SIZES=() NS=()
s=$MINB
while [ "$s" -le "$MAXB" ]; do
    SIZES+=("$s")
    if [ -n "$ITERS" ]; then NS+=("$ITERS"); else NS+=("$(auto_iters "$s")"); fi
    s=$((s * FACTOR))
done
# Bands: runs of consecutive sizes with the same n ("first last n").
BANDS=()
i=0
while [ "$i" -lt ${#SIZES[@]} ]; do
    j=$i
    while [ $((j + 1)) -lt ${#SIZES[@]} ] && [ "${NS[$((j + 1))]}" = "${NS[$i]}" ]; do
        j=$((j + 1))
    done
    BANDS+=("${SIZES[$i]} ${SIZES[$j]} ${NS[$i]}")
    i=$((j + 1))
done

PROGRAMS=()
for c in $CONFIGS; do PROGRAMS+=("ompi_$c"); done
PROGRAMS+=(ringzip)

# program_cmd PROGRAM NP FIRST LAST N W: prints nothing, sets CMD.
program_cmd() {
    local prog=$1 np=$2 first=$3 last=$4 n=$5 w=$6 bind
    local bench=(-b "$first" -e "$last" -f "$FACTOR" -n "$n" -w "$w")
    if [ "$np" -le "$CORES" ]; then
        bind=(--bind-to core)
    else
        bind=(--bind-to none --oversubscribe)
    fi
    local mpi=("$MPIRUN" -np "$np" --allow-run-as-root "${bind[@]}")
    # shellcheck disable=SC2054 # "vader,self" is one argument
    case $prog in
        ompi_default) CMD=("${mpi[@]}" "$BIN/mpi_allreduce_perf" "${bench[@]}") ;;
        ompi_ucx) CMD=("${mpi[@]}" --mca pml ucx --mca pml_ucx_tls any
                       --mca pml_ucx_devices any -x "UCX_TLS=$UCX_TLS_OMPI"
                       "$BIN/mpi_allreduce_perf" "${bench[@]}") ;;
        ompi_vader) CMD=("${mpi[@]}" --mca pml ob1 --mca btl vader,self
                         "$BIN/mpi_allreduce_perf" "${bench[@]}") ;;
        ringzip) CMD=("$BIN/rzrun" -np "$np" "$BIN/rz_allreduce_perf" "${bench[@]}") ;;
    esac
}

run_memcpy() {
    local np=$1 when=$2 base="$OUT/memcpy.$1.$2" rc=0 gbps
    run_job "$base" "$BIN/rz_memcpy_bw" -s "$MEMCPY_SIZE" -r 11 || rc=$?
    if [ "$rc" -ne 0 ]; then
        show_failure "rz_memcpy_bw" "$base" "$rc"
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    gbps=$(awk '!/^#/ && NF >= 3 { print $3; exit }' "$base.out")
    printf '%s\t%s\t%s\n' "$np" "$when" "$gbps" >>"$OUT/memcpy.tsv"
}

# xcore_probe NP WHEN: one rz_xcore_lat run; its median round trip (ns) goes
# to xcore.tsv and XC_LAST ('-' when not measured).
XC_LAST=-
if [ "$XCORE" -eq 1 ] && { [ "$CORES" -lt 2 ] || [ ! -x "$BIN/rz_xcore_lat" ]; }; then
    echo "$PROG: note: no round trips between CPUs (${CORES} core(s)," \
         "or no $BIN/rz_xcore_lat), so no table by host placement" >&2
    XCORE=0
fi
xcore_probe() {
    local np=$1 when=$2 base="$OUT/xcore.$1.$2" rc=0
    XC_LAST=-
    [ "$XCORE" -eq 1 ] || return 0
    run_job "$base" "$BIN/rz_xcore_lat" -t 0.15 || rc=$?
    if [ "$rc" -ne 0 ]; then
        # Not a failure of the comparison: the run just has no label.
        echo "$PROG: warning: rz_xcore_lat failed (rc $rc): $(head -c 300 "$base.err")" >&2
        return 0
    fi
    XC_LAST=$(awk '!/^#/ && NF >= 6 { print $4; exit }' "$base.out")
    [ -n "$XC_LAST" ] || XC_LAST=-
    printf '%s\t%s\t%s\n' "$np" "$when" "$XC_LAST" >>"$OUT/xcore.tsv"
}

# Other work on the machine skews every program; say so rather than hide it.
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
if awk -v l="$LOAD_START" -v c="$CORES" 'BEGIN { exit !(l + 0 > c / 2) }'; then
    echo "$PROG: warning: load average $LOAD_START on $CORES cores before" \
         "starting; other work will disturb the numbers" >&2
fi

FAILURES=0
declare -A DEAD=()      # "np prog" -> why it was dropped for this np
echo "$PROG: $OMPI_VERSION; $CORES cores; np: $NPS; sizes ${SIZES[0]}..${SIZES[-1]} x$FACTOR;" \
     "$REPS rep(s); bands (first last n): $(printf '[%s] ' "${BANDS[@]}")"
echo "$PROG: ompi_ucx uses UCX_TLS=$UCX_TLS_OMPI"
for np in $NPS; do
    run_memcpy "$np" before
    xcore_probe "$np" start
    for ((rep = 1; rep <= REPS; rep++)); do
        mkdir -p "$OUT/$np/$rep"
        # Rotate the program order from one repetition to the next.
        order=()
        for ((k = 0; k < ${#PROGRAMS[@]}; k++)); do
            order+=("${PROGRAMS[$(((k + rep - 1) % ${#PROGRAMS[@]}))]}")
        done
        for band in "${BANDS[@]}"; do
            read -r first last n <<<"$band"
            w=${WARMUP:-$((n / 10 > 1 ? n / 10 : 1))}
            for prog in "${order[@]}"; do
                [ -z "${DEAD["$np $prog"]:-}" ] || continue
                program_cmd "$prog" "$np" "$first" "$last" "$n" "$w"
                base="$OUT/$np/$rep/$prog.b$first"
                rc=0
                xc_before=$XC_LAST
                run_job "$base" "${CMD[@]}" || rc=$?
                xcore_probe "$np" "$rep.$prog.b$first"
                xc=-
                if [ "$xc_before" != - ] && [ "$XC_LAST" != - ]; then
                    xc=$(awk -v a="$xc_before" -v b="$XC_LAST" 'BEGIN { print (a + 0 > b + 0) ? a : b }')
                fi
                # Data lines (rzrun prefixes "[0] "): size count type redop
                # time_us algbw busbw #wrong.
                awk -v np="$np" -v rep="$rep" -v prog="$prog" -v xc="$xc" '
                    { sub(/^\[[0-9]+\] /, "") }
                    $1 ~ /^[0-9]+$/ && NF == 8 && $3 == "f32" {
                        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
                               np, rep, prog, $1, $5, $7, $8, xc
                    }' "$base.out" >"$base.tsv"
                want=0
                for s in "${SIZES[@]}"; do
                    [ "$s" -lt "$first" ] || [ "$s" -gt "$last" ] || want=$((want + 1))
                done
                got=$(wc -l <"$base.tsv")
                wrong=$(awk -F'\t' '{ w += $7 } END { print w + 0 }' "$base.tsv")
                if [ "$rc" -ne 0 ] || [ "$got" -ne "$want" ]; then
                    show_failure "np $np rep $rep $prog (sizes $first..$last, $got of $want lines): ${CMD[*]}" \
                                 "$base" "$rc"
                    FAILURES=$((FAILURES + 1))
                    DEAD["$np $prog"]="rc $rc"
                    continue
                fi
                if [ "$wrong" -ne 0 ]; then
                    echo "$PROG: ERROR: np $np rep $rep $prog: $wrong wrong" \
                         "elements; its times are not used (see $base.out)" >&2
                    FAILURES=$((FAILURES + 1))
                    continue
                fi
                cat "$base.tsv" >>"$OUT/results.tsv"
            done
        done
        run_memcpy "$np" "after_rep$rep"
    done
    printf '%s: np %s done\n' "$PROG" "$np"
done

# ------------------------------------------------------------ the tables
# Median time per (np, program, size) over the repetitions.
sort -t$'\t' -k1,1n -k3,3 -k4,4n -k5,5g "$OUT/results.tsv" | awk -F'\t' '
    function flush() {
        if (k == 0) return
        med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        printf "%s\t%s\t%s\t%.6g\t%d\t%d\n", knp, kprog, ksize, med, k, kw
        k = 0; kw = 0
    }
    {
        key = $1 FS $3 FS $4
        if (key != last) { flush(); last = key; knp = $1; kprog = $3; ksize = $4 }
        v[++k] = $5; kw += $7
    }
    END { flush() }' >"$OUT/medians.tsv"

memcpy_median() {
    # memcpy_median [NP]: "median min max count" of the memcpy runs.
    awk -F'\t' -v np="${1:-}" 'np == "" || $1 == np { print $3 }' "$OUT/memcpy.tsv" |
        sort -g | awk '{ v[++k] = $1 }
            END {
                if (k == 0) { print "- - - 0"; exit }
                med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
                printf "%.2f %.2f %.2f %d\n", med, v[1], v[k], k
            }'
}

# Quiet runs: both round trips around them at most twice the smallest.
XC_MIN=$(awk -F'\t' '$3 != "-" && (m == "" || $3 + 0 < m + 0) { m = $3 } END { print m }' "$OUT/xcore.tsv")
XC_THR=""
[ -z "$XC_MIN" ] || XC_THR=$(awk -v m="$XC_MIN" 'BEGIN { printf "%.1f", 2 * m }')

# placement_table NP: the second table, medians within quiet and slow runs.
placement_table() {
    local np=$1
    echo "# np $np by host placement: 'q' over quiet runs (cache-line round trip" \
         "<= $XC_THR ns around the run: twice the smallest, $XC_MIN ns), 's' over slow" \
         "runs; busbw in GB/s, ratio = ringzip / ompi_best, reps = ringzip/ompi_best"
    awk -F'\t' -v np="$np" -v sizes="${SIZES[*]}" -v thr="$XC_THR" '
        BEGIN {
            ns = split(sizes, sz, " ")
            for (i = 1; i <= ns; i++) sz[i] = int(sz[i] / 4) * 4
            nc = split("ompi_default ompi_ucx ompi_vader", cfg, " ")
            f = np > 1 ? 2.0 * (np - 1) / np : 0
            printf "%12s %9s %9s %7s %6s %9s %9s %7s %6s\n", "size",
                   "q_best", "q_ringzip", "q_ratio", "q_reps",
                   "s_best", "s_ringzip", "s_ratio", "s_reps"
        }
        $1 == np && $8 != "-" {
            k = (($8 + 0 <= thr + 0) ? "q" : "s") SUBSEP $3 SUBSEP $4
            v[k, ++n[k]] = $5
        }
        function median(k,   i, j, c, t, a) {
            c = n[k]
            for (i = 1; i <= c; i++) {      # insertion sort: a few values
                t = v[k, i] + 0
                for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
                a[j + 1] = t
            }
            return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
        }
        function cols(m, s,   c, k, t, best, bn, rz, rn) {
            best = ""; bn = 0
            for (c = 1; c <= nc; c++) {
                k = m SUBSEP cfg[c] SUBSEP s
                if (!(k in n)) continue
                t = median(k)
                if (best == "" || t < best) { best = t; bn = n[k] }
            }
            k = m SUBSEP "ringzip" SUBSEP s
            rz = (k in n) ? median(k) : ""; rn = (k in n) ? n[k] : 0
            return sprintf(" %9s %9s %7s %6s",
                best == "" ? "-" : sprintf("%.3f", s / (best * 1e3) * f),
                rz == "" ? "-" : sprintf("%.3f", s / (rz * 1e3) * f),
                (best == "" || rz == "") ? "-" : sprintf("%.3f", best / rz),
                rn "/" bn)
        }
        END {
            for (i = 1; i <= ns; i++)
                printf "%12d%s%s\n", sz[i], cols("q", sz[i]), cols("s", sz[i])
        }' "$OUT/results.tsv"
}

{
    for np in $NPS; do
        read -r mc_med mc_min mc_max mc_k <<<"$(memcpy_median "$np")"
        echo
        echo "# np $np: allreduce busbw in GB/s (GB = 1e9 B), median of $REPS rep(s);" \
             "memcpy $mc_med GB/s (single thread, $MEMCPY_SIZE, bytes counted once;" \
             "median of $mc_k, range $mc_min..$mc_max)"
        for prog in "${PROGRAMS[@]}"; do
            if [ -n "${DEAD["$np $prog"]:-}" ]; then
                echo "# $prog: failed (${DEAD["$np $prog"]}), dropped from np $np; see stderr above"
            fi
        done
        awk -F'\t' -v np="$np" -v sizes="${SIZES[*]}" '
            BEGIN {
                ns = split(sizes, sz, " ")
                # The benchmarks round sizes down to whole f32 elements.
                for (i = 1; i <= ns; i++) sz[i] = int(sz[i] / 4) * 4
                nc = split("ompi_default ompi_ucx ompi_vader", cfg, " ")
                f = np > 1 ? 2.0 * (np - 1) / np : 0
                printf "%12s %12s %9s %10s %9s %9s %7s %10s %10s  %s\n",
                       "size", "ompi_default", "ompi_ucx", "ompi_vader",
                       "ompi_best", "ringzip", "ratio", "best_us", "rz_us",
                       "best_cfg"
            }
            $1 == np { t[$2, $3] = $4 }
            function bw(s, us) { return s / (us * 1e3) * f }
            function col(s, us, w) {
                return us == "" ? sprintf("%" w "s", "-") \
                                : sprintf("%" w ".3f", bw(s, us))
            }
            END {
                for (i = 1; i <= ns; i++) {
                    s = sz[i]; best = ""; bcfg = "-"
                    line = sprintf("%12d", s)
                    for (c = 1; c <= nc; c++) {
                        us = ((cfg[c], s) in t) ? t[cfg[c], s] : ""
                        line = line " " col(s, us, c == 1 ? 12 : c == 2 ? 9 : 10)
                        if (us != "" && (best == "" || us + 0 < best + 0)) {
                            best = us; bcfg = substr(cfg[c], 6)
                        }
                    }
                    rz = (("ringzip", s) in t) ? t["ringzip", s] : ""
                    line = line " " col(s, best, 9) " " col(s, rz, 9)
                    ratio = (best != "" && rz != "") ? sprintf("%7.3f", best / rz) \
                                                     : sprintf("%7s", "-")
                    line = line " " ratio
                    line = line sprintf(" %10s %10s  %s",
                                        best == "" ? "-" : sprintf("%.2f", best),
                                        rz == "" ? "-" : sprintf("%.2f", rz), bcfg)
                    print line
                }
            }' "$OUT/medians.tsv"
        if [ -n "$XC_THR" ]; then
            echo
            placement_table "$np"
        fi
    done
    read -r mc_med mc_min mc_max mc_k <<<"$(memcpy_median)"
    echo
    echo "# memcpy (rz_memcpy_bw -s $MEMCPY_SIZE): median $mc_med GB/s over $mc_k runs" \
         "(range $mc_min..$mc_max); $OMPI_VERSION; ompi_ucx UCX_TLS=$UCX_TLS_OMPI;" \
         "$CORES cores; load average $LOAD_START at start," \
         "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?") at end"
} | tee "$OUT/tables.txt"

echo
if [ "$FAILURES" -ne 0 ]; then
    echo "$PROG: $FAILURES run(s) failed or gave wrong results (see above); raw outputs in $OUT" >&2
    exit 1
fi
echo "$PROG: all runs succeeded; raw outputs in $OUT"
