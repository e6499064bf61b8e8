#!/usr/bin/env bash
# Scale-out checks (README "More than one machine"). .ci/run calls it after tests/interop/run.sh and tests/cli/run.sh;
# it also runs on its own:   tests/distributed/run.sh
# Stages: apt prerequisites (Debian's dask, distributed, zarr, build, venv); libasd (reuses the libraries that
# tests/interop/run.sh published, else publishes them); the wheel (python3 -m build) and its contents; a fresh virtual
# environment that installs it with the README's commands; pytest in that environment (tests/distributed: Dask
# LocalClusters of 2 worker processes on 127.0.0.1, identical bytes, merged stats, a worker killed mid-run, npy and
# zarr shards, asd merge of Python and CLI shards, and the README's Slurm and Kubernetes recipes index by index).
# The last line is "DISTRIBUTED_SUMMARY <passed> <failed>" (pytest's counts, skips counted as failures, plus one per
# other check). Logs: artifacts/ci/distributed/ (or $ASD_CI_LOGS/distributed).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
LOG=${ASD_CI_LOGS:-$ROOT/artifacts/ci}/distributed
PY=/usr/bin/python3
mkdir -p "$LOG"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/asd-distributed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 PYTHONDONTWRITEBYTECODE=1

NAME=distributed
source "$ROOT/tests/lib/report.sh"
finish() { echo; echo "--- distributed: total $(since "$t_all") s"; echo "DISTRIBUTED_SUMMARY $passed $failed"; exit 0; }

stage "prerequisites (apt)"
source "$ROOT/tests/lib/need_apt.sh"
need_apt "$LOG/apt.log" python3-numpy python3-distributed python3-zarr python3-build python3-wheel python3-venv \
  python3-pip python3-setuptools python3-pytest python3-pytest-timeout
stage_end "prerequisites"

stage "libasd (reused from tests/interop/run.sh when present)"
PYLIB=Asd.Interop/python/asd/lib
if [ -f "$PYLIB/linux-x64-v4/libasd.so" ] && [ -f "$PYLIB/linux-x64-v3/libasd.so" ] && [ -f "$PYLIB/libonnxruntime.so" ]; then
  echo "      reusing $PYLIB (published by Asd.Interop/publish.sh)"
elif Asd.Interop/publish.sh v4 v3 >"$LOG/publish.log" 2>&1; then
  ok "Asd.Interop/publish.sh v4 v3"
else
  bad "Asd.Interop/publish.sh (see $LOG/publish.log)"
  finish
fi
stage_end "libasd"

stage "wheel (python3 -m build --wheel --no-isolation)"
rm -rf Asd.Interop/python/build Asd.Interop/python/*.egg-info
if $PY -m build --wheel --no-isolation --outdir "$WORK/dist" Asd.Interop/python >"$LOG/build.log" 2>&1; then
  WHL=$(ls "$WORK"/dist/asd-*.whl)
  ok "built $(basename "$WHL") ($(stat -c %s "$WHL") bytes)"
else
  bad "python3 -m build (see $LOG/build.log)"
  finish
fi
rm -rf Asd.Interop/python/build Asd.Interop/python/*.egg-info
check "the wheel is tagged py3-none-linux_x86_64 (native libraries inside, any Python 3)" \
  bash -c "[[ '$(basename "$WHL")' == asd-*-py3-none-linux_x86_64.whl ]] && unzip -p '$WHL' '*.dist-info/WHEEL' | grep -qx 'Root-Is-Purelib: false'"
check "the wheel carries libasd.so (v4 and v3), ONNX Runtime and asd.distributed" bash -c \
  "unzip -l '$WHL' | awk '{print \$4}' | sort | tr '\n' ' ' | grep -q 'asd/distributed.py asd/lib/libonnxruntime.so asd/lib/libonnxruntime_providers_shared.so asd/lib/linux-x64-v3/libasd.so asd/lib/linux-x64-v4/libasd.so asd/py.typed asd/shards.py'"
stage_end "wheel"

stage "a fresh virtual environment installs the wheel (README)"
VENV=$WORK/venv
# The README's commands: numpy and dask come from Debian through --system-site-packages; nothing is downloaded.
if $PY -m venv --system-site-packages "$VENV" >"$LOG/venv.log" 2>&1 && "$VENV/bin/pip" install "$WHL" >>"$LOG/venv.log" 2>&1; then
  ok "python3 -m venv --system-site-packages; pip install $(basename "$WHL")"
else
  bad "venv + pip install (see $LOG/venv.log)"
  finish
fi
check "the installed package loads its own libasd.so from the venv, from any folder" bash -c \
  "cd '$WORK' && env -u PYTHONPATH -u ASD_LIBRARY '$VENV/bin/python' -c \"import asd, asd.distributed, sys; p = asd.library_path(); assert p.startswith(sys.prefix), p; print(p, asd.cpu_features()['build'])\""
stage_end "venv"

# The asd command for CLI shards and asd merge: the AOT executable of tests/cli/run.sh if present, else the build.
best=v3
grep -qw avx512f /proc/cpuinfo 2>/dev/null && best=v4
if [ -x "$ROOT/artifacts/asd/linux-x64-$best/asd" ]; then
  export ASD_CLI="$ROOT/artifacts/asd/linux-x64-$best/asd"
else
  [ -f Asd.Cli/bin/Release/net10.0/asd.dll ] || dotnet build Asd.Cli -c Release -nologo -v:q >"$LOG/cli-build.log" 2>&1
  export ASD_CLI="dotnet $ROOT/Asd.Cli/bin/Release/net10.0/asd.dll"
fi
echo "      asd command: $ASD_CLI"

stage "pytest tests/distributed in the venv (LocalCluster, 2 worker processes, 127.0.0.1)"
(cd "$WORK" && env -u PYTHONPATH -u ASD_LIBRARY timeout 900 "$VENV/bin/python" -m pytest -q -p no:cacheprovider \
   --timeout 300 --durations=12 --junitxml="$LOG/pytest.xml" "$ROOT/tests/distributed" >"$LOG/pytest.out" 2>&1)
grep -E '^(FAILED|ERROR)' "$LOG/pytest.out" | sed 's/^/      /'
tail -n 1 "$LOG/pytest.out" | sed 's/^/      /'
junit_counts "$LOG/pytest.xml"
stage_end "pytest"

finish
