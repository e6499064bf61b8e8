#!/usr/bin/env bash
# What the native ONNX check (Asd.Native/Models/NativeOnnxCheck.cs) finds on each ConditionalUnet1D export this
# repository has: the committed fixtures, the trained policy, the tiny export, its two forks and its float16-weight
# copies (tiny_f16, sigmoid_f16), its float16-computing export (tiny_half), the same network exported inside a wrapper (wrapped)
# (tests/fixtures/unet1d_variants), and the deployment size when tools/make_unet1d_models.py --deploy has written it
# (artifacts/unet1d-deploy). For each, `asd sample` with 2 DDPM steps prints its device line (the probe's difference
# when the native engine took the file) or the note that kept it on ONNX Runtime. Then the trained policy's opening,
# check on and off alternated, RUNS rounds (default 3): wall time and peak memory of that run.
# Usage: tools/onnx_native_check.sh [RUNS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-3}
dotnet build -c Release "$ROOT/Asd.Cli" > /dev/null
ASD=("dotnet" "$ROOT/Asd.Cli/bin/Release/net10.0/asd.dll")
cond() { python3 -c "print(','.join(['0.1'] * $1))"; }
SCHED=(--train-steps 100 --beta-schedule squaredcos_cap_v2)
run() { # file, conditioning values per sample (0: none)
  local c=()
  [ "$2" -gt 0 ] && c=(--cond "$(cond "$2")")
  "${ASD[@]}" sample --model "$1" "${SCHED[@]}" "${c[@]}" --samples 1 --steps 2 --sampler ddpm --no-plot 2>&1 |
    grep -E "^device|differ from ONNX Runtime|unchecked" | sed "s|$ROOT/||g"
}
F=$ROOT/tests/fixtures
echo "== the probe's difference, file by file"
for spec in "unet1d/small.onnx 5" "unet1d/small_f16.onnx 0" "unet1d/small_local.onnx 35" "unet1d_variants/tiny.onnx 3" \
  "unet1d_variants/sincos.onnx 3" "unet1d_variants/sigmoid.onnx 3" "unet1d_variants/tiny_f16.onnx 3" "unet1d_variants/sigmoid_f16.onnx 3" \
  "unet1d_variants/tiny_half.onnx 3" "unet1d_variants/wrapped.onnx 3"; do
  set -- $spec
  echo "$1:"
  run "$F/$1" "$2"
done
echo "models/unet-policy/policy.onnx:"
run "$ROOT/models/unet-policy/policy.onnx" 4
if [ -f "$ROOT/artifacts/unet1d-deploy/unet1d_deploy.onnx" ]; then
  echo "artifacts/unet1d-deploy/unet1d_deploy.onnx:"
  run "$ROOT/artifacts/unet1d-deploy/unet1d_deploy.onnx" 40
fi
echo "== the trained policy's opening (asd sample, 2 DDPM steps), check on and off"
printf '%-6s %5s %10s %9s\n' check run "wall s" "peak MB"
for r in $(seq "$RUNS"); do
  for c in on off; do
    timing=$(mktemp)
    ASD_ONNX_NATIVE_CHECK=$c /usr/bin/time -o "$timing" -f "%e %M" "${ASD[@]}" sample --model "$ROOT/models/unet-policy/policy.onnx" \
      "${SCHED[@]}" --cond "$(cond 4)" --samples 1 --steps 2 --sampler ddpm --no-plot > /dev/null 2>&1
    read -r wall kb < "$timing"
    rm -f "$timing"
    printf '%-6s %5d %10.2f %9.0f\n' "$c" "$r" "$wall" "$(echo "$kb / 1024" | bc -l)"
  done
done
echo "machine: $("${ASD[@]}" info | sed -n 's/^machine *//p'); $(date -u '+%Y-%m-%d %H:%M UTC'); $(git -C "$ROOT" rev-parse --short HEAD)"
