#!/usr/bin/env bash
# tools/fuzz/table.sh [DIR]: the campaign table of tools/fuzz/RESULTS.md (and the README) from the fuzzer_stats files
# kept in DIR (default tools/fuzz/campaigns/TARGET.fuzzer_stats); targets without a campaign are listed as not run.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dir=${1:-tools/fuzz/campaigns}
echo "| target | parser | run time | executions | execs/s | paths found | edges | crashes | hangs |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for t in $(tools/fuzz/run.sh --list); do
  case $t in
    mlp-json) what='asd-mlp JSON (`MlpModel.Parse`)' ;;
    safetensors) what='safetensors (`SafeTensorsFile.Parse` + every tensor read)' ;;
    npy) what='`.npy` (`Npy.Parse`)' ;;
    onnx-unet1d) what='ONNX ConditionalUnet1D exports (`Unet1dOnnx.Import`: protobuf, graph walk, model)' ;;
    scheduler-config) what='`scheduler_config.json` (+ schedule and plan)' ;;
    asd-json) what='`asd.json` (`OnnxIoConfig.Parse`)' ;;
    cost-curve) what='cost curves (`CostCurve.Parse` + ratios)' ;;
    model-spec) what='model specs (`ModelCatalog.ParseBuiltin`)' ;;
    cond-list) what='`--cond` lists (`SampleCommand.ReadConditioning`)' ;;
    unet1d-json) what='asd-unet1d JSON (`Unet1dModel.Parse` against a fixture'"'"'s tensors)' ;;
    shard-manifest) what='shard manifests (`ShardManifest.Parse`, tiling, `MergeStats`)' ;;
  esac
  f=$dir/$t.fuzzer_stats
  if [ ! -f "$f" ]; then
    echo "| $t | $what | not run yet | | | | | | |"
    continue
  fi
  v() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$f"; }
  rt=$(v run_time)
  printf '| %s | %s | %d min %02d s | %s | %.0f | %s | %s | %s | %s |\n' "$t" "$what" $((rt / 60)) $((rt % 60)) \
    "$(v execs_done | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')" "$(v execs_per_sec)" "$(v corpus_count)" "$(v edges_found)" \
    "$(v saved_crashes)" "$(v saved_hangs)"
done
