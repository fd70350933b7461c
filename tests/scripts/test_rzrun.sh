#!/usr/bin/env bash
# Tests for the rzrun launcher. The ranks are plain shell commands, so this
# needs no ringzip program, only sh, sleep, kill and the like.
#
# Usage: test_rzrun.sh /path/to/rzrun
#
# Conditions are eval'd single-quoted strings, and the shell scripts the
# ranks run are single-quoted on purpose, hence:
# shellcheck disable=SC2016,SC2034
set -u

RZ=${1:-}
if [ -z "$RZ" ] || [ ! -x "$RZ" ]; then
    echo "usage: $0 /path/to/rzrun" >&2
    exit 2
fi

PASSED=0
FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test_rzrun.XXXXXX") || exit 2
BG_PIDS=()
# Fractional sleep lengths unique to this run mark our ranks for pgrep.
MARK="$$"

cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

pass() {
    PASSED=$((PASSED + 1))
    echo "ok   - $1"
}

fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL - $1"
    if [ -n "${2:-}" ]; then
        printf '%s\n' "$2" | sed 's/^/       /'
    fi
}

check() {
    # check DESCRIPTION COMMAND...: the check passes when COMMAND succeeds.
    local desc=$1
    shift
    if "$@"; then
        pass "$desc"
    else
        fail "$desc" "$(show)"
    fi
}

# What the last run printed, for failure messages.
show() {
    echo "rc=${RC:-?}"
    echo "--- stdout"; head -n 20 "$TMP/out" 2>/dev/null
    echo "--- stderr"; head -n 20 "$TMP/err" 2>/dev/null
}

# run ARGS...: runs rzrun with a safety timeout, output in $TMP/out|err,
# status in RC, wall time in whole seconds in SECS.
run() {
    local t0=$SECONDS
    timeout -s KILL 60 "$RZ" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    SECS=$((SECONDS - t0))
}

out_has() { grep -qF -- "$1" "$TMP/out"; }
err_has() { grep -qF -- "$1" "$TMP/err"; }
no_proc() { ! pgrep -f -- "$1" >/dev/null; }

# Wait up to ~10 s for FILE to hold at least N lines matching PATTERN.
wait_lines() {
    local file=$1 pattern=$2 n=$3 tries=0
    while [ $tries -lt 100 ]; do
        tries=$((tries + 1))
        if [ "$(grep -c -- "$pattern" "$file" 2>/dev/null)" -ge "$n" ]; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# (a) basic launch, prefixes, environment ----------------------------------
run -np 3 sh -c 'echo hello $RZ_RANK of $RZ_SIZE'
printf '[0] hello 0 of 3\n[1] hello 1 of 3\n[2] hello 2 of 3\n' >"$TMP/want"
check "(a) -np 3 prints one prefixed line per rank and exits 0" \
    eval '[ $RC -eq 0 ] && sort "$TMP/out" | cmp -s - "$TMP/want" &&
          [ ! -s "$TMP/err" ]'

run --no-prefix -np 3 sh -c \
    'echo "$RZ_ROOT_ADDR $RZ_SESSION_KEY $RZ_LOCAL_RANK $RZ_LOCAL_SIZE"'
check "(a) RZ_ROOT_ADDR is 127.0.0.1:<port>" \
    eval '[ $RC -eq 0 ] && [ $(wc -l <"$TMP/out") -eq 3 ] &&
          ! grep -vqE "^127\.0\.0\.1:[0-9]{1,5} " "$TMP/out"'
check "(a) RZ_SESSION_KEY is 32 lowercase hex digits" \
    eval '! grep -vqE "^[^ ]+ [0-9a-f]{32} " "$TMP/out"'
check "(a) RZ_ROOT_ADDR and RZ_SESSION_KEY are identical across ranks" \
    eval '[ $(cut -d" " -f1,2 "$TMP/out" | sort -u | wc -l) -eq 1 ]'
check "(a) RZ_LOCAL_RANK is 0..2 and RZ_LOCAL_SIZE is 3" \
    eval '[ "$(cut -d" " -f3,4 "$TMP/out" | sort | tr "\n" ,)" = "0 3,1 3,2 3," ]'
KEY1=$(cut -d" " -f2 "$TMP/out" | head -n1)
run --no-prefix -np 1 sh -c 'echo $RZ_SESSION_KEY'
check "(a) each job gets a new session key" \
    eval '[ $RC -eq 0 ] && [ "$(cat "$TMP/out")" != "$KEY1" ]'

run -x RZ_TEST_FOO=bar=baz -x OTHER=1 --root-addr 127.0.0.1:4242 -np 2 \
    sh -c 'echo "$RZ_TEST_FOO $OTHER $RZ_ROOT_ADDR"'
check "(a) -x NAME=VALUE and --root-addr reach every rank" \
    eval '[ $RC -eq 0 ] && [ $(grep -c "bar=baz 1 127.0.0.1:4242$" "$TMP/out") -eq 2 ]'

# (b) a failing rank ends the job -----------------------------------------
SLP_B="30.${MARK}1"
run -np 3 sh -c 'if [ "$RZ_RANK" = 1 ]; then exit 3; fi; exec sleep "$0"' \
    "$SLP_B"
check "(b) a rank exiting 3 makes rzrun exit 3" eval '[ $RC -eq 3 ]'
check "(b) ... within a few seconds" eval '[ $SECS -le 5 ]'
check "(b) stderr names the rank and its status" \
    err_has "rank 1 (pid "
check "(b) stderr says 'exited with status 3'" err_has "exited with status 3"
check "(b) stderr says the remaining ranks are terminated" \
    err_has "terminating the remaining 2 ranks"
check "(b) no rank is left running" no_proc "^sleep ${SLP_B}\$"

# (c) a rank killed by a signal -------------------------------------------
SLP_C="30.${MARK}2"
run -np 2 sh -c 'if [ "$RZ_RANK" = 0 ]; then kill -9 $$; fi; exec sleep "$0"' \
    "$SLP_C"
check "(c) a rank killed by SIGKILL makes rzrun exit 137" \
    eval '[ $RC -eq 137 ]'
check "(c) stderr names signal 9" \
    err_has "rank 0 (pid "
check "(c) stderr says 'killed by signal 9'" err_has "killed by signal 9"
check "(c) no rank is left running" no_proc "^sleep ${SLP_C}\$"

# (d) --grace lets the others finish --------------------------------------
run --grace 2 -np 2 sh -c \
    'if [ "$RZ_RANK" = 0 ]; then exit 5; fi; sleep 1; echo finished-late'
check "(d) --grace 2: a rank that needs 1 s more still finishes" \
    out_has "[1] finished-late"
check "(d) ... and rzrun exits with the failing rank's status" \
    eval '[ $RC -eq 5 ]'
check "(d) ... without terminating anyone" \
    eval '! grep -q "grace period over" "$TMP/err"'

SLP_D="30.${MARK}3"
run --grace 0.5 -np 2 sh -c \
    'if [ "$RZ_RANK" = 0 ]; then exit 4; fi; exec sleep "$0"' "$SLP_D"
check "(d) a rank still running after the grace period is terminated" \
    eval '[ $RC -eq 4 ] && [ $SECS -le 5 ] && grep -q "grace period over" "$TMP/err"'
check "(d) no rank is left running" no_proc "^sleep ${SLP_D}\$"

# (e) SIGTERM to rzrun is forwarded ---------------------------------------
"$RZ" -np 2 sh -c \
    'trap "echo got-term; kill \$! 2>/dev/null; exit 0" TERM
     echo ready; sleep 30 & wait' >"$TMP/out" 2>"$TMP/err" &
RZPID=$!
BG_PIDS+=("$RZPID")
if wait_lines "$TMP/out" "ready" 2; then
    kill -TERM "$RZPID"
    t0=$SECONDS
    wait "$RZPID"
    RC=$?
    SECS=$((SECONDS - t0))
    check "(e) SIGTERM reaches every rank" \
        eval '[ $(grep -c "^\[[01]\] got-term$" "$TMP/out") -eq 2 ]'
    check "(e) rzrun exits 0 when the ranks exit 0 on SIGTERM" \
        eval '[ $RC -eq 0 ] && [ $SECS -le 5 ]'
else
    fail "(e) the ranks did not start" "$(show)"
fi

SLP_E="30.${MARK}4"
"$RZ" -np 2 sh -c 'trap "" TERM; echo ready; exec sleep "$0"' "$SLP_E" \
    >"$TMP/out" 2>"$TMP/err" &
RZPID=$!
BG_PIDS+=("$RZPID")
if wait_lines "$TMP/out" "ready" 2; then
    kill -TERM "$RZPID"
    t0=$SECONDS
    wait "$RZPID"
    RC=$?
    SECS=$((SECONDS - t0))
    check "(e) ranks ignoring a forwarded SIGTERM get SIGKILL after 5 s" \
        eval '[ $RC -eq 137 ] && [ $SECS -ge 4 ] && [ $SECS -le 9 ] &&
              grep -q "sending SIGKILL" "$TMP/err"'
    check "(e) no rank is left running" no_proc "^sleep ${SLP_E}\$"
else
    fail "(e) the ranks did not start" "$(show)"
fi

# (f) --timeout -------------------------------------------------------------
SLP_F="30.${MARK}5"
run --timeout 1 -np 2 sleep "$SLP_F"
check "(f) --timeout 1 exits 124" eval '[ $RC -eq 124 ] && [ $SECS -le 5 ]'
check "(f) ... and says so" err_has "job exceeded --timeout 1 s; killing 2 ranks"
check "(f) no rank is left running" no_proc "^sleep ${SLP_F}\$"

# A rank ignoring SIGTERM is SIGKILLed 3 s after the failure's SIGTERM.
SLP_F2="30.${MARK}6"
run -np 2 sh -c \
    'if [ "$RZ_RANK" = 0 ]; then sleep 0.3; exit 6; fi
     trap "" TERM; exec sleep "$0"' "$SLP_F2"
check "(f) a rank ignoring SIGTERM is killed 3 s later" \
    eval '[ $RC -eq 6 ] && [ $SECS -ge 2 ] && [ $SECS -le 7 ] &&
          grep -q "still running 3 s after SIGTERM; sending SIGKILL" "$TMP/err"'
check "(f) no rank is left running" no_proc "^sleep ${SLP_F2}\$"

# (g) usage -----------------------------------------------------------------
run sh -c true
check "(g) missing -np exits 2 with a message" \
    eval '[ $RC -eq 2 ] && grep -q "missing -np" "$TMP/err" &&
          grep -q "^Usage: rzrun" "$TMP/err"'
run -np 0 true
check "(g) -np 0 exits 2" eval '[ $RC -eq 2 ] && grep -q "at least 1" "$TMP/err"'
run -np 4097 true
check "(g) -np 4097 exits 2" eval '[ $RC -eq 2 ] && grep -q "maximum" "$TMP/err"'
run -np abc true
check "(g) -np abc exits 2" eval '[ $RC -eq 2 ]'
run -np 2
check "(g) no program exits 2" \
    eval '[ $RC -eq 2 ] && grep -q "no program" "$TMP/err"'
run --bogus -np 2 true
check "(g) an unknown option exits 2" \
    eval '[ $RC -eq 2 ] && grep -q "unknown option" "$TMP/err"'
run --timeout -1 -np 2 true
check "(g) a negative --timeout exits 2" eval '[ $RC -eq 2 ]'
run -x NOEQUALS -np 2 true
check "(g) -x without '=' exits 2" eval '[ $RC -eq 2 ]'
run --help
check "(g) --help exits 0 and documents ENVIRONMENT and EXIT STATUS" \
    eval '[ $RC -eq 0 ] && grep -q "^ENVIRONMENT" "$TMP/out" &&
          grep -q "^EXIT STATUS" "$TMP/out" && grep -q RZ_SESSION_KEY "$TMP/out"'
run --version
check "(g) --version" eval '[ $RC -eq 0 ] && [ "$(cat "$TMP/out")" = "rzrun (ringzip) 0.1.0" ]'
run -n 2 --np=1 true
check "(g) -n and --np=N are accepted (the last wins)" eval '[ $RC -eq 0 ]'

# (h) a program that does not exist -----------------------------------------
run -np 2 "/nonexistent/rzrun-test-$MARK"
check "(h) a missing program exits non-zero (127)" eval '[ $RC -eq 127 ]'
check "(h) ... saying 'cannot execute'" err_has "cannot execute"

# (i) partial last lines ------------------------------------------------------
run -np 1 sh -c 'printf "line\npartial"'
printf '[0] line\n[0] partial\n' >"$TMP/want"
check "(i) a last line without a newline is flushed with one" \
    eval '[ $RC -eq 0 ] && cmp -s "$TMP/out" "$TMP/want"'
run --no-prefix -np 1 sh -c 'printf "a"; sleep 0.2; printf "b\nc"'
printf 'ab\nc\n' >"$TMP/want"
check "(i) a line written in pieces stays one line (--no-prefix)" \
    eval '[ $RC -eq 0 ] && cmp -s "$TMP/out" "$TMP/want"'

# (j) stderr ------------------------------------------------------------------
run -np 2 sh -c 'echo "oops-$RZ_RANK" >&2'
check "(j) stderr lines are prefixed and stay on stderr" \
    eval '[ $RC -eq 0 ] && [ ! -s "$TMP/out" ] && grep -qx "\[0\] oops-0" "$TMP/err" &&
          grep -qx "\[1\] oops-1" "$TMP/err"'

# (k) lines of different ranks never mix --------------------------------------
XS=$(printf '%0100d' 0 | tr 0 x)
run -np 4 sh -c 'i=0; while [ $i -lt 2000 ]; do echo "$RZ_RANK-$0-$RZ_RANK"
    i=$((i + 1)); done' "$XS"
check "(k) 4 x 2000 lines arrive whole and unmixed" \
    eval '[ $RC -eq 0 ] && [ $(wc -l <"$TMP/out") -eq 8000 ] &&
          ! grep -vqE "^\[([0-3])\] \1-x{100}-\1$" "$TMP/out"'

echo "test_rzrun: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
