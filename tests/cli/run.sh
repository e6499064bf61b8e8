#!/usr/bin/env bash
# The asd executable as a user gets it: Native AOT for x86-64-v4 and -v3 (Asd.Cli/publish.sh), then the README's
# commands run from an empty folder. Prints "ok"/"FAIL" per check and, last, "CLI_SUMMARY <passed> <failed>".
# ASD_SKIP_PUBLISH=1 reuses artifacts/asd from an earlier run.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
LOG=${ASD_CI_LOGS:-$ROOT/artifacts/ci}/asd-aot.log
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
passed=0
failed=0
check() { # name, command...
  local name=$1; shift
  if "$@" >>"$LOG" 2>&1; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name (see $LOG)"; fi
}
summary() { echo "CLI_SUMMARY $passed $failed"; exit 0; }

if [ "${ASD_SKIP_PUBLISH:-0}" != 1 ]; then
  if Asd.Cli/publish.sh v4 v3 >>"$LOG" 2>&1; then
    passed=$((passed + 1)); echo "ok   publish asd (x86-64-v4, x86-64-v3)"
  else
    failed=$((failed + 1)); echo "FAIL publish asd (see $LOG)"; tail -n 20 "$LOG"; summary
  fi
fi

best=v3
grep -qw avx512f /proc/cpuinfo 2>/dev/null && best=v4
info_ok() { # level, expected kernel path
  local out
  out=$("$ROOT/artifacts/asd/linux-x64-$1/asd" info) || return 1
  echo "$out"
  grep -q "Native AOT, instruction set x86-64-$1" <<<"$out" && grep -q "^kernels    $2 " <<<"$out" && grep -q '^onnxruntime 1\.' <<<"$out"
}
[ "$best" = v4 ] && check "asd info (v4): Native AOT, avx512 kernels, ONNX Runtime found" info_ok v4 avx512
check "asd info (v3): Native AOT, avx2 kernels, ONNX Runtime found" info_ok v3 avx2
check "one folder: asd + libonnxruntime.so, nothing else needed" bash -c "ls '$ROOT/artifacts/asd/linux-x64-$best' | sort | tr '\n' ' ' | grep -qx 'asd libonnxruntime.so libonnxruntime_providers_shared.so '"

exe=$ROOT/artifacts/asd/linux-x64-$best/asd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sample_ok() {
  (cd "$work" && "$exe" sample) | tee "$work/sample.txt" || return 1
  grep -q 'sequential model calls per chain: DDPM 100' "$work/sample.txt" && grep -q 'latency    one request (1 chain, K=100), median of 32: ASD .* DDPM .* faster' "$work/sample.txt" \
    && [ "$(head -c 8 "$work/asd-sample.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
}
check "asd sample (README's first command, from an empty folder): summary and asd-sample.png" sample_ok
bench_ok() {
  (cd "$work" && "$exe" bench --model 'builtin:mixture?dim=4' --steps 20 --repeats 1 --threads 1 --json b.json --markdown) || return 1
  python3 "$ROOT/tests/cli/check_bench_json.py" "$work/b.json"
}
check "asd bench: table, and JSON with the fixed schema" bench_ok
check "asd bench --acceptance-from: a second ceiling with another run's acceptance; a bad file fails naming the option" bash -c \
  "cd '$work' && '$exe' bench --model 'builtin:mixture?dim=4' --steps 20 --repeats 1 --threads 1 --spec-lens 2 --acceptance-from b.json \
   | grep -q 'ceiling with the acceptance by position of' && { '$exe' bench --acceptance-from nothing.json 2>&1 | grep -q -- '--acceptance-from nothing.json'; test \${PIPESTATUS[0]} -eq 2; }"
check "asd bench --vs-onnxruntime: ONNX Runtime loads beside the executable" bash -c \
  "cd '$work' && '$exe' bench --steps 10 --repeats 1 --spec-lens 4 --vs-onnxruntime --skip-quality | tee /dev/stderr | grep -q 'DDPM (ONNX Runtime)'"
check "asd reports bad input in one line with exit code 2" bash -c \
  "'$exe' sample --spec-len 0 2>&1 | grep -q 'must be >= 1'; test \${PIPESTATUS[0]} -eq 2"

# The checkpoint converter (Debian's python3-torch): diffusion_policy-style checkpoints convert with the EMA weights,
# configuration and noise scheduler, the published asd samples the result, and broken checkpoints name the tensor.
source "$ROOT/tests/lib/need_apt.sh"
need_apt "$LOG.apt" python3-torch python3-numpy python3-yaml
check "tools/convert_diffusion_policy.py: checkpoints convert, asd samples them, broken ones fail naming the tensor" \
  /usr/bin/python3 "$ROOT/tests/tools/test_convert_diffusion_policy.py" "$exe"

# The CUDA build (-p:AsdOnnxRuntimeGpu=true: Microsoft.ML.OnnxRuntime.Gpu.Linux, CUDA 13) on a machine without CUDA:
# --device cuda must fail naming the missing library, never run on the CPU; --device auto must fall back and say so.
gpu_dir=$ROOT/artifacts/build-gpu
gpu_build() {
  dotnet build Asd.Cli/Asd.Cli.csproj -c Release -nologo -v:q -p:AsdOnnxRuntimeGpu=true --artifacts-path "$gpu_dir"
}
gpu_asd() { (cd "$work" && dotnet "$gpu_dir/bin/Asd.Cli/release/asd.dll" "$@"); }
gpu_cuda_fails_clearly() {
  local out
  out=$(gpu_asd sample --model "$ROOT/tests/fixtures/onnx/unet16" --steps 5 --samples 2 --no-plot --device cuda 2>&1)
  local code=$?
  echo "$out"
  [ $code -eq 2 ] && grep -q -- '--device cuda: the CUDA runtime library libcudart.so.13 cannot be loaded' <<<"$out"
}
gpu_auto_falls_back() {
  local out
  out=$(gpu_asd sample --model "$ROOT/tests/fixtures/onnx/unet16" --steps 5 --samples 2 --no-plot --device auto 2>&1) || return 1
  echo "$out"
  grep -q 'device     auto: CUDA is not available (.*libcudart.so.13.*); running on the CPU' <<<"$out" && grep -q '^sequential model calls' <<<"$out"
}
if nvidia-smi >/dev/null 2>&1; then
  echo "skip CUDA-build checks: this machine has a GPU (they test the no-CUDA error path)"
elif check "CUDA build (Microsoft.ML.OnnxRuntime.Gpu.Linux) compiles" gpu_build; then
  check "CUDA build: info lists CUDAExecutionProvider" bash -c "cd '$work' && dotnet '$gpu_dir/bin/Asd.Cli/release/asd.dll' info | grep -q 'ONNX Runtime package: cuda' && cd '$work' && dotnet '$gpu_dir/bin/Asd.Cli/release/asd.dll' info | grep -q CUDAExecutionProvider"
  check "CUDA build, no CUDA here: --device cuda fails naming libcudart.so.13 (exit 2), never a silent CPU run" gpu_cuda_fails_clearly
  check "CUDA build, no CUDA here: --device auto falls back to the CPU and says why" gpu_auto_falls_back
fi
summary
