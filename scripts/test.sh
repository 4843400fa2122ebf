#!/usr/bin/env bash
# Install everything (idempotent) and run the test suite. Extra args go to pytest.
#   bash scripts/test.sh            default suite (fast unit tests + browser tests)
#   bash scripts/test.sh -m slow    slower end-to-end tests only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export MPLBACKEND=Agg PYTHONHASHSEED=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "scripts/test.sh: pytest collected no tests — treating as a failure" >&2
  exit 1
fi
exit "$rc"
