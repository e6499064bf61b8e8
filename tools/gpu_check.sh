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
# DDPM on CUDA against DDPM on this machine's CPU, same seed and noise: the samples should agree closely.
run sample --model $model --sampler ddpm --device cuda --steps 100 --samples 4 --seed 3 --out "$out/ddpm-cuda.npy" --no-plot
run sample --model $model --sampler ddpm --device cpu --steps 100 --samples 4 --seed 3 --out "$out/ddpm-cpu.npy" --no-plot
python3 -c "import numpy as n; a = n.load('$out/ddpm-cuda.npy'); b = n.load('$out/ddpm-cpu.npy'); print('DDPM max |cuda - cpu|', abs(a - b).max(), 'of max |x|', abs(b).max())"
# One chain per request (a controller's latency), DDPM interleaved with ASD, medians of 16 requests.
run sample --model $model --device cuda --steps 100 --samples 16 --one-by-one --vs-ddpm --spec-len 8 --no-plot --stats "$out/gpu-l8-requests.json"
run sample --model $model --device cuda --steps 100 --samples 16 --one-by-one --vs-ddpm --no-plot --stats "$out/gpu-auto-requests.json"
# Eight chains in one batch, twice (the first run includes CUDA's warm-up).
for i in 1 2; do
  run sample --model $model --device cuda --steps 100 --samples 8 --vs-ddpm --spec-len 8 --no-plot --stats "$out/gpu-l8-batch$i.json"
done
run sample --model $model --device cuda --steps 100 --samples 8 --vs-ddpm --no-plot --stats "$out/gpu-auto-batch.json"
# The same on the CPU of that machine, for scale.
run sample --model $model --device cpu --threads 16 --steps 100 --samples 16 --one-by-one --vs-ddpm --spec-len 8 --no-plot
