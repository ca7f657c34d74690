#!/usr/bin/env bash
# Builds everything and runs all tests: the C tests (ctest, plus an AddressSanitizer build), a minute of
# fuzzing the graph file loader, pytest on the default Python, and pytest on a second Python version when
# the machine has one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/install.sh --test

echo "== C library and C tests (ctest)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release
ctest --test-dir build/release --output-on-failure

echo "== C tests under AddressSanitizer + UBSan (leaks are errors)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDS_SANITIZE=ON -DDS_BLAS=builtin >/dev/null
cmake --build build/asan
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure

echo "== Fuzzing the graph file loader (libFuzzer + ASan/UBSan, 60 s)"
bash tests/fuzz/run_fuzz.sh 60

echo "== Python tests (pytest, $("$PY" --version))"
(cd tests/python && "$PY" -m pytest -q -p no:cacheprovider .)

# dynastat supports Python 3.10 to 3.13: run the suite on one more version when one is installed
ALT=""
for v in 3.13 3.10 3.12; do
  for cand in "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$v"*/bin/python3; do
    [ -x "$cand" ] && { ALT=$cand; break 2; }
  done
done
if [ -n "$ALT" ]; then
  echo "== Python tests on a second version ($("$ALT" --version))"
  PYTHON=$ALT bash scripts/install.sh --test
  (cd tests/python && "$ALT" -m pytest -q -p no:cacheprovider .)
else
  echo "== (no second Python version installed; skipping the extra run)"
fi
