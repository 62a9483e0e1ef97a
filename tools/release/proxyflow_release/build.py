"""Build wheels and sdists: every package into one folder, or one source folder alone.

Packages of the work tree are built with ``hatch build`` (an isolated build environment
with the ``[build-system]`` requirements, as a release is built). Throw-away source
folders (an extracted sdist, a package exported from a release commit) are built with
hatchling from this tool's environment, so that no Hatch environment is left behind for
a temporary path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from proxyflow_release.errors import ReleaseError
from proxyflow_release.workspace import Package, Workspace

TARGETS = ("wheel", "sdist")


@dataclass(frozen=True)
class Artifacts:
    """The files built for one package.

    Attributes:
        package: The package.
        wheel: Its wheel, if one was built.
        sdist: Its sdist, if one was built.
    """

    package: Package
    wheel: Path | None
    sdist: Path | None


def _clean_env() -> dict[str, str]:
    """The environment without the variables of the Hatch environment running this tool."""
    env = dict(os.environ)
    for key in ("HATCH_ENV_ACTIVE", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    return env


def build_command(source: Path, out: Path, targets: Sequence[str], *, isolated: bool) -> list[str]:
    """The command that builds ``targets`` of the project in ``source`` into ``out``."""
    hatch = shutil.which("hatch")
    target_args = [arg for target in targets for arg in ("-t", target)]
    if isolated and hatch is not None:
        return [hatch, "build", *target_args, str(out)]
    return [sys.executable, "-m", "hatchling", "build", *target_args, "-d", str(out)]


def build_source(
    source: Path, out: Path, targets: Sequence[str] = TARGETS, *, isolated: bool = False
) -> list[Path]:
    """Build the project in ``source`` into ``out``; returns the new files.

    Raises:
        ReleaseError: The build failed (its output is in the message).
    """
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    command = build_command(source, out.resolve(), targets, isolated=isolated)
    result = subprocess.run(
        command, cwd=source, capture_output=True, text=True, env=_clean_env(), check=False
    )
    if result.returncode != 0:
        raise ReleaseError(
            f"building {source} failed ({' '.join(command)}):\n{result.stdout}{result.stderr}"
        )
    return sorted(set(out.iterdir()) - before)


def artifacts_in(package: Package, folder: Path) -> Artifacts:
    """The wheel and sdist of the package's current version in ``folder``, if present."""
    stem = f"{package.wheel_stem}-{package.version}"
    wheel = folder / f"{stem}-py3-none-any.whl"
    sdist = folder / f"{stem}.tar.gz"
    return Artifacts(
        package, wheel if wheel.is_file() else None, sdist if sdist.is_file() else None
    )


def build_all(
    workspace: Workspace,
    out: Path,
    targets: Sequence[str] = TARGETS,
    *,
    isolated: bool = True,
    log: Callable[[str], None] = print,
) -> list[Artifacts]:
    """Remove earlier builds from ``out`` and build every package into it.

    Args:
        workspace: The packages to build.
        out: The folder (created if missing). Only wheels and sdists in it are removed,
            nothing else.
        targets: ``wheel`` and/or ``sdist``.
        isolated: Build with ``hatch build`` when Hatch is on ``PATH`` (else hatchling).
        log: Where progress lines go.

    Raises:
        ReleaseError: A build failed or did not produce the expected files.
    """
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("*.whl"), *out.glob("*.tar.gz")]:
        old.unlink()
    if isolated and shutil.which("hatch") is None:
        log("hatch is not on PATH: building with hatchling from this environment")
    built = []
    for package in workspace.packages:
        files = build_source(package.path, out, targets, isolated=isolated)
        artifacts = artifacts_in(package, out)
        missing = [
            t
            for t, f in zip(TARGETS, (artifacts.wheel, artifacts.sdist), strict=True)
            if t in targets and f is None
        ]
        if missing:
            names = ", ".join(f.name for f in files) or "nothing"
            raise ReleaseError(f"{package.name}: no {' and '.join(missing)} built (got {names})")
        log(f"built {package.name} {package.version}: {', '.join(f.name for f in files)}")
        built.append(artifacts)
    return built
