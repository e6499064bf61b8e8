"""Clusters for tests/distributed: Dask LocalClusters of worker processes on the loopback interface only."""

import os
import shlex

import pytest
from distributed import Client, LocalCluster

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def local_cluster(workers):
    """A LocalCluster of `workers` processes with one thread each, listening on 127.0.0.1 only (dashboard too)."""
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=40)
    return cluster, Client(cluster, set_as_default=False)


def cluster_fixture(workers):
    """A session-wide client of a LocalCluster of `workers` worker processes."""
    @pytest.fixture(scope="session")
    def fixture():
        cluster, client = local_cluster(workers)
        client.wait_for_workers(workers, timeout=60)
        yield client
        client.close()
        cluster.close()
    return fixture


two_workers = cluster_fixture(2)
one_worker = cluster_fixture(1)


@pytest.fixture(scope="session")
def asd_cli():
    """The asd command (ASD_CLI, e.g. the AOT executable; else the Release build through dotnet), as an argv list."""
    cli = os.environ.get("ASD_CLI")
    if cli:
        return shlex.split(cli)
    dll = os.path.join(ROOT, "Asd.Cli", "bin", "Release", "net10.0", "asd.dll")
    assert os.path.isfile(dll), "set ASD_CLI or build Asd.Cli (dotnet build Asd.Cli -c Release)"
    return ["dotnet", dll]
