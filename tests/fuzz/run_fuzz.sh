#!/usr/bin/env bash
# Build one libFuzzer binary per compressor plugin (fuzz_decoder.c linked
# with the plugin's own sources, by clang, under ASan and UBSan) and fuzz
# each for a fixed time.
#
#   run_fuzz.sh <source-root> <out-dir> <seconds-per-plugin> [name:params...]
#
# Every folder plugins/<name>/ with .c files is fuzzed with its default
# parameters; each extra argument "name:key=value,..." adds a variant of a
# plugin that exists (unknown names are ignored, so the list may name
# plugins not written yet). RZ_FUZZ_SECONDS in the environment overrides
# the seconds; 0 only replays the seed corpus. RZ_FUZZ_CC names the
# compiler (default clang).
#
# Per variant, <out-dir>/<tag>/ keeps the binary, the corpus (seeded with
# valid encodings, grown across runs), fuzz.log and any crash-* or leak-*
# reproducer; rerun one with `<out-dir>/<tag>/fuzz_<tag> <crash-file>`.
#
# Exit status: 0 all clean; 1 a fuzzer failed or did not build; 2 bad
# usage; 77 (ctest SKIP) without clang and libFuzzer, or without plugins.
set -u

if [ $# -lt 3 ]; then
    echo "usage: $0 <source-root> <out-dir> <seconds-per-plugin> [name:params...]" >&2
    exit 2
fi
root=$(cd "$1" && pwd) || exit 2
out=$2
secs=${RZ_FUZZ_SECONDS:-$3}
shift 3
cc=${RZ_FUZZ_CC:-clang}

case $secs in
    ''|*[!0-9]*) echo "run_fuzz: seconds must be a whole number, got '$secs'" >&2; exit 2 ;;
esac
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)

# libFuzzer ships with clang's compiler-rt (Debian: libclang-rt-dev), not
# with clang itself: try the real flags on an empty target.
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run_fuzz: SKIP: $cc not found"
    exit 77
fi
probe=$out/.probe
mkdir -p "$probe"
cat >"$probe/probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    return 0;
}
EOF
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/probe.c" \
        -o "$probe/probe" >"$probe/probe.log" 2>&1; then
    echo "run_fuzz: SKIP: $cc cannot build a libFuzzer target:"
    sed 's/^/    /' "$probe/probe.log"
    exit 77
fi

# Plugins present in this tree, then the requested variants of them.
configs=()
for dir in "$root"/plugins/*/; do
    name=$(basename "$dir")
    [ "$name" = common ] && continue
    compgen -G "$dir*.c" >/dev/null || continue
    configs+=("$name:")
done
if [ ${#configs[@]} -eq 0 ]; then
    echo "run_fuzz: SKIP: no plugin sources under $root/plugins"
    exit 77
fi
for v in "$@"; do
    name=${v%%:*}
    if [ -d "$root/plugins/$name" ] && compgen -G "$root/plugins/$name/*.c" >/dev/null; then
        configs+=("$name:${v#*:}")
    else
        echo "run_fuzz: no plugin '$name' in this tree, variant '$v' skipped"
    fi
done

cflags=(-std=c11 -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -ffp-contract=off -Wall -Wextra -D_GNU_SOURCE
        -I"$root/include" -I"$root/plugins/common")
# Plugins may share headers across folders (blocksign uses sign's kernels):
# every plugin folder is on the include path, the plugin's own first.
incs=()
for dir in "$root"/plugins/*/; do
    incs+=(-I"${dir%/}")
done
# 16-byte header plus the largest count's fp32 payload (fuzz_decoder.c).
fflags=(-rss_limit_mb=1024 -timeout=10 -max_len=32784 -error_exitcode=1
        -timeout_exitcode=1 -print_final_stats=1)
if [ "$secs" -eq 0 ]; then
    fflags+=(-runs=0)
else
    fflags+=(-max_total_time="$secs")
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
for cfg in "${configs[@]}"; do
    name=${cfg%%:*}
    params=${cfg#*:}
    tag=$name
    [ -n "$params" ] && tag=${name}_$(printf '%s' "$params" | tr -c 'A-Za-z0-9.' '_')
    dir=$out/$tag
    bin=$dir/fuzz_$tag
    mkdir -p "$dir/corpus"
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*

    if ! "$cc" "${cflags[@]}" -I"$root/plugins/$name" "${incs[@]}" \
            "-DRZ_FUZZ_PARAMS=\"$params\"" \
            "$root/tests/fuzz/fuzz_decoder.c" "$root/plugins/$name"/*.c \
            -lm -o "$bin" >"$dir/build.log" 2>&1; then
        echo "fuzz $tag: FAILED to build:"
        sed 's/^/    /' "$dir/build.log"
        failed+=("$tag")
        continue
    fi
    if ! RZ_FUZZ_WRITE_SEEDS=$dir/corpus "$bin" >"$dir/seeds.log" 2>&1; then
        echo "fuzz $tag: FAILED to start or to write its seed corpus:"
        tail -n 40 "$dir/seeds.log" | sed 's/^/    /'
        failed+=("$tag")
        continue
    fi
    echo "fuzz $tag: params \"$params\", ${secs}s"
    if (cd "$dir" && "$bin" "${fflags[@]}" -artifact_prefix="$dir/" \
            "$dir/corpus" >"$dir/fuzz.log" 2>&1); then
        echo "    ok: $(grep -m1 -o 'Done [0-9]* runs' "$dir/fuzz.log" || echo 'done')," \
             "corpus $(ls "$dir/corpus" | wc -l) inputs"
    else
        # The first report and its stack, without libFuzzer's own frames.
        echo "    FAILED ($dir/fuzz.log):"
        sed -n '/rz_fuzz: \|runtime error\|ERROR: /,$p' "$dir/fuzz.log" |
            grep -v 'in fuzzer::\|libFuzzer has rudimentary\|Combine libFuzzer\|^0x\|^\\\|^Base64' |
            head -n 30 | sed 's/^/    /'
        for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
            [ -e "$a" ] || continue
            echo "    reproduce: $bin $a"
        done
        failed+=("$tag")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run_fuzz: FAILED: ${failed[*]}"
    exit 1
fi
echo "run_fuzz: ${#configs[@]} fuzzer(s) clean"
exit 0
