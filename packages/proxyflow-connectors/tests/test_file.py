from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors import (
    ConnectorError,
    FileConnector,
    InvalidConfigError,
    InvalidKeyError,
    StoreDirectoryError,
)
from proxyflow.connectors import file as file_module
from proxyflow.store.protocols import CountingConnector, VectoredConnector
from proxyflow.testing import ConnectorContract


@contextlib.contextmanager
def disk_full_after(count: int) -> Iterator[None]:
    """Within the block, file writes after ``count`` objects write half, then fail with ENOSPC.

    The failure is injected where a full disk shows it, in the ``write``/``writev``
    of an object's temporary file, which is left half written for the
    connector to remove.
    """
    written = [0]
    real_write_all, real_writev_all = file_module.write_all, file_module.writev_all

    def check(fd: int, data: bytes) -> None:
        written[0] += 1
        if written[0] > count:
            os.write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write_all(fd: int, data: Any) -> None:
        check(fd, data)
        real_write_all(fd, data)

    def writev_all(fd: int, buffers: Any) -> None:
        check(fd, b"".join(bytes(buffer) for buffer in buffers))
        real_writev_all(fd, buffers)

    file_module.write_all, file_module.writev_all = write_all, writev_all  # type: ignore[assignment]
    try:
        yield
    finally:
        file_module.write_all, file_module.writev_all = real_write_all, real_writev_all


class TestFileConnectorContract(ConnectorContract):
    @pytest.fixture
    def connector(self, tmp_path: Path) -> Iterator[FileConnector]:
        connector = FileConnector(tmp_path / "objects")
        yield connector
        connector.close()

    def fail_writes_after(
        self, connector: Any, count: int, size: int
    ) -> contextlib.AbstractContextManager[None]:
        return disk_full_after(count)

    def stored_objects(self, connector: Any) -> int:
        # Temporary files count too: a failed write must not leave one.
        return len(os.listdir(connector.store_dir))


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def visible(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def test_satisfies_the_counting_protocol(tmp_path: Path) -> None:
    assert isinstance(FileConnector(tmp_path), CountingConnector)


def test_created_directories_are_private(tmp_path: Path) -> None:
    store_dir = tmp_path / "a" / "b" / "objects"
    FileConnector(store_dir)
    assert mode(tmp_path / "a") == 0o700
    assert mode(tmp_path / "a" / "b") == 0o700
    assert mode(store_dir) == 0o700


def test_existing_directory_mode_is_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    FileConnector(tmp_path)
    assert mode(tmp_path) == 0o755


def test_object_files_are_private(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    keys = [connector.put(b"secret bytes"), *connector.put_batch([b"x", b""])]
    for key in keys:
        assert mode(tmp_path / key) == 0o600


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    keys = connector.put_batch([os.urandom(1000) for _ in range(5)])
    connector.get(keys[0], evict=True)
    connector.get_batch(keys[1:3], evict=True)
    assert sorted(os.listdir(tmp_path)) == sorted(keys[3:])


def test_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = FileConnector(tmp_path)
    kept = connector.put(b"kept")

    def failing_replace(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk on fire"):
        connector.put(os.urandom(100_000))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [kept]
    assert connector.get(kept) == b"kept"


def test_concurrent_reader_never_sees_a_partial_object(tmp_path: Path) -> None:
    writer_connector = FileConnector(tmp_path)
    reader_connector = FileConnector.from_config(writer_connector.config())
    size, count = 4 * 1024 * 1024, 6
    done = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for i in range(count):
                writer_connector.put(bytes([i]) * size)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    def read_everything_visible() -> int:
        reads = 0
        for key in visible(tmp_path):
            data = reader_connector.get(key)
            assert data is not None
            assert len(data) == size
            assert data.count(data[:1]) == size  # one byte value throughout: not mixed
            reads += 1
        return reads

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        read_everything_visible()
    writer.join(60)
    assert not writer.is_alive()
    assert not failures
    assert read_everything_visible() == count


@pytest.mark.parametrize("size", [0, 1, 3 * 1024 * 1024 + 7])
def test_get_returns_bytes_of_the_right_size(tmp_path: Path, size: int) -> None:
    connector = FileConnector(tmp_path)
    payload = os.urandom(size)
    got = connector.get(connector.put(memoryview(payload)))
    assert type(got) is bytes
    assert got == payload
    assert type(connector.get_batch([connector.put(bytearray(payload))])[0]) is bytes


def test_short_reads_are_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = FileConnector(tmp_path)
    payload = os.urandom(10_000)
    key = connector.put(payload)
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: real_read(fd, min(n, 3000)))
    assert connector.get(key) == payload


BAD_KEYS = ["../victim", "/etc/passwd", "..", ".", "a/b", "", ".tmp-abc", "x" * 129, 7, None]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_malformed_keys_never_touch_other_files(tmp_path: Path, key: object) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"not yours")
    connector = FileConnector(tmp_path / "objects")
    for call in (
        lambda: connector.get(key),  # type: ignore[arg-type]
        lambda: connector.get(key, evict=True),  # type: ignore[arg-type]
        lambda: connector.exists(key),  # type: ignore[arg-type]
        lambda: connector.evict(key),  # type: ignore[arg-type]
        lambda: connector.get_batch([key], evict=True),  # type: ignore[list-item]
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert victim.read_bytes() == b"not yours"


def test_bad_key_in_a_batch_evicts_nothing(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    key = connector.put(b"kept")
    with pytest.raises(InvalidKeyError):
        connector.get_batch([key, "../x"], evict=True)
    assert connector.get(key) == b"kept"


def test_store_dir_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_bytes(b"data")
    with pytest.raises(StoreDirectoryError, match="a-file") as info:
        FileConnector(path)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, ConnectorError)
    assert path.read_bytes() == b"data"


def test_store_dir_below_a_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_bytes(b"data")
    with pytest.raises(StoreDirectoryError, match="cannot create"):
        FileConnector(path / "objects")


def test_unwritable_store_dir_is_rejected(tmp_path: Path) -> None:
    store_dir = tmp_path / "read-only"
    store_dir.mkdir()
    store_dir.chmod(0o500)
    try:
        if os.access(store_dir, os.W_OK):
            pytest.skip("this user (root?) can write to a 0o500 directory")
        with pytest.raises(StoreDirectoryError, match="not writable"):
            FileConnector(store_dir)
    finally:
        store_dir.chmod(0o700)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux procfs")
def test_store_dir_that_even_root_cannot_write_is_rejected() -> None:
    # procfs refuses writes to everyone, root included, so this runs where the
    # 0o500 test above must skip.
    with pytest.raises(StoreDirectoryError, match="not writable"):
        FileConnector("/proc/self")
    with pytest.raises(StoreDirectoryError, match="cannot create"):
        FileConnector("/proc/proxyflow-no-such-dir")


def test_close_keeps_data(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path / "objects")
    key = connector.put(b"still here")
    connector.close()
    connector.close()
    assert FileConnector(tmp_path / "objects").get(key) == b"still here"


def test_clear_on_close_deletes_only_own_files(tmp_path: Path) -> None:
    store_dir = tmp_path / "objects"
    other = FileConnector(store_dir)
    theirs = other.put(b"someone else's")
    mine = FileConnector(store_dir, clear_on_close=True)
    own = mine.put_batch([b"one", b"two"])
    evicted = mine.put(b"three")
    mine.evict(evicted)
    mine.close()
    mine.close()
    assert visible(store_dir) == [theirs]
    assert not any(mine.exists(key) for key in own)
    assert other.get(theirs) == b"someone else's"


def test_clear_on_close_removes_only_the_directories_it_created(tmp_path: Path) -> None:
    created = FileConnector(tmp_path / "new" / "objects", clear_on_close=True)
    created.put(b"temporary")
    created.close()
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    reused = FileConnector(existing, clear_on_close=True)
    reused.put(b"temporary")
    reused.close()
    assert existing.is_dir()
    assert os.listdir(existing) == []


def test_config_never_carries_clear_on_close(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path / "objects", clear_on_close=True)
    assert connector.config() == {"store_dir": str(tmp_path / "objects")}
    rebuilt = FileConnector.from_config(connector.config())
    key = rebuilt.put(b"kept by the rebuilt connector")
    rebuilt.close()
    assert connector.get(key) == b"kept by the rebuilt connector"
    with pytest.raises(InvalidConfigError, match="clear_on_close"):
        FileConnector.from_config({**connector.config(), "clear_on_close": True})


def test_config_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    connector = FileConnector("relative")
    assert connector.config() == {"store_dir": str(tmp_path / "relative")}
    assert connector.store_dir == str(tmp_path / "relative")


def test_evict_from_two_connectors_delivers_once(tmp_path: Path) -> None:
    first = FileConnector(tmp_path)
    second = FileConnector.from_config(first.config())
    key = first.put(b"once")
    assert second.get(key, evict=True) == b"once"
    assert first.get(key, evict=True) is None
    assert os.listdir(tmp_path) == []


def test_stats_ignore_temporary_files(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    connector.put(b"12345")
    (tmp_path / ".tmp-leftover").write_bytes(b"partial")
    assert connector.stats() == {"objects": 1, "bytes": 5}


def test_satisfies_the_vectored_protocol(tmp_path: Path) -> None:
    assert isinstance(FileConnector(tmp_path), VectoredConnector)


def test_keys_are_a_process_prefix_and_a_counter(tmp_path: Path) -> None:
    first, second = FileConnector(tmp_path / "a"), FileConnector(tmp_path / "b")
    keys = [first.put(b"1"), second.put(b"2"), *first.put_batch([b"3", b"4"])]
    prefixes = {key[:16] for key in keys}
    assert len(prefixes) == 1
    counters = [int(key[16:], 16) for key in keys]
    assert counters == sorted(counters)
    assert len(set(counters)) == len(counters)
    assert all(re.fullmatch(r"[0-9a-f]{17,}", key) for key in keys)


def _child_key(store_dir: str, results: Any) -> None:
    results.put(FileConnector(store_dir).put(b"child"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_never_reuses_the_parents_keys(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    connector.put(b"before the fork")  # the counter has moved in the parent
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_child_key, args=(str(tmp_path), results))
    child.start()
    try:
        child_key = results.get(timeout=60)
    finally:
        child.join(60)
    parent_key = connector.put(b"parent")
    assert child_key[:16] != parent_key[:16]
    assert connector.get(child_key) == b"child"
    assert connector.get(parent_key) == b"parent"


def test_reader_that_opened_the_file_before_eviction_reads_it_all(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    payload = os.urandom(1 << 20)
    key = connector.put(payload)
    fd = os.open(tmp_path / key, os.O_RDONLY)
    try:
        assert connector.get(key, evict=True) == payload
        assert not (tmp_path / key).exists()
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(fd)
    assert b"".join(chunks) == payload


def test_failed_evicting_read_keeps_the_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = FileConnector(tmp_path)
    key = connector.put(b"not lost")

    def failing_read(fd: int, name: str) -> bytes:
        raise MemoryError("no room for the buffer")

    monkeypatch.setattr(file_module, "read_all", failing_read)
    with pytest.raises(MemoryError):
        connector.get(key, evict=True)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [key]
    assert connector.get(key, evict=True) == b"not lost"


def test_truncated_file_is_a_connector_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = FileConnector(tmp_path)
    key = connector.put(b"0123456789")
    real_fstat = os.fstat

    class Grown:
        def __init__(self, fd: int) -> None:
            self.st_size = real_fstat(fd).st_size + 5

    monkeypatch.setattr(os, "fstat", Grown)  # the file "shrinks" by 5 bytes while read
    with pytest.raises(ConnectorError, match="shrank"):
        connector.get(key, evict=True)
    monkeypatch.undo()
    assert connector.get(key) == b"0123456789"


_EVICT_ALL = """
import sys
from proxyflow.connectors import FileConnector

connector = FileConnector(sys.argv[1])
sys.stdin.readline()  # start together
for key in sys.argv[2:]:
    got = connector.get(key, evict=True)
    if got is not None:
        print(got.hex(), flush=True)
"""


def test_evicting_processes_receive_each_object_exactly_once(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    payloads = [b"object %d " % i * 200 for i in range(200)]
    keys = connector.put_batch(payloads)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _EVICT_ALL, str(tmp_path), *keys],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    received: list[bytes] = []
    try:
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=60)
            assert child.returncode == 0
            received += [bytes.fromhex(line) for line in out.decode().split()]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(60)
    assert sorted(received) == sorted(payloads)
    assert os.listdir(tmp_path) == []


class _ShortWrites:
    """Stands in for ``os.writev``: writes at most ``limit`` bytes per call, counts calls."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls: list[int] = []
        self.real = os.writev

    def __call__(self, fd: int, buffers: Any) -> int:
        self.calls.append(len(buffers))
        joined = b"".join(bytes(buffer) for buffer in buffers)
        return os.write(fd, joined[: self.limit])


def test_put_parts_resumes_after_partial_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = FileConnector(tmp_path)
    parts = [b"abc", memoryview(os.urandom(5000)), b"xyz", b"", b"tail"]
    short = _ShortWrites(777)
    monkeypatch.setattr(os, "writev", short)
    key = connector.put_parts(parts)
    monkeypatch.undo()
    assert connector.get(key) == b"".join(bytes(part) for part in parts)
    assert len(short.calls) >= 5010 // 777


def test_put_parts_splits_at_iov_max(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = FileConnector(tmp_path)
    parts = [b"%05d" % i for i in range(3000)]
    short = _ShortWrites(1 << 30)
    monkeypatch.setattr(os, "writev", short)
    key = connector.put_parts(parts)
    monkeypatch.undo()
    assert connector.get(key) == b"".join(parts)
    assert max(short.calls) <= 1024
    assert len(short.calls) >= 3


def test_put_parts_failure_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = FileConnector(tmp_path)

    def failing_writev(fd: int, buffers: Any) -> int:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "writev", failing_writev)
    with pytest.raises(OSError, match="disk on fire"):
        connector.put_parts([b"a", os.urandom(100_000)])
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


# -- backend failures, with real conditions where the machine allows --------------------

_FULL_DISK = """
import json, os
from proxyflow.connectors import ConnectorFullError, FileConnector
from proxyflow.api import BackendFullError
from proxyflow.store import Store

root = os.environ["PROXYFLOW_TINY_FS"]
connector = FileConnector(root + "/objects")
report = {}
keys = []
try:
    while True:
        keys.append(connector.put(os.urandom(64 * 1024)))
except ConnectorFullError as exc:
    report["fits"] = len(keys)
    report["put_error"] = [type(exc).__name__, isinstance(exc, BackendFullError), str(exc)]
for key in keys[:2]:
    connector.evict(key)  # room for two objects, not for four
before = sorted(os.listdir(root + "/objects"))
try:
    connector.put_batch([os.urandom(64 * 1024) for _ in range(4)])
except ConnectorFullError as exc:
    report["batch_error"] = [type(exc).__name__, list(exc.leftover_keys)]
report["batch_left_alone"] = sorted(os.listdir(root + "/objects")) == before
try:
    connector.put_parts([b"head", os.urandom(200 * 1024), b"tail"])
except ConnectorFullError:
    report["parts_left_alone"] = sorted(os.listdir(root + "/objects")) == before
store = Store("tiny", FileConnector(root + "/objects"))
try:
    store.put_batch([b"x" * 30_000, bytearray(100_000), [bytes(90_000)], "y" * 90_000])
except ConnectorFullError as exc:
    report["store_error"] = type(exc).__name__
report["store_left_alone"] = sorted(os.listdir(root + "/objects")) == before
print(json.dumps(report))
"""


def _tiny_fs(script: str, size: int) -> dict[str, Any]:
    import json

    from proxyflow.testing.tiny_fs import TinyFilesystemUnavailableError, run_with_tiny_filesystem

    try:
        result = run_with_tiny_filesystem(script, size=size)
    except TinyFilesystemUnavailableError as exc:
        pytest.skip(str(exc))
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_full_disk_is_a_typed_error_and_batches_leave_nothing() -> None:
    report = _tiny_fs(_FULL_DISK, 256 * 1024)
    assert report["fits"] >= 2
    name, is_backend_full, message = report["put_error"]
    assert name == "ConnectorFullError"
    assert is_backend_full
    assert "no room left" in message
    assert "nothing of this write was kept" in message
    assert report["batch_error"] == ["ConnectorFullError", []]
    assert report["batch_left_alone"]  # the two objects that fitted were removed again
    assert report["parts_left_alone"]
    assert report["store_error"] == "ConnectorFullError"  # the store lets it through
    assert report["store_left_alone"]


def test_contract_injection_really_fails_part_way(tmp_path: Path) -> None:
    from proxyflow.connectors import ConnectorFullError

    connector = FileConnector(tmp_path)
    with disk_full_after(2), pytest.raises(ConnectorFullError) as info:
        connector.put_batch([b"a", b"b", b"c"])
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_objects_that_cannot_be_removed_after_a_failed_batch_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxyflow.connectors import ConnectorFullError

    connector = FileConnector(tmp_path)
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if ".tmp-" not in str(path):
            raise PermissionError(errno.EACCES, "denied")
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with disk_full_after(2), pytest.raises(ConnectorFullError) as info:
        connector.put_batch([b"a", b"b", b"c"])
    monkeypatch.undo()
    left = sorted(info.value.leftover_keys)
    assert left == visible(tmp_path)
    assert len(left) == 2
    assert all(key in str(info.value) for key in left)


_FILE_TOO_LARGE = """
import json, os, resource, signal
from proxyflow.connectors import ConnectorObjectTooLargeError, FileConnector
from proxyflow.api import ObjectTooLargeError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # report EFBIG instead of killing the process
connector = FileConnector(os.environ["STORE_DIR"])
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
report = {"small": connector.get(connector.put(b"fits")) == b"fits"}
try:
    connector.put(os.urandom(200_000))
except ConnectorObjectTooLargeError as exc:
    report["error"] = [isinstance(exc, ObjectTooLargeError), isinstance(exc, ValueError)]
report["files"] = len(os.listdir(os.environ["STORE_DIR"]))
print(json.dumps(report))
"""


def test_a_file_over_the_size_limit_is_object_too_large(tmp_path: Path) -> None:
    import json

    result = subprocess.run(
        [sys.executable, "-c", _FILE_TOO_LARGE],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STORE_DIR": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {"small": True, "error": [True, True], "files": 1}


def test_a_vanished_directory_is_unavailable(tmp_path: Path) -> None:
    from proxyflow.api import BackendUnavailableError
    from proxyflow.connectors import ConnectorConnectionError

    connector = FileConnector(tmp_path / "objects")
    key = connector.put(b"x")
    (tmp_path / "objects" / key).unlink()
    (tmp_path / "objects").rmdir()
    with pytest.raises(ConnectorConnectionError) as info:
        connector.put(b"y")
    assert isinstance(info.value, BackendUnavailableError)
    assert str(tmp_path / "objects") in str(info.value)
    assert connector.get(key) is None  # a missing object is still just missing


_READ_AS_NOBODY = """
import json, os
from proxyflow.connectors import ConnectorAuthenticationError, FileConnector

if os.getuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
connector = FileConnector(os.environ["STORE_DIR"])
try:
    connector.get(os.environ["KEY"])
except ConnectorAuthenticationError as exc:
    print(json.dumps([isinstance(exc, PermissionError), "permission denied" in str(exc)]))
"""


def test_permission_denied_is_an_authentication_error() -> None:
    import json
    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="proxyflow-perm-"))  # outside pytest's 0700 tree
    try:
        os.chmod(shared, 0o777)
        connector = FileConnector(shared)
        key = connector.put(b"private")  # mode 0600: only its owner reads it
        if os.getuid() != 0:
            os.chmod(shared / key, 0)
        result = subprocess.run(
            [sys.executable, "-c", _READ_AS_NOBODY],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "STORE_DIR": str(shared), "KEY": key},
            check=False,
        )
    finally:
        shutil.rmtree(shared)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, True]


def test_proxystore_clear_true_is_refused_naming_the_change(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match="clear_on_close=True"):
        FileConnector(tmp_path, clear=True)
    connector = FileConnector(tmp_path, clear=False)  # keeping data is what proxyflow does
    key = connector.put(b"kept")
    connector.close()
    assert FileConnector(tmp_path).get(key) == b"kept"


def test_location_and_client_options_cover_config(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    assert set(connector.config()) == FileConnector.location_options
    assert not FileConnector.client_options


@pytest.mark.parametrize("store_dir", [3, None, ["/tmp"], b"/tmp"])
def test_ill_typed_configs_are_typed_errors(store_dir: Any) -> None:
    with pytest.raises(InvalidConfigError, match="store_dir"):
        FileConnector.from_config({"store_dir": store_dir})
