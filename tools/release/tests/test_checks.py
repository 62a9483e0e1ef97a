from __future__ import annotations

import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
from fakerepo import FakeRepo
from proxyflow_release.build import artifacts_in, build_all
from proxyflow_release.checks import check_distributions, check_wheel
from proxyflow_release.errors import ReleaseError
from proxyflow_release.wheels import read_wheel
from proxyflow_release.workspace import Workspace


def _build(fake_repo: FakeRepo) -> tuple[Workspace, Path]:
    workspace = fake_repo.workspace()
    out = fake_repo.root / "dist" / "wheelhouse"
    build_all(workspace, out, isolated=False, log=lambda _: None)
    return workspace, out


def _rewrite_wheel(wheel: Path, *, drop: str = "", add: dict[str, str] | None = None) -> None:
    copy = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            if info.filename != drop:
                target.writestr(info, source.read(info))
        for name, text in (add or {}).items():
            target.writestr(name, text)
    copy.replace(wheel)


def test_well_formed_distributions_pass_every_check(fake_repo: FakeRepo) -> None:
    workspace, out = _build(fake_repo)
    assert sorted(p.name for p in out.iterdir()) == [
        "demo-0.1.0-py3-none-any.whl",
        "demo-0.1.0.tar.gz",
        "demo_api-0.1.0-py3-none-any.whl",
        "demo_api-0.1.0.tar.gz",
        "demo_core-0.1.0-py3-none-any.whl",
        "demo_core-0.1.0.tar.gz",
        "demo_testkit-0.1.0-py3-none-any.whl",
        "demo_testkit-0.1.0.tar.gz",
    ]
    lines: list[str] = []
    assert (
        check_distributions(workspace, out, fake_repo.root / "dist" / "work", log=lines.append)
        == []
    )
    assert lines == [
        "ok   demo 0.1.0",
        "ok   demo-api 0.1.0",
        "ok   demo-core 0.1.0",
        "ok   demo-testkit 0.1.0",
    ]


def test_a_stray_namespace_init_and_a_missing_py_typed_are_reported(fake_repo: FakeRepo) -> None:
    workspace, out = _build(fake_repo)
    package = workspace.get("demo-testkit")
    wheel = artifacts_in(package, out).wheel
    assert wheel is not None
    _rewrite_wheel(
        wheel,
        drop="demo/plugins/kit/py.typed",
        add={"demo/plugins/__init__.py": "", "other/thing.py": ""},
    )
    problems = check_wheel(package, read_wheel(wheel))
    assert "the wheel has no demo/plugins/kit/py.typed" in problems
    assert "demo/plugins/__init__.py breaks the PEP 420 namespace demo/plugins" in problems
    assert any(p.startswith("other/thing.py lies outside") for p in problems)


def test_entry_points_must_match_the_pyproject(fake_repo: FakeRepo) -> None:
    workspace, out = _build(fake_repo)
    package = workspace.get("demo-api")
    wheel = artifacts_in(package, out).wheel
    assert wheel is not None
    contents = read_wheel(wheel)
    assert contents.entry_points == {"demo.plugins": {"local": "demo.api:VALUE"}}
    _rewrite_wheel(wheel, drop=f"{contents.dist_info}/entry_points.txt")
    (problem,) = check_wheel(package, read_wheel(wheel))
    assert problem.startswith("entry points are {}, the pyproject declares")
    script = read_wheel(artifacts_in(workspace.get("demo"), out).wheel or Path())
    assert script.entry_points == {"console_scripts": {"demo": "demo.cli:main"}}


def test_metadata_requirements_are_compared(fake_repo: FakeRepo) -> None:
    _, out = _build(fake_repo)
    pyproject = fake_repo.root / "packages/demo-core/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("demo-api>=0.1,<0.2", "demo-api>=0.1,<0.3"))
    changed = fake_repo.workspace().get("demo-core")
    wheel = artifacts_in(changed, out).wheel
    assert wheel is not None
    problems = check_wheel(changed, read_wheel(wheel))
    assert "METADATA lacks the requirement demo-api<0.3,>=0.1 (extra None)" in problems
    assert "METADATA has an unexpected requirement demo-api<0.2,>=0.1 (extra None)" in problems


def test_an_sdist_that_builds_a_different_wheel_is_reported(
    fake_repo: FakeRepo, tmp_path: Path
) -> None:
    workspace, out = _build(fake_repo)
    sdist = artifacts_in(workspace.get("demo-core"), out).sdist
    assert sdist is not None
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as tar:
        tar.extractall(unpacked, filter="data")
    root = unpacked / "demo_core-0.1.0"
    (root / "src/demo/core/__init__.py").write_text("DOUBLE = 3\n")
    (root / "src/demo/core/extra.py").write_text("")
    sdist.unlink()
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    findings = check_distributions(
        workspace, out, tmp_path / "work", twine=False, log=lambda _: None
    )
    assert [str(f) for f in findings] == [
        "demo-core: the wheel built from the sdist has an extra demo/core/extra.py",
        "demo-core: demo/core/__init__.py differs in the wheel built from the sdist",
    ]


def test_twine_rejects_broken_metadata(fake_repo: FakeRepo) -> None:
    workspace, out = _build(fake_repo)
    package = workspace.get("demo-api")
    wheel = artifacts_in(package, out).wheel
    assert wheel is not None
    contents = read_wheel(wheel)
    metadata = f"{contents.dist_info}/METADATA"
    with zipfile.ZipFile(wheel) as source:
        text = source.read(metadata).decode().replace("Name: demo-api\n", "")
    _rewrite_wheel(wheel, drop=metadata, add={metadata: text})
    findings = check_distributions(
        workspace, out, fake_repo.root / "dist" / "work", log=lambda _: None
    )
    assert any(f.package == "demo-api" and "Name" in f.message for f in findings)


def test_a_missing_distribution_is_an_error(fake_repo: FakeRepo) -> None:
    workspace, out = _build(fake_repo)
    shutil.rmtree(out)
    out.mkdir()
    with pytest.raises(ReleaseError, match=r"lacks the wheel or sdist of demo 0\.1\.0"):
        check_distributions(workspace, out, fake_repo.root / "dist" / "work", log=lambda _: None)


def test_a_rebuild_removes_only_old_distributions(fake_repo: FakeRepo) -> None:
    _, out = _build(fake_repo)
    (out / "demo-0.0.1-py3-none-any.whl").write_text("stale")
    (out / "keep.txt").write_text("not ours to delete")
    _build(fake_repo)
    assert not (out / "demo-0.0.1-py3-none-any.whl").exists()
    assert (out / "keep.txt").read_text() == "not ours to delete"
    assert len(list(out.glob("*.whl"))) == 4
