"""Run every ``>>>`` example in the docstrings of every proxyflow module.

The modules are imported by their dotted names (``pkgutil`` over the
``proxyflow`` namespace), which avoids pytest's file-based doctest collection:
it would import ``proxyflow/connectors/redis.py`` as a top-level ``redis``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import proxyflow
import proxyflow.shims

# Modules whose import needs something the test environment may lack.
OPTIONAL = ("proxyflow_bench",)


def _modules() -> list[str]:
    # pkgutil does not descend into namespace folders (no __init__.py): walk
    # proxyflow.shims on its own.
    names = []
    for namespace in (proxyflow, proxyflow.shims):
        prefix = namespace.__name__ + "."
        for info in pkgutil.walk_packages(namespace.__path__, prefix=prefix):
            if info.name.endswith("__main__") or any(o in info.name for o in OPTIONAL):
                continue
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


def test_every_distribution_contributes_modules() -> None:
    leaves = {name.split(".")[1] for name in MODULES}
    assert {"proxy", "serialize", "store", "connectors", "stream", "shims", "testing", "cli"} <= (
        leaves
    )


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
