"""PollingSubscriber: deadlines, close from another thread, release by the last user."""

from __future__ import annotations

import threading

import pytest

from proxyflow.api import CONFIGURED, Closeable, PollingSubscriber, normalise_topics, wait_time


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


def test_next_message_without_argument_waits_as_configured() -> None:
    sub = ToySubscriber([], timeout=0.05)
    with pytest.raises(_TimedOut, match=r"within 0\.05s"):
        sub.next_message()
    sub.items.append(b"x")
    assert sub.next_message() == b"x"


def test_empty_topics_only_when_allowed() -> None:
    assert normalise_topics(["", "a"], allow_empty=True) == ("", "a")

    class EmptyAllowed(PollingSubscriber[bytes]):
        allow_empty_topics = True

    assert EmptyAllowed(["", "a"], timeout=None, poll_interval=1).topics == ("", "a")
    with pytest.raises(ValueError, match="empty"):
        PollingSubscriber([""], timeout=None, poll_interval=1)


class _ClosingPoll(ToySubscriber):
    """Its poll takes a message while close() runs, as if called from another thread."""

    def _poll(self, wait: float) -> bytes | None:
        self.close()  # a reader is inside: close() leaves the release to it
        return self.items.pop(0)


def test_late_message_goes_to_release_by_default() -> None:
    sub = _ClosingPoll([b"late"])
    with pytest.raises(_Closed):
        sub.next_message(1)
    assert sub.released == [b"late"]


def test_late_message_is_returned_with_return_late() -> None:
    class ReturnLate(_ClosingPoll):
        return_late = True

    sub = ReturnLate([b"late"])
    assert sub.next_message(1) == b"late"
    assert sub.released == [None]
    with pytest.raises(_Closed):
        sub.next_message(1)


def test_late_message_is_returned_while_another_reader_holds_the_connection() -> None:
    entered = threading.Event()
    go_on = threading.Event()

    class TwoReaders(ToySubscriber):
        def _poll(self, wait: float) -> bytes | None:
            if threading.current_thread().name == "slow":
                entered.set()
                go_on.wait(5)
                return None
            self.close()
            return b"late"

    sub = TwoReaders([])
    errors: list[BaseException] = []

    def slow_read() -> None:
        try:
            sub.next_message(None)
        except BaseException as exc:
            errors.append(exc)

    slow = threading.Thread(target=slow_read, name="slow")
    slow.start()
    assert entered.wait(5)
    # The slow reader still polls, so this one cannot release: it keeps its message.
    assert sub.next_message(1) == b"late"
    assert sub.released == []
    go_on.set()
    slow.join(5)
    assert not slow.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], _Closed)
    assert sub.released == [None]


def test_wait_time_is_the_configured_timeout_by_default() -> None:
    assert wait_time(CONFIGURED, 2.5) == 2.5
    assert wait_time(CONFIGURED, None) is None
    assert wait_time(None, 2.5) is None
    assert wait_time(0, 2.5) == 0
    assert wait_time(0.1, None) == 0.1
    with pytest.raises(ValueError, match="timeout"):
        wait_time(-1, 2.5)
    with pytest.raises(ValueError, match="timeout"):
        wait_time(float("nan"), None)
