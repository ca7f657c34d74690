#!/usr/bin/env bash
# Installs what dynastat needs on a bare Debian machine and installs the package itself.
#   scripts/install.sh          system packages (compiler, CMake, OpenBLAS) + `pip install .`
#   scripts/install.sh --test   also the test dependencies (pytest, hypothesis)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
pkg-config --exists openblas 2>/dev/null || need_apt+=(libopenblas-dev)
"$PY" -c "import sysconfig,os,sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()['include'],'Python.h')) else 1)" \
  || need_apt+=(python3-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

pip_pkgs=(numpy "scikit-build-core>=0.8" cmake ninja)
# tests: pytest and hypothesis; scikit-learn only for the digits example's data set
if [ "${1:-}" = "--test" ]; then pip_pkgs+=(pytest hypothesis scikit-learn); fi
echo "== pip install ${pip_pkgs[*]}"
"$PY" -m pip install -q "${pip_pkgs[@]}"
echo "== pip install . (builds libdynastat and dynastat._C)"
"$PY" -m pip install -q --no-build-isolation .
"$PY" -c "import dynastat; print('dynastat', dynastat.__version__, dynastat.config())"
