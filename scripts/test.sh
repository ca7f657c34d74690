#!/usr/bin/env bash
# Builds everything and runs all tests: the C tests (ctest, plus an AddressSanitizer build) and pytest.
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

echo "== Python tests (pytest)"
cd tests/python
"$PY" -m pytest -q -p no:cacheprovider .
