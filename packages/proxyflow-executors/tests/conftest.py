"""Fixtures of the executors' tests: pools, a file store and a local Dask cluster."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

# Workers (spawned processes, Dask workers) import the task module by name.
sys.path.insert(0, str(Path(__file__).parent))

from pfx_support import SPAWN


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


@pytest.fixture(scope="module")
def processes() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        yield pool


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Any]:
    from proxyflow.connectors.file import FileConnector
    from proxyflow.store import Store, register_store, unregister_store

    store = Store(f"pfx-{uuid.uuid4().hex[:8]}", FileConnector(tmp_path / "objects"), metrics=True)
    register_store(store)
    yield store
    unregister_store(store.name)
    store.close()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A client of a real local Dask cluster: 2 worker processes, 1 thread each."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        yield client
