#!/usr/bin/env bash
# Mutation study with Stryker.NET (the local tool in .config/dotnet-tools.json) over the ASD sampler, the reflection
# coupling, the noise keys (Asd.Native/Sampling) and the counter RNG and row kernels (Asd.Simd). Too slow for CI.
#   tools/mutation/run.sh [native|simd|all] [extra dotnet-stryker arguments, e.g. -m '**/Sampling/Noise.cs']
# Reports: artifacts/mutation/<target>/reports/mutation-report.{json,html}; tools/mutation/RESULTS.md records a run.
# The tests it runs (TEST_FILTER): the exact tests (randomness contract, bit identity, determinism, golden, row ops, the draft decision,
# counter RNG, automatic length, bad input, allocations) and the null form of the statistical properties that take
# seconds (7a law and rate, 7c broad). The negative controls are left out: they run broken variants on purpose. The
# minute-long nulls (7c hard, 7d, 7h) are run by hand on the survivors (RESULTS.md says which).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
target=${1:-all}
shift || true
TEST_FILTER=${TEST_FILTER:-'FullyQualifiedName~RandomnessContractTests.Every|FullyQualifiedName~RandomnessContractTests.CounterRng|FullyQualifiedName~BitIdentityTests|FullyQualifiedName~DeterminismTests|FullyQualifiedName~GoldenTests|FullyQualifiedName~RowOpsTests|FullyQualifiedName~ReflectionCouplingTests|FullyQualifiedName~AsdBookkeepingTests|FullyQualifiedName~DenoiserConstraintTests|FullyQualifiedName~OnlineCostTests|FullyQualifiedName~RandomTests.Philox|FullyQualifiedName~RandomTests.Draws|FullyQualifiedName~RandomTests.Gaussians|FullyQualifiedName~RandomTests.Uniforms|FullyQualifiedName~AutoSpeculationTests|FullyQualifiedName~BadInputTests|FullyQualifiedName~AllocationTests|FullyQualifiedName~RejectionSamplerTests.OutputLawIsTheTarget|FullyQualifiedName~RejectionSamplerTests.AcceptanceRateIsOneMinusTotalVariation|DisplayName~AsdHasTheDdpmLaw\(hard: False\)'}
dotnet tool restore >/dev/null
run() { # name, config, extra arguments
  local out=$ROOT/artifacts/mutation/$1 config=$2
  shift 2
  mkdir -p "$out"
  # Stryker's project analysis (Buildalyzer) gives up with "Could not find build environment" when `dotnet --info`
  # is slow, as on a loaded machine: try again, up to three times.
  for attempt in 1 2 3; do
    (cd "$ROOT/tests/Asd.Tests" && dotnet dotnet-stryker --config-file "$ROOT/tools/mutation/$config" --test-case-filter "$TEST_FILTER" \
      --output "$out" "$@") 2>&1 | tee "$out/stryker.log" || true
    grep -q 'Could not find build environment' "$out/stryker.log" || return 0
    echo "attempt $attempt: Stryker could not analyse the projects; retrying"
  done
  return 1
}
case $target in
  native) run native stryker-native.json "$@" ;;
  simd) run simd stryker-simd.json "$@" ;;
  all) run native stryker-native.json "$@"; run simd stryker-simd.json "$@" ;;
  *) echo "usage: $0 [native|simd|all] [dotnet-stryker arguments]" >&2; exit 2 ;;
esac
