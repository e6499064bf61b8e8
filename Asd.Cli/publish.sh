#!/usr/bin/env bash
# Publishes the asd executable with Native AOT, once per x86-64 level, into artifacts/asd/linux-x64-<level>/:
#   asd  (one self-contained executable: engine, built-in models, kernels for that level)
#   libonnxruntime.so  (ONNX Runtime CPU; found beside asd through its RUNPATH $ORIGIN)
# A default AOT publish compiles no AVX2/AVX-512 code, hence the explicit levels:
#   v4 = x86-64-v4 (AVX-512: Skylake-SP and later servers, Zen 4+)
#   v3 = x86-64-v3 (AVX2 + FMA: Haswell and later, Zen 1+); runs on CPUs without AVX-512.
# arm64 (only when named) cross-publishes for 64-bit Arm boards into artifacts/asd/linux-arm64/ (asd and ONNX
# Runtime's arm64 build); it needs clang, lld, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (docs/arm64.md).
#   arm64 = armv8-a with AdvSimd (NEON): every 64-bit Arm core (Cortex-A53 and later).
# Usage: Asd.Cli/publish.sh [v4] [v3] [arm64]     (default: v4 v3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${ASD_CLI_DIR:-$ROOT/artifacts/asd}
levels=("$@")
[ ${#levels[@]} -eq 0 ] && levels=(v4 v3)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

published=()
for level in "${levels[@]}"; do
  case $level in
    v3|v4) dir=$OUT/linux-x64-$level ;;
    arm64) dir=$OUT/linux-arm64 ;;
    *) echo "unknown level '$level' (expected v3, v4 or arm64)" >&2; exit 2 ;;
  esac
  rm -rf "$dir"
  if [ "$level" = arm64 ]; then
    echo "publishing asd for armv8-a -> $dir"
    # Its own build folder: the cross build's per-RID restore must not rewrite the host build's obj/ folders.
    dotnet publish Asd.Cli/Asd.Cli.csproj -c Release -r linux-arm64 -nologo -v:q \
      -p:PublishAot=true -p:InvariantGlobalization=true -p:IlcInstructionSet=armv8-a --artifacts-path "$ROOT/artifacts/build-arm64" -o "$dir"
  else
    echo "publishing asd for x86-64-$level -> $dir"
    dotnet publish Asd.Cli/Asd.Cli.csproj -c Release -r linux-x64 -nologo -v:q \
      -p:PublishAot=true -p:IlcInstructionSet=x86-64-$level -o "$dir"
  fi
  rm -f "$dir"/*.pdb "$dir"/*.dbg "$dir"/*.xml
  published+=("$dir/asd")
done
ls -l "${published[@]}"
