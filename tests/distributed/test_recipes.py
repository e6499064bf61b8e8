"""
The README's recipes without Python on the workers: a Slurm array (docs/distributed/sample-shards.sbatch) and a
Kubernetes Indexed Job (docs/distributed/indexed-job.yaml). Each index's command runs here as the scheduler would
run it (the index in SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX), then `asd merge` joins the shards.
"""

import os
import subprocess

import numpy as np
import yaml

import asd

from conftest import ROOT

RECIPES = os.path.join(ROOT, "docs", "distributed")


def one_run():
    with asd.Model("builtin:mixture?dim=32", threads=1) as m:
        return m.sample(4096, steps=100, spec_len=8, seed=7)[0]


def merge(asd_cli, cwd, out, *inputs, check=True):
    r = subprocess.run(asd_cli + ["merge", "--out", out, "--chain-offset", "0", "--samples", "4096"] + list(inputs),
                       cwd=cwd, capture_output=True, text=True, timeout=120)
    assert not check or r.returncode == 0, r.stderr
    return r


def test_slurm_array_recipe(tmp_path, asd_cli):
    script = os.path.join(RECIPES, "sample-shards.sbatch")
    with open(script, encoding="utf-8") as f:
        text = f.read()
    assert "#SBATCH --array=0-3" in text
    for i in range(4):
        env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(i), ASD=" ".join(asd_cli))
        subprocess.run(["bash", script], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    assert sorted(os.listdir(tmp_path / "shards")) == sorted(
        [f"shard-{i}.npy" for i in range(4)] + [f"shard-{i}.npy.json" for i in range(4)])
    printed = merge(asd_cli, tmp_path, "all.npy", "shards/").stdout
    assert np.load(tmp_path / "all.npy").tobytes() == one_run().tobytes()
    # The README shows this merge's output.
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert printed.strip() in readme, printed
    # One index lost: asd merge names the missing chains and writes nothing.
    os.remove(tmp_path / "shards" / "shard-2.npy")
    r = merge(asd_cli, tmp_path, "bad.npy", "shards/", check=False)
    assert r.returncode == 2 and "Chains [2048, 3072) are missing" in r.stderr, r.stderr
    assert not (tmp_path / "bad.npy").exists()


def test_kubernetes_indexed_job_recipe(tmp_path, asd_cli):
    with open(os.path.join(RECIPES, "indexed-job.yaml"), encoding="utf-8") as f:
        job = yaml.safe_load(f)
    assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
    completions = job["spec"]["completions"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["bash", "-c"]
    (tmp_path / "shards").mkdir()
    for i in range(completions):
        env = dict(os.environ, JOB_COMPLETION_INDEX=str(i), ASD=" ".join(asd_cli), SHARDS=str(tmp_path / "shards"))
        subprocess.run(["bash", "-c", container["args"][0]], cwd=tmp_path, env=env, check=True, capture_output=True,
                       timeout=120)
    merge(asd_cli, tmp_path, "all.npy", "shards/")
    assert np.load(tmp_path / "all.npy").tobytes() == one_run().tobytes()
