from __future__ import annotations

import asyncio
import math
import operator
import os
import pathlib
import pickle
import threading
import types
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from proxyflow.proxy import (
    Proxy,
    ProxyError,
    ProxyResolveError,
    extract,
    get_factory,
    is_resolved,
    resolve,
)


class Counting:
    """A picklable factory that counts its calls."""

    def __init__(self, value: Any, target_type: type | None = None) -> None:
        self.value = value
        self.calls = 0
        if target_type is not None:
            self.target_type = target_type

    def __call__(self) -> Any:
        self.calls += 1
        return self.value

    def __repr__(self) -> str:
        return "Counting(...)"


class Flaky:
    """Fails on the first call, succeeds afterwards."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls == 1:
            raise OSError("storage unavailable")
        return "ok"


def px(value: Any) -> Proxy[Any]:
    return Proxy(lambda: value)


class Mat:
    """A minimal matmul-capable value."""

    def __init__(self, v: int) -> None:
        self.v = v

    def __matmul__(self, other: Any) -> Any:
        return Mat(self.v * (other.v if isinstance(other, Mat) else other))

    def __rmatmul__(self, other: Any) -> Any:
        return Mat(other * self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mat) and other.v == self.v

    def __hash__(self) -> int:
        return hash(self.v)


BINARY: list[tuple[Callable[[Any, Any], Any], Any, Any]] = [
    (operator.add, 7, 3),
    (operator.add, "ab", "cd"),
    (operator.add, [1], [2]),
    (operator.sub, 7, 3),
    (operator.sub, {1, 2}, {2}),
    (operator.mul, 7, 3),
    (operator.mul, "ab", 3),
    (operator.truediv, 7, 2),
    (operator.floordiv, 7, 2),
    (operator.mod, 7, 3),
    (operator.mod, "%s!", "hi"),
    (divmod, 7, 3),
    (pow, 2, 10),
    (operator.lshift, 1, 4),
    (operator.rshift, 64, 2),
    (operator.and_, 0b1100, 0b1010),
    (operator.or_, 0b1100, 0b1010),
    (operator.xor, 0b1100, 0b1010),
    (operator.or_, {"a": 1}, {"b": 2}),
    (operator.matmul, Mat(3), Mat(4)),
    (operator.matmul, Mat(3), 5),
]
BINARY_IDS = [f"{getattr(op, '__name__', op)}-{type(a).__name__}" for op, a, _ in BINARY]


@pytest.mark.parametrize(("op", "a", "b"), BINARY, ids=BINARY_IDS)
def test_binary_operator_with_proxy_on_the_left(op: Any, a: Any, b: Any) -> None:
    assert op(px(a), b) == op(a, b)


@pytest.mark.parametrize(("op", "a", "b"), BINARY, ids=BINARY_IDS)
def test_reflected_operator_with_proxy_on_the_right(op: Any, a: Any, b: Any) -> None:
    assert op(a, px(b)) == op(a, b)


@pytest.mark.parametrize(("op", "a", "b"), BINARY, ids=BINARY_IDS)
def test_binary_operator_between_two_proxies(op: Any, a: Any, b: Any) -> None:
    assert op(px(a), px(b)) == op(a, b)


def test_reflected_matmul_with_plain_left_operand() -> None:
    assert 5 @ px(Mat(3)) == Mat(15)


def test_three_argument_pow() -> None:
    assert pow(px(3), 4, 5) == pow(3, 4, 5)
    assert pow(px(3), px(4)) == 81


INPLACE: list[tuple[Callable[[Any, Any], Any], Any, Any]] = [
    (operator.iadd, 7, 3),
    (operator.isub, 7, 3),
    (operator.imul, 7, 3),
    (operator.imatmul, Mat(2), Mat(3)),
    (operator.itruediv, 7, 2),
    (operator.ifloordiv, 7, 2),
    (operator.imod, 7, 3),
    (operator.ipow, 2, 5),
    (operator.ilshift, 1, 3),
    (operator.irshift, 16, 2),
    (operator.iand, 6, 3),
    (operator.ixor, 6, 3),
    (operator.ior, 6, 3),
    (operator.iadd, "ab", "c"),
    (operator.iadd, (1,), (2,)),
    (operator.ior, frozenset({1}), frozenset({2})),
]


@pytest.mark.parametrize(
    ("op", "a", "b"), INPLACE, ids=[f"{op.__name__}-{type(a).__name__}" for op, a, _ in INPLACE]
)
def test_inplace_operator_rebinds_immutable_target(op: Any, a: Any, b: Any) -> None:
    p = px(a)
    result = op(p, b)
    assert result is p  # still the same proxy
    assert type(result) is Proxy
    assert extract(result) == op(a, b)


def test_augmented_assignment_statement_on_int_proxy() -> None:
    p = px(1)
    p += 1
    assert p == 2
    p *= 10
    assert p == 20
    assert isinstance(p, int)
    assert type(p) is Proxy


def test_inplace_on_mutable_target_mutates_it() -> None:
    target = [1]
    p = Proxy(lambda: target)
    p += [2]
    assert target == [1, 2]
    assert extract(p) is target


def test_inplace_rebinding_does_not_change_the_factory() -> None:
    p = Proxy(Counting(5))
    p += 1
    clone = pickle.loads(pickle.dumps(p))
    assert clone == 5
    assert p == 6


COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("op", COMPARISONS, ids=[c.__name__ for c in COMPARISONS])
@pytest.mark.parametrize(("a", "b"), [(1, 2), (2, 2), (3, 2), ("a", "b"), ((1, 2), (1, 3))])
def test_comparisons(op: Any, a: Any, b: Any) -> None:
    assert op(px(a), b) == op(a, b)
    assert op(a, px(b)) == op(a, b)
    assert op(px(a), px(b)) == op(a, b)


UNARY: list[tuple[Callable[[Any], Any], Any]] = [
    (operator.neg, 5),
    (operator.pos, -5),
    (abs, -5),
    (operator.invert, 5),
    (round, 2.675),
    (lambda x: round(x, 2), 2.675),
    (math.trunc, -2.5),
    (math.floor, 2.5),
    (math.ceil, 2.5),
    (int, 3.9),
    (float, 3),
    (complex, 2),
    (operator.index, 7),
    (bytes, bytearray(b"xy")),
    (str, 12),
    (lambda x: format(x, ".2f"), 3.14159),
    (lambda x: f"{x:>5}", "ab"),
    (hash, "hash me"),
    (bool, 0),
    (bool, [1]),
    (len, [1, 2, 3]),
    (lambda x: list(iter(x)), (1, 2)),
    (lambda x: list(reversed(x)), [1, 2, 3]),
    (operator.length_hint, [1, 2]),
    (lambda x: [10, 20, 30][x], 1),
    (lambda x: "abcdef"[x:], 2),
    (hex, 255),
]


@pytest.mark.parametrize(("fn", "value"), UNARY)
def test_unary_operations_and_conversions(fn: Any, value: Any) -> None:
    assert fn(px(value)) == fn(value)


def test_complex_and_bytes_dunders() -> None:
    assert complex(px(1 + 2j)) == 1 + 2j
    assert bytes(px(b"raw")) == b"raw"


def test_containers() -> None:
    d: dict[str, int] = {"a": 1}
    p = Proxy(lambda: d)
    assert p["a"] == 1
    p["b"] = 2
    assert d == {"a": 1, "b": 2}
    del p["a"]
    assert d == {"b": 2}
    assert "b" in p
    assert "a" not in p
    assert len(p) == 1
    assert list(p) == ["b"]
    with pytest.raises(KeyError):
        p["missing"]


def test_iterator_protocol() -> None:
    p = Proxy(lambda: iter([1, 2]))
    assert next(p) == 1
    assert next(p) == 2
    with pytest.raises(StopIteration):
        next(p)


def test_attributes_get_set_delete() -> None:
    ns = types.SimpleNamespace(x=1)
    p = Proxy(lambda: ns)
    assert p.x == 1
    p.y = 2
    assert ns.y == 2
    del p.x
    assert not hasattr(ns, "x")
    with pytest.raises(AttributeError):
        p.x  # noqa: B018
    assert p.__dict__ is ns.__dict__


def test_methods_and_dunder_attributes_are_forwarded() -> None:
    p = px("hello")
    assert p.upper() == "HELLO"
    assert p.__doc__ == str.__doc__
    assert p.__len__() == 5
    assert "upper" in dir(p)


def test_calling() -> None:
    p = px(lambda a, b=0: a + b)
    assert p(1, b=2) == 3


def test_hash_and_dict_key() -> None:
    p = px("key")
    assert {p: 1}["key"] == 1
    assert hash(p) == hash("key")


def test_context_manager() -> None:
    events: list[str] = []

    class CM:
        def __enter__(self) -> str:
            events.append("enter")
            return "value"

        def __exit__(self, *exc: Any) -> bool:
            events.append(f"exit-{exc[0].__name__ if exc[0] else None}")
            return True  # swallow

    with Proxy(CM) as value:
        assert value == "value"
        raise ValueError("swallowed")
    assert events == ["enter", "exit-ValueError"]


def test_file_context_manager_and_fspath(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("content")
    p = px(path)
    assert os.fspath(p) == str(path)
    assert os.path.join(px(str(tmp_path)), "f.txt") == str(path)
    with open(p) as fh, Proxy(lambda: fh) as inner:
        assert inner.read() == "content"


def test_await_proxy_of_coroutine() -> None:
    async def compute() -> int:
        return 41

    async def main() -> int:
        return await Proxy(compute) + 1

    assert asyncio.run(main()) == 42


def test_async_iteration_and_async_context_manager() -> None:
    async def gen() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    class ACM:
        async def __aenter__(self) -> str:
            return "in"

        async def __aexit__(self, *exc: Any) -> None:
            return None

    async def main() -> tuple[list[int], str, int]:
        out = [i async for i in Proxy(gen)]
        async with Proxy(ACM) as v:
            pass
        it = Proxy(gen)
        first = await it.__anext__()
        return out, v, first

    assert asyncio.run(main()) == ([0, 1, 2], "in", 0)


def test_isinstance_and_class_checks_against_proxy_of_a_class() -> None:
    p = px(int)
    assert isinstance(3, p)
    assert issubclass(bool, p)


# -- laziness ------------------------------------------------------------------------------------


def test_factory_not_called_until_first_use_and_called_once() -> None:
    factory = Counting([1, 2, 3])
    p = Proxy(factory)
    assert factory.calls == 0
    assert not is_resolved(p)
    assert len(p) == 3
    assert p[0] == 1
    assert sum(p) == 6
    assert factory.calls == 1
    assert is_resolved(p)


def test_repr_does_not_resolve() -> None:
    factory = Counting({"a": 1})
    p = Proxy(factory)
    text = repr(p)
    assert "unresolved" in text
    assert "Counting(...)" in text
    assert factory.calls == 0
    resolve(p)
    text = repr(p)
    assert "{'a': 1}" in text
    assert "Proxy" in text
    assert factory.calls == 1


def test_isinstance_uses_target_type_without_resolving() -> None:
    factory = Counting([1], target_type=list)
    p = Proxy(factory)
    assert isinstance(p, list)
    assert not isinstance(p, dict)
    assert p.__class__ is list
    assert isinstance(p, Proxy)
    assert factory.calls == 0
    assert not is_resolved(p)


def test_isinstance_without_target_type_resolves() -> None:
    factory = Counting([1])
    p = Proxy(factory)
    assert isinstance(p, list)
    assert factory.calls == 1


def test_target_type_none_means_resolve() -> None:
    factory = Counting(3)
    factory.target_type = None  # type: ignore[attr-defined]
    p = Proxy(factory)
    assert isinstance(p, int)
    assert factory.calls == 1


def test_class_is_the_real_class_once_resolved() -> None:
    factory = Counting(True, target_type=int)
    p = Proxy(factory)
    assert p.__class__ is int
    resolve(p)
    assert p.__class__ is bool


def test_subscripted_proxy_does_not_resolve() -> None:
    factory = Counting(5)
    p = Proxy[int](factory)
    assert factory.calls == 0
    assert p + 1 == 6


def test_weakref_to_proxy() -> None:
    p = px(1)
    ref = weakref.ref(p)
    assert ref() is p


# -- pickling ------------------------------------------------------------------------------------


def test_pickle_carries_only_the_factory() -> None:
    factory = Counting(list(range(100_000)), target_type=list)
    p = Proxy(factory)
    data = pickle.dumps(p)
    assert factory.calls == 0
    clone = pickle.loads(data)
    assert type(clone) is Proxy
    assert not is_resolved(clone)
    assert isinstance(get_factory(clone), Counting)
    assert clone == list(range(100_000))


def test_pickle_of_resolved_proxy_still_carries_only_the_factory() -> None:
    p = Proxy(Counting("x" * 10))
    resolve(p)
    clone = pickle.loads(pickle.dumps(p))
    assert not is_resolved(clone)
    assert clone == "x" * 10


def test_pickle_size_is_independent_of_target_size() -> None:
    from functools import partial

    small = Proxy(partial(bytes, 10))
    big = Proxy(partial(bytes, 10_000_000))
    resolve(big)
    assert abs(len(pickle.dumps(big)) - len(pickle.dumps(small))) <= 4  # int encoding
    assert len(pickle.dumps(big)) < 120


# -- errors --------------------------------------------------------------------------------------


def test_failing_factory_raises_chained_resolve_error() -> None:
    def boom() -> int:
        raise ZeroDivisionError("nope")

    p = Proxy(boom)
    with pytest.raises(ProxyResolveError) as info:
        p + 1
    assert isinstance(info.value, ProxyError)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert "nope" in str(info.value)
    assert not is_resolved(p)


def test_failed_resolution_is_retried() -> None:
    factory = Flaky()
    p = Proxy(factory)
    with pytest.raises(ProxyResolveError):
        len(p)
    assert len(p) == 2
    assert factory.calls == 2
    assert p == "ok"


def test_non_callable_factory_is_rejected() -> None:
    with pytest.raises(TypeError):
        Proxy(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("helper", [is_resolved, resolve, extract, get_factory])
def test_helpers_reject_non_proxies(helper: Any) -> None:
    with pytest.raises(TypeError):
        helper([1, 2])


def test_helpers() -> None:
    target = {"k": "v"}
    factory = Counting(target)
    p = Proxy(factory)
    assert get_factory(p) is factory
    assert factory.calls == 0
    assert extract(p) is target
    resolve(p)
    assert factory.calls == 1


# -- threads -------------------------------------------------------------------------------------


def test_concurrent_first_use_calls_factory_once() -> None:
    threads_n = 16
    calls = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n, timeout=30)

    def factory() -> list[int]:
        with lock:
            calls.append(1)
        # hold the resolution long enough for the other threads to pile up
        return [sum(range(200_000))]

    p = Proxy(factory)
    results: list[Any] = []

    def worker() -> None:
        barrier.wait()
        results.append(extract(p))

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert len(calls) == 1
    assert len(results) == threads_n
    assert all(r is results[0] for r in results)


# -- Dask's hooks (no dask import: these are the attributes Dask looks up) -----------------------


class _Untyped:
    """A picklable factory with no target type: ``isinstance`` would resolve its proxy."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> list[int]:
        self.calls += 1
        return [1, 2, 3]


def test_dask_tokenize_does_not_resolve_and_is_fixed_per_proxy() -> None:
    factory = _Untyped()
    p = Proxy(factory)
    q = Proxy(factory)
    token = p.__dask_tokenize__()
    assert token == p.__dask_tokenize__()
    assert token != q.__dask_tokenize__()
    assert factory.calls == 0
    assert not is_resolved(p)


def test_dask_tokenize_of_a_store_factory_is_its_identity(tmp_path: pathlib.Path) -> None:
    from proxyflow.store import StoreConfig, StoreFactory

    config = StoreConfig("tok", "file", {"store_dir": str(tmp_path)})
    same = [Proxy(StoreFactory("k1", config, evict=True)) for _ in range(2)]
    assert same[0].__dask_tokenize__() == same[1].__dask_tokenize__()
    others = [
        Proxy(StoreFactory("k2", config, evict=True)),
        Proxy(StoreFactory("k1", config, evict=False)),
        Proxy(StoreFactory("k1", StoreConfig("tok2", "file", {"store_dir": str(tmp_path)}))),
    ]
    tokens = {repr(p.__dask_tokenize__()) for p in [*same, *others]}
    assert len(tokens) == 4
    assert not any(is_resolved(p) for p in [*same, *others])  # nothing was stored: no read


def test_dask_attributes_are_not_forwarded() -> None:
    class Collection:
        def __dask_graph__(self) -> dict[str, int]:
            return {}

    factory = Counting(Collection(), target_type=Collection)
    p = Proxy(factory)
    for name in ("__dask_graph__", "__dask_future__", "__dask_keys__"):
        assert getattr(p, name, None) is None
    assert factory.calls == 0
    assert hasattr(extract(p), "__dask_graph__")  # the target keeps its own
