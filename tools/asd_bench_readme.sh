#!/usr/bin/env bash
# Every asd bench run the README quotes, in one go, on the AOT executable of this machine's level (v4 with AVX-512,
# else v3; published first if missing).
# Outputs go to docs/bench/asd/. Usage: tools/asd_bench_readme.sh   (about 3 minutes; a quiet machine, please)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The level this CPU runs: a v4 (AVX-512) build stops at start-up on a CPU without AVX-512 (the project's VMs are not
# all alike: some are Zen 3, AVX2 only).
LEVEL=v3; grep -qw avx512f /proc/cpuinfo 2>/dev/null && LEVEL=v4
[ -x "$ROOT/artifacts/asd/linux-x64-$LEVEL/asd" ] || "$ROOT/Asd.Cli/publish.sh" "$LEVEL"
cd "$ROOT/docs/bench/asd"
rm -f ./*
A=$ROOT/artifacts/asd/linux-x64-$LEVEL/asd
cat /proc/loadavg > load.txt
# The two-run protocol: run 1 (all lengths, saves the curve), run 2 (best fixed + auto on the saved curve).
$A bench --threads 2 --repeats 25 --save-cost-curve policy-cost-curve.json --json policy-run1.json --vs-onnxruntime > policy-run1.txt 2>&1
best=$(python3 -c "import json;r=json.load(open('policy-run1.json'))['rows'];a=[x for x in r if x['sampler']=='asd' and x['spec_len'] not in ('auto','inf')];print(max(a,key=lambda x:x['wall_speedup'])['spec_len'])")
$A bench --threads 2 --repeats 25 --spec-lens $best,auto --cost-curve policy-cost-curve.json --json policy-run2.json --vs-onnxruntime --markdown > policy-run2.md 2>&1
$A bench --model "builtin:mixture?dim=32" --steps 1000 --threads 2 --repeats 200 --save-cost-curve mixture32-cost-curve.json --json mixture32-run1.json > mixture32-run1.txt 2>&1
best=$(python3 -c "import json;r=json.load(open('mixture32-run1.json'))['rows'];a=[x for x in r if x['sampler']=='asd' and x['spec_len'] not in ('auto','inf')];print(max(a,key=lambda x:x['wall_speedup'])['spec_len'])")
$A bench --model "builtin:mixture?dim=32" --steps 1000 --threads 2 --repeats 200 --spec-lens $best,auto --cost-curve mixture32-cost-curve.json --json mixture32-run2.json --markdown > mixture32-run2.md 2>&1
# The README tables.
$A bench --threads 2 --repeats 25 --vs-onnxruntime --markdown --plot policy-bench.png --json policy-readme.json > policy-readme.md 2>&1
$A bench --model "builtin:mixture?dim=32" --steps 1000 --threads 2 --repeats 200 --markdown --json mixture32-readme.json > mixture32-readme.md 2>&1
cat /proc/loadavg >> load.txt
for f in policy-run1.txt policy-run2.md mixture32-run1.txt mixture32-run2.md policy-readme.md mixture32-readme.md; do echo "== $f"; grep -E "^\| (DDPM|ASD)|^(DDPM|ASD)|ceiling|best fixed|against" $f | cut -c1-200; done
