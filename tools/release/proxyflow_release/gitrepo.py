"""The few git operations the release tools need, run with the ``git`` command."""

from __future__ import annotations

import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from proxyflow_release.errors import ReleaseError


@dataclass(frozen=True)
class GitRepo:
    """A git work tree."""

    root: Path

    def run(self, *args: str, check: bool = True) -> str:
        """Run ``git args`` in the work tree and return its standard output.

        Raises:
            ReleaseError: ``check`` is true and git failed.
        """
        result = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def dirty_paths(self) -> list[str]:
        """Modified, staged or untracked paths (ignored files excluded)."""
        return [line[3:] for line in self.run("status", "--porcelain").splitlines() if line]

    def head(self) -> str:
        """The commit id of ``HEAD``."""
        return self.run("rev-parse", "HEAD").strip()

    def tag_commit(self, tag: str) -> str | None:
        """The commit a tag points to, or ``None`` when there is no such tag."""
        out = self.run("rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}", check=False)
        return out.strip() or None

    def is_shallow(self) -> bool:
        """Whether the clone lacks part of the history."""
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def show(self, commit: str, path: Path) -> str | None:
        """A file's text at a commit, or ``None`` if it did not exist there."""
        relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        result = subprocess.run(
            ["git", "show", f"{commit}:{relative}"],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout if result.returncode == 0 else None

    def last_commit_adding(self, pattern: str, path: Path) -> str | None:
        """The newest commit whose diff of ``path`` adds or removes a line matching ``pattern``."""
        relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        out = self.run("log", "-n", "1", "--format=%H", "-G", pattern, "--", relative)
        return out.strip() or None

    def commit(self, paths: list[Path], message: str) -> str:
        """Commit exactly ``paths`` with ``message``; returns the new commit id."""
        relative = [p.resolve().relative_to(self.root.resolve()).as_posix() for p in paths]
        self.run("add", "--", *relative)
        self.run("commit", "-q", "-m", message, "--", *relative)
        return self.head()

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        """Create the annotated tag ``tag`` on ``commit``."""
        self.run("tag", "-a", tag, "-m", message, commit)

    def export(self, commit: str, folder: Path, destination: Path) -> Path:
        """Write ``folder`` as it was at ``commit`` under ``destination``; returns its copy."""
        relative = folder.resolve().relative_to(self.root.resolve()).as_posix()
        destination.mkdir(parents=True, exist_ok=True)
        archive = destination / "export.tar"
        self.run("archive", "--format=tar", "-o", str(archive), commit, "--", relative)
        with tarfile.open(archive) as tar:
            _safe_extract(tar, destination)
        archive.unlink()
        return destination / relative


def _safe_extract(tar: tarfile.TarFile, destination: Path) -> None:
    root = destination.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if root != target and root not in target.parents:
            raise ReleaseError(f"archive member {member.name!r} escapes {root}")
        if not (member.isfile() or member.isdir()):
            raise ReleaseError(f"archive member {member.name!r} is not a file or folder")
    if hasattr(tarfile, "data_filter"):
        tar.extractall(root, filter="data")
    else:  # pragma: no cover - Python releases without extraction filters
        tar.extractall(root)


def release_pattern(version: str) -> str:
    """A ``git log -G`` pattern for the dated changelog heading of ``version``."""
    # git's -G takes a basic regular expression: no {n} repetition counts.
    return "^## " + re.escape(version) + " - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
