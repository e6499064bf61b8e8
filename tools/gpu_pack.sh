#!/usr/bin/env bash
# Prepares what tools/gpu_check.sh needs on a lent GPU machine, which reaches no network and takes at most 64 MiB per
# call of working tree plus carried files (the tracked tree alone is about 25 MB): the CUDA-flavour AOT build of asd
# (x86-64-v3: asd, libonnxruntime.so and the CUDA provider, about 284 MB of the whole) as one gzip'd tarball cut into
# parts of 36 MiB (< 60 MB, and small enough to travel beside the tree), with its sha256, in artifacts/gpu/parts.
# Usage, from the repository root: tools/gpu_pack.sh
# Then, on the device tool, with the machine kept warm between calls (it goes back after 30 s idle):
#   one call per part but the last: carry ["artifacts/gpu/parts/asd-gpu.tgz.NN"], command "ls -la artifacts/gpu/parts"
#   the last part's call: carry ["artifacts/gpu/parts/asd-gpu.tgz.NN", "artifacts/gpu/parts/asd-gpu.sha256"],
#                         command "tools/gpu_check.sh $OUT", timeout_s 600
# (A carried path replaces only itself there; parts carried by earlier calls stay while the machine is warm.)
# Checked here without a GPU (2026-12-03): 8 parts (7 x 36 MiB + 6.3 MB, with asd.dbg, now left out), joined, sha256
# OK, unpacked, and the unpacked AOT asd runs (--device cuda --cuda-graphs on: the libcudart.so.13 error, exit 2).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source tools/aot_publish.sh
aot_publish Asd.Cli/Asd.Cli.csproj v3 artifacts/gpu-publish -p:AsdOnnxRuntimeGpu=true
rm -rf artifacts/gpu && mkdir -p artifacts/gpu/parts
mv "$AOT_DIR" artifacts/gpu/bin
rm -f artifacts/gpu/bin/libonnxruntime_providers_tensorrt.so artifacts/gpu/bin/*.dbg
tar -C artifacts/gpu -cf - bin | gzip -1 > artifacts/gpu/asd-gpu.tgz
(cd artifacts/gpu && sha256sum asd-gpu.tgz) > artifacts/gpu/parts/asd-gpu.sha256
split -b 36M -d artifacts/gpu/asd-gpu.tgz artifacts/gpu/parts/asd-gpu.tgz.
rm -rf artifacts/gpu/asd-gpu.tgz artifacts/gpu/bin
du -b artifacts/gpu/parts/*
