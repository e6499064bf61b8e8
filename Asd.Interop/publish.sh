#!/usr/bin/env bash
# Publishes libasd.so with Native AOT, once per x86-64 level, into artifacts/libasd/linux-x64-<level>/:
#   libasd.so  libasd.so.dbg (separate debug symbols)  libonnxruntime.so  include/asd.h  include/asd.hpp  asd.pc
# and copies each libasd.so into the Python package (Asd.Interop/python/asd/lib/<flavour>/) so that
# `import asd` finds it. A default AOT publish compiles no AVX2/AVX-512 code, hence the explicit levels:
#   v4 = x86-64-v4 (AVX-512: Skylake-SP and later servers, Zen 4+)
#   v3 = x86-64-v3 (AVX2 + FMA: Haswell and later, Zen 1+); runs on CPUs without AVX-512.
# Usage: Asd.Interop/publish.sh [v4] [v3]     (default: both)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${ASD_LIBASD_DIR:-$ROOT/artifacts/libasd}
levels=("$@")
[ ${#levels[@]} -eq 0 ] && levels=(v4 v3)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

for level in "${levels[@]}"; do
  case $level in v3|v4) ;; *) echo "unknown level '$level' (expected v3 or v4)" >&2; exit 2 ;; esac
  dir=$OUT/linux-x64-$level
  rm -rf "$dir"
  echo "publishing libasd for x86-64-$level -> $dir"
  dotnet publish Asd.Interop/Asd.Interop.csproj -c Release -r linux-x64 -nologo -v:q \
    -p:IlcInstructionSet=x86-64-$level -o "$dir"
  rm -f "$dir"/*.pdb
  mkdir -p "$dir/include"
  cp Asd.Interop/include/asd.h Asd.Interop/include/asd.hpp "$dir/include/"
  # Relocatable: pkg-config expands ${pcfiledir} to this folder wherever it is moved.
  version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
  cat >"$dir/asd.pc" <<PC
prefix=\${pcfiledir}
libdir=\${prefix}
includedir=\${prefix}/include

Name: asd
Description: Exact parallel diffusion sampling (DDPM and autospeculative decoding), x86-64-$level build
Version: $version
Libs: -L\${libdir} -lasd -Wl,-rpath,\${libdir}
Cflags: -I\${includedir}
PC
  pydir=Asd.Interop/python/asd/lib/linux-x64-$level
  mkdir -p "$pydir"
  cp "$dir/libasd.so" "$pydir/"
  # ONNX Runtime (the same file for every level): one copy in lib/, found through libasd's RUNPATH $ORIGIN/..
  cp "$dir"/libonnxruntime*.so Asd.Interop/python/asd/lib/
done
ls -l "$OUT"/linux-x64-*/libasd.so
