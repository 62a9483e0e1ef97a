"""Check built distributions against what their ``pyproject.toml`` promises.

For every package: ``twine check --strict`` passes on its wheel and sdist; the wheel's
metadata names the package, its version and its requirements; every leaf ships
``py.typed``; no folder of the PEP 420 namespace above a leaf (``proxyflow/``,
``proxyflow/shims/``) has an ``__init__.py``; the wheel holds nothing outside its leaves;
its entry points are exactly the pyproject's and point at modules it ships; and a wheel
built from the sdist has the same files with the same contents.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from proxyflow_release.build import artifacts_in, build_source
from proxyflow_release.errors import ReleaseError
from proxyflow_release.wheels import WheelContents, read_wheel
from proxyflow_release.workspace import Package, Workspace

EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")

RequirementKey = tuple[str, str, frozenset[str], str | None]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a package's distributions."""

    package: str
    message: str

    def __str__(self) -> str:
        return f"{self.package}: {self.message}"


def _key(requirement: Requirement, extra: str | None) -> RequirementKey:
    return (
        canonicalize_name(requirement.name),
        str(requirement.specifier),
        frozenset(requirement.extras),
        canonicalize_name(extra) if extra else None,
    )


def _metadata_requirements(contents: WheelContents) -> set[RequirementKey]:
    keys = set()
    for line in contents.metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        match = EXTRA_MARKER.search(str(requirement.marker or ""))
        keys.add(_key(requirement, match.group(1) if match else None))
    return keys


def namespace_folders(leaves: Iterable[str]) -> set[str]:
    """The folders above the leaves (``proxyflow``, ``proxyflow/shims``)."""
    folders: set[str] = set()
    for leaf in leaves:
        folders.update(str(parent) for parent in PurePosixPath(leaf).parents if str(parent) != ".")
    return folders


def _module_shipped(value: str, files: Iterable[str]) -> bool:
    module = value.split(":", maxsplit=1)[0].strip().replace(".", "/")
    return f"{module}.py" in files or f"{module}/__init__.py" in files


def check_wheel(package: Package, contents: WheelContents) -> list[str]:
    """What is wrong with a package's wheel (an empty list when nothing is)."""
    problems = []
    metadata = contents.metadata
    if canonicalize_name(metadata.get("Name", "")) != package.name:
        problems.append(f"METADATA Name is {metadata.get('Name')!r}")
    if metadata.get("Version") != str(package.version):
        problems.append(
            f"METADATA Version is {metadata.get('Version')!r}, the tree has {package.version}"
        )
    expected = {_key(r, extra) for extra, r in package.all_requirements()}
    found = _metadata_requirements(contents)
    for key in sorted(expected - found, key=str):
        problems.append(f"METADATA lacks the requirement {key[0]}{key[1]} (extra {key[3]})")
    for key in sorted(found - expected, key=str):
        problems.append(f"METADATA has an unexpected requirement {key[0]}{key[1]} (extra {key[3]})")
    files = contents.code_files()
    for leaf in package.leaves:
        for marker in ("__init__.py", "py.typed"):
            if f"{leaf}/{marker}" not in files:
                problems.append(f"the wheel has no {leaf}/{marker}")
    for folder in sorted(namespace_folders(package.leaves)):
        if f"{folder}/__init__.py" in files:
            problems.append(f"{folder}/__init__.py breaks the PEP 420 namespace {folder}")
    for name in files:
        if not any(name.startswith(leaf + "/") for leaf in package.leaves):
            problems.append(f"{name} lies outside the package's leaves {list(package.leaves)}")
    if contents.entry_points != {g: dict(v) for g, v in package.entry_points.items()}:
        problems.append(
            f"entry points are {contents.entry_points}, the pyproject declares "
            f"{dict(package.entry_points)}"
        )
    for group, points in contents.entry_points.items():
        for name, value in points.items():
            if not _module_shipped(value, files):
                problems.append(
                    f"entry point {group}:{name} = {value} names a module not in the wheel"
                )
    return problems


def check_sdist(package: Package, sdist: Path, wheel: WheelContents, work: Path) -> list[str]:
    """What is wrong with a package's sdist: its contents and the wheel it builds."""
    root = f"{package.wheel_stem}-{package.version}"
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
        problems = [
            f"the sdist has no {needed}"
            for needed in ("pyproject.toml", "PKG-INFO", "README.md", "CHANGELOG.md")
            if f"{root}/{needed}" not in names
        ]
        if problems:
            return problems
        target = work / package.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:  # pragma: no cover - Python releases without extraction filters
            tar.extractall(target)
    rebuilt_dir = target / "wheel"
    built = build_source(target / root, rebuilt_dir, ("wheel",))
    if len(built) != 1:
        return [f"building a wheel from the sdist gave {[p.name for p in built]}"]
    rebuilt = read_wheel(built[0]).payload()
    original = wheel.payload()
    for name in sorted(original.keys() - rebuilt.keys()):
        problems.append(f"the wheel built from the sdist lacks {name}")
    for name in sorted(rebuilt.keys() - original.keys()):
        problems.append(f"the wheel built from the sdist has an extra {name}")
    for name in sorted(original.keys() & rebuilt.keys()):
        if original[name] != rebuilt[name]:
            problems.append(f"{name} differs in the wheel built from the sdist")
    return problems


def twine_check(paths: list[Path]) -> list[str]:
    """The complaints of ``twine check --strict`` about ``paths`` (empty when it passes)."""
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).strip()
    return [line for line in output.splitlines() if line.strip()] or ["twine check failed"]


def check_distributions(
    workspace: Workspace,
    folder: Path,
    work: Path,
    *,
    twine: bool = True,
    log: Callable[[str], None] = print,
) -> list[Finding]:
    """Check the wheel and sdist of every package found in ``folder``.

    Raises:
        ReleaseError: A package has no wheel or no sdist of its tree version in ``folder``.
    """
    findings = []
    for package in workspace.packages:
        artifacts = artifacts_in(package, folder)
        if artifacts.wheel is None or artifacts.sdist is None:
            raise ReleaseError(
                f"{folder} lacks the wheel or sdist of {package.name} {package.version}: "
                "build them first (hatch run release:wheelhouse)"
            )
        contents = read_wheel(artifacts.wheel)
        problems = check_wheel(package, contents)
        problems += check_sdist(package, artifacts.sdist, contents, work)
        if twine:
            problems += twine_check([artifacts.wheel, artifacts.sdist])
        findings += [Finding(package.name, problem) for problem in problems]
        log(f"{'FAIL' if problems else 'ok  '} {package.name} {package.version}")
    return findings
