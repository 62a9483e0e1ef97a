from __future__ import annotations

import pytest
from fakerepo import FakeRepo
from packaging.requirements import Requirement
from packaging.version import Version
from proxyflow_release.ranges import (
    check_ranges,
    compatible_range,
    next_breaking,
    rewrite_requirement,
    with_specifier,
)
from proxyflow_release.workspace import default_root, load_workspace


@pytest.mark.parametrize(
    ("version", "expected", "breaking"),
    [("0.3.1", ">=0.3,<0.4", "0.4"), ("1.4.0", ">=1.4,<2", "2"), ("0.1.0", ">=0.1,<0.2", "0.2")],
)
def test_compatible_range(version: str, expected: str, breaking: str) -> None:
    assert compatible_range(Version(version)) == expected
    assert next_breaking(Version(version)) == Version(breaking)


def test_the_fake_workspace_follows_the_policy(fake_repo: FakeRepo) -> None:
    assert check_ranges(fake_repo.workspace()) == []


def _set_core_requirement(fake_repo: FakeRepo, requirement: str) -> None:
    pyproject = fake_repo.root / "packages/demo-core/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("demo-api>=0.1,<0.2", requirement))


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ("demo-api>=0.1.0", "no upper bound"),
        ("demo-api<0.2", "no lower bound"),
        ("demo-api>=0.2,<0.3", "does not admit demo-api 0.1.0"),
    ],
)
def test_policy_violations_are_reported_with_the_range_to_write(
    fake_repo: FakeRepo, requirement: str, message: str
) -> None:
    _set_core_requirement(fake_repo, requirement)
    problems = check_ranges(fake_repo.workspace())
    assert len(problems) == 1
    assert message in str(problems[0])
    assert "write 'demo-api>=0.1,<0.2'" in str(problems[0])
    assert str(problems[0]).startswith("demo-core: ")


def test_a_deliberately_wide_range_is_allowed(fake_repo: FakeRepo) -> None:
    _set_core_requirement(fake_repo, "demo-api>=0.1,<0.4")
    assert check_ranges(fake_repo.workspace()) == []


def test_extra_requirements_are_checked_and_named_with_their_extra(fake_repo: FakeRepo) -> None:
    pyproject = fake_repo.root / "packages/demo/pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('all = ["demo-api>=0.1,<0.2"]', 'all = ["demo-api"]')
    )
    (problem,) = check_ranges(fake_repo.workspace())
    assert str(problem).startswith("demo[all]: demo-api: no lower bound")


def test_rewrite_keeps_extras_markers_and_the_rest_of_the_file() -> None:
    text = (
        'dependencies = [\n  "x>=1",  # why\n'
        "  'demo-api[fast]>=0.1,<0.2; python_version >= \"3.10\"',\n]\n"
    )
    old = Requirement("demo-api[fast]>=0.1,<0.2; python_version >= '3.10'")
    new = with_specifier(old, ">=0.2,<0.3")
    assert new == 'demo-api[fast]>=0.2,<0.3; python_version >= "3.10"'
    rewritten = rewrite_requirement(text, old, new)
    assert rewritten == text.replace(">=0.1,<0.2", ">=0.2,<0.3")
    with pytest.raises(ValueError, match="not in the pyproject"):
        rewrite_requirement("dependencies = []\n", old, new)


def test_the_real_repository_follows_the_policy() -> None:
    problems = check_ranges(load_workspace(default_root()))
    assert [str(p) for p in problems] == []
