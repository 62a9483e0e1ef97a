"""The machine a run happens on, and the shared resources it needs (Redis, /dev/shm, ports)."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from typing import Any

__all__ = ["BenchResources", "free_port", "machine_info"]


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def _redis_server_version(url: str | None) -> str | None:
    if url:
        try:
            import redis

            client = redis.Redis.from_url(url, protocol=2)
            info = client.info("server")
            client.close()
            return str(info.get("redis_version"))
        except Exception:
            pass
    binary = shutil.which("redis-server")
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        return out.stdout.strip()
    return None


def machine_info(redis_url: str | None = None) -> dict[str, Any]:
    """Describe the machine and the software versions of this run."""
    try:
        import zmq

        libzmq = zmq.zmq_version()
    except Exception:
        libzmq = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gib = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "redis_server": _redis_server_version(redis_url),
        "pyzmq": _version("pyzmq"),
        "libzmq": libzmq,
        "redis_py": _version("redis"),
        "hiredis": _version("hiredis"),
        "numpy": _version("numpy"),
        "msgpack": _version("msgpack"),
        "proxyflow_stream": _version("proxyflow-stream"),
        "loadavg": list(os.getloadavg()),
        "dev_shm": os.path.isdir("/dev/shm"),
    }


class BenchResources:
    """Starts (or finds) what the run shares: a Redis server and a file-store directory.

    Redis: ``PROXYFLOW_REDIS_URL`` when set, else a private ``redis-server``
    started with
    [`proxyflow.testing.redis_server.RedisServer`][proxyflow.testing.redis_server.RedisServer].
    Its pub/sub output-buffer limit is lifted (16 MiB messages would otherwise trip the
    default 32 MB hard limit); on a server that refuses ``CONFIG SET`` the default stays
    and the window keeps messages under it.

    Files: a fresh directory under ``/dev/shm`` when present, else the temp dir;
    removed on `close`.
    """

    def __init__(self, need_redis: bool = True) -> None:
        self._stack = ExitStack()
        self.redis_url: str | None = None
        self.redis_note = ""
        if need_redis:
            self._start_redis()
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.file_root = tempfile.mkdtemp(prefix="proxyflow-bench-", dir=base)
        self.prefix = f"pfb{os.getpid()}"

    def _start_redis(self) -> None:
        url = os.environ.get("PROXYFLOW_REDIS_URL")
        if url:
            self.redis_note = "PROXYFLOW_REDIS_URL"
        else:
            from proxyflow.testing.redis_server import RedisServer

            server = RedisServer()
            server.start()
            self._stack.callback(server.stop)
            url = server.url
            self.redis_note = "private redis-server"
        self.redis_url = url
        try:
            import redis

            client = redis.Redis.from_url(url, protocol=2)
            client.config_set("client-output-buffer-limit", "pubsub 0 0 0")
            client.close()
        except Exception as exc:
            self.redis_note += f" (pub/sub buffer limit unchanged: {exc})"

    def cleanup_redis(self) -> None:
        """Remove every Redis key this run created (orphans of dropped SYNC messages)."""
        if not self.redis_url:
            return
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url, protocol=2)
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            # ProxyStore's RedisConnector uses bare uuid keys: only on a private server.
            if self.redis_note.startswith("private"):
                client.flushdb()
            elif keys:
                client.delete(*keys)
            client.close()
        except Exception:
            pass

    def file_dir(self, name: str) -> str:
        """Return (and create) the file-store directory of one pair."""
        path = os.path.join(self.file_root, name)
        os.makedirs(path, exist_ok=True)
        return path

    def close(self) -> None:
        """Stop the private Redis server and remove the file directories."""
        self.cleanup_redis()
        shutil.rmtree(self.file_root, ignore_errors=True)
        self._stack.close()
