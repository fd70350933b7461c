#!/usr/bin/env bash
# The out-of-tree plugin template, as a researcher would use it: install
# this build into a temporary prefix, copy plugins/example elsewhere, build
# it against the installed headers only, and hold the result to the
# installed conformance checker and the loader.
#     test_plugin_example.sh <build dir> <source dir>
# CMAKE may name the cmake to use (ctest passes the one that configured us).
set -eu
build=$1 src=$2
cmake=${CMAKE:-cmake}
prefix=$(mktemp -d) work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

"$cmake" --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/ringzip/compressor.h" ||
    fail "no installed ringzip/compressor.h"
checker="$prefix/bin/rz_plugin_check"
test -x "$checker" || fail "no installed $checker"
libdir=$(dirname "$(ls "$prefix"/lib*/libringzip.so | head -1)")

# A copy, so that nothing can reach back into the source tree by a
# relative path.
cp -R "$src/plugins/example" "$work/example"
"$cmake" -S "$work/example" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$work/configure.log" ||
    { cat "$work/configure.log"; fail "configure"; }
"$cmake" --build "$work/build" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; fail "build"; }
so="$work/build/librz_example.so"
test -f "$so" || fail "no $so"
echo "ok: built out of tree"

# Only the installed headers: every include directory of the compile line
# lies under the prefix, none in the source or build tree.
cmds="$work/build/compile_commands.json"
grep -q -- "$prefix/include" "$cmds" || fail "no -I$prefix/include in $cmds"
incs=$(grep -o -e '-I *[^ "]*' -e '-isystem *[^ "]*' "$cmds" |
       sed -e 's/^-I *//' -e 's/^-isystem *//')
for d in $incs; do
    case "$d" in
    "$prefix"/*) ;;
    *) fail "include directory $d is not in the install prefix" ;;
    esac
done
if grep -q -e "$src/" -e "$build/" "$cmds"; then
    fail "the compile line refers to the source or build tree"
fi
echo "ok: only installed headers ($prefix/include)"

# One exported symbol, no libringzip.
if command -v nm >/dev/null; then
    syms=$(nm -D --defined-only "$so" | awk '{print $3}')
    test "$syms" = "rz_compressor_plugin_v1" ||
        fail "exports '$syms', want only rz_compressor_plugin_v1"
fi
if command -v objdump >/dev/null; then
    if objdump -p "$so" | grep NEEDED | grep -q ringzip; then
        fail "links against libringzip"
    fi
fi
echo "ok: exports only rz_compressor_plugin_v1"

# The installed checker: default parameters and a small qmax.
"$checker" -q "$so" || fail "rz_plugin_check $so"
"$checker" -q "$so" qmax=15 || fail "rz_plugin_check $so qmax=15"
# Bad parameters are refused (exit 2: cannot be loaded).
rc=0
"$checker" -q "$so" qmax=0 >/dev/null 2>&1 || rc=$?
test "$rc" = 2 || fail "qmax=0 gave checker exit $rc, want 2"
echo "ok: rz_plugin_check passes"

# The loader finds it through RZ_PLUGIN_PATH.
RZ_PLUGIN_PATH="$work/build" LD_LIBRARY_PATH="$libdir" \
    "$prefix/bin/rz_info" -p >"$work/info" 2>&1 || true
grep "$so" "$work/info" | grep -q 0x80000001 || {
    cat "$work/info"
    fail "rz_info -p does not list $so with wire id 0x80000001"
}
echo "ok: loaded through RZ_PLUGIN_PATH"
echo "test_plugin_example: 5 passed, 0 failed"
