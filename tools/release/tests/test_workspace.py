from __future__ import annotations

from pathlib import Path

import pytest
from fakerepo import FakeRepo
from packaging.version import Version
from proxyflow_release.errors import ReleaseError
from proxyflow_release.workspace import default_root, load_workspace


def test_discovers_every_package_from_its_pyproject(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    assert workspace.names == ("demo", "demo-api", "demo-core", "demo-testkit")
    core = workspace.get("demo-core")
    assert core.version == Version("0.1.0")
    assert core.leaves == ("demo/core",)
    assert [str(r) for r in core.requirements] == ["demo-api<0.2,>=0.1"]
    assert core.test_members == (workspace.get("demo-testkit").path,)
    assert core.test_requirements == ("pytest-timeout>=2.3",)
    assert core.tag() == "demo-core-v0.1.0"


def test_entry_points_include_console_scripts(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    assert workspace.get("demo-api").entry_points == {"demo.plugins": {"local": "demo.api:VALUE"}}
    assert workspace.get("demo").entry_points == {"console_scripts": {"demo": "demo.cli:main"}}
    assert [str(r) for r in workspace.get("demo").extras["all"]] == ["demo-api<0.2,>=0.1"]


def test_get_accepts_folder_and_short_names(fake_repo: FakeRepo) -> None:
    workspace = fake_repo.workspace()
    assert workspace.get("packages/demo-testkit/").name == "demo-testkit"
    assert workspace.get("Demo_Core").name == "demo-core"
    with pytest.raises(ReleaseError, match="the packages are: demo, demo-api"):
        workspace.get("nope")


def test_a_new_package_folder_is_found_without_any_list(fake_repo: FakeRepo) -> None:
    from fakerepo import add_package

    add_package(fake_repo, "demo-extra", "demo/extra")
    assert "demo-extra" in fake_repo.workspace().names


def test_refuses_a_wheel_without_only_include(fake_repo: FakeRepo) -> None:
    pyproject = fake_repo.root / "packages/demo-api/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('only-include = ["src/demo/api"]', ""))
    with pytest.raises(ReleaseError, match="only-include"):
        load_workspace(fake_repo.root)


def test_refuses_a_version_file_without_version(fake_repo: FakeRepo) -> None:
    (fake_repo.root / "packages/demo-api/src/demo/api/__about__.py").write_text("VERSION = 1\n")
    with pytest.raises(ReleaseError, match="__version__"):
        load_workspace(fake_repo.root)


def test_the_real_repository_is_discovered() -> None:
    workspace = load_workspace(default_root())
    assert {"proxyflow", "proxyflow-api", "proxyflow-stream"} <= set(workspace.names)
    for package in workspace.packages:
        assert package.path.parent == default_root() / "packages"
        assert package.leaves, package.name
        assert all(Path(package.path, "src", leaf, "py.typed").is_file() for leaf in package.leaves)
