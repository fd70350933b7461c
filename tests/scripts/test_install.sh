#!/usr/bin/env bash
# Install the build into a temporary prefix and build a consumer against it
# twice: with the CMake package (ringzip::ringzip) and with pkg-config.
set -eu
build=$1 src=$2
prefix=$(mktemp -d) work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/ringzip/ringzip.h"
test -f "$prefix/include/ringzip/version.h"
ls "$prefix"/lib*/libringzip.so.0* >/dev/null
libdir=$(dirname "$(ls "$prefix"/lib*/libringzip.so | head -1)")

mkdir -p "$work/app"
cp "$src/examples/allreduce.c" "$work/app/"
cat > "$work/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(ringzip 0.1 REQUIRED)
add_executable(consumer allreduce.c)
target_link_libraries(consumer PRIVATE ringzip::ringzip)
CM
cmake -S "$work/app" -B "$work/b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/b" >/dev/null
echo "ok: CMake package ringzip::ringzip"

PKG_CONFIG_PATH="$libdir/pkgconfig" cc -o "$work/pc" "$work/app/allreduce.c" \
    $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs ringzip)
echo "ok: pkg-config ringzip"

# The installed consumer runs as a 2-rank job with the installed rzrun.
LD_LIBRARY_PATH="$libdir" "$prefix/bin/rzrun" -np 2 "$work/b/consumer" | tee "$work/out"
grep -q "rank 1 of 2: success, grad\[0\] = 1" "$work/out"
echo "ok: installed consumer ran"
echo "test_install: 3 passed, 0 failed"
