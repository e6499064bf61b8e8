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
    assert re.search(r"^\(4000, 32\) \d+\.\d\dx 8 tasks$", r.stdout, re.M), r.stdout
    assert re.search(r"^8 shards, [0-9a-f]{12}$", r.stdout, re.M), r.stdout
    assert (tmp_path / "shards" / "manifest.json").is_file() and (tmp_path / "samples.zarr").is_dir()


def test_readme_scale_figures_are_the_ones_the_script_wrote():
    """README "How it scales" is docs/bench/distributed/scale.md as tools/distributed_scale.py last wrote it."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(ROOT, "docs", "bench", "distributed", "scale.md"), encoding="utf-8") as f:
        scale = f.read()
    block = re.search(r"<!-- distributed-scale[^>]*-->\n(.*?)<!-- /distributed-scale -->", readme, re.S)
    assert block, "the README's distributed-scale block is missing"
    assert block.group(1) == scale, "README differs from docs/bench/distributed/scale.md: rerun tools/distributed_scale.py"


def test_readme_has_no_placeholder_left():
    """A section whose text never came (README's "### Scale" held only SCALE_PLACEHOLDER from 2026-12-02 to 12-06)."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    left = re.findall(r"\b[A-Z][A-Z0-9_]*PLACEHOLDER\b|\bTODO\b|\bTBD\b|\bFIXME\b", readme)
    assert not left, f"README still holds {sorted(set(left))}"
