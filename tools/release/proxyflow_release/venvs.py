"""Fresh virtual environments, and what was really installed in them.

The installed files of each distribution are hashed, so a check can tell a wheel install
of a given wheel from an editable install or from a package of the same name and version
found elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from proxyflow_release.errors import ReleaseError

# Run inside the environment: every distribution with the SHA-256 of each installed
# file below site-packages (scripts outside it and byte code are left out).
_INVENTORY = """
import hashlib, importlib.metadata as md, json
found = {}
for dist in md.distributions():
    files = {}
    for entry in dist.files or []:
        name = str(entry).replace("\\\\", "/")
        if name.startswith("..") or name.endswith(".pyc") or ".dist-info/" in name:
            continue
        path = dist.locate_file(entry)
        if path.is_file():
            files[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    found[dist.metadata["Name"]] = {"version": dist.version, "files": files}
print(json.dumps(found))
"""


@dataclass(frozen=True)
class InstalledDistribution:
    """A distribution installed in an environment.

    Attributes:
        name: Its name as its metadata spells it.
        version: Its version.
        files: SHA-256 of each installed file below site-packages, by relative path.
    """

    name: str
    version: str
    files: dict[str, str]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment without the variables of the environment running this tool."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "HATCH_ENV_ACTIVE")
    }
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Venv:
    """A virtual environment made by [`create_venv`][]."""

    path: Path

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.path / "bin" / "python"

    @property
    def bin(self) -> Path:
        """Its scripts folder."""
        return self.path / "bin"

    def run(
        self, *args: str, cwd: Path | None = None, capture: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run its Python with ``args``; never raises for a non-zero exit."""
        return subprocess.run(
            [str(self.python), *args],
            cwd=cwd,
            capture_output=capture,
            text=True,
            env=clean_env(),
            check=False,
        )

    def pip_install(self, *args: str) -> None:
        """``pip install args`` in the environment.

        Raises:
            ReleaseError: pip failed (its output is in the message).
        """
        result = self.run("-m", "pip", "install", "--disable-pip-version-check", *args)
        if result.returncode != 0:
            output = result.stdout[-4000:] + result.stderr[-4000:]
            raise ReleaseError(f"pip install {' '.join(args)} failed:\n{output}")

    def distributions(self) -> dict[str, InstalledDistribution]:
        """Every installed distribution, by name as its metadata spells it."""
        result = self.run("-c", _INVENTORY)
        if result.returncode != 0:
            raise ReleaseError(f"listing the distributions failed: {result.stderr}")
        data = json.loads(result.stdout)
        return {
            name: InstalledDistribution(name, info["version"], info["files"])
            for name, info in data.items()
        }


def create_venv(path: Path, python: str = sys.executable) -> Venv:
    """A new, empty virtual environment with pip at ``path`` (an older one is removed).

    Raises:
        ReleaseError: The environment could not be made.
    """
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [python, "-m", "venv", str(path)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    if result.returncode != 0:
        raise ReleaseError(f"{python} -m venv {path} failed: {result.stderr}")
    return Venv(path)
