"""Run Python code with a real, tiny file system, to test what happens when a disk fills.

[`run_with_tiny_filesystem`][proxyflow.testing.tiny_fs.run_with_tiny_filesystem]
starts a child Python inside a private mount namespace (``unshare --user
--map-root-user --mount``, so no privilege is needed where unprivileged user
namespaces are allowed) in which a ``tmpfs`` of the requested size is mounted
on a fresh directory. Writes there fail with a real ``ENOSPC`` once it is
full. The mount is visible only to the child and disappears with it; nothing
of the host's mounts changes.

Example:
    ```python
    result = run_with_tiny_filesystem(
        "import os; print(os.statvfs(os.environ['PROXYFLOW_TINY_FS']).f_blocks)",
        size=256 * 1024,
    )
    ```
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

__all__ = ["TINY_FS_ENV", "TinyFilesystemUnavailableError", "run_with_tiny_filesystem"]

TINY_FS_ENV = "PROXYFLOW_TINY_FS"
"""Environment variable that gives the child the path of the tiny file system."""


class TinyFilesystemUnavailableError(RuntimeError):
    """This machine cannot mount a private tmpfs (no ``unshare``, or user namespaces are off)."""


def run_with_tiny_filesystem(
    script: str, *, size: int, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a child Python with a tmpfs of ``size`` bytes at ``$PROXYFLOW_TINY_FS``.

    The child uses this interpreter (``sys.executable``) and environment.
    Its output is captured as text; a failing script is not an error here:
    check ``returncode``.

    Args:
        script: Python source code run with ``python -c``.
        size: Size of the file system in bytes (the kernel rounds it up to pages).
        timeout: Seconds before the child is killed (``subprocess.TimeoutExpired``).

    Returns:
        The finished child process.

    Raises:
        TinyFilesystemUnavailableError: If the private mount cannot be made here.
    """
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        raise TinyFilesystemUnavailableError("needs Linux and the 'unshare' command (util-linux)")
    with tempfile.TemporaryDirectory(prefix="proxyflow-tiny-fs-") as mount_point:
        shell = 'mount -t tmpfs -o "size=$1" tmpfs "$2" && shift 2 && exec "$@"'
        command = [
            unshare, "--user", "--map-root-user", "--mount", "sh", "-c", shell, "sh",
            str(size), mount_point, sys.executable, "-c", script,
        ]  # fmt: skip
        env = {**os.environ, TINY_FS_ENV: mount_point}
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if result.returncode != 0 and _mount_failed(result.stderr):
            raise TinyFilesystemUnavailableError(
                f"cannot mount a private tmpfs: {result.stderr.strip()}"
            )
        return result


def _mount_failed(stderr: str) -> bool:
    text = stderr.lower()
    return any(
        sign in text
        for sign in ("unshare failed", "operation not permitted", "mount:", "cannot open")
    )
