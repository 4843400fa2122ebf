#!/usr/bin/env bash
# The main job, end to end on the embedded synthetic Video-SME study:
#   synthesise a study → shots/features + EEG + gaze → labels → train → evaluate → score an ad → report
# Everything goes under ./data (HMLLM_DATA_ROOT to change) and ./reports. Extra args are passed to
# every step as Hydra overrides, e.g. `bash scripts/demo.sh size=tiny` for a 1-minute look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
HM=.venv/bin/hmllm
step() { echo; echo "==== [$1] $2"; }
t0=$(date +%s)
step 1/6 "hmllm synth $*";    $HM synth "$@"
step 2/6 "hmllm prepare $*";  $HM prepare "$@"
step 3/6 "hmllm train $*";    $HM train "$@"
step 4/6 "hmllm evaluate $*"; $HM evaluate "$@"
# Score one held-out test ad for everyone and the largest demographic group (a creative tester's view).
AD=$(.venv/bin/python -m hmllm.demo pick-ad "$@")
AUD=$(.venv/bin/python -m hmllm.demo pick-audiences "$@")
step 5/6 "hmllm score $AD $AUD $*"
$HM score "$AD" "$AUD" "$@"
REPORT=$(.venv/bin/python -m hmllm.demo latest-report "$@")
step 6/6 "report: $REPORT"
echo "done in $(( $(date +%s) - t0 )) s — open $REPORT in a browser"
if [ -n "${DISPLAY:-}" ] && [ -z "${CI:-}" ]; then .venv/bin/python -m webbrowser "file://$PWD/$REPORT" || true; fi
