from __future__ import annotations

import importlib

import pytest


def test_proxyflow_is_a_namespace_package() -> None:
    proxyflow = importlib.import_module("proxyflow")
    assert getattr(proxyflow, "__file__", None) is None
    assert type(proxyflow.__path__).__name__ == "_NamespacePath"
    assert not isinstance(proxyflow.__path__, list)
    # several distributions contribute to it
    assert any("proxyflow-store" in p for p in proxyflow.__path__)


def test_shims_is_a_namespace_package() -> None:
    try:
        shims = importlib.import_module("proxyflow.shims")
    except ImportError:
        pytest.skip("no proxyflow.shims distribution installed")
    assert getattr(shims, "__file__", None) is None
    assert type(shims.__path__).__name__ == "_NamespacePath"


@pytest.mark.parametrize("leaf", ["proxy", "serialize", "store"])
def test_leaves_are_regular_packages(leaf: str) -> None:
    module = importlib.import_module(f"proxyflow.{leaf}")
    assert module.__file__ is not None
    assert module.__file__.endswith("__init__.py")
