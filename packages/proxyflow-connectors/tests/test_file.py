from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxyflow.connectors import (
    ConnectorError,
    FileConnector,
    InvalidConfigError,
    InvalidKeyError,
    StoreDirectoryError,
)
from proxyflow.store.protocols import CountingConnector
from proxyflow.testing import ConnectorContract


class TestFileConnectorContract(ConnectorContract):
    @pytest.fixture
    def connector(self, tmp_path: Path) -> Iterator[FileConnector]:
        connector = FileConnector(tmp_path / "objects")
        yield connector
        connector.close()


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
    assert connector.get(kept) == bytearray(b"kept")


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


def test_get_reads_into_a_bytearray_of_the_right_size(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    payload = os.urandom(3 * 1024 * 1024 + 7)
    got = connector.get(connector.put(memoryview(payload)))
    assert type(got) is bytearray
    assert got == payload


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
    assert connector.get(key) == bytearray(b"kept")


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


def test_close_keeps_data(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path / "objects")
    key = connector.put(b"still here")
    connector.close()
    connector.close()
    assert FileConnector(tmp_path / "objects").get(key) == bytearray(b"still here")


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
    assert other.get(theirs) == bytearray(b"someone else's")


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
    assert connector.get(key) == bytearray(b"kept by the rebuilt connector")
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
    assert second.get(key, evict=True) == bytearray(b"once")
    assert first.get(key, evict=True) is None
    assert os.listdir(tmp_path) == []


def test_stats_ignore_temporary_files(tmp_path: Path) -> None:
    connector = FileConnector(tmp_path)
    connector.put(b"12345")
    (tmp_path / ".tmp-leftover").write_bytes(b"partial")
    assert connector.stats() == {"objects": 1, "bytes": 5}
