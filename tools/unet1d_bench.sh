#!/usr/bin/env bash
# The asd bench runs of the README's "Bringing your diffusion policy", on the AOT executable of this machine's level (v4 with
# AVX-512, else v3; published every time):
#   * the deployment-size ConditionalUnet1D (tools/make_unet1d_models.py --deploy: 62.3M parameters, seeded weights,
#     generated here, not committed) with float32 weights against ONNX Runtime CPU on the same network;
#   * the same network with float16 weights (half the bytes per call);
#   * the trained 4.1M-parameter policy models/unet-policy against ONNX Runtime CPU;
#   * the deployment-size curve combined with the trained policy's acceptance (--acceptance-from), since seeded
#     weights do not make a policy whose drafts are accepted as a trained one's.
# Outputs: docs/bench/unet1d/ (or $ASD_UNET1D_OUT). Usage: tools/unet1d_bench.sh [policy] [deploy-f32] [deploy-f16]   (default: all three,
# in that order, since the deploy runs read policy.json's acceptance; each a few minutes, on a quiet machine: run each
# stage on an otherwise idle machine; the model generation before them is CPU-heavy, not timed).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=${ASD_UNET1D_DEPLOY:-$ROOT/artifacts/unet1d-deploy}
# Published every time (under a minute when little changed): an executable left from older sources timed older code.
# The level this CPU runs: a v4 (AVX-512) build stops at start-up on a CPU without AVX-512 (the project's VMs are not
# all alike: some are Zen 3, AVX2 only).
LEVEL=v3; grep -qw avx512f /proc/cpuinfo 2>/dev/null && LEVEL=v4
"$ROOT/Asd.Cli/publish.sh" "$LEVEL" > /dev/null || exit 1
# The model generator's Debian packages, installed when missing (as root, or with passwordless sudo).
source "$ROOT/tests/lib/need_apt.sh"
need_apt "${TMPDIR:-/tmp}/unet1d_bench_apt.log" python3-torch python3-onnx python3-numpy
# A stage that fails (a missing model, python3-onnx not installed) stops the script, so that no summary is written from
# the previous run's files beside this run's.
[ -f "$DEPLOY/unet1d_deploy.onnx" ] || /usr/bin/python3 "$ROOT/tools/make_unet1d_models.py" --deploy "$DEPLOY" || exit 1
[ -f "$DEPLOY-f16/unet1d_deploy.json" ] ||
  /usr/bin/python3 "$ROOT/tools/make_unet1d_models.py" --deploy "$DEPLOY-f16" --dtype F16 --no-onnx || exit 1
# A cost-curve cache of its own (unless ASD_CACHE_DIR is given): every bench here calibrates on this machine now.
export ASD_CACHE_DIR=${ASD_CACHE_DIR:-$(mktemp -d)}
# ASD_UNET1D_OUT writes elsewhere (another machine's runs beside the README's, for example).
OUT=${ASD_UNET1D_OUT:-$ROOT/docs/bench/unet1d}
mkdir -p "$OUT"
# Absolute: the stages run inside it, and the report is given it after them (a relative ASD_UNET1D_OUT found nothing).
OUT=$(cd "$OUT" && pwd)
cd "$OUT"
A=$ROOT/artifacts/asd/linux-x64-$LEVEL/asd
COND=$(python3 -c "print(','.join(['0.1']*40))")
STAGES=${*:-policy deploy-f32 deploy-f16}
for stage in $STAGES; do
  echo "$stage before: $(cat /proc/loadavg)" >> load.txt
  case $stage in
    policy)
      $A bench --model "$ROOT/models/unet-policy/policy.json" --cond 0,-0.8,0,0.8 --threads 2 --repeats 25 --vs-onnxruntime \
        --json policy.json > policy.txt 2>&1 ;;
    deploy-f32)
      # The previous run joins runs/ under the UTC time it ran (deploy-f32.utc, written below), so that the report's
      # run-after-run table keeps it.
      if [ -f deploy-f32.json ] && [ -f deploy-f32.utc ] && grep -qxE "[0-9]{4}" deploy-f32.utc; then
        t=$(cat deploy-f32.utc); mkdir -p runs
        cp deploy-f32.json "runs/deploy-f32-$t.json"; cp deploy-f32.txt "runs/deploy-f32-$t.txt"
      fi
      date -u +%H%M > deploy-f32.utc
      $A bench --model "$DEPLOY/unet1d_deploy.json" --cond "$COND" --threads 2 --repeats 7 --spec-lens 1,2,4,8,12,auto \
        --vs-onnxruntime --acceptance-from policy.json --json deploy-f32.json > deploy-f32.txt 2>&1 ;;
    deploy-f16)
      $A bench --model "$DEPLOY-f16/unet1d_deploy.json" --cond "$COND" --threads 2 --repeats 7 --spec-lens 4,8,auto \
        --acceptance-from policy.json --json deploy-f16.json > deploy-f16.txt 2>&1 ;;
    *) echo "unknown stage '$stage' (policy, deploy-f32, deploy-f16)" >&2; exit 2 ;;
  esac || { echo "stage $stage failed: $(head -c 600 "$stage.txt")" >&2; exit 1; }
  echo "$stage after: $(cat /proc/loadavg)" >> load.txt
  grep -vE "^(-|setting|machine)" "$stage.txt" | cut -c1-220
done
# The summary tables (docs/bench/unet1d/summary.md, summary.json) from the JSON files.
/usr/bin/python3 "$ROOT/tools/unet1d_bench_report.py" "$OUT"
