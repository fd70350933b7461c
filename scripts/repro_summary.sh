#!/usr/bin/env bash
# repro_summary.sh: the tables of scripts/reproduce.sh -- final and early
# numbers per run, mean and spread over seeds, per claim. Run with --help.
set -euo pipefail

PROG=repro_summary.sh

usage() {
    cat <<'EOF'
NAME
    repro_summary.sh - tabulate a reproduce.sh output directory

SYNOPSIS
    scripts/repro_summary.sh [--early-epoch N] OUT

DESCRIPTION
    Reads OUT/matrix.tsv, OUT/settings and OUT/runs/RUN/seedS.{csv,status}
    (written by reproduce.sh) and writes OUT/summary.md (also printed) and
    OUT/summary.csv.

    summary.md has one Markdown table per claim that has at least one run
    with a status file, one row per run of the claim, in matrix order:
      run, K, method, compressor   from the matrix
      status     ok; FAILED (a seed failed); incomplete (a seed was not run
                 or was interrupted); not run
      seeds      successful seeds / seeds asked for (settings SEEDS)
      epochs     epochs in the CSVs (the smallest over the seeds)
      final loss, final acc %
                 train loss and test accuracy of the last epoch,
                 mean ± sample standard deviation over the successful seeds
      acc@ep3    test accuracy after epoch 3 (--early-epoch), mean ± std
      acc@epN pre-decay
                 test accuracy after the last epoch before the first LR
                 decay, found from the CSV's lr column (the epoch before the
                 first one whose lr differs from epoch 1's); mean ± std.
                 A run whose decay epoch differs from the header's says so
      loss ep1/2/3   mean train loss after epochs 1, 2 and 3
      MB/rank    bytes_sent of the last epoch (cumulative per rank), in MB
                 (1e6 B), mean
      wall s     wall_s of the last epoch (taken as the cumulative training
                 time), mean
    Statistics use the successful seeds only (status "ok"); a value that is
    not a finite number (nan) shows as nan.

    summary.csv has the same numbers, one row per claim and run, columns:
      claim,run,K,method,topology,compressor,server_compressor,err_avg,
      sync,momentum,lr,status,seeds_ok,seeds_total,epochs,
      final_train_loss_mean,final_train_loss_std,final_test_acc_mean,
      final_test_acc_std,early_epoch,acc_early_mean,acc_early_std,
      predecay_epoch,acc_predecay_mean,acc_predecay_std,
      train_loss_ep1,train_loss_ep2,train_loss_ep3,mb_sent_mean,wall_s_mean
    (empty where there is no value).

OPTIONS
    --early-epoch N  the early epoch of the acc@ep column (default 3)
    -h, --help       this text

EXIT STATUS
    0 done (whether or not runs failed); 2 bad usage or missing input.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }

EARLY=3
OUT=""
while [ $# -gt 0 ]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --early-epoch) EARLY=${2:?--early-epoch needs a number}; shift ;;
        -*) die "unknown option '$1'; see --help" ;;
        *) [ -z "$OUT" ] || die "usage: $PROG [--early-epoch N] OUT"; OUT=$1 ;;
    esac
    shift
done
[ -n "$OUT" ] || die "usage: $PROG [--early-epoch N] OUT (see --help)"
[[ $EARLY =~ ^[1-9][0-9]*$ ]] || die "--early-epoch must be an integer >= 1"
[ -f "$OUT/matrix.tsv" ] || die "$OUT/matrix.tsv not found; is $OUT a reproduce.sh output directory?"
[ -f "$OUT/settings" ] || die "$OUT/settings not found; is $OUT a reproduce.sh output directory?"
SEEDS=$(sed -n 's/^SEEDS=//p' "$OUT/settings")
EPOCHS=$(sed -n 's/^EPOCHS=//p' "$OUT/settings")
DECAY=$(sed -n 's/^DECAY=//p' "$OUT/settings")
[ -n "$SEEDS" ] || die "$OUT/settings names no SEEDS"

# seed_metrics CSV: one tab-separated line:
#   epochs final_loss final_acc acc_early predecay_epoch acc_predecay
#   loss1 loss2 loss3 final_mb final_wall
# ("-" where there is no such epoch or column).
seed_metrics() {
    awk -F, -v early="$EARLY" '
        function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        function val(s) { return isnum(s) ? s + 0 : "nan" }
        function get(e, c) { return ((e in row) && (c in col)) ? val(f[e, col[c]]) : "-" }
        /^#/ || NF == 0 { next }
        !hdr {
            hdr = 1
            for (i = 1; i <= NF; i++) { gsub(/[ \r]/, "", $i); col[$i] = i }
            if (!("epoch" in col)) { print "no epoch column in " FILENAME > "/dev/stderr"; exit 1 }
            next
        }
        {
            e = $col["epoch"] + 0; row[e] = 1; if (e > last) last = e
            for (i = 1; i <= NF; i++) f[e, i] = $i
        }
        END {
            if (!last) { print "0\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-"; exit }
            pre = "-"
            if ("lr" in col && (1 in row)) {
                lr1 = f[1, col["lr"]] + 0
                for (e = 2; e <= last; e++)
                    if ((e in row) && f[e, col["lr"]] + 0 != lr1) { pre = e - 1; break }
            }
            mb = get(last, "bytes_sent"); if (mb != "-" && mb != "nan") mb /= 1e6
            printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", last,
                   get(last, "train_loss"), get(last, "test_accuracy"),
                   get(early, "test_accuracy"), pre,
                   pre == "-" ? "-" : get(pre, "test_accuracy"),
                   get(1, "train_loss"), get(2, "train_loss"), get(3, "train_loss"),
                   mb, get(last, "wall_s")
        }' "$1"
}

# Per seed: run seed status metrics... (status ok / FAILED / running / missing).
SEEDTAB=$(mktemp "${TMPDIR:-/tmp}/repro_summary.XXXXXX")
trap 'rm -f "$SEEDTAB"' EXIT
while IFS=$'\t' read -r name _rest; do
    case $name in ""|"#"*) continue ;; esac
    for s in $SEEDS; do
        st=missing
        if [ -f "$OUT/runs/$name/seed$s.status" ]; then
            read -r st _why <"$OUT/runs/$name/seed$s.status" || st=missing
        fi
        if [ "$st" = ok ] && [ -f "$OUT/runs/$name/seed$s.csv" ]; then
            printf '%s\t%s\tok\t%s\n' "$name" "$s" "$(seed_metrics "$OUT/runs/$name/seed$s.csv")"
        else
            [ "$st" != ok ] || st=missing
            printf '%s\t%s\t%s\n' "$name" "$s" "$st"
        fi
    done
done <"$OUT/matrix.tsv" >"$SEEDTAB"

awk -F'\t' -v nseeds="$(wc -w <<<"$SEEDS")" -v early="$EARLY" \
    -v md="$OUT/summary.md" -v csv="$OUT/summary.csv" \
    -v epochs="$EPOCHS" -v seeds="$SEEDS" -v decay="$DECAY" '
    function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
    # Statistics over the ok seeds of run r, field k of the seed table.
    # stat(r, k) sets N, MEAN, SD ("" where no seed has a value; "nan" if any is nan).
    function stat(r, k,   j, v, n, s, ss, bad) {
        n = 0; s = 0; ss = 0; bad = 0
        for (j = 1; j <= nok[r]; j++) {
            v = val[r, j, k]
            if (v == "-") continue
            if (!isnum(v)) { bad = 1; continue }
            n++; s += v; ss += v * v
        }
        N = n
        if (bad) { MEAN = "nan"; SD = "nan"; return }
        if (n == 0) { MEAN = ""; SD = ""; return }
        MEAN = s / n
        SD = n > 1 ? ss / n - MEAN * MEAN : 0
        SD = SD > 0 ? sqrt(SD * n / (n - 1)) : 0
    }
    function fmt(x, d) { return x == "" ? "-" : (x == "nan" ? "nan" : sprintf("%." d "f", x)) }
    function pm(d) { return MEAN == "" ? "-" : (N > 1 ? fmt(MEAN, d) " ± " fmt(SD, d) : fmt(MEAN, d)) }
    function mb(x) { return x == "" ? "-" : x == "nan" ? "nan" : x >= 1000 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.3f", x) }
    function c(x) { return x == "-" ? "" : x }
    # Seed table: run seed status epochs floss facc aearly pre apre l1 l2 l3 mb wall
    FILENAME == ARGV[1] {
        r = $1; total[r]++
        if ($3 == "ok") {
            j = ++nok[r]
            for (k = 4; k <= 14; k++) val[r, j, k] = $k
            if (!(r in minep) || $4 + 0 < minep[r]) minep[r] = $4 + 0
            if ($8 != "-" && !(r in pre)) pre[r] = $8
        } else if ($3 == "FAILED") nfail[r]++
        else if ($3 == "running") nint[r]++
        else nmiss[r]++
        next
    }
    # matrix.tsv: name K method topology compressor server erravg sync mom lr claims
    /^#/ || NF < 11 { next }
    {
        nr++; name[nr] = $1; K[$1] = $2; meth[$1] = $3; topo[$1] = $4; comp[$1] = $5
        serv[$1] = $6; eavg[$1] = $7; sync[$1] = $8; mom[$1] = $9; lr[$1] = $10
        nc = split($11, cl, ",")
        for (i = 1; i <= nc; i++) {
            if (!(cl[i] in seen)) { seen[cl[i]] = 1; claims[++ncl] = cl[i] }
            members[cl[i]] = members[cl[i]] " " $1
        }
    }
    END {
        # The pre-decay epoch of the header: the first run that has one.
        P = ""
        for (i = 1; i <= nr; i++) if (name[i] in pre) { P = pre[name[i]]; break }
        printf "# Reproduction summary\n\n" > md
        printf "Settings: %s epochs, seeds %s, LR decay after epoch(s) %s. " \
               "Mean ± sample std over the successful seeds; wall s is the " \
               "last CSV row'"'"'s wall_s; MB/rank is cumulative bytes sent per rank / 1e6.\n", \
               epochs, seeds, decay > md
        print "claim,run,K,method,topology,compressor,server_compressor,err_avg,sync,momentum,lr," \
              "status,seeds_ok,seeds_total,epochs,final_train_loss_mean,final_train_loss_std," \
              "final_test_acc_mean,final_test_acc_std,early_epoch,acc_early_mean,acc_early_std," \
              "predecay_epoch,acc_predecay_mean,acc_predecay_std,train_loss_ep1,train_loss_ep2," \
              "train_loss_ep3,mb_sent_mean,wall_s_mean" > csv
        for (ci = 1; ci <= ncl; ci++) {
            cn = claims[ci]
            nm = split(substr(members[cn], 2), mem, " ")
            any = 0
            for (i = 1; i <= nm; i++) if (nok[mem[i]] + nfail[mem[i]] + nint[mem[i]] > 0) any = 1
            if (!any) continue
            printf "\n## claim %s\n\n", cn > md
            printf "| run | K | method | compressor | status | seeds | epochs | final loss | final acc %% | acc@ep%d | %s | loss ep1 / ep2 / ep3 | MB/rank | wall s |\n", \
                   early, P == "" ? "acc pre-decay" : "acc@ep" P " pre-decay" > md
            print "|---|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|" > md
            for (i = 1; i <= nm; i++) {
                r = mem[i]
                st = nfail[r] ? "FAILED" : (nint[r] || (nmiss[r] && nok[r])) ? "incomplete" : nok[r] ? "ok" : "not run"
                seedsc = (nok[r] + 0) "/" total[r]
                ep = (r in minep) ? minep[r] : ""
                stat(r, 5); fl = pm(4); flm = MEAN; fls = SD
                stat(r, 6); fa = pm(2); fam = MEAN; fas = SD
                stat(r, 7); ae = pm(2); aem = MEAN; aes = SD
                stat(r, 9); ap = pm(2); apm = MEAN; aps = SD
                if (ap != "-" && (r in pre) && pre[r] != P) ap = ap " (ep" pre[r] ")"
                stat(r, 10); l1 = MEAN; stat(r, 11); l2 = MEAN; stat(r, 12); l3 = MEAN
                stat(r, 13); m = MEAN; stat(r, 14); w = MEAN
                printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s |\n", \
                       r, K[r], meth[r], comp[r], st, seedsc, ep == "" ? "-" : ep, fl, fa, ae, ap, \
                       fmt(l1, 3), fmt(l2, 3), fmt(l3, 3), mb(m), fmt(w, 1) > md
                printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,%s,%s,%s,%s,%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", \
                       cn, r, K[r], meth[r], c(topo[r]), c(comp[r]), c(serv[r]), c(eavg[r]), c(sync[r]), c(mom[r]), c(lr[r]), \
                       st, nok[r], total[r], ep, c(flm), c(fls), c(fam), c(fas), early, c(aem), c(aes), \
                       (r in pre) ? pre[r] : "", c(apm), c(aps), c(l1), c(l2), c(l3), c(m), c(w) > csv
            }
        }
    }' "$SEEDTAB" "$OUT/matrix.tsv"

cat "$OUT/summary.md"
echo
echo "$PROG: wrote $OUT/summary.md and $OUT/summary.csv"
