# Sourced by test-stage scripts: counting and timing helpers. Set LOG (the stage's log folder) and NAME (how lines
# are prefixed) first. ok/bad count one check each; check NAME CMD... runs a command as one check (output to
# $LOG/checks.log); junit_counts FILE adds pytest's JUnit counts, a skipped test counted as a failure.
passed=0
failed=0
t_stage=0
t_all=$(date +%s.%N)
stage() { t_stage=$(date +%s.%N); printf '\n--- %s: %s\n' "$NAME" "$1"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
stage_end() { echo "--- $NAME: $1 took $(since "$t_stage") s"; }
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
check() {
  local name=$1; shift
  if "$@" >>"$LOG/checks.log" 2>&1; then ok "$name"; else bad "$name (see $LOG/checks.log)"; fi
}
junit_counts() {
  local xml=$1 pt pf
  if [ ! -f "$xml" ]; then bad "pytest produced no report ($xml)"; return; fi
  read -r pt pf <<<"$(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get(k, 0)) for s in suites for k in ("failures", "errors", "skipped"))
print(tests - bad, bad)
PY
)"
  passed=$((passed + pt))
  failed=$((failed + pf))
  echo "      pytest: $pt passed, $pf failed (skips count as failures)"
}
