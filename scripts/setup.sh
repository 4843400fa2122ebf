#!/usr/bin/env bash
# Create ./.venv and install hmllm into it (idempotent: skips work when nothing changed).
#   HMLLM_TORCH=cpu   (default without nvidia-smi) pins the CPU build of torch 2.13.0
#   HMLLM_TORCH=cuda  (default with nvidia-smi) lets pip pick your CUDA build (torch>=2.3)
#   --browser         also installs Debian's chromium for the report/serve browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
BROWSER=0
for a in "$@"; do [ "$a" = "--browser" ] && BROWSER=1; done

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
VPY=.venv/bin/python
STAMP=.venv/.hmllm-installed
WANT=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  MODE=${HMLLM_TORCH:-auto}
  if [ "$MODE" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1; then MODE=cuda; else MODE=cpu; fi
  fi
  if ! $VPY -c "import torch" >/dev/null 2>&1; then
    if [ "$MODE" = cpu ]; then
      echo "[setup] installing the CPU build of torch (HMLLM_TORCH=cuda for GPUs)"
      $VPY -m pip install -q "torch==2.13.0"
    else
      echo "[setup] installing torch with CUDA"
      $VPY -m pip install -q "torch>=2.3"
    fi
  fi
  echo "[setup] installing hmllm and its pinned dependencies into .venv (first time: ~2 min)"
  $VPY -m pip install -q -e ".[dev,text,lm]"
  echo "$WANT" > "$STAMP"
fi
if [ "$BROWSER" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[setup] installing chromium for browser tests"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[setup] WARNING: cannot install chromium (need root + apt-get); browser tests will be reported as skipped" >&2
  fi
fi
