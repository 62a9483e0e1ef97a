from __future__ import annotations

import datetime as dt

import pytest
from fakerepo import FakeRepo
from packaging.version import Version
from proxyflow_release.errors import ReleaseError
from proxyflow_release.gitrepo import GitRepo
from proxyflow_release.prepare import bumped, prepare
from proxyflow_release.releases import find_release, missing_tags

DAY = dt.date(2026, 11, 30)


@pytest.mark.parametrize(
    ("part", "expected"), [("patch", "0.1.1"), ("minor", "0.2.0"), ("major", "1.0.0")]
)
def test_bumped(part: str, expected: str) -> None:
    assert bumped(Version("0.1.0"), part) == Version(expected)


def test_prepare_bumps_dates_commits_and_tags(fake_repo: FakeRepo) -> None:
    lines: list[str] = []
    plan = prepare(
        fake_repo.workspace(), "packages/demo-testkit", "patch", date=DAY, log=lines.append
    )
    assert plan.new_version == Version("0.1.1")
    workspace = fake_repo.workspace()
    testkit = workspace.get("demo-testkit")
    assert testkit.version == Version("0.1.1")
    text = testkit.changelog.read_text()
    assert "## Unreleased\n\n## 0.1.1 - 2026-11-30\n\n- First version of demo-testkit.\n" in text
    assert (
        fake_repo.git("log", "-1", "--format=%s").strip()
        == "demo-testkit: release demo-testkit 0.1.1"
    )
    assert fake_repo.git("show", "--name-only", "--format=", "HEAD").split() == [
        "packages/demo-testkit/CHANGELOG.md",
        "packages/demo-testkit/src/demo/plugins/kit/__about__.py",
    ]
    repo = GitRepo(fake_repo.root)
    assert repo.tag_commit("demo-testkit-v0.1.1") == repo.head()
    assert repo.dirty_paths() == []
    assert any("tagged demo-testkit-v0.1.1" in line for line in lines)


def test_a_second_run_refuses_an_empty_unreleased_section(fake_repo: FakeRepo) -> None:
    prepare(fake_repo.workspace(), "demo-testkit", "patch", date=DAY, log=lambda _: None)
    head = GitRepo(fake_repo.root).head()
    with pytest.raises(ReleaseError, match="nothing to release"):
        prepare(fake_repo.workspace(), "demo-testkit", "patch", date=DAY, log=lambda _: None)
    assert GitRepo(fake_repo.root).head() == head


def test_a_dirty_tree_is_refused_and_left_alone(fake_repo: FakeRepo) -> None:
    fake_repo.write("notes.txt", "wip\n")
    with pytest.raises(ReleaseError, match=r"uncommitted changes \(notes\.txt\)"):
        prepare(fake_repo.workspace(), "demo-testkit", "patch", log=lambda _: None)
    assert fake_repo.workspace().get("demo-testkit").version == Version("0.1.0")


def test_an_existing_tag_is_refused(fake_repo: FakeRepo) -> None:
    fake_repo.git("tag", "demo-testkit-v0.1.1")
    with pytest.raises(ReleaseError, match=r"tag demo-testkit-v0\.1\.1 already exists"):
        prepare(fake_repo.workspace(), "demo-testkit", "patch", log=lambda _: None)


def test_dry_run_changes_nothing(fake_repo: FakeRepo) -> None:
    plan = prepare(fake_repo.workspace(), "demo-api", "patch", dry_run=True, log=lambda _: None)
    assert plan.tag == "demo-api-v0.1.1"
    assert GitRepo(fake_repo.root).dirty_paths() == []
    assert GitRepo(fake_repo.root).tag_commit("demo-api-v0.1.1") is None


def test_a_breaking_bump_excluded_by_dependents_is_refused(fake_repo: FakeRepo) -> None:
    lines: list[str] = []
    with pytest.raises(ReleaseError, match="--bump-dependents"):
        prepare(fake_repo.workspace(), "demo-api", "minor", log=lines.append)
    assert "demo-core requires demo-api>=0.1,<0.2, which does not admit demo-api 0.2.0" in lines
    assert fake_repo.workspace().get("demo-api").version == Version("0.1.0")
    assert GitRepo(fake_repo.root).dirty_paths() == []


def test_bump_dependents_moves_their_ranges_in_a_second_commit(fake_repo: FakeRepo) -> None:
    prepare(
        fake_repo.workspace(),
        "demo-api",
        "minor",
        date=DAY,
        bump_dependents=True,
        log=lambda _: None,
    )
    workspace = fake_repo.workspace()
    assert workspace.get("demo-api").version == Version("0.2.0")
    assert [str(r) for r in workspace.get("demo-core").requirements] == ["demo-api<0.3,>=0.2"]
    assert [str(r) for r in workspace.get("demo").extras["all"]] == ["demo-api<0.3,>=0.2"]
    assert "- Requires `demo-api>=0.2,<0.3` (was `demo-api>=0.1,<0.2`)." in (
        workspace.get("demo-core").changelog.read_text()
    )
    subjects = fake_repo.git("log", "-2", "--format=%s").splitlines()
    assert subjects == [
        "demo, demo-core: require demo-api >=0.2,<0.3",
        "demo-api: release demo-api 0.2.0",
    ]
    repo = GitRepo(fake_repo.root)
    assert repo.tag_commit("demo-api-v0.2.0") == fake_repo.git("rev-parse", "HEAD~1").strip()
    from proxyflow_release.ranges import check_ranges

    assert check_ranges(workspace) == []


def test_releases_are_found_without_tags_and_tags_recreated(fake_repo: FakeRepo) -> None:
    prepare(fake_repo.workspace(), "demo-testkit", "patch", date=DAY, log=lambda _: None)
    repo = GitRepo(fake_repo.root)
    release_commit = repo.head()
    fake_repo.write(
        "packages/demo-testkit/CHANGELOG.md",
        fake_repo.root.joinpath("packages/demo-testkit/CHANGELOG.md")
        .read_text()
        .replace("## Unreleased\n", "## Unreleased\n\n- Later change.\n"),
    )
    fake_repo.commit_all("testkit: a later change")
    fake_repo.git("tag", "-d", "demo-testkit-v0.1.1")  # as in a clone without tags
    workspace = fake_repo.workspace()
    source = find_release(repo, workspace.get("demo-testkit"))
    assert source.commit == release_commit
    assert "release commit" in source.how
    never = find_release(repo, workspace.get("demo-api"))
    assert never.commit is None
    assert "never released" in never.how
    (missing,) = missing_tags(repo, list(workspace.packages))
    assert missing.package.name == "demo-testkit"
    from proxyflow_release.cli import main

    assert main(["--root", str(fake_repo.root), "tag"]) == 0
    assert repo.tag_commit("demo-testkit-v0.1.1") == release_commit
    assert missing_tags(repo, list(workspace.packages)) == []


def test_bump_dependents_handles_a_requirement_written_twice(fake_repo: FakeRepo) -> None:
    pyproject = fake_repo.root / "packages/demo/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'dependencies = ["demo-core>=0.1,<0.2"]',
            'dependencies = ["demo-core>=0.1,<0.2", "demo-api>=0.1,<0.2"]',
        )
    )
    fake_repo.commit_all("demo: require demo-api directly too")
    prepare(fake_repo.workspace(), "demo-api", "minor", bump_dependents=True, log=lambda _: None)
    text = pyproject.read_text()
    assert text.count('"demo-api>=0.2,<0.3"') == 2
    assert "demo-api>=0.1" not in text
