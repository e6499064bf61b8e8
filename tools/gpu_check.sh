#!/usr/bin/env bash
# The ONNX Runtime CUDA check (issue 4): DDPM against ASD on the trained UNet fixture, on a CUDA 13 GPU machine.
# Expects the CUDA-flavour AOT build in $ASD_GPU_DIR (default /tmp/asd): asd, libonnxruntime.so,
# libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so from Microsoft.ML.OnnxRuntime.Gpu.Linux
# 1.31.0 (dotnet publish Asd.Cli -r linux-x64 -p:PublishAot=true -p:IlcInstructionSet=x86-64-v3
# -p:AsdOnnxRuntimeGpu=true), and CUDA 13's cudart, cuBLAS and cuDNN 9 on the loader path (on the lent machines they
# come with the Python image's nvidia-* packages, which this script adds to LD_LIBRARY_PATH).
# Usage, from the repository root: tools/gpu_check.sh [OUTDIR]
set -uo pipefail
dir=${ASD_GPU_DIR:-/tmp/asd}
out=${1:-.}
model=tests/fixtures/onnx/unet16
for p in /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib; do LD_LIBRARY_PATH=$p:${LD_LIBRARY_PATH:-}; done
export LD_LIBRARY_PATH
nvidia-smi -L
"$dir/asd" info | grep -E '^(build|machine|onnxruntime)'
run() { echo "\$ asd $*"; "$dir/asd" "$@" 2>&1; echo "exit $?"; }
# Precision of one call: K = 1 makes the sample one clipped model prediction, so CUDA against CPU here is the error
# of a single call (TF32 convolutions, ONNX Runtime's CUDA default, against float32), before 100 steps amplify it.
cmp() { python3 -c "import numpy as n; a = n.load('$out/'+'$1'); b = n.load('$out/'+'$2'); print('$3', 'max |cuda - cpu|', abs(a - b).max(), 'of max |x|', abs(b).max())"; }
for k in 1 100; do
  run sample --model $model --sampler ddpm --device cpu --steps $k --samples 4 --seed 3 --out "$out/ddpm-cpu-$k.npy" --no-plot
  run sample --model $model --sampler ddpm --device cuda --steps $k --samples 4 --seed 3 --out "$out/ddpm-cuda-$k.npy" --no-plot
  ASD_ORT_CUDA_OPTIONS="use_tf32=0" run sample --model $model --sampler ddpm --device cuda --steps $k --samples 4 --seed 3 --out "$out/ddpm-cuda-fp32-$k.npy" --no-plot
  cmp ddpm-cuda-$k.npy ddpm-cpu-$k.npy "K=$k TF32 (default):"
  cmp ddpm-cuda-fp32-$k.npy ddpm-cpu-$k.npy "K=$k use_tf32=0:"
done
# One chain per request (a controller's latency), DDPM interleaved with ASD after one untimed request of each,
# medians: batch buckets on (the CUDA default) and off (every batch size in one session, as before).
run sample --model $model --device cuda --steps 100 --samples 16 --one-by-one --vs-ddpm --spec-len 8 --no-plot --stats "$out/gpu-l8-requests.json"
run sample --model $model --device cuda --steps 100 --samples 4 --one-by-one --vs-ddpm --spec-len 8 --batch-buckets off --no-plot --stats "$out/gpu-l8-requests-nobuckets.json"
run sample --model $model --device cuda --steps 100 --samples 16 --one-by-one --vs-ddpm --no-plot --stats "$out/gpu-auto-requests.json"
run sample --model $model --device cuda --steps 100 --samples 16 --one-by-one --vs-ddpm --spec-len inf --no-plot --stats "$out/gpu-inf-requests.json"
# Eight chains in one batch (after an untimed run of each sampler).
run sample --model $model --device cuda --steps 100 --samples 8 --vs-ddpm --spec-len 8 --no-plot --stats "$out/gpu-l8-batch.json"
run sample --model $model --device cuda --steps 100 --samples 8 --vs-ddpm --no-plot --stats "$out/gpu-auto-batch.json"
# The same on the CPU of that machine, for scale.
run sample --model $model --device cpu --threads 16 --steps 100 --samples 16 --one-by-one --vs-ddpm --spec-len 8 --no-plot
