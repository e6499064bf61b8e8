"""The README's "More than one machine" example runs as written (a LocalCluster of 2 worker processes)."""

import os
import re
import subprocess
import sys

from conftest import ROOT


def test_readme_distributed_example_runs(tmp_path):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    block = re.search(r"<!-- distributed-example[^>]*-->\n```python\n(.*?)```", readme, re.S)
    assert block, "the README's distributed example is missing"
    (tmp_path / "example.py").write_text(block.group(1))
    r = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"^\(10000, 32\) \d+\.\d\dx 10 tasks$", r.stdout, re.M), r.stdout
    assert re.search(r"^10 shards, [0-9a-f]{12}$", r.stdout, re.M), r.stdout
    assert (tmp_path / "shards" / "manifest.json").is_file() and (tmp_path / "samples.zarr").is_dir()
