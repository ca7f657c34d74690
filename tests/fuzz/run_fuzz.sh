#!/usr/bin/env bash
# Fuzzes the graph loaders with libFuzzer, AddressSanitizer (with leak detection) and UBSan.
#
#   tests/fuzz/run_fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS (default 60) is the fuzzing time per target. TARGET is graph_load (ds_graph_load_buffer on
# bytes; the default) and/or graph_parse (ds_graph_parse on text). Builds the library and the targets
# with clang (installed with apt-get when missing) in $DS_FUZZ_BUILD (default build-fuzz/), writes a
# seed corpus from tests/c/ir_samples.h, then fuzzes. Exits non-zero on any crash, sanitizer report,
# leak, timeout or allocation over 2 GB; the input that failed is left as build-fuzz/crash-* (or
# leak-*, timeout-*, oom-*) and can be replayed with: build-fuzz/fuzz_<target> <file>.
# The kernels are built without instrumentation and run their generic code (fuzz_build.h,
# ignorelist.txt): the targets exercise the loaders, the builder and op inference, and the build stays
# under a minute on 2 cores. Environment: DS_FUZZ_BUILD, DS_FUZZ_JOBS (2), DS_FUZZ_CC (clang).
set -euo pipefail

SECS="${1:-60}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(graph_load)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${DS_FUZZ_BUILD:-$ROOT/build-fuzz}"
JOBS="${DS_FUZZ_JOBS:-2}"
CC="${DS_FUZZ_CC:-clang}"

say() { echo "run_fuzz.sh: $*" >&2; }

# ---------------------------------------------------------------- clang with libFuzzer
if ! command -v "$CC" >/dev/null 2>&1; then
    say "installing clang"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq clang >/dev/null
fi
mkdir -p "$BUILD"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' >"$BUILD/probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$BUILD/probe.c" -o "$BUILD/probe" 2>"$BUILD/probe.log"; then
    say "$CC cannot link -fsanitize=fuzzer (is the libFuzzer runtime installed?):"
    cat "$BUILD/probe.log" >&2
    exit 1
fi

# ---------------------------------------------------------------- build
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
FLAGS="-g -O1 $SAN -include $ROOT/tests/fuzz/fuzz_build.h -Wno-unknown-warning-option"
IGNORE="$ROOT/tests/fuzz/ignorelist.txt" # no instrumentation in the kernels: a much faster build
GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
cmake -S "$ROOT" -B "$BUILD" ${GEN[@]+"${GEN[@]}"} -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Fuzz \
    -DCMAKE_C_FLAGS="$FLAGS -fsanitize=fuzzer-no-link -fsanitize-ignorelist=$IGNORE -fsanitize-coverage-ignorelist=$IGNORE" \
    -DDS_BLAS=builtin -DDS_BUILD_TESTS=OFF >"$BUILD/cmake.log" 2>&1 || { cat "$BUILD/cmake.log" >&2; exit 1; }
say "building the library"
cmake --build "$BUILD" --target dynastat_static -j "$JOBS" >"$BUILD/build.log" 2>&1 || { tail -40 "$BUILD/build.log" >&2; exit 1; }
LIB="$BUILD/libdynastat_static.a"
INC=(-I"$ROOT/include" -I"$ROOT/src" -I"$ROOT/tests/c" -I"$ROOT/tests/fuzz")
"$CC" $FLAGS -fsanitize=fuzzer-no-link "${INC[@]}" "$ROOT/tests/fuzz/gen_seeds.c" "$LIB" -lm -lpthread -o "$BUILD/gen_seeds"
for t in "${TARGETS[@]}"; do
    [ -f "$ROOT/tests/fuzz/fuzz_$t.c" ] || { say "unknown target '$t' (graph_load, graph_parse)"; exit 2; }
    "$CC" $FLAGS -fsanitize=fuzzer "${INC[@]}" "$ROOT/tests/fuzz/fuzz_$t.c" "$LIB" -lm -lpthread -o "$BUILD/fuzz_$t"
done

# ---------------------------------------------------------------- seeds and fuzzing
rm -rf "$BUILD/seeds"
mkdir -p "$BUILD/seeds/load" "$BUILD/seeds/parse"
"$BUILD/gen_seeds" "$BUILD/seeds"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
cd "$BUILD"
for t in "${TARGETS[@]}"; do
    seeds="$BUILD/seeds/load"
    [ "$t" = graph_parse ] && seeds="$BUILD/seeds/parse"
    corpus="$BUILD/corpus_$t" # grows across runs in the same build directory
    mkdir -p "$corpus"
    dict="$BUILD/$t.dict" # keywords, plus the op names of the op table
    cp "$ROOT/tests/fuzz/$t.dict" "$dict"
    sed -n 's/^DS_OP([A-Z0-9_]*, *\("[a-z0-9_]*"\).*/\1/p' "$ROOT/include/dynastat_ops.def" >>"$dict"
    say "fuzzing $t for ${SECS}s"
    "$BUILD/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 -dict="$dict" "$corpus" "$seeds" 2>"$BUILD/fuzz_$t.log" || {
        grep -v '^#' "$BUILD/fuzz_$t.log" | tail -60 >&2
        say "FAILED: $t (log: $BUILD/fuzz_$t.log)"
        exit 1
    }
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$BUILD/fuzz_$t.log" >&2 || true
    say "$t ran ${SECS}s clean"
done
