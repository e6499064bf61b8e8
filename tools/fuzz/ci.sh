#!/usr/bin/env bash
# The CI stage of the fuzzing (issue 13): builds the SharpFuzz-instrumented harness, replays every regression
# reproducer (tools/fuzz/regressions/TARGET/*) and seed through its target, then runs afl-fuzz on each target for
# ASD_FUZZ_SMOKE_SECONDS (default 10) seconds. One check per replayed file and per target run (a target passes when
# afl-fuzz ran it, executed inputs and saved no crash and no hang). Last line: "FUZZ_SMOKE_SUMMARY <passed> <failed>".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
LOG=${ASD_CI_LOGS:-$ROOT/artifacts/ci}/fuzz
mkdir -p "$LOG"
passed=0
failed=0
seconds=${ASD_FUZZ_SMOKE_SECONDS:-10}
source "$ROOT/tests/lib/need_apt.sh"
need_apt "$LOG/apt.log" afl++
t0=$(date +%s)
if ! tools/fuzz/run.sh --build >"$LOG/build.log" 2>&1; then
  echo "FAIL  building the instrumented fuzz harness (see $LOG/build.log and artifacts/fuzz/build.log)"
  echo "FUZZ_SMOKE_SUMMARY 0 1"
  exit 0
fi
echo "      harness built and instrumented ($(( $(date +%s) - t0 )) s)"
for target in $(tools/fuzz/run.sh --list); do
  files=(tools/fuzz/seeds/"$target"/*)
  [ -d "tools/fuzz/regressions/$target" ] && files+=(tools/fuzz/regressions/"$target"/*)
  tools/fuzz/run.sh --replay "$target" "${files[@]}" >"$LOG/replay-$target.out" 2>&1
  line=$(grep -E "^REPLAY $target [0-9]+ [0-9]+$" "$LOG/replay-$target.out" | tail -n 1)
  if [ -n "$line" ]; then
    read -r _ _ p f <<<"$line"
    passed=$((passed + p)); failed=$((failed + f))
    [ "$f" -gt 0 ] && grep -A 8 '^CRASH' "$LOG/replay-$target.out" | head -n 30
  else
    failed=$((failed + 1)); echo "FAIL  replay of $target printed no summary (see $LOG/replay-$target.out)"
  fi
done
echo "      replayed seeds and regression reproducers: $passed ok, $failed failed"
for target in $(tools/fuzz/run.sh --list); do
  tools/fuzz/run.sh "$target" "$seconds" "$ROOT/artifacts/fuzz/ci-$target" >"$LOG/smoke-$target.out" 2>&1
  rc=$?
  line=$(grep -E '^FUZZ ' "$LOG/smoke-$target.out" | tail -n 1)
  execs=$(sed -nE 's/.* execs=([0-9]+).*/\1/p' <<<"$line")
  if [ $rc -eq 0 ] && [ "${execs:-0}" -gt 0 ]; then
    passed=$((passed + 1)); echo "ok    $line"
  else
    # CI keeps the log's tail and its FAIL lines, not the crashing input: the FAIL line itself names the first
    # crash's exception and the project's frame that threw it, so the report alone says where to look.
    first=$(awk '/^CRASH/ { sub(/^CRASH +[^ ]+ [^ ]+: /, ""); e = $0; next } e != "" && /^ +at Asd\./ { sub(/^ +/, ""); print e " " $0; exit }' "$LOG/smoke-$target.out" | cut -c1-400)
    failed=$((failed + 1)); echo "FAIL  ${line:-fuzz $target: no result}${first:+ first crash: $first} (see $LOG/smoke-$target.out)"
    tail -n 20 "$LOG/smoke-$target.out"
  fi
done
echo "FUZZ_SMOKE_SUMMARY $passed $failed"
