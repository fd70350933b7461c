#!/usr/bin/env bash
# repro_plot.sh: the figures of scripts/reproduce.sh -- per-epoch means over
# seeds, then one 2x2 gnuplot figure per claim. Run with --help.
set -euo pipefail

PROG=repro_plot.sh

usage() {
    cat <<'EOF'
NAME
    repro_plot.sh - draw the figures of a reproduce.sh output directory

SYNOPSIS
    scripts/repro_plot.sh [options] OUT

DESCRIPTION
    Reads OUT/matrix.tsv (runs and their claims), OUT/settings (the seeds)
    and OUT/runs/RUN/seedS.{csv,status}, written by reproduce.sh.

    1. For every run with at least one successful seed (status "ok"), writes
       OUT/mean/RUN.dat: one row per epoch, the mean, min and max over those
       seeds. Columns (also in the file's first line):
         1 epoch   2 seeds   3-5 train_loss mean min max
         6-8 test_accuracy (%) mean min max   9 test_loss mean
         10-12 MB sent per rank (1e6 B) mean min max   13 wall_s mean
         14 lr (first seed)   15-17 mismatch mean min max
       A value that is not a finite number (a diverged run's nan) makes the
       mean, min and max of that epoch NaN, which gnuplot leaves out.
       Failed, interrupted or missing seeds are left out; a run none of
       whose seeds succeeded gets no .dat and no line.

    2. For every claim with at least one such run, OUT/plots/CLAIM.png
       (1400x1000, with its gnuplot script CLAIM.gp beside it):
         top left      train loss against epoch (log y)
         top right     test accuracy (%) against epoch
         bottom left   train loss against MB sent per rank (log x, log y)
         bottom right  test accuracy against MB sent per rank (log x)
       One line per run: the mean over seeds; the shaded band spans the
       seeds' min..max (with 2 or more seeds, pngcairo only). P-SGD
       (method none, compressor none) is black; EF and SAEF runs named ef-X
       and saef-X share a colour; the dash gives the method: SAEF and LIEC
       solid with filled circles, EF dashed with open squares, no error
       feedback dotted with crosses.
       The accuracy axes start just below the lowest run within 20 points
       of the best final accuracy, so that a run that failed to learn does
       not flatten the others; such a run is marked "(accuracy below axis)" in the
       legend.

    3. For each claim in MISMATCH_CLAIMS (default "saef-topk"),
       OUT/plots/CLAIM-mismatch.png: the mismatch column (gradient-mismatch
       metric of ALGORITHMS.md 5 E10) of the claim's EF and SAEF runs
       against epoch, log y when all values are positive. Skipped, with a
       note, when the runs wrote no non-zero mismatch.

OPTIONS
    -h, --help   this text

ENVIRONMENT
    GNUPLOT          gnuplot binary (default gnuplot)
    MISMATCH_CLAIMS  claims that get a mismatch figure (default "saef-topk")

EXIT STATUS
    0 done; 1 gnuplot failed on a figure; 2 bad usage, missing input or no
    gnuplot.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }

case ${1:-} in
    -h|--help) usage; exit 0 ;;
    "") die "usage: $PROG OUT (see --help)" ;;
    -*) die "unknown option '$1'; see --help" ;;
esac
[ $# -eq 1 ] || die "usage: $PROG OUT (see --help)"
OUT=$1
[ -f "$OUT/matrix.tsv" ] || die "$OUT/matrix.tsv not found; is $OUT a reproduce.sh output directory?"
[ -f "$OUT/settings" ] || die "$OUT/settings not found; is $OUT a reproduce.sh output directory?"
GNUPLOT=${GNUPLOT:-gnuplot}
MISMATCH_CLAIMS=${MISMATCH_CLAIMS:-saef-topk}
command -v "$GNUPLOT" >/dev/null ||
    die "gnuplot not found: install gnuplot-nox (scripts/install-deps.sh does)"
if "$GNUPLOT" -e 'set terminal' 2>&1 | grep -qw pngcairo; then
    TERM_SPEC="pngcairo size 1400,1000 font 'sans,11' noenhanced"
    TERM_SMALL="pngcairo size 1400,700 font 'sans,11' noenhanced"
    BANDS=1
else
    echo "$PROG: note: gnuplot has no pngcairo terminal; using png, without bands" >&2
    TERM_SPEC="png size 1400,1000 noenhanced"
    TERM_SMALL="png size 1400,700 noenhanced"
    BANDS=0
fi
SEEDS=$(sed -n 's/^SEEDS=//p' "$OUT/settings")
[ -n "$SEEDS" ] || die "$OUT/settings names no SEEDS"
mkdir -p "$OUT/mean" "$OUT/plots"

# ------------------------------------------------------------------ the matrix
R_NAME=() R_METHOD=() R_COMP=() R_CLAIMS=()
CLAIM_ORDER=()
declare -A KNOWN_CLAIM=()
while IFS=$'\t' read -r name _k method _topo comp _server _erravg _sync _mom _lr claims; do
    case $name in ""|"#"*) continue ;; esac
    R_NAME+=("$name") R_METHOD+=("$method") R_COMP+=("$comp") R_CLAIMS+=("$claims")
    for c in ${claims//,/ }; do
        if [ -z "${KNOWN_CLAIM[$c]:-}" ]; then KNOWN_CLAIM[$c]=1; CLAIM_ORDER+=("$c"); fi
    done
done <"$OUT/matrix.tsv"

# ------------------------------------------------------------------ means
# mean_dat CSV...: the per-epoch mean/min/max table on stdout.
mean_dat() {
    awk -F, '
        function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        function add(e, f, v) {
            if (!isnum(v)) { bad[e, f] = 1; return }
            v += 0
            if (!((e, f) in cnt) || v < lo[e, f]) lo[e, f] = v
            if (!((e, f) in cnt) || v > hi[e, f]) hi[e, f] = v
            cnt[e, f]++; sum[e, f] += v
        }
        function m(e, f) { return ((e, f) in bad || !((e, f) in cnt)) ? "NaN" : sprintf("%.6g", sum[e, f] / cnt[e, f]) }
        function mn(e, f) { return ((e, f) in bad || !((e, f) in cnt)) ? "NaN" : sprintf("%.6g", lo[e, f]) }
        function mx(e, f) { return ((e, f) in bad || !((e, f) in cnt)) ? "NaN" : sprintf("%.6g", hi[e, f]) }
        FNR == 1 { hdr = 0; split("", col) }
        /^#/ || NF == 0 { next }
        !hdr {
            hdr = 1
            for (i = 1; i <= NF; i++) { gsub(/[ \r]/, "", $i); col[$i] = i }
            if (!("epoch" in col) || !("train_loss" in col) || !("test_accuracy" in col) ||
                !("bytes_sent" in col)) {
                printf "%s: no epoch/train_loss/test_accuracy/bytes_sent columns\n", FILENAME > "/dev/stderr"
                exit 1
            }
            next
        }
        {
            e = $col["epoch"] + 0
            if (e > maxe) maxe = e
            seeds[e]++
            add(e, "loss", $col["train_loss"])
            add(e, "acc", $col["test_accuracy"])
            add(e, "tl", ("test_loss" in col) ? $col["test_loss"] : "x")
            b = $col["bytes_sent"]
            add(e, "mb", isnum(b) ? b / 1e6 : b)
            add(e, "wall", ("wall_s" in col) ? $col["wall_s"] : "x")
            add(e, "mm", ("mismatch" in col) ? $col["mismatch"] : "x")
            if (!(e in lr)) lr[e] = ("lr" in col) ? $col["lr"] : "NaN"
        }
        END {
            print "# epoch seeds loss_mean loss_min loss_max acc_mean acc_min acc_max tloss_mean mb_mean mb_min mb_max wall_mean lr mm_mean mm_min mm_max"
            for (e = 1; e <= maxe; e++) {
                if (!(e in seeds)) continue
                print e, seeds[e], m(e, "loss"), mn(e, "loss"), mx(e, "loss"),
                      m(e, "acc"), mn(e, "acc"), mx(e, "acc"), m(e, "tl"),
                      m(e, "mb"), mn(e, "mb"), mx(e, "mb"), m(e, "wall"), lr[e],
                      m(e, "mm"), mn(e, "mm"), mx(e, "mm")
            }
        }' "$@"
}

declare -A HAVE_DAT=() NSEEDS=()
for i in "${!R_NAME[@]}"; do
    name=${R_NAME[$i]}
    files=()
    for s in $SEEDS; do
        f="$OUT/runs/$name/seed$s.csv"
        if [ -f "$f" ] && [ "$(cat "$OUT/runs/$name/seed$s.status" 2>/dev/null)" = ok ]; then
            files+=("$f")
        fi
    done
    rm -f "$OUT/mean/$name.dat"
    [ ${#files[@]} -gt 0 ] || continue
    mean_dat "${files[@]}" >"$OUT/mean/$name.dat" ||
        die "could not average the CSVs of run $name"
    HAVE_DAT[$name]=1
    NSEEDS[$name]=${#files[@]}
done

# ------------------------------------------------------------------ styles
PALETTE=("#1f77b4" "#d62728" "#2ca02c" "#ff7f0e" "#9467bd" "#8c564b"
         "#e377c2" "#17becf" "#bcbd22" "#7f7f7f")
# style I: sets COLOR, DASH and PT (point type) of run I; COLORS_USED maps variants to colours
# within one figure (reset per claim).
declare -A COLORS_USED=()
style() {
    local i=$1 name=${R_NAME[$1]} method=${R_METHOD[$1]} variant n
    if [ "$method" = none ] && [ "${R_COMP[$i]}" = none ]; then
        COLOR="#000000" DASH="solid" PT=7
        return
    fi
    variant=$name
    case $method in ef|saef) variant=${name#"$method"-} ;; esac
    if [ -z "${COLORS_USED[$variant]:-}" ]; then
        n=${#COLORS_USED[@]}
        COLORS_USED[$variant]=${PALETTE[$((n % ${#PALETTE[@]}))]}
    fi
    COLOR=${COLORS_USED[$variant]}
    # The point type repeats the dash for terminals without dashes (png).
    case $method in
        ef) DASH="(10,6)" PT=4 ;;
        none) DASH="(2,5)" PT=2 ;;
        *) DASH="solid" PT=7 ;;
    esac
}

# acc_floor DAT...: "YLO name name ..." -- the accuracy axis' lower end and
# the runs that dip below it (see DESCRIPTION).
acc_floor() {
    awk '
        FNR == 1 { n++; file[n] = FILENAME; last[n] = "" }
        /^#/ { next }
        $6 != "NaN" { last[n] = $6 + 0; if (!(n in low) || $6 + 0 < low[n]) low[n] = $6 + 0 }
        $7 != "NaN" { if (!(n in lowb) || $7 + 0 < lowb[n]) lowb[n] = $7 + 0 }
        END {
            best = ""
            for (k = 1; k <= n; k++) if (last[k] != "" && (best == "" || last[k] > best)) best = last[k]
            if (best == "") { print "*"; exit }
            fl = ""
            for (k = 1; k <= n; k++) {
                if (last[k] == "" || last[k] < best - 20) continue
                v = (k in lowb) ? lowb[k] : low[k]
                if (fl == "" || v < fl) fl = v
            }
            ylo = int(fl) - 1; if (ylo < 0) ylo = 0
            out = ylo
            for (k = 1; k <= n; k++) if (!(k in low) || low[k] < ylo) {
                nm = file[k]; sub(/.*\//, "", nm); sub(/\.dat$/, "", nm); out = out " " nm
            }
            print out
        }' "$@"
}

# loss_tics DAT...: a "set ytics (...)" for the log-scale loss axes, whose
# range is often within one decade, where gnuplot would label no tic.
loss_tics() {
    awk '
        /^#/ { next }
        { for (c = 3; c <= 5; c++) if ($c != "NaN" && $c + 0 > 0) {
              if (lo == "" || $c + 0 < lo) lo = $c + 0
              if (hi == "" || $c + 0 > hi) hi = $c + 0 } }
        END {
            if (lo == "") { print "set ytics autofreq"; exit }
            r = hi / lo
            ms = r < 10 ? "1 1.2 1.5 2 2.5 3 4 5 6 8" : r < 1000 ? "1 2 5" : "1"
            nm = split(ms, m, " ")
            k = int(log(lo) / log(10)) - 1
            out = ""
            for (; k <= int(log(hi) / log(10)) + 1; k++)
                for (i = 1; i <= nm; i++) {
                    v = m[i] * 10 ^ k
                    if (v >= lo / 1.001 && v <= hi * 1.001 || v < lo && v * 1.25 >= lo || v > hi && v / 1.25 <= hi)
                        out = out (out == "" ? "" : ", ") sprintf("%g", v)
                }
            print "set ytics (" out "); set mytics 1"
        }' "$@"
}

# plot_cmd XCOL YCOL LOCOL HICOL IDX...: the gnuplot "plot" command, bands
# first so that the lines lie on top.
plot_cmd() {
    local x=$1 y=$2 lo=$3 hi=$4 i name dat sep="" cmd="plot " title
    shift 4
    COLORS_USED=()
    if [ "$BANDS" -eq 1 ]; then
        for i in "$@"; do
            name=${R_NAME[$i]} dat="$OUT/mean/${R_NAME[$i]}.dat"
            style "$i"
            [ "${NSEEDS[$name]}" -gt 1 ] || continue
            cmd+="$sep'$dat' using $x:$lo:$hi with filledcurves fc rgb '$COLOR' fs transparent solid 0.15 noborder notitle"
            sep=", \\"$'\n    '
        done
    fi
    COLORS_USED=()
    for i in "$@"; do
        name=${R_NAME[$i]} dat="$OUT/mean/${R_NAME[$i]}.dat"
        style "$i"
        title=$name
        [ "${NSEEDS[$name]}" -eq "$NSEED_MAX" ] || title+=" (${NSEEDS[$name]} seed(s))"
        [ -z "${BELOW[$name]:-}" ] || title+=" (accuracy below axis)"
        cmd+="$sep'$dat' using $x:$y with linespoints lw 2 pt $PT ps 0.8 lc rgb '$COLOR' dt $DASH title '$title'"
        sep=", \\"$'\n    '
    done
    printf '%s\n' "$cmd"
}

# ------------------------------------------------------------------ figures
PLOT_FAIL=0
NFIG=0
run_gnuplot() {
    local gp=$1 png=$2
    if "$GNUPLOT" "$gp" >"$gp.log" 2>&1; then
        if grep -qiE 'error|warning' "$gp.log"; then
            echo "$PROG: gnuplot said, for $png:" >&2
            sed 's/^/    /' "$gp.log" >&2
        fi
        echo "$PROG: wrote $png"
        NFIG=$((NFIG + 1))
    else
        echo "$PROG: ERROR: gnuplot failed on $gp:" >&2
        sed 's/^/    /' "$gp.log" >&2
        PLOT_FAIL=1
    fi
}

for claim in "${CLAIM_ORDER[@]}"; do
    IDX=() dats=()
    for i in "${!R_NAME[@]}"; do
        [[ ",${R_CLAIMS[$i]}," == *",$claim,"* ]] || continue
        [ -n "${HAVE_DAT[${R_NAME[$i]}]:-}" ] || continue
        IDX+=("$i")
        dats+=("$OUT/mean/${R_NAME[$i]}.dat")
    done
    if [ ${#IDX[@]} -eq 0 ]; then
        echo "$PROG: claim $claim: no successful runs, no figure"
        continue
    fi
    NSEED_MAX=0
    for i in "${IDX[@]}"; do
        [ "${NSEEDS[${R_NAME[$i]}]}" -le "$NSEED_MAX" ] || NSEED_MAX=${NSEEDS[${R_NAME[$i]}]}
    done
    read -r YLO below <<<"$(acc_floor "${dats[@]}")"
    declare -A BELOW=()
    for b in ${below:-}; do BELOW[$b]=1; done
    maxe=$(awk '!/^#/ && $1 > m { m = $1 } END { print m + 0 }' "${dats[@]}")
    xtics="set xtics 1"
    [ "$maxe" -le 20 ] || xtics="set xtics autofreq"
    band_note=""
    [ "$BANDS" -eq 0 ] || [ "$NSEED_MAX" -le 1 ] || band_note="; band: min..max over seeds"
    gp="$OUT/plots/$claim.gp" png="$OUT/plots/$claim.png"
    {
        echo "# gnuplot script written by $PROG; gnuplot $gp redraws $png"
        echo "set terminal $TERM_SPEC"
        echo "set output '$png'"
        echo "set multiplot layout 2,2 title 'claim $claim: mean over $NSEED_MAX seed(s)$band_note' font 'sans,14'"
        echo "set grid lc rgb '#dddddd'"
        echo "set mxtics default"
        echo "# ---- train loss vs epoch"
        echo "$xtics"
        echo "set xlabel 'epoch'; set ylabel 'train loss (log)'; set logscale y"
        echo "set autoscale yfix; set offsets 0, 0, graph 0.04, graph 0.04"
        loss_tics "${dats[@]}"
        echo "set key top right box font 'sans,10' spacing 1.1 samplen 3"
        echo "set title 'train loss vs epoch'"
        plot_cmd 1 3 4 5 "${IDX[@]}"
        echo "# ---- test accuracy vs epoch"
        echo "unset logscale y; unset key; set ytics autofreq; set mytics default"
        echo "set ylabel 'test accuracy (%)'; set yrange [$YLO:*]"
        echo "set title 'test accuracy vs epoch'"
        plot_cmd 1 6 7 8 "${IDX[@]}"
        echo "# ---- train loss vs MB sent"
        echo "set xtics autofreq; set logscale x; set format x '%g'"
        echo "set xlabel 'MB sent per rank (1e6 B, log)'; set ylabel 'train loss (log)'"
        echo "set logscale y; set yrange [*:*]"
        loss_tics "${dats[@]}"
        echo "set title 'train loss vs bytes sent'"
        plot_cmd 10 3 4 5 "${IDX[@]}"
        echo "# ---- test accuracy vs MB sent"
        echo "unset logscale y; set ytics autofreq; set mytics default"
        echo "set ylabel 'test accuracy (%)'; set yrange [$YLO:*]"
        echo "set title 'test accuracy vs bytes sent'"
        plot_cmd 10 6 7 8 "${IDX[@]}"
        echo "unset multiplot"
    } >"$gp"
    run_gnuplot "$gp" "$png"
    unset BELOW
done

for claim in $MISMATCH_CLAIMS; do
    IDX=()
    for i in "${!R_NAME[@]}"; do
        [[ ",${R_CLAIMS[$i]}," == *",$claim,"* ]] || continue
        case ${R_METHOD[$i]} in ef|saef) ;; *) continue ;; esac
        [ -n "${HAVE_DAT[${R_NAME[$i]}]:-}" ] || continue
        IDX+=("$i")
    done
    [ ${#IDX[@]} -gt 0 ] || { echo "$PROG: claim $claim: no EF/SAEF runs, no mismatch figure"; continue; }
    dats=()
    for i in "${IDX[@]}"; do dats+=("$OUT/mean/${R_NAME[$i]}.dat"); done
    # "positive": every value > 0 (log scale); "some": some non-zero.
    kind=$(awk '!/^#/ && $15 != "NaN" { n++; if ($15 + 0 > 0) p++; if ($15 + 0 != 0) nz++ }
                END { print (n && p == n) ? "positive" : (nz ? "some" : "none") }' "${dats[@]}")
    if [ "$kind" = none ]; then
        echo "$PROG: claim $claim: the runs wrote no non-zero mismatch; no mismatch figure"
        continue
    fi
    NSEED_MAX=0
    for i in "${IDX[@]}"; do
        [ "${NSEEDS[${R_NAME[$i]}]}" -le "$NSEED_MAX" ] || NSEED_MAX=${NSEEDS[${R_NAME[$i]}]}
    done
    declare -A BELOW=()
    maxe=$(awk '!/^#/ && $1 > m { m = $1 } END { print m + 0 }' "${dats[@]}")
    gp="$OUT/plots/$claim-mismatch.gp" png="$OUT/plots/$claim-mismatch.png"
    {
        echo "# gnuplot script written by $PROG; gnuplot $gp redraws $png"
        echo "set terminal $TERM_SMALL"
        echo "set output '$png'"
        echo "set grid lc rgb '#dddddd'"
        if [ "$maxe" -le 20 ]; then echo "set xtics 1"; fi
        echo "set xlabel 'epoch'; set ylabel 'gradient mismatch (CSV column mismatch)'"
        [ "$kind" != positive ] || echo "set logscale y; set format y \"%g\""
        echo "set key outside right top box font 'sans,10'"
        echo "set title 'claim $claim: gradient mismatch, EF (dashed) vs SAEF (solid), mean over $NSEED_MAX seed(s)' font 'sans,13'"
        plot_cmd 1 15 16 17 "${IDX[@]}"
    } >"$gp"
    run_gnuplot "$gp" "$png"
    unset BELOW
done

echo "$PROG: $NFIG figure(s) in $OUT/plots"
exit "$PLOT_FAIL"
