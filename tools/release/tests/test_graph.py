from __future__ import annotations

import pytest
from fakerepo import FakeRepo
from proxyflow_release.graph import (
    changes,
    closure_for_tests,
    dependents,
    runtime_closure,
    topological_order,
)
from proxyflow_release.workspace import default_root, load_workspace


def test_runtime_closure_follows_requirements_and_extras(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    assert runtime_closure(workspace, "demo-core") == {"demo-core", "demo-api"}
    assert runtime_closure(workspace, "demo") == {"demo", "demo-core", "demo-api"}
    assert runtime_closure(workspace, "demo-testkit") == {"demo-testkit"}


def test_test_closure_adds_the_hatch_test_members(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    assert closure_for_tests(workspace, "demo-core") == {"demo-core", "demo-api", "demo-testkit"}
    assert dependents(workspace, ["demo-testkit"]) == {"demo-testkit", "demo-core", "demo"}


@pytest.mark.parametrize(
    ("paths", "affected", "everything"),
    [
        (["packages/demo-api/src/demo/api/__init__.py"], {"demo-api", "demo-core", "demo"}, False),
        (["packages/demo/README.md"], {"demo"}, False),
        (["docs/index.md", "README.md", "tests-integration/test_x.py"], set(), False),
        (["hatch.toml"], {"demo", "demo-api", "demo-core", "demo-testkit"}, True),
        (
            ["tools/release/proxyflow_release/cli.py"],
            {"demo", "demo-api", "demo-core", "demo-testkit"},
            True,
        ),
        (
            ["packages/demo-new/pyproject.toml"],
            {"demo", "demo-api", "demo-core", "demo-testkit"},
            True,
        ),
    ],
)
def test_changed_paths_map_to_packages_and_their_dependents(
    fake_repo: FakeRepo, paths: list[str], affected: set[str], everything: bool
) -> None:
    change = changes(fake_repo.workspace(), paths)
    assert change.affected == affected
    assert change.everything is everything


def test_topological_order_puts_dependencies_first(fake_repo: FakeRepo) -> None:
    order = topological_order(fake_repo.workspace())
    assert order.index("demo-api") < order.index("demo-core") < order.index("demo")


def test_real_repository_graph_reruns_dependents_of_a_changed_store() -> None:
    workspace = load_workspace(default_root())
    change = changes(workspace, ["packages/proxyflow-store/src/proxyflow/store/store.py"])
    assert {"proxyflow-store", "proxyflow-stream", "proxyflow"} <= change.affected
    assert "proxyflow-shim-zmq" not in change.affected
    order = topological_order(workspace)
    assert order.index("proxyflow-store") < order.index("proxyflow-stream")


def test_runtime_closure_ends_on_a_cycle_through_extras(fake_repo: FakeRepo) -> None:
    pyproject = fake_repo.root / "packages/demo-api/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[project.optional-dependencies]\n",
            '[project.optional-dependencies]\nfull = ["demo[all]>=0.1,<0.2"]\n',
        )
    )
    meta = fake_repo.root / "packages/demo/pyproject.toml"
    meta.write_text(meta.read_text().replace('all = ["demo-api>=', 'all = ["demo-api[full]>='))
    workspace = fake_repo.workspace()
    assert runtime_closure(workspace, "demo", ["all"]) == {"demo", "demo-core", "demo-api"}
    assert runtime_closure(workspace, "demo-api", ["full"]) == {"demo", "demo-core", "demo-api"}
