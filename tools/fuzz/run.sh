#!/usr/bin/env bash
# tools/fuzz/run.sh TARGET SECONDS [OUT]   coverage-guided fuzzing of one parser with afl-fuzz (Debian's afl++) and
#                                          SharpFuzz 2.3.0; OUT defaults to artifacts/fuzz/TARGET (started afresh).
# tools/fuzz/run.sh --list                 the targets
# tools/fuzz/run.sh --build                build and instrument the harness only
# tools/fuzz/run.sh --replay TARGET FILE...  run files through a target once (regression reproducers, crash triage)
#
# The harness (tools/fuzz/Asd.Fuzz) is published to artifacts/fuzz/bin and Asd.Native.dll and asd.dll (the CLI, for
# --cond lists) are instrumented with the sharpfuzz tool (installed into artifacts/tools from NuGet). The run ends with
#   FUZZ <target> seconds=S execs=N paths=P edges=E crashes=C hangs=H execs_per_sec=R
# and exits 1 if afl-fuzz saved any crash or hang (their inputs are replayed so the exception is printed).
# Long campaigns: run under nice, one target at a time, in chunks of at most 30 minutes.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
TARGETS=(mlp-json safetensors npy scheduler-config asd-json cost-curve model-spec cond-list onnx-unet1d unet1d-json shard-manifest)
BIN=$ROOT/artifacts/fuzz/bin
TOOLS=$ROOT/artifacts/tools
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dict_for() {
  case $1 in
    npy) echo "$ROOT/tools/fuzz/dict/npy.dict" ;;
    onnx-unet1d) echo "$ROOT/tools/fuzz/dict/onnx.dict" ;;
    model-spec | cond-list) echo "$ROOT/tools/fuzz/dict/text.dict" ;;
    *) echo "$ROOT/tools/fuzz/dict/json.dict" ;;
  esac
}

build() {
  # Rebuilt when a source of the harness or of what it instruments is newer than the last build.
  local stamp=$BIN/.instrumented
  if [ -f "$stamp" ] && [ -z "$(find Asd.Native Asd.Simd Asd.Cli tools/fuzz/Asd.Fuzz -name '*.cs' -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  if [ ! -x "$TOOLS/sharpfuzz" ]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$TOOLS" >/dev/null || { echo "cannot install SharpFuzz.CommandLine 2.3.0"; return 1; }
  fi
  rm -rf "$BIN"
  # An ordinary Release build (incremental: after `dotnet build AsdAot.sln -c Release` only the harness compiles),
  # copied, so that instrumenting never touches the assemblies the rest of the build and the tests use.
  dotnet build tools/fuzz/Asd.Fuzz/Asd.Fuzz.csproj -c Release -nologo -v:q >"$ROOT/artifacts/fuzz/build.log" 2>&1 \
    || { echo "build of the fuzz harness failed: see artifacts/fuzz/build.log"; return 1; }
  mkdir -p "$BIN"
  cp -r tools/fuzz/Asd.Fuzz/bin/Release/net10.0/. "$BIN/"
  for dll in Asd.Native.dll asd.dll; do
    "$TOOLS/sharpfuzz" "$BIN/$dll" >>"$ROOT/artifacts/fuzz/build.log" 2>&1 || { echo "sharpfuzz could not instrument $dll"; return 1; }
  done
  touch "$stamp"
}

mkdir -p "$ROOT/artifacts/fuzz"
case ${1:-} in
  --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
  --build) build; exit $? ;;
  --replay)
    shift
    build || exit 1
    exec dotnet "$BIN/Asd.Fuzz.dll" "$1" --replay "${@:2}" ;;
  "" | -h | --help) sed -n '2,13p' "$0"; exit 2 ;;
esac

target=$1
seconds=${2:?usage: tools/fuzz/run.sh TARGET SECONDS [OUT]}
out=${3:-$ROOT/artifacts/fuzz/$target}
# Not `printf ... | grep -q`: under pipefail, grep leaving at the first match can stop printf with SIGPIPE, and the pipe
# then fails ("unknown target 'cond-list'" in the CI smoke of 2026-12-06).
known=0
for t in "${TARGETS[@]}"; do [ "$t" = "$target" ] && known=1; done
[ "$known" = 1 ] || { echo "unknown target '$target' (tools/fuzz/run.sh --list)"; exit 2; }
command -v afl-fuzz >/dev/null || { source "$ROOT/tests/lib/need_apt.sh"; need_apt "$ROOT/artifacts/fuzz/apt.log" afl++; }
command -v afl-fuzz >/dev/null || { echo "afl-fuzz is not installed (apt-get install afl++)"; exit 1; }
build || exit 1

rm -rf "$out"
mkdir -p "$out"
# The target is a .NET program, not an afl-instrumented binary (SharpFuzz speaks afl's fork-server protocol itself);
# no CPU binding on a shared machine; crashes are exceptions, reported through the protocol, not core dumps.
AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
AFL_FORKSRV_INIT_TMOUT=60000 AFL_SHUFFLE_QUEUE=0 \
  timeout -k 30 $((seconds + 120)) afl-fuzz -i "$ROOT/tools/fuzz/seeds/$target" -o "$out" -x "$(dict_for "$target")" \
    -t 5000 -m none -V "$seconds" -- dotnet "$BIN/Asd.Fuzz.dll" "$target" >"$out/afl.log" 2>&1
rc=$?
stats=$out/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  echo "afl-fuzz produced no statistics (exit $rc); its log:"
  tail -n 30 "$out/afl.log"
  echo "FUZZ $target seconds=0 execs=0 paths=0 edges=0 crashes=0 hangs=0 execs_per_sec=0 error=1"
  exit 1
fi
val() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$out/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
echo "FUZZ $target seconds=$(val run_time) execs=$(val execs_done) paths=$(val corpus_count) edges=$(val edges_found) crashes=$crashes hangs=$hangs execs_per_sec=$(val execs_per_sec)"
if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
  find "$out/default/crashes" "$out/default/hangs" -type f -name 'id:*' -print0 2>/dev/null \
    | xargs -0 -r dotnet "$BIN/Asd.Fuzz.dll" "$target" --replay | head -n 60
  exit 1
fi
exit 0
