#!/usr/bin/env python3
"""Rebuilds chosen Asd.Simd mutants by hand and runs the test meant to kill each one (tools/mutation/RESULTS.md).

Stryker's "timeout" is no verdict on a machine shared with other jobs (an equivalent mutant can time out as well), so
each non-equivalent mutant of the simd target that Stryker left timed out is applied here as a plain source edit, the
test project rebuilt, and its test filter run: "killed" means the filter failed. Last, the unmutated build must pass
the same filters (the control). Run from the repository root in a scratch clone (it edits sources, then restores them):
  git clone . /tmp/byhand && cd /tmp/byhand && python3 tools/mutation/check_simd_by_hand.py
"""
import subprocess

ROWOPS = "Asd.Simd/Kernels/RowOps.cs"
CHECKS_OF_REFLECT = ("        CheckSameLength(n, p.Length, nameof(p));\n        CheckSameLength(n, q.Length, nameof(q));\n"
                     "        CheckSameLength(n, destination.Length, nameof(destination));\n        if (!(uDotU > 0))")
LENGTHS = "FullyQualifiedName~RowOpsTests"
# (line in the Stryker run of 2026-12-03, file, what, the text it replaces, the replacement, the test filter)
MUTANTS = [
    (189, ROWOPS, "drop the check of p", CHECKS_OF_REFLECT, CHECKS_OF_REFLECT.replace("        CheckSameLength(n, p.Length, nameof(p));\n", "        ;\n"), LENGTHS),
    (190, ROWOPS, "drop the check of q", CHECKS_OF_REFLECT, CHECKS_OF_REFLECT.replace("        CheckSameLength(n, q.Length, nameof(q));\n", "        ;\n"), LENGTHS),
    (191, ROWOPS, "drop the check of destination", CHECKS_OF_REFLECT,
     CHECKS_OF_REFLECT.replace("        CheckSameLength(n, destination.Length, nameof(destination));\n", "        ;\n"), LENGTHS),
    (192, ROWOPS, "uDotU >= 0", "if (!(uDotU > 0))", "if (!(uDotU >= 0))", LENGTHS),
    (179, ROWOPS, "LaneSum l[2] - l[6]", "(l[2] + l[6])", "(l[2] - l[6])", LENGTHS),
    (179, ROWOPS, "LaneSum l[3] - l[7]", "(l[3] + l[7])", "(l[3] - l[7])", LENGTHS),
]


def sh(command):
    return subprocess.run(command, shell=True, capture_output=True, text=True)


def run(test_filter):
    if sh("dotnet build tests/Asd.Tests -c Release -nologo -v:q").returncode != 0:
        return "build failed"
    out = sh(f"dotnet test tests/Asd.Tests -c Release --no-build --filter '{test_filter}'").stdout
    return "passed" if "Passed!" in out else "FAILED"


for line, path, what, old, new, test_filter in MUTANTS:
    original = open(path, encoding="utf-8").read()
    assert original.count(old) == 1, (line, what)
    open(path, "w", encoding="utf-8").write(original.replace(old, new))
    try:
        verdict = run(test_filter)
    finally:
        open(path, "w", encoding="utf-8").write(original)
    print(f"{path}:{line} {what}: tests {verdict} -> {'killed' if verdict == 'FAILED' else 'NOT KILLED'}", flush=True)
control = run("|".join(sorted({m[5] for m in MUTANTS})))
print(f"unmutated: tests {control} -> {'control ok' if control == 'passed' else 'CONTROL FAILED'}", flush=True)
