#!/usr/bin/env bash
# Memory and time of opening the deployment-size ConditionalUnet1D (62.3M parameters, 249 MB of float32 weights;
# tools/make_unet1d_models.py --deploy, generated when missing, not committed), each way asd can run it:
#   json        the asd-unet1d file on the native engine
#   onnx        its ONNX export taken over natively, checked beside ONNX Runtime first (the default)
#   onnx-nochk  the same with ASD_ONNX_NATIVE_CHECK=off
#   ort         the ONNX export on ONNX Runtime (--onnx-native off)
# For each, `asd sample` with DDPM, K = 100, 4 samples (the JIT build, as `dotnet asd.dll`): the process's peak
# resident memory (VmHWM) and its resident memory while sampling (VmRSS at the last of its reads every 0.25 s before
# the process ends: the opening is long over by then), and the wall time of a separate 2-step run (mostly the
# opening). Settings alternate, RUNS rounds (default 3).
# Usage: tools/unet1d_memory.sh [RUNS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-3}
DEPLOY=${ASD_UNET1D_DEPLOY:-$ROOT/artifacts/unet1d-deploy}
[ -f "$DEPLOY/unet1d_deploy.onnx" ] || /usr/bin/python3 "$ROOT/tools/make_unet1d_models.py" --deploy "$DEPLOY"
dotnet build -c Release "$ROOT/Asd.Cli" > /dev/null
ASD=("dotnet" "$ROOT/Asd.Cli/bin/Release/net10.0/asd.dll")
COND=$(python3 -c "print(','.join(['0.1']*40))")
SCHED=(--train-steps 100 --beta-schedule squaredcos_cap_v2)
args() { # way -> model and flags
  case $1 in
    json) echo "$DEPLOY/unet1d_deploy.json" ;;
    onnx | onnx-nochk) echo "$DEPLOY/unet1d_deploy.onnx ${SCHED[*]}" ;;
    ort) echo "$DEPLOY/unet1d_deploy.onnx ${SCHED[*]} --onnx-native off" ;;
  esac
}
check() { [ "$1" = onnx-nochk ] && echo off || echo on; }
printf '%-11s %5s %14s %15s %10s\n' way run "peak MB" "sampling MB" "open s"
for run in $(seq "$RUNS"); do
  for way in json onnx onnx-nochk ort; do
    # shellcheck disable=SC2046
    t0=$(date +%s.%N)
    ASD_ONNX_NATIVE_CHECK=$(check $way) "${ASD[@]}" sample --model $(args $way) --cond "$COND" --samples 1 --steps 2 \
      --sampler ddpm --no-plot > /dev/null 2>&1
    t1=$(date +%s.%N)
    # shellcheck disable=SC2046
    ASD_ONNX_NATIVE_CHECK=$(check $way) "${ASD[@]}" sample --model $(args $way) --cond "$COND" --samples 4 --steps 100 \
      --sampler ddpm --no-plot > /dev/null 2>&1 &
    pid=$!
    peak=0 rss=0
    while kill -0 $pid 2> /dev/null; do
      if read -r h r < <(awk '/VmHWM/{h=$2} /VmRSS/{r=$2} END{print h, r}' /proc/$pid/status 2> /dev/null); then
        [ -n "$h" ] && peak=$h && rss=$r
      fi
      sleep 0.25
    done
    wait $pid || { echo "$way: asd sample failed" >&2; exit 1; }
    printf '%-11s %5d %14.0f %15.0f %10.2f\n' "$way" "$run" "$(echo "$peak / 1024" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$(echo "$t1 - $t0" | bc -l)"
  done
done
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC'); $(git -C "$ROOT" rev-parse --short HEAD)"
