#!/usr/bin/env bash
# reproduce.sh: the small-scale reproduction of ALGORITHMS.md section 6.3 --
# trains the Fashion-MNIST MLP with every method the claims compare, then
# draws one figure per claim and writes a summary table.
# Run with --help for what it does and how to read its output.
set -euo pipefail

PROG=reproduce.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")

usage() {
    cat <<'EOF'
NAME
    reproduce.sh - train the Fashion-MNIST MLP with P-SGD, EF, SAEF, LIEC and
    their baselines, then plot and tabulate the claims of docs/REPRODUCTION.md

SYNOPSIS
    scripts/reproduce.sh [options]

DESCRIPTION
    Runs a matrix of training runs of train_mnist (examples/train_mnist),
    each launched as
        rzrun -np K train_mnist --epochs E --lr LR --lr-decay DECAY
              --weight-decay 5e-4 --batch 64 --momentum M --seed S
              --method ... --topology ... --compressor ... [...]
              --csv OUT/runs/RUN/seedS.csv
    ONE AT A TIME (the ranks of one run already fill a 2-core machine), for
    every seed in --seeds, seed by seed: all runs of the first seed come
    first, so an interrupted reproduction already has one curve per run.

    The matrix is the table MATRIX near the top of this script, one line
    per run configuration, organised by the claims (the design notes' 6.3);
    edit it there. `--list` prints it. A run that belongs to several claims
    (psgd, ef-sign, ...) is listed once and trained once; every claim that
    names it reuses its curves. Claims and their runs:
      ef-vs-psgd  (6.3 item 2; momentum 0.9, K=4, sign) P-SGD, sign
                  without error feedback, EF, SAEF
      saef-topk   (6.3 item 3; momentum 0.9) EF and SAEF with top-k 1% and
                  0.1% at K=4, top-k 0.1% at K=8, block-sign (1024) at K=4;
                  P-SGD at K=4 and K=8 for reference; also a
                  gradient-mismatch figure
      err-avg     (6.3 item 4; momentum 0.9, K=4, sign) EF and SAEF with
                  and without error averaging every 20 steps, P-SGD
      liec        (6.3 item 5; momentum 0, K=4, sign) P-SGD, LIEC H=32 and
                  H=100, MEM-SGD (EF, uncompressed server side),
                  DoubleSqueeze (EF, momentum 0), sign without feedback
      topology    (6.3 item 6; momentum 0.9, K=4, sign) SAEF on the
                  sharded and the ring topology, P-SGD

    Resuming: a run (one configuration, one seed) is skipped when its CSV
    already holds all --epochs epochs and it was made by exactly the
    command this invocation would run (kept in seedS.cmd, written when a
    run succeeds). Changing the matrix, --epochs, --lr, --decay ... thus
    re-runs the runs concerned, and an interrupted reproduction started
    again with the same options goes on where it stopped. --force re-runs
    everything.

    A run that fails (non-zero exit, timeout, or a CSV short of epochs) is
    reported with the end of its log, marked FAILED in the summary and left
    out of the plots; the others go on, and the script exits 1 at the end.

    After the runs, scripts/repro_plot.sh draws the figures and
    scripts/repro_summary.sh writes and prints the tables (both can also be
    run alone on an output directory; --plot-only runs just them).

    The default matrix has 22 configurations, times 3 seeds: 66 runs (28
    minutes on the 2-core development machine). The time of each run is
    printed as it finishes, and again at the end.

OPTIONS
    --build DIR      build directory holding bin/rzrun and bin/train_mnist
                     (default: build/ in the source tree); nothing is built
    --out DIR        output directory (default repro-out, or repro-out-quick
                     with --quick; relative to the current directory)
    --only CLAIMS    comma-separated claims to run (default all); runs shared
                     with other claims are trained once all the same
    --epochs N       epochs per run (default 20)
    --decay LIST     epochs after which the LR is multiplied by 0.1, given as
                     train_mnist's --lr-decay E1[,E2] (default "10,15"), or
                     "none" for a constant LR
    --seeds "LIST"   seeds (default "1 2 3"). The plots and the summary
                     use the seeds of the last invocation that ran (kept in
                     OUT/settings); with --plot-only, --seeds replaces them
    --lr X           overrides every run's LR (default: the matrix's, 0.1)
    --batch B        per-rank batch size (default 64)
    --data DIR       Fashion-MNIST IDX .gz files (default: train_mnist's,
                     /usr/share/datasets/fashion-mnist)
    --train-args "ARGS"
                     extra arguments appended to every train_mnist command
    --timeout S      limit for one run in seconds (default 3600)
    --quick          smoke test: 2 epochs, seed 1, --decay none, out dir
                     repro-out-quick (options given explicitly still win)
    --force          re-run runs even if their CSV is complete
    --dry-run        print the commands (and which would be skipped); run
                     nothing, draw nothing
    --plot-only      run nothing; redraw the plots and the summary from OUT
    --no-plot        run, but skip the plots and the summary
    --list           print the matrix (filtered by --only) and exit
    -h, --help       this text

ENVIRONMENT
    TRAIN    the training program (default BUILD/bin/train_mnist)
    RZRUN    the launcher (default BUILD/bin/rzrun); called as
             RZRUN -np K TRAIN ARGS...
    GNUPLOT  gnuplot binary for repro_plot.sh (default gnuplot)

OUTPUT FILES (in --out)
    runs/RUN/seedS.csv   train_mnist's CSV (# comment lines, then
                         epoch,train_loss,test_accuracy,test_loss,
                         bytes_sent,wall_s,lr,mismatch)
    runs/RUN/seedS.log   the run's stdout and stderr (rzrun's "[R] " prefix)
    runs/RUN/seedS.cmd   the train_mnist arguments of the last successful run
    runs/RUN/seedS.status  "ok", "FAILED <why>" or "running" (interrupted)
    matrix.tsv           the matrix (all claims), read by the plot and summary
    settings             EPOCHS, SEEDS, DECAY of the last invocation
    times.tsv            run seed status seconds, one row per run this time
    commands.log         every command run, with exit status and seconds
    mean/RUN.dat         per-epoch mean, min and max over the seeds
    plots/CLAIM.png      2x2: train loss and test accuracy against epochs and
                         against MB sent per rank (log x); mean over seeds,
                         shaded band from min to max
    plots/saef-topk-mismatch.png   the gradient-mismatch column, EF vs SAEF
    summary.md, summary.csv        the tables (see repro_summary.sh --help)

EXIT STATUS
    0 every run succeeded and the plots and summary were made; 1 a run,
    the plots or the summary failed; 2 bad usage or missing programs.

EXAMPLES
    scripts/reproduce.sh --quick                 # smoke test: 22 runs of 2 epochs
    scripts/reproduce.sh                         # the whole reproduction
    scripts/reproduce.sh --only liec --seeds 1   # one claim, one seed
    scripts/reproduce.sh --plot-only             # redraw from repro-out
    TRAIN=/tmp/fake_train/train_mnist scripts/reproduce.sh --quick --out /tmp/r
EOF
}

# ------------------------------------------------------------------ matrix
# One line per run configuration. "-" leaves the option out (train_mnist's
# default). Columns:
#   name     run name: the directory under OUT/runs and the plots' legend;
#            EF/SAEF pairs named ef-X / saef-X share a colour in the plots
#   K        ranks (rzrun -np)
#   method   none | ef | saef | liec     (--method)
#   topo     single | sharded | ring | ring-exact   (--topology)
#   comp     worker compressor            (--compressor)
#   server   server compressor            (--server-compressor)
#   erravg   error averaging period p     (--err-avg)
#   sync     LIEC model averaging period H (--sync)
#   mom      momentum                     (--momentum)
#   lr       initial learning rate        (--lr)
#   claims   comma-separated claims this run belongs to
MATRIX='
# name          K method topo    comp                  server erravg sync mom lr   claims
psgd            4 none   sharded none                  -      -      -    0.9 0.05 ef-vs-psgd,saef-topk,err-avg,topology
nofb-sign       4 none   sharded sign                  -      -      -    0.9 0.05 ef-vs-psgd
ef-sign         4 ef     sharded sign                  -      -      -    0.9 0.05 ef-vs-psgd,err-avg
saef-sign       4 saef   sharded sign                  -      -      -    0.9 0.05 ef-vs-psgd,err-avg,topology
ef-topk1        4 ef     sharded topk:ratio=0.01       -      -      -    0.9 0.05 saef-topk
saef-topk1      4 saef   sharded topk:ratio=0.01       -      -      -    0.9 0.05 saef-topk
ef-topk01       4 ef     sharded topk:ratio=0.001      -      -      -    0.9 0.05 saef-topk
saef-topk01     4 saef   sharded topk:ratio=0.001      -      -      -    0.9 0.05 saef-topk
psgd-k8         8 none   sharded none                  -      -      -    0.9 0.05 saef-topk
ef-topk01-k8    8 ef     sharded topk:ratio=0.001      -      -      -    0.9 0.05 saef-topk
saef-topk01-k8  8 saef   sharded topk:ratio=0.001      -      -      -    0.9 0.05 saef-topk
ef-bsign1k      4 ef     sharded blocksign:block=1024  -      -      -    0.9 0.05 saef-topk
saef-bsign1k    4 saef   sharded blocksign:block=1024  -      -      -    0.9 0.05 saef-topk
ef-sign-p20     4 ef     sharded sign                  -      20     -    0.9 0.05 err-avg
saef-sign-p20   4 saef   sharded sign                  -      20     -    0.9 0.05 err-avg
psgd-mu0        4 none   sharded none                  -      -      -    0   0.1  liec
liec-h32        4 liec   sharded sign                  -      -      32   0   0.1  liec
liec-h100       4 liec   sharded sign                  -      -      100  0   0.1  liec
memsgd          4 ef     sharded sign                  none   -      -    0   0.1  liec
doublesqueeze   4 ef     sharded sign                  -      -      -    0   0.1  liec
nofb-sign-mu0   4 none   sharded sign                  -      -      -    0   0.1  liec
saef-sign-ring  4 saef   ring    sign                  -      -      -    0.9 0.05 topology
'
WEIGHT_DECAY=5e-4

die() { echo "$PROG: $*" >&2; exit 2; }

# ------------------------------------------------------------------ options
BUILD="$REPO/build" OUT="" ONLY="" EPOCHS="" DECAY="" SEEDS="" LR_OVERRIDE=""
BATCH=64 DATA="" TRAIN_ARGS="" RUN_TIMEOUT=3600 QUICK=0 FORCE=0 DRY_RUN=0
PLOT_ONLY=0 NO_PLOT=0 LIST=0
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --build) BUILD=${2:?--build needs a directory}; shift ;;
        --out) OUT=${2:?--out needs a directory}; shift ;;
        --only) ONLY=${2:?--only needs claims}; shift ;;
        --epochs) EPOCHS=${2:?--epochs needs a number}; shift ;;
        --decay) DECAY=${2:?--decay needs a list or none}; shift ;;
        --seeds) SEEDS=${2:?--seeds needs a list}; shift ;;
        --lr) LR_OVERRIDE=${2:?--lr needs a value}; shift ;;
        --batch) BATCH=${2:?--batch needs a number}; shift ;;
        --data) DATA=${2:?--data needs a directory}; shift ;;
        --train-args) TRAIN_ARGS=${2?--train-args needs arguments}; shift ;;
        --timeout) RUN_TIMEOUT=${2:?--timeout needs seconds}; shift ;;
        --quick) QUICK=1 ;;
        --force) FORCE=1 ;;
        --dry-run) DRY_RUN=1 ;;
        --plot-only) PLOT_ONLY=1 ;;
        --no-plot) NO_PLOT=1 ;;
        --list) LIST=1 ;;
        *) echo "$PROG: unknown option '$1'; see --help" >&2; exit 2 ;;
    esac
    shift
done
SEEDS_GIVEN=0
[ -z "$SEEDS" ] || SEEDS_GIVEN=1
# --quick only changes what was not given explicitly.
if [ "$QUICK" -eq 1 ]; then
    : "${EPOCHS:=2}" "${SEEDS:=1}" "${DECAY:=none}" "${OUT:=repro-out-quick}"
fi
: "${EPOCHS:=20}" "${SEEDS:=1 2 3}" "${DECAY:=10,15}" "${OUT:=repro-out}"

is_int() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ]; }
is_num() { [[ $1 =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]]; }
is_int "$EPOCHS" 1 || die "--epochs must be an integer >= 1"
is_int "$BATCH" 1 || die "--batch must be an integer >= 1"
is_int "$RUN_TIMEOUT" 1 || die "--timeout must be an integer >= 1"
[ -z "$LR_OVERRIDE" ] || is_num "$LR_OVERRIDE" || die "bad --lr '$LR_OVERRIDE'"
[ -n "${SEEDS// /}" ] || die "--seeds is empty"
for s in $SEEDS; do is_int "$s" 0 || die "bad seed '$s'"; done
if [ "$DECAY" != none ]; then
    [[ $DECAY =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--decay must be E1[,E2...] or none, not '$DECAY'"
    for e in ${DECAY//,/ }; do
        [ "$e" -lt "$EPOCHS" ] ||
            echo "$PROG: warning: LR decay after epoch $e never happens in $EPOCHS epochs" >&2
    done
fi
[ "$PLOT_ONLY" -eq 0 ] || [ "$NO_PLOT" -eq 0 ] || die "--plot-only and --no-plot exclude each other"

# ------------------------------------------------------------------ the matrix
# Parsed into parallel arrays, in table order; checked for typos.
R_NAME=() R_K=() R_METHOD=() R_TOPO=() R_COMP=() R_SERVER=() R_ERRAVG=()
R_SYNC=() R_MOM=() R_LR=() R_CLAIMS=()
declare -A SEEN_NAME=() KNOWN_CLAIM=()
CLAIM_ORDER=()
while read -r name k method topo comp server erravg sync mom lr claims extra; do
    case $name in ""|"#"*) continue ;; esac
    if [ -z "$claims" ] || [ -n "$extra" ]; then
        die "matrix line '$name': need exactly 11 columns"
    fi
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "matrix: bad run name '$name'"
    [ -z "${SEEN_NAME[$name]:-}" ] || die "matrix: run '$name' is listed twice; give it several claims instead"
    SEEN_NAME[$name]=1
    is_int "$k" 1 || die "matrix line '$name': bad K '$k'"
    case $method in none|ef|saef|liec) ;; *) die "matrix line '$name': bad method '$method'" ;; esac
    case $topo in single|sharded|ring|ring-exact|-) ;; *) die "matrix line '$name': bad topology '$topo'" ;; esac
    [ "$erravg" = - ] || is_int "$erravg" 0 || die "matrix line '$name': bad err-avg '$erravg'"
    [ "$sync" = - ] || is_int "$sync" 0 || die "matrix line '$name': bad sync '$sync'"
    [ "$mom" = - ] || is_num "$mom" || die "matrix line '$name': bad momentum '$mom'"
    [ "$lr" = - ] || is_num "$lr" || die "matrix line '$name': bad lr '$lr'"
    R_NAME+=("$name") R_K+=("$k") R_METHOD+=("$method") R_TOPO+=("$topo")
    R_COMP+=("$comp") R_SERVER+=("$server") R_ERRAVG+=("$erravg") R_SYNC+=("$sync")
    R_MOM+=("$mom") R_LR+=("$lr") R_CLAIMS+=("$claims")
    for c in ${claims//,/ }; do
        if [ -z "${KNOWN_CLAIM[$c]:-}" ]; then KNOWN_CLAIM[$c]=1; CLAIM_ORDER+=("$c"); fi
    done
done <<<"$MATRIX"
[ ${#R_NAME[@]} -gt 0 ] || die "the matrix is empty"

declare -A WANT_CLAIM=()
if [ -n "$ONLY" ]; then
    for c in ${ONLY//,/ }; do
        [ -n "${KNOWN_CLAIM[$c]:-}" ] || die "unknown claim '$c'; claims: ${CLAIM_ORDER[*]}"
        WANT_CLAIM[$c]=1
    done
else
    for c in "${CLAIM_ORDER[@]}"; do WANT_CLAIM[$c]=1; done
fi
SELECTED=()     # indices into the R_ arrays
for i in "${!R_NAME[@]}"; do
    for c in ${R_CLAIMS[$i]//,/ }; do
        if [ -n "${WANT_CLAIM[$c]:-}" ]; then SELECTED+=("$i"); break; fi
    done
done

if [ "$LIST" -eq 1 ]; then
    printf '%-15s %2s %-6s %-8s %-22s %-6s %-6s %-4s %-4s %-5s %s\n' \
        name K method topo compressor server erravg sync mom lr claims
    for i in "${SELECTED[@]}"; do
        printf '%-15s %2s %-6s %-8s %-22s %-6s %-6s %-4s %-4s %-5s %s\n' \
            "${R_NAME[$i]}" "${R_K[$i]}" "${R_METHOD[$i]}" "${R_TOPO[$i]}" \
            "${R_COMP[$i]}" "${R_SERVER[$i]}" "${R_ERRAVG[$i]}" "${R_SYNC[$i]}" \
            "${R_MOM[$i]}" "${LR_OVERRIDE:-${R_LR[$i]}}" "${R_CLAIMS[$i]}"
    done
    exit 0
fi

# train_args I SEED: sets ARGS to train_mnist's arguments for run I (no --csv).
train_args() {
    local i=$1 seed=$2 lr=${LR_OVERRIDE:-${R_LR[$1]}}
    ARGS=(--epochs "$EPOCHS" --method "${R_METHOD[$i]}")
    [ "${R_TOPO[$i]}" = - ] || ARGS+=(--topology "${R_TOPO[$i]}")
    [ "${R_COMP[$i]}" = - ] || ARGS+=(--compressor "${R_COMP[$i]}")
    [ "${R_SERVER[$i]}" = - ] || ARGS+=(--server-compressor "${R_SERVER[$i]}")
    [ "${R_ERRAVG[$i]}" = - ] || ARGS+=(--err-avg "${R_ERRAVG[$i]}")
    [ "${R_SYNC[$i]}" = - ] || ARGS+=(--sync "${R_SYNC[$i]}")
    [ "${R_MOM[$i]}" = - ] || ARGS+=(--momentum "${R_MOM[$i]}")
    [ "$lr" = - ] || ARGS+=(--lr "$lr")
    [ "$DECAY" = none ] || ARGS+=(--lr-decay "$DECAY")
    ARGS+=(--weight-decay "$WEIGHT_DECAY" --batch "$BATCH" --seed "$seed")
    [ -z "$DATA" ] || ARGS+=(--data "$DATA")
    if [ -n "$TRAIN_ARGS" ]; then
        local extra
        read -r -a extra <<<"$TRAIN_ARGS"
        ARGS+=("${extra[@]}")
    fi
}

# show_cmd ARG...: the command as one line a shell can run, quoting only
# the arguments that need it.
show_cmd() {
    local a out=""
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then out+="$a "; else out+="$(printf '%q' "$a") "; fi
    done
    printf '%s\n' "${out% }"
}

# csv_epochs FILE: the number of data rows whose epochs run 1, 2, 3, ...
csv_epochs() {
    [ -f "$1" ] || { echo 0; return; }
    awk -F, '/^#/ || NF == 0 { next }
             !hdr { hdr = 1; next }
             $1 + 0 == n + 1 { n++ }
             END { print n + 0 }' "$1"
}

# ------------------------------------------------------------------ programs
TRAIN=${TRAIN:-$BUILD/bin/train_mnist}
RZRUN=${RZRUN:-$BUILD/bin/rzrun}
GNUPLOT=${GNUPLOT:-gnuplot}
export GNUPLOT
if [ "$PLOT_ONLY" -eq 0 ] && [ "$DRY_RUN" -eq 0 ]; then
    for p in "$RZRUN" "$TRAIN"; do
        [ -x "$p" ] || die "$p not found or not executable; run make first" \
                           "(or pass --build DIR, or set TRAIN= / RZRUN=)"
    done
fi
if [ "$NO_PLOT" -eq 0 ] && [ "$DRY_RUN" -eq 0 ] && ! command -v "$GNUPLOT" >/dev/null; then
    die "gnuplot not found (needed for the plots): install gnuplot-nox" \
        "(scripts/install-deps.sh does), or pass --no-plot"
fi

# ------------------------------------------------------------------ output dir
if [ "$PLOT_ONLY" -eq 1 ] && [ ! -f "$OUT/settings" ]; then
    die "$OUT/settings not found: nothing was run into $OUT yet"
fi
if [ "$DRY_RUN" -eq 0 ]; then
    mkdir -p "$OUT/runs"
    OUT=$(cd "$OUT" && pwd)
    # The whole matrix, so that plots and summary see every claim whose runs
    # have data, whichever --only made them.
    {
        printf '# name\tK\tmethod\ttopology\tcompressor\tserver\terr_avg\tsync\tmomentum\tlr\tclaims\n'
        for i in "${!R_NAME[@]}"; do
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "${R_NAME[$i]}" "${R_K[$i]}" "${R_METHOD[$i]}" "${R_TOPO[$i]}" \
                "${R_COMP[$i]}" "${R_SERVER[$i]}" "${R_ERRAVG[$i]}" "${R_SYNC[$i]}" \
                "${R_MOM[$i]}" "${LR_OVERRIDE:-${R_LR[$i]}}" "${R_CLAIMS[$i]}"
        done
    } >"$OUT/matrix.tsv"
    if [ "$PLOT_ONLY" -eq 0 ]; then
        printf 'EPOCHS=%s\nSEEDS=%s\nDECAY=%s\n' "$EPOCHS" "$SEEDS" "$DECAY" >"$OUT/settings"
    elif [ "$SEEDS_GIVEN" -eq 1 ]; then
        sed -i "s/^SEEDS=.*/SEEDS=$SEEDS/" "$OUT/settings"
    fi
fi

# ------------------------------------------------------------------ running
T_START=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
CUR_PID=""
# shellcheck disable=SC2317 # reached through the trap
on_signal() {
    if [ -n "$CUR_PID" ]; then
        kill -TERM "$CUR_PID" 2>/dev/null || true
        wait "$CUR_PID" 2>/dev/null || true
    fi
    echo "$PROG: interrupted; finished runs are kept in $OUT, run the same" \
         "command again to resume" >&2
    exit 130
}
trap on_signal INT TERM HUP

FAILED=()       # "run seed: why"
NRUN=0 NSKIP=0
declare -A RUN_SECS=() RUN_NDONE=() RUN_NSKIP=() RUN_NFAIL=()
if [ "$PLOT_ONLY" -eq 0 ]; then
    total=$((${#SELECTED[@]} * $(wc -w <<<"$SEEDS")))
    [ "$DRY_RUN" -eq 1 ] || : >"$OUT/times.tsv"
    echo "$PROG: ${#SELECTED[@]} configurations x seeds ($SEEDS) = $total runs," \
         "$EPOCHS epochs each, LR decay: $DECAY; output in $OUT"
    echo "$PROG: train_mnist: $TRAIN; launcher: $RZRUN"
    n=0
    for seed in $SEEDS; do
        for i in "${SELECTED[@]}"; do
            n=$((n + 1))
            name=${R_NAME[$i]} k=${R_K[$i]}
            dir="$OUT/runs/$name" base="$OUT/runs/$name/seed$seed"
            train_args "$i" "$seed"
            tag=$(printf '[%*d/%d] %-15s seed %s' ${#total} "$n" "$total" "$name" "$seed")
            if [ "$FORCE" -eq 0 ] && [ -f "$base.cmd" ] &&
               [ "$(cat "$base.cmd")" = "${ARGS[*]}" ] &&
               [ "$(csv_epochs "$base.csv")" -eq "$EPOCHS" ]; then
                NSKIP=$((NSKIP + 1))
                RUN_NSKIP[$name]=$(( ${RUN_NSKIP[$name]:-0} + 1 ))
                if [ "$DRY_RUN" -eq 1 ]; then
                    echo "# $tag: complete, skipped"
                else
                    echo "$tag: complete, skipped"
                    printf '%s\t%s\tskipped\t0\n' "$name" "$seed" >>"$OUT/times.tsv"
                fi
                continue
            fi
            cmd=("$RZRUN" -np "$k" "$TRAIN" "${ARGS[@]}" --csv "$base.csv")
            if [ "$DRY_RUN" -eq 1 ]; then
                echo "# $tag"
                show_cmd "${cmd[@]}"
                NRUN=$((NRUN + 1))
                continue
            fi
            mkdir -p "$dir"
            rm -f "$base.csv" "$base.cmd"
            echo running >"$base.status"
            t0=$EPOCHREALTIME rc=0
            {
                printf '# %s\n' "$(show_cmd "${cmd[@]}")"
                printf '# started %s\n' "$(date '+%F %T')"
            } >"$base.log"
            timeout -k 10 "$RUN_TIMEOUT" "${cmd[@]}" >>"$base.log" 2>&1 </dev/null &
            CUR_PID=$!
            wait "$CUR_PID" || rc=$?
            CUR_PID=""
            secs=$(elapsed "$t0")
            got=$(csv_epochs "$base.csv")
            printf '%s\trc=%d\t%ss\n' "$(show_cmd "${cmd[@]}")" "$rc" "$secs" >>"$OUT/commands.log"
            NRUN=$((NRUN + 1))
            RUN_SECS[$name]=$(awk -v a="${RUN_SECS[$name]:-0}" -v b="$secs" 'BEGIN { print a + b }')
            why=""
            if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                why="timed out after ${RUN_TIMEOUT}s (rc $rc)"
            elif [ "$rc" -ne 0 ]; then
                why="exit status $rc"
            elif [ "$got" -ne "$EPOCHS" ]; then
                why="CSV has $got of $EPOCHS epochs"
            fi
            if [ -n "$why" ]; then
                echo "FAILED $why" >"$base.status"
                FAILED+=("$name seed $seed: $why")
                RUN_NFAIL[$name]=$(( ${RUN_NFAIL[$name]:-0} + 1 ))
                printf '%s\t%s\tFAILED\t%s\n' "$name" "$seed" "$secs" >>"$OUT/times.tsv"
                echo "$tag: FAILED ($why) after ${secs}s; last lines of $base.log:" >&2
                tail -n 10 "$base.log" | sed 's/^/    /' >&2
                continue
            fi
            echo ok >"$base.status"
            printf '%s\n' "${ARGS[*]}" >"$base.cmd"
            RUN_NDONE[$name]=$(( ${RUN_NDONE[$name]:-0} + 1 ))
            printf '%s\t%s\tok\t%s\n' "$name" "$seed" "$secs" >>"$OUT/times.tsv"
            last=$(awk -F, '/^#/ || NF == 0 { next } !hdr { hdr = 1; next }
                            { l = $2; a = $3 } END { printf "loss %s, test acc %s%%", l, a }' "$base.csv")
            echo "$tag: ok ${secs}s ($last)"
        done
    done
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "# $PROG: $NRUN to run, $NSKIP complete and skipped"
        exit 0
    fi
fi

# ------------------------------------------------------------------ plots, summary
POST_FAIL=0
if [ "$NO_PLOT" -eq 0 ]; then
    "$HERE/repro_plot.sh" "$OUT" || { echo "$PROG: ERROR: the plots failed" >&2; POST_FAIL=1; }
    "$HERE/repro_summary.sh" "$OUT" || { echo "$PROG: ERROR: the summary failed" >&2; POST_FAIL=1; }
fi

# ------------------------------------------------------------------ times
if [ "$PLOT_ONLY" -eq 0 ]; then
    echo
    echo "Time per configuration (this invocation; seconds over its seeds):"
    printf '  %-15s %4s %4s %4s %9s %9s\n' run ran skip fail total_s per_run_s
    for i in "${SELECTED[@]}"; do
        name=${R_NAME[$i]}
        done_=${RUN_NDONE[$name]:-0} fail=${RUN_NFAIL[$name]:-0}
        secs=${RUN_SECS[$name]:-0}
        printf '  %-15s %4d %4d %4d %9.1f %9s\n' "$name" "$done_" "${RUN_NSKIP[$name]:-0}" \
            "$fail" "$secs" \
            "$(awk -v s="$secs" -v n=$((done_ + fail)) 'BEGIN { if (n) printf "%.1f", s / n; else print "-" }')"
    done
fi
echo "$PROG: total elapsed $(elapsed "$T_START") s; $NRUN run(s), $NSKIP skipped," \
     "${#FAILED[@]} failed; output in $OUT"
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "$PROG: FAILED runs (see runs/RUN/seedS.log):" >&2
    printf '    %s\n' "${FAILED[@]}" >&2
    exit 1
fi
[ "$POST_FAIL" -eq 0 ] || exit 1
exit 0
