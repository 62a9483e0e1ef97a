"""Discover the distributions of the monorepo from ``packages/*/pyproject.toml``.

A `Package` is what the release tools need to know of one distribution: its name and
folder, the file holding its version, its requirements, its entry points, the import
packages its wheel ships (the *leaves* of the PEP 420 namespace) and the sibling folders
its tests use (the ``workspace.members`` of its ``hatch-test`` environment).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from proxyflow_release.errors import ReleaseError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

VERSION_PATTERN = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class Package:
    """One distribution of the workspace, as its ``pyproject.toml`` describes it.

    Attributes:
        name: The canonical distribution name (``proxyflow-stream``).
        path: The package folder.
        version_file: The file named by ``[tool.hatch.version] path``.
        version: The version in that file.
        requirements: ``[project] dependencies``.
        extras: ``[project.optional-dependencies]``, by extra name.
        entry_points: Every entry-point group of the wheel, by group then name; the
            ``[project.scripts]`` table is the ``console_scripts`` group.
        leaves: The import packages the wheel ships, as paths (``proxyflow/shims/zmq``).
        test_members: The folders of the siblings its ``hatch-test`` environment
            installs, itself excluded.
        test_requirements: The ``extra-dependencies`` of that environment.
    """

    name: str
    path: Path
    version_file: Path
    version: Version
    requirements: tuple[Requirement, ...]
    extras: Mapping[str, tuple[Requirement, ...]]
    entry_points: Mapping[str, Mapping[str, str]]
    leaves: tuple[str, ...]
    test_members: tuple[Path, ...]
    test_requirements: tuple[str, ...]

    @property
    def short_name(self) -> str:
        """The name without the ``proxyflow-`` prefix, as commit subjects spell it."""
        prefix = "proxyflow-"
        return self.name[len(prefix) :] if self.name.startswith(prefix) else self.name

    @property
    def changelog(self) -> Path:
        """The package's ``CHANGELOG.md``."""
        return self.path / "CHANGELOG.md"

    @property
    def pyproject(self) -> Path:
        """The package's ``pyproject.toml``."""
        return self.path / "pyproject.toml"

    @property
    def wheel_stem(self) -> str:
        """The distribution name as wheel and sdist file names spell it."""
        return self.name.replace("-", "_")

    def tag(self, version: Version | None = None) -> str:
        """The git tag of a release: ``<name>-v<version>`` (this version by default)."""
        return f"{self.name}-v{version or self.version}"

    def all_requirements(self) -> Iterable[tuple[str | None, Requirement]]:
        """Every requirement with the extra that adds it (``None`` for the base ones)."""
        for requirement in self.requirements:
            yield None, requirement
        for extra, requirements in self.extras.items():
            for requirement in requirements:
                yield extra, requirement


@dataclass(frozen=True)
class Workspace:
    """Every distribution under ``<root>/packages``, sorted by name."""

    root: Path
    packages: tuple[Package, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The distribution names."""
        return tuple(package.name for package in self.packages)

    def get(self, name: str) -> Package:
        """The package called ``name``: a distribution name, a folder name or a short name.

        Raises:
            ReleaseError: No package has that name.
        """
        wanted = canonicalize_name(name)
        for package in self.packages:
            if wanted in (package.name, canonicalize_name(package.short_name)):
                return package
            if name.rstrip("/").split("/")[-1] == package.path.name:
                return package
        known = ", ".join(self.names)
        raise ReleaseError(f"no package is called {name!r}; the packages are: {known}")

    def find(self, name: str) -> Package | None:
        """The package whose distribution name is ``name``, if it is one of ours."""
        wanted = canonicalize_name(name)
        return next((p for p in self.packages if p.name == wanted), None)

    def at_path(self, folder: Path) -> Package | None:
        """The package whose folder is ``folder``, if any."""
        resolved = folder.resolve()
        return next((p for p in self.packages if p.path.resolve() == resolved), None)


def default_root() -> Path:
    """The repository root this tool was loaded from (``tools/release/..``)."""
    return Path(__file__).resolve().parents[3]


def load_workspace(root: Path | None = None) -> Workspace:
    """Read every ``packages/*/pyproject.toml`` under ``root``.

    Raises:
        ReleaseError: No package was found, or one pyproject lacks what the tools need.
    """
    root = (root or default_root()).resolve()
    pyprojects = sorted((root / "packages").glob("*/pyproject.toml"))
    if not pyprojects:
        raise ReleaseError(f"no packages/*/pyproject.toml under {root}")
    packages = sorted((_load_package(path) for path in pyprojects), key=lambda p: p.name)
    seen: set[str] = set()
    for package in packages:
        if package.name in seen:
            raise ReleaseError(f"two packages are called {package.name}")
        seen.add(package.name)
    return Workspace(root, tuple(packages))


def read_version(version_file: Path) -> Version:
    """The ``__version__ = "..."`` of a version file.

    Raises:
        ReleaseError: The file has no such line or the version is not PEP 440.
    """
    match = VERSION_PATTERN.search(version_file.read_text(encoding="utf-8"))
    if match is None:
        raise ReleaseError(f"{version_file} has no __version__ = '...' line")
    try:
        return Version(match.group(1))
    except InvalidVersion as exc:
        raise ReleaseError(f"{version_file}: {exc}") from exc


def _table(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    for key in keys:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise ReleaseError(f"[{'.'.join(keys)}] is not a table")
        data = value
    return data


def _requirements(values: Iterable[str], where: Path) -> tuple[Requirement, ...]:
    try:
        return tuple(Requirement(value) for value in values)
    except InvalidRequirement as exc:
        raise ReleaseError(f"{where}: {exc}") from exc


def _load_package(pyproject: Path) -> Package:
    folder = pyproject.parent
    with pyproject.open("rb") as handle:
        data = tomllib.load(handle)
    project = _table(data, "project")
    name = project.get("name")
    if not isinstance(name, str):
        raise ReleaseError(f"{pyproject} has no [project] name")
    version_path = _table(data, "tool", "hatch", "version").get("path")
    if not isinstance(version_path, str):
        raise ReleaseError(f"{pyproject} has no [tool.hatch.version] path")
    version_file = folder / version_path
    wheel = _table(data, "tool", "hatch", "build", "targets", "wheel")
    sources = [s.rstrip("/") + "/" for s in wheel.get("sources", [])]
    leaves = []
    for included in wheel.get("only-include", []):
        leaf = str(included).rstrip("/")
        for source in sources:
            if leaf.startswith(source):
                leaf = leaf[len(source) :]
                break
        leaves.append(leaf)
    if not leaves:
        raise ReleaseError(
            f"{pyproject}: [tool.hatch.build.targets.wheel] only-include must list the "
            "import packages the wheel ships"
        )
    entry_points: dict[str, dict[str, str]] = {
        group: dict(values) for group, values in _table(project, "entry-points").items()
    }
    for key, group in (("scripts", "console_scripts"), ("gui-scripts", "gui_scripts")):
        if project.get(key):
            entry_points[group] = dict(project[key])
    hatch_test = _table(data, "tool", "hatch", "envs", "hatch-test")
    members: list[Path] = []
    for pattern in _table(hatch_test, "workspace").get("members", []):
        for match in sorted(folder.glob(str(pattern))):
            if (match / "pyproject.toml").is_file() and match.resolve() != folder.resolve():
                members.append(match.resolve())
    return Package(
        name=canonicalize_name(name),
        path=folder.resolve(),
        version_file=version_file.resolve(),
        version=read_version(version_file),
        requirements=_requirements(project.get("dependencies", []), pyproject),
        extras={
            extra: _requirements(values, pyproject)
            for extra, values in _table(project, "optional-dependencies").items()
        },
        entry_points=entry_points,
        leaves=tuple(leaves),
        test_members=tuple(members),
        test_requirements=tuple(hatch_test.get("extra-dependencies", [])),
    )
