#!/usr/bin/env bash
# Publishes the asd executable with Native AOT, once per level, into artifacts/asd/<rid-level>/ (or $ASD_CLI_DIR):
#   asd  (one self-contained executable: engine, built-in models, kernels for that level, the plots' font)
#   libonnxruntime.so, libonnxruntime_providers_shared.so  (ONNX Runtime CPU)
#   libSkiaSharp.so, libHarfBuzzSharp.so  (SkiaSharp, which ScottPlot draws the pictures with)
# all found beside asd (its RUNPATH is $ORIGIN), so the folder can be copied anywhere. Levels (tools/aot_publish.sh):
# v4 (AVX-512), v3 (AVX2), and, only when named, arm64 (cross-published for 64-bit Arm boards, docs/arm64.md).
# Usage: Asd.Cli/publish.sh [v4] [v3] [arm64]     (default: v4 v3)
source "$(dirname "${BASH_SOURCE[0]}")/../tools/aot_publish.sh"
OUT=${ASD_CLI_DIR:-$ROOT/artifacts/asd}

levels=$(aot_levels "$@")
published=()
for level in $levels; do
  aot_publish Asd.Cli/Asd.Cli.csproj "$level" "$OUT"
  rm -f "$AOT_DIR"/*.dbg
  published+=("$AOT_DIR/asd")
done
ls -l "${published[@]}"
