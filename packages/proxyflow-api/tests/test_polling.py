"""PollingSubscriber: deadlines, close from another thread, release by the last user."""

from __future__ import annotations

import threading

import pytest

from proxyflow.api import Closeable, PollingSubscriber, normalise_topics


class _Closed(EOFError):
    pass


class _TimedOut(TimeoutError):
    pass


class ToySubscriber(PollingSubscriber[bytes]):
    closed_error = _Closed
    timeout_error = _TimedOut

    def __init__(self, items: list[bytes], *, timeout: float | None = 5.0) -> None:
        super().__init__(["t"], timeout=timeout, poll_interval=0.01)
        self.items = items
        self.released: list[bytes | None] = []
        self.polling = threading.Event()

    def _poll(self, wait: float) -> bytes | None:
        self.polling.set()
        if self.items:
            return self.items.pop(0)
        threading.Event().wait(wait)
        return None

    def _release(self, late: bytes | None) -> None:
        self.released.append(late)


def test_messages_then_timeout() -> None:
    sub = ToySubscriber([b"a", b"b"])
    assert sub.next_message(0) == b"a"
    assert next(sub) == b"b"
    with pytest.raises(_TimedOut, match=r"no message within 0\.05s"):
        sub.next_message(0.05)
    sub.close()
    sub.close()
    assert sub.released == [None]
    with pytest.raises(_Closed):
        sub.next_message(0)
    assert list(sub) == []


def test_close_from_another_thread_ends_a_wait() -> None:
    sub = ToySubscriber([])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            sub.next_message(None)
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert sub.polling.wait(5)
    sub.close()
    reader.join(5)
    assert not reader.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], _Closed)
    assert sub.released == [None]  # released once, by the reader


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        PollingSubscriber("t", timeout=None, poll_interval=0)
    with pytest.raises(ValueError, match="timeout"):
        ToySubscriber([], timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        ToySubscriber([]).next_message(-1)


def test_normalise_topics() -> None:
    assert normalise_topics("abc") == ("abc",)
    assert normalise_topics(["a", "b", "a"]) == ("a", "b")
    with pytest.raises(ValueError, match="empty"):
        normalise_topics([""])
    with pytest.raises(TypeError, match="strings"):
        normalise_topics([1])  # type: ignore[list-item]


def test_closeable_context_manager() -> None:
    class Resource(Closeable):
        closes = 0

        def close(self) -> None:
            self.closes += 1

    with Resource() as resource:
        pass
    assert resource.closes == 1
    with pytest.raises(NotImplementedError):
        Closeable().close()
