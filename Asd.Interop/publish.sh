#!/usr/bin/env bash
# Publishes libasd.so with Native AOT, once per x86-64 level, into artifacts/libasd/linux-x64-<level>/:
#   libasd.so  libasd.so.dbg (separate debug symbols)  libonnxruntime.so  include/asd.h  include/asd.hpp  asd.pc
# and copies each libasd.so into the Python package (Asd.Interop/python/asd/lib/<flavour>/) so that
# `import asd` finds it. A default AOT publish compiles no AVX2/AVX-512 code, hence the explicit levels:
#   v4 = x86-64-v4 (AVX-512: Skylake-SP and later servers, Zen 4+)
#   v3 = x86-64-v3 (AVX2 + FMA: Haswell and later, Zen 1+); runs on CPUs without AVX-512.
# arm64 (only when named) cross-publishes for 64-bit Arm boards into artifacts/libasd/linux-arm64/ (the same files,
# ONNX Runtime's arm64 build included); it needs clang, lld, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross
# (docs/arm64.md). It is not copied into the Python package, whose loader picks x86-64 builds by CPU flags: on a
# board, point ASD_LIBRARY at the library.
#   arm64 = armv8-a with AdvSimd (NEON): every 64-bit Arm core (Cortex-A53 and later).
# Usage: Asd.Interop/publish.sh [v4] [v3] [arm64]     (default: v4 v3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${ASD_LIBASD_DIR:-$ROOT/artifacts/libasd}
levels=("$@")
[ ${#levels[@]} -eq 0 ] && levels=(v4 v3)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

published=()
for level in "${levels[@]}"; do
  case $level in
    v3|v4) rid=linux-x64 isa=x86-64-$level dir=$OUT/linux-x64-$level describe="x86-64-$level build" ;;
    arm64) rid=linux-arm64 isa=armv8-a dir=$OUT/linux-arm64 describe="linux-arm64 (armv8-a, NEON) build" ;;
    *) echo "unknown level '$level' (expected v3, v4 or arm64)" >&2; exit 2 ;;
  esac
  rm -rf "$dir"
  echo "publishing libasd for $isa -> $dir"
  if [ "$rid" = linux-arm64 ]; then
    # Its own build folder: the cross build's per-RID restore must not rewrite the host build's obj/ folders.
    dotnet publish Asd.Interop/Asd.Interop.csproj -c Release -r linux-arm64 -nologo -v:q \
      -p:InvariantGlobalization=true -p:IlcInstructionSet=$isa --artifacts-path "$ROOT/artifacts/build-arm64" -o "$dir"
    rm -f "$dir"/*.xml
  else
    dotnet publish Asd.Interop/Asd.Interop.csproj -c Release -r linux-x64 -nologo -v:q \
      -p:IlcInstructionSet=x86-64-$level -o "$dir"
  fi
  rm -f "$dir"/*.pdb
  published+=("$dir/libasd.so")
  mkdir -p "$dir/include"
  cp Asd.Interop/include/asd.h Asd.Interop/include/asd.hpp "$dir/include/"
  # Relocatable: pkg-config expands ${pcfiledir} to this folder wherever it is moved.
  version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
  cat >"$dir/asd.pc" <<PC
prefix=\${pcfiledir}
libdir=\${prefix}
includedir=\${prefix}/include

Name: asd
Description: Exact parallel diffusion sampling (DDPM and autospeculative decoding), $describe
Version: $version
Libs: -L\${libdir} -lasd -Wl,-rpath,\${libdir}
Cflags: -I\${includedir}
PC
  [ "$rid" = linux-x64 ] || continue
  pydir=Asd.Interop/python/asd/lib/linux-x64-$level
  mkdir -p "$pydir"
  cp "$dir/libasd.so" "$pydir/"
  # ONNX Runtime (the same file for every level): one copy in lib/, found through libasd's RUNPATH $ORIGIN/..
  cp "$dir"/libonnxruntime*.so Asd.Interop/python/asd/lib/
done
ls -l "${published[@]}"
