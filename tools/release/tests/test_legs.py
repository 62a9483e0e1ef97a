"""Fresh-environment installs: the wheelhouse smoke test and the released-siblings leg.

These make real virtual environments and install the fake packages' wheels with pip
(and pytest from the package index for the leg).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakerepo import FakeRepo
from proxyflow_release.build import build_all
from proxyflow_release.errors import ReleaseError
from proxyflow_release.prepare import prepare
from proxyflow_release.provenance import provenance_problems
from proxyflow_release.siblings import run_leg
from proxyflow_release.smoke import default_targets, smoke
from proxyflow_release.venvs import create_venv

pytestmark = pytest.mark.timeout(300)


def test_smoke_installs_exactly_the_target_and_its_requirements(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    wheelhouse = fake_repo.root / "dist" / "wheelhouse"
    build_all(workspace, wheelhouse, ("wheel",), isolated=False, log=lambda _: None)
    assert default_targets(workspace) == [
        "demo",
        "demo[all]",
        "demo-api",
        "demo-core",
        "demo-testkit",
    ]
    lines: list[str] = []
    results = smoke(
        workspace,
        wheelhouse,
        ["demo[all]", "demo-core"],
        fake_repo.root / "dist" / "smoke",
        lines.append,
    )
    assert results == {"demo[all]": [], "demo-core": []}
    assert lines[0] == f"ok   pip install --find-links {wheelhouse} 'demo[all]'"


def test_provenance_rejects_an_editable_install(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    wheelhouse = fake_repo.root / "dist" / "wheelhouse"
    build_all(workspace, wheelhouse, ("wheel",), isolated=False, log=lambda _: None)
    venv = create_venv(fake_repo.root / "dist" / "editable")
    venv.pip_install("-e", str(workspace.get("demo-api").path))
    wheel = wheelhouse / "demo_api-0.1.0-py3-none-any.whl"
    (problem,) = provenance_problems(workspace, venv, {"demo-api": wheel}, ["demo-api"])
    assert problem.startswith("demo-api: demo/api/__about__.py is not the wheel's")
    problems = provenance_problems(workspace, venv, {"demo-api": wheel}, ["demo-api", "demo-core"])
    assert (
        problems[0] == "installed workspace packages differ: unexpected [], missing ['demo-core']"
    )


def test_leg_fails_when_a_package_needs_an_unreleased_change_of_a_sibling(
    fake_repo: FakeRepo, tmp_path: Path
) -> None:
    # Release demo-api and demo-testkit, then change demo-api without releasing it and
    # make demo-core depend on that change.
    for name in ("demo-api", "demo-testkit"):
        prepare(fake_repo.workspace(), name, "patch", log=lambda _: None)
    fake_repo.write("packages/demo-api/src/demo/api/__init__.py", "VALUE = 1\nNEW = 5\n")
    fake_repo.write(
        "packages/demo-core/src/demo/core/__init__.py",
        "from demo.api import NEW, VALUE\n\nDOUBLE = VALUE * 2\n",
    )
    pyproject = fake_repo.root / "packages/demo-core/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("demo-api>=0.1,<0.2", "demo-api>=0.1.1,<0.2")
    )
    fake_repo.commit_all("api, core: an unreleased feature and its use")
    workspace = fake_repo.workspace()

    lines: list[str] = []
    status = run_leg(
        workspace,
        "demo-core",
        tmp_path / "released",
        pytest_args=["-q", "-p", "no:randomly"],
        log=lines.append,
    )
    assert status != 0
    assert "cannot import name 'NEW' from 'demo.api'" in lines[-1]  # not in the release
    assert "demo-api demo_api-0.1.1-py3-none-any.whl: tag demo-api-v0.1.1" in lines
    assert "demo-testkit demo_testkit-0.1.1-py3-none-any.whl: tag demo-testkit-v0.1.1" in lines

    assert (
        run_leg(workspace, "demo-core", tmp_path / "tree", source="tree", log=lambda _: None) == 0
    )


def test_leg_refuses_a_sibling_below_the_required_range(
    fake_repo: FakeRepo, tmp_path: Path
) -> None:
    pyproject = fake_repo.root / "packages/demo-core/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("demo-api>=0.1,<0.2", "demo-api>=0.2,<0.3"))
    fake_repo.commit_all("core: require an unreleased demo-api")
    with pytest.raises(ReleaseError, match=r"pip install .* failed"):
        run_leg(fake_repo.workspace(), "demo-core", tmp_path / "leg", log=lambda _: None)
