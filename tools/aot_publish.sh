#!/usr/bin/env bash
# The Native AOT publish steps shared by Asd.Cli/publish.sh (the asd executable) and Asd.Interop/publish.sh
# (libasd.so); both source this file and add only what is their own.
#
# A default AOT publish compiles no AVX2/AVX-512 code, hence one build per instruction-set level:
#   v4    = x86-64-v4 (AVX-512: Skylake-SP and later servers, Zen 4+)          -> OUT/linux-x64-v4
#   v3    = x86-64-v3 (AVX2 + FMA: Haswell and later, Zen 1+; no AVX-512 needed) -> OUT/linux-x64-v3
#   arm64 = armv8-a with AdvSimd (NEON): every 64-bit Arm core (Cortex-A53 and later) -> OUT/linux-arm64
# arm64 cross-publishes from this x64 machine; it needs clang, lld, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross
# (docs/arm64.md), and builds in its own folder (artifacts/build-arm64) so that the cross build's per-RID restore
# does not rewrite the host build's obj/ folders.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# aot_levels ARG...: the levels asked for, one per line (default: v4 v3); exits 2 naming an unknown one.
aot_levels() {
  local level
  [ $# -eq 0 ] && set -- v4 v3
  for level in "$@"; do
    case $level in
      v3|v4|arm64) echo "$level" ;;
      *) echo "unknown level '$level' (expected v3, v4 or arm64)" >&2; exit 2 ;;
    esac
  done
}

# aot_publish PROJECT LEVEL OUT [dotnet publish args...]: publishes PROJECT with Native AOT for LEVEL into a fresh
# folder, and sets AOT_RID, AOT_ISA and AOT_DIR (OUT/linux-x64-<level> or OUT/linux-arm64) for the caller.
aot_publish() {
  local project=$1 level=$2 out=$3
  shift 3
  local extra=()
  case $level in
    v3|v4) AOT_RID=linux-x64 AOT_ISA=x86-64-$level AOT_DIR=$out/linux-x64-$level ;;
    arm64) AOT_RID=linux-arm64 AOT_ISA=armv8-a AOT_DIR=$out/linux-arm64
           extra=(--artifacts-path "$ROOT/artifacts/build-arm64") ;;
    *) echo "unknown level '$level' (expected v3, v4 or arm64)" >&2; exit 2 ;;
  esac
  rm -rf "$AOT_DIR"
  echo "publishing $(basename "$project" .csproj) for $AOT_ISA -> $AOT_DIR"
  dotnet publish "$project" -c Release -r "$AOT_RID" -nologo -v:q -p:PublishAot=true -p:InvariantGlobalization=true \
    -p:IlcInstructionSet="$AOT_ISA" "${extra[@]}" "$@" -o "$AOT_DIR"
  rm -f "$AOT_DIR"/*.pdb "$AOT_DIR"/*.xml
}
