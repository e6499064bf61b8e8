#!/usr/bin/env bash
# Publishes libasd.so with Native AOT, once per level, into artifacts/libasd/<rid-level>/ (or $ASD_LIBASD_DIR):
#   libasd.so  libasd.so.dbg (separate debug symbols)  libonnxruntime.so  include/asd.h  include/asd.hpp  asd.pc
# and copies each x86-64 libasd.so into the Python package (Asd.Interop/python/asd/lib/<flavour>/) so that
# `import asd` finds it. Levels (tools/aot_publish.sh): v4 (AVX-512), v3 (AVX2), and, only when named, arm64
# (cross-published for 64-bit Arm boards, docs/arm64.md). The arm64 build is not copied into the Python package,
# whose loader picks x86-64 builds by CPU flags: on a board, point ASD_LIBRARY at the library.
# Usage: Asd.Interop/publish.sh [v4] [v3] [arm64]     (default: v4 v3)
source "$(dirname "${BASH_SOURCE[0]}")/../tools/aot_publish.sh"
OUT=${ASD_LIBASD_DIR:-$ROOT/artifacts/libasd}
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)

levels=$(aot_levels "$@")
published=()
for level in $levels; do
  aot_publish Asd.Interop/Asd.Interop.csproj "$level" "$OUT"
  dir=$AOT_DIR
  published+=("$dir/libasd.so")
  mkdir -p "$dir/include"
  cp Asd.Interop/include/asd.h Asd.Interop/include/asd.hpp "$dir/include/"
  # Relocatable: pkg-config expands ${pcfiledir} to this folder wherever it is moved.
  cat >"$dir/asd.pc" <<PC
prefix=\${pcfiledir}
libdir=\${prefix}
includedir=\${prefix}/include

Name: asd
Description: Exact parallel diffusion sampling (DDPM and autospeculative decoding), $AOT_RID ($AOT_ISA) build
Version: $version
Libs: -L\${libdir} -lasd -Wl,-rpath,\${libdir}
Cflags: -I\${includedir}
PC
  [ "$AOT_RID" = linux-x64 ] || continue
  pydir=Asd.Interop/python/asd/lib/linux-x64-$level
  mkdir -p "$pydir"
  cp "$dir/libasd.so" "$pydir/"
  # ONNX Runtime (the same file for every level): one copy in lib/, found through libasd's RUNPATH $ORIGIN/..
  cp "$dir"/libonnxruntime*.so Asd.Interop/python/asd/lib/
done
ls -l "${published[@]}"
