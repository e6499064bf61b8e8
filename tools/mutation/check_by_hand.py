# Mutant schemata by hand: the mutants of tools/mutation/RESULTS.md that Stryker reported as Timeout on a loaded
# machine (not as Killed) are compiled into one scratch build (a clone of this repository's HEAD in /tmp/asd-mutants),
# each switched on by ASD_MUTANT=k, and the tests meant to kill each are run. Usage: python3 tools/mutation/check_by_hand.py
import subprocess, os, sys
root = subprocess.run(['git', 'rev-parse', '--show-toplevel'], cwd=os.path.dirname(os.path.abspath(__file__)), capture_output=True, text=True, check=True).stdout.strip()
work = '/tmp/asd-mutants'
subprocess.run(['rm', '-rf', work])
subprocess.run(['git', 'clone', '-q', root, work], check=True)
p = os.path.join(work, 'Asd.Native/Sampling/AsdSampler.cs')
s = open(p).read()
M = [
 (1, 'CheckFinite(m) removed', 'CheckFinite(m, c, _step[c]);', 'if (Mutant != 1) { CheckFinite(m, c, _step[c]); }', 'FullyQualifiedName~BadInputTests.NonFinite'),
 (2, 'CheckFinite(mNew) removed', 'CheckFinite(mNew, c, i + q);', 'if (Mutant != 2) { CheckFinite(mNew, c, Mutant == 3 ? i - q : i + q); }', 'FullyQualifiedName~BadInputTests.NonFinite'),
 (3, 'CheckFinite(mNew) names step i - q', None, None, 'FullyQualifiedName~BadInputTests.NonFinite'),
 (4, 'start = 0 always', 'long start = learner is null ? 0 : Clock.GetTimestamp();', 'long start = (Mutant == 4 || learner is null) ? 0 : Clock.GetTimestamp();', 'FullyQualifiedName~OnlineCostTests'),
 (5, 'timing * frequency', '(Clock.GetTimestamp() - start) / (double)Clock.TimestampFrequency', '(Mutant == 5 ? (Clock.GetTimestamp() - start) * (double)Clock.TimestampFrequency : Mutant == 6 ? (Clock.GetTimestamp() + start) / (double)Clock.TimestampFrequency : (Clock.GetTimestamp() - start) / (double)Clock.TimestampFrequency)', 'FullyQualifiedName~OnlineCostTests'),
 (6, 'timing now + start', None, None, 'FullyQualifiedName~OnlineCostTests'),
 (7, 'ExploredRounds = 0', '_auto?.ExploredRounds ?? 0;', '(Mutant == 7 ? 0 : _auto?.ExploredRounds ?? 0);', 'FullyQualifiedName~OnlineCostTests'),
]
for k, name, old, new, flt in M:
    if old is None: continue
    assert s.count(old) == 1, name
    s = s.replace(old, new)
s = s.replace('public sealed class AsdSampler : Sampler\n{', 'public sealed class AsdSampler : Sampler\n{\n    private static readonly int Mutant = int.Parse(Environment.GetEnvironmentVariable("ASD_MUTANT") ?? "0");\n', 1)
open(p, 'w').write(s)
b = subprocess.run(['dotnet', 'build', '-c', 'Release', 'tests/Asd.Tests'], cwd=work, capture_output=True, text=True)
if b.returncode: print(b.stdout[-2000:]); sys.exit(1)
bad = 0
for k, name, old, new, flt in [(0, 'no mutant (control)', None, None, 'FullyQualifiedName~BadInputTests.NonFinite|FullyQualifiedName~OnlineCostTests')] + M:
    t = subprocess.run(['dotnet', 'test', '-c', 'Release', '--no-build', 'tests/Asd.Tests', '--filter', flt], cwd=work, capture_output=True, text=True, env={**os.environ, 'ASD_MUTANT': str(k)})
    summary = [l.strip() for l in t.stdout.splitlines() if 'Passed!' in l or 'Failed!' in l]
    failed = [l.strip() for l in t.stdout.splitlines() if l.strip().startswith('Failed ')]
    print(f'{k} {name}: {"tests fail (killed)" if t.returncode else "tests pass"} | {summary} {failed[:3]}', flush=True)
    bad += (t.returncode == 0) == (k != 0)  # a mutant must fail its tests; the unmutated build must pass them
sys.exit(1 if bad else 0)
