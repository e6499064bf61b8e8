#!/usr/bin/env bash
# Prepares what tools/gpu_check.sh needs on a lent GPU machine, which reaches no network and takes at most 64 MiB of
# carried files per call: the CUDA-flavour AOT build of asd (x86-64-v3) in artifacts/gpu/bin, and ONNX Runtime's CUDA
# provider (about 284 MB) cut into parts of 55 MiB (< 60 MB) in artifacts/gpu/parts, with its sha256.
# Usage, from the repository root: tools/gpu_pack.sh
# Then, on the device tool (each call's carry <= 64 MiB, the machine kept warm between calls):
#   calls 1..6: carry ["artifacts/gpu/parts/cuda.part-0N"], command "ls -la artifacts/gpu/parts"
#   call 7:     carry ["artifacts/gpu/bin", "artifacts/gpu/parts/cuda.sha256"], command "tools/gpu_check.sh $OUT"
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source tools/aot_publish.sh
aot_publish Asd.Cli/Asd.Cli.csproj v3 artifacts/gpu-publish -p:AsdOnnxRuntimeGpu=true
rm -rf artifacts/gpu && mkdir -p artifacts/gpu/parts
mv "$AOT_DIR" artifacts/gpu/bin
rm -f artifacts/gpu/bin/libonnxruntime_providers_tensorrt.so
(cd artifacts/gpu/bin && sha256sum libonnxruntime_providers_cuda.so) > artifacts/gpu/parts/cuda.sha256
split -b 55M -d artifacts/gpu/bin/libonnxruntime_providers_cuda.so artifacts/gpu/parts/cuda.part-
rm artifacts/gpu/bin/libonnxruntime_providers_cuda.so
du -sh artifacts/gpu/bin artifacts/gpu/parts/*
