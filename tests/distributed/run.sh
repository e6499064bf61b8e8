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
NEED_APT_PACKAGES="python3-numpy python3-distributed python3-zarr python3-build python3-wheel python3-venv python3-pip
  python3-setuptools python3-pytest python3-pytest-timeout git unzip"
# shellcheck disable=SC2086
need_apt "$LOG/apt.log" $NEED_APT_PACKAGES
stage_end "prerequisites"

stage "the README's install commands in a fresh clone (git clone; libasd reused from tests/interop/run.sh)"
# The block under <!-- distributed-install --> in README.md, line by line, in a clone of this checkout's commit.
# Two lines are not run as written: the apt-get line is checked instead (need_apt above installed its packages, and
# each must be in need_apt's list), and Asd.Interop/publish.sh, when tests/interop/run.sh already published the same
# libraries in this run (the same command; an AOT publish of both levels takes about 3 minutes on 2 cores), is
# replaced by copying them into the clone. Run alone without them, the clone runs publish.sh as written.
CLONE=$WORK/clone
PYLIB=Asd.Interop/python/asd/lib
if git clone -q "$ROOT" "$CLONE" >"$LOG/clone.log" 2>&1 \
   && $PY - "$CLONE/README.md" "$ROOT/$PYLIB" "$PYLIB" "$NEED_APT_PACKAGES" >"$WORK/readme-install.sh" 2>"$LOG/readme-block.log" <<'PY_EOF'
import os, re, shlex, sys
readme, libs, pylib, needed = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split())
block = re.search(r"<!-- distributed-install[^>]*-->\n```sh\n(.*?)```", open(readme, encoding="utf-8").read(), re.S)
if not block:
    sys.exit("README.md: no <!-- distributed-install --> sh block")
print("set -ex")
for line in block.group(1).splitlines():
    cmd = line.split("#", 1)[0].strip()
    if cmd.startswith("apt-get install "):
        pkgs = cmd.split()[2:]
        extra = sorted(set(pkgs) - needed)
        if extra:
            sys.exit(f"README apt-get packages not installed by tests/distributed/run.sh: {extra}")
        print("dpkg-query -W " + " ".join(pkgs))
    elif cmd == "Asd.Interop/publish.sh" and all(os.path.isfile(os.path.join(libs, f)) for f in
                                                 ("linux-x64-v4/libasd.so", "linux-x64-v3/libasd.so", "libonnxruntime.so")):
        print(f"mkdir -p {shlex.quote(os.path.dirname(pylib))} && cp -r {shlex.quote(libs)} {shlex.quote(pylib)}")
    elif cmd:
        print(cmd)
PY_EOF
then
  sed 's/^/      | /' "$WORK/readme-install.sh"
  # Debian's python3 first: the README is for Debian 12, and a python3 of pyenv or a venv on PATH has no Debian packages.
  if (cd "$CLONE" && PATH="/usr/bin:$PATH" bash "$WORK/readme-install.sh") >"$LOG/readme-install.log" 2>&1; then
    ok "README install commands in a fresh clone: wheel built and installed into asd-env"
  else
    bad "README install commands (see $LOG/readme-install.log)"; tail -n 15 "$LOG/readme-install.log"
    finish
  fi
else
  bad "git clone or the README's install block (see $LOG/clone.log, $LOG/readme-block.log)"; cat "$LOG/readme-block.log"
  finish
fi
WHL=$(ls "$CLONE"/dist/asd-*.whl)
VENV=$CLONE/asd-env
echo "      $(basename "$WHL") ($(stat -c %s "$WHL") bytes)"
check "the wheel is tagged py3-none-linux_x86_64 (native libraries inside, any Python 3)" \
  bash -c "[[ '$(basename "$WHL")' == asd-*-py3-none-linux_x86_64.whl ]] && unzip -p '$WHL' '*.dist-info/WHEEL' | grep -qx 'Root-Is-Purelib: false'"
check "the wheel carries libasd.so (v4 and v3), ONNX Runtime and asd.distributed" bash -c \
  "unzip -l '$WHL' | awk '{print \$4}' | sort | tr '\n' ' ' | grep -q 'asd/distributed.py asd/lib/libonnxruntime.so asd/lib/libonnxruntime_providers_shared.so asd/lib/linux-x64-v3/libasd.so asd/lib/linux-x64-v4/libasd.so asd/py.typed asd/shards.py'"
check "the installed package loads its own libasd.so from the venv, from any folder" bash -c \
  "cd '$WORK' && env -u PYTHONPATH -u ASD_LIBRARY '$VENV/bin/python' -c \"import asd, asd.distributed, sys; p = asd.library_path(); assert p.startswith(sys.prefix), p; print(p, asd.cpu_features()['build'])\""
stage_end "README install"

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
