"""A small fake monorepo to run the release tools on, in a fresh git repository.

Four packages under ``packages/`` share the PEP 420 namespace ``demo``:

* ``demo-api`` (leaf ``demo/api``, an entry-point group ``demo.plugins``), no requirements;
* ``demo-testkit`` (leaf ``demo/plugins/kit``, below a second namespace level);
* ``demo-core`` (leaf ``demo/core``) requires ``demo-api>=0.1,<0.2``; its tests use
  ``demo-testkit`` (a ``hatch-test`` workspace member);
* ``demo`` (leaf ``demo/cli``, console script ``demo``) requires ``demo-core``, and
  ``demo-api`` through its ``all`` extra.
"""

from __future__ import annotations

import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

from proxyflow_release.workspace import Workspace, load_workspace

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.26"]
build-backend = "hatchling.build"

[project]
name = "{name}"
dynamic = ["version"]
description = "The {name} test package."
readme = "README.md"
requires-python = ">=3.10"
license = "Apache-2.0"
dependencies = [{dependencies}]

[project.optional-dependencies]
{extras}
{entry_points}
[tool.hatch.version]
path = "src/{leaf}/__about__.py"

[tool.hatch.build.targets.wheel]
only-include = ["src/{leaf}"]
sources = ["src"]

[tool.hatch.build.targets.sdist]
include = ["src", "tests", "README.md", "CHANGELOG.md"]

[tool.hatch.envs.hatch-test]
skip-install = true
workspace.members = [{members}]
extra-dependencies = ["pytest-timeout>=2.3"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = ["--import-mode=importlib"]
"""

CHANGELOG = """\
# Changelog of {name}

## Unreleased

- First version of {name}.
"""


@dataclass(frozen=True)
class FakeRepo:
    """The fake monorepo: its root and a git helper."""

    root: Path

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout

    def workspace(self) -> Workspace:
        return load_workspace(self.root)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def commit_all(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


def _quoted(values: list[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def add_package(
    repo: FakeRepo,
    name: str,
    leaf: str,
    *,
    dependencies: tuple[str, ...] = (),
    extras: dict[str, list[str]] | None = None,
    entry_points: str = "",
    members: tuple[str, ...] = (),
    code: str = "VALUE = 1\n",
    tests: str = "",
) -> None:
    folder = f"packages/{name}"
    extras_text = "".join(f"{k} = [{_quoted(v)}]\n" for k, v in (extras or {}).items())
    repo.write(
        f"{folder}/pyproject.toml",
        PYPROJECT.format(
            name=name,
            leaf=leaf,
            dependencies=_quoted(list(dependencies)),
            extras=extras_text,
            entry_points=entry_points,
            members=_quoted([f"../[{name[0]}]{name[1:]}", *members]),
        ),
    )
    repo.write(f"{folder}/README.md", f"# {name}\n\nThe {name} test package.\n")
    repo.write(f"{folder}/CHANGELOG.md", CHANGELOG.format(name=name))
    repo.write(f"{folder}/src/{leaf}/__about__.py", '__version__ = "0.1.0"\n')
    repo.write(f"{folder}/src/{leaf}/__init__.py", code)
    repo.write(f"{folder}/src/{leaf}/py.typed", "")
    if tests:
        repo.write(f"{folder}/tests/test_{leaf.replace('/', '_')}.py", tests)


def make_fake_repo(tmp_path: Path) -> FakeRepo:
    """Create the fake monorepo in ``tmp_path/repo`` with one commit."""
    root = tmp_path / "repo"
    root.mkdir()
    repo = FakeRepo(root)
    repo.git("init", "-q", "-b", "main")
    repo.write(".gitignore", "dist/\n__pycache__/\n")
    repo.write("hatch.toml", "[envs.default]\nskip-install = true\n")
    add_package(
        repo,
        "demo-api",
        "demo/api",
        entry_points='[project.entry-points."demo.plugins"]\nlocal = "demo.api:VALUE"\n',
        code="VALUE = 1\n",
    )
    add_package(
        repo, "demo-testkit", "demo/plugins/kit", code="def helper() -> int:\n    return 2\n"
    )
    add_package(
        repo,
        "demo-core",
        "demo/core",
        dependencies=("demo-api>=0.1,<0.2",),
        members=("../demo-testkit",),
        code="from demo.api import VALUE\n\nDOUBLE = VALUE * 2\n",
        tests="""\
            from demo.core import DOUBLE
            from demo.plugins.kit import helper


            def test_double() -> None:
                assert DOUBLE == helper()
            """,
    )
    add_package(
        repo,
        "demo",
        "demo/cli",
        dependencies=("demo-core>=0.1,<0.2",),
        extras={"all": ["demo-api>=0.1,<0.2"]},
        entry_points='[project.scripts]\ndemo = "demo.cli:main"\n',
        code="def main() -> None:\n    print('demo')\n",
    )
    repo.commit_all("initial")
    return repo
