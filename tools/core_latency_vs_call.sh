#!/usr/bin/env bash
# Does one ONNX Runtime call on 2 intra-op threads follow the latency between the VM's two vCPUs? Each round measures
# the core-to-core cache-line transfer (tools/core_pingpong.c), then DDPM's request on the 28x28 UNet fixture with 2
# intra-op threads (`asd bench --spec-lens 1`, 5 repeats), then the transfer again. On the project VM the hypervisor
# places the two vCPUs in one core complex (one L3, ~30-40 ns) or in two (~160-180 ns), and that changes from one
# minute, or one process, to the next.
# Usage: tools/core_latency_vs_call.sh [ROUNDS] > FILE
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
dotnet build -c Release Asd.Cli -v q -nologo > /dev/null
mkdir -p artifacts
gcc -O2 -pthread -o artifacts/core_pingpong tools/core_pingpong.c
ns() { artifacts/core_pingpong | tail -1 | grep -o '[0-9]* ns'; }
echo "machine: $(dotnet Asd.Cli/bin/Release/net10.0/asd.dll info | sed -n 's/^machine *//p'); $(git rev-parse --short HEAD)"
for _ in $(seq "$rounds"); do
  before=$(ns)
  ddpm=$(dotnet Asd.Cli/bin/Release/net10.0/asd.dll bench --model tests/fixtures/onnx/unet28 --threads 2 --spec-lens 1 \
    --repeats 5 2>&1 | awk '/^DDPM  /{print $5}')
  after=$(ns)
  echo "$(date -u +%FT%TZ)  vCPU 0 <-> 1 transfer before ${before}, after ${after}  DDPM request ${ddpm} ms"
done
