"""``await resolve_async(proxy)`` of Redis store proxies: native (on the loop) against a thread.

For each size (1 KiB and 1 MiB by default), ``N`` objects are put in a Redis
store and ``N`` fresh proxies of them (unresolved, not evicting) are made;
then one event loop resolves them all with ``await resolve_async(proxy)``:

* **sequential**: one ``await`` after the other;
* **concurrent**: all at once, ``asyncio.gather``.

in two ways: **native** (the read is a task of the loop, through the
connector's ``get_async``: what ``resolve_async`` does for Redis) and
**thread** (the path every store took before, forced with
``proxyflow.proxy.resolving._force_thread``: the synchronous read in a worker
thread of the resolve pool). Only the resolving is timed. The four forms
alternate within each repeat, so they share the load of the moment. Prints
objects per second (best of the repeats, and the slowest) and the ratio of
the bests; asserts nothing but that every target is right.

    python -m proxyflow_bench.asyncio_resolve [--sizes 1024,1048576] [--count N]
        [--repeat R] [--redis-url URL]

(``hatch run bench:asyncio-resolve``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, NamedTuple

from proxyflow.connectors.redis import RedisConnector
from proxyflow.proxy import Proxy, resolve_async
from proxyflow.proxy import resolving as resolving_module
from proxyflow.store import Store, StoreFactory
from proxyflow.store.registry import unregister_store
from proxyflow_bench.redis_rates import cell, parse_args

FORMS = ("native sequential", "thread sequential", "native concurrent", "thread concurrent")


class Row(NamedTuple):
    """Objects per second of each form, one value per repeat."""

    size: int
    rates: dict[str, list[float]]


async def _resolve_all(proxies: list[Proxy[Any]], concurrent: bool) -> list[Any]:
    if concurrent:
        return list(await asyncio.gather(*(resolve_async(p) for p in proxies)))
    return [await resolve_async(p) for p in proxies]


def run_form(store: Store, keys: list[Any], payload: bytes, form: str) -> float:
    """Resolve fresh proxies of ``keys`` in one event loop the way ``form`` says: obj/s."""
    config = store.config()
    proxies: list[Proxy[Any]] = [Proxy(StoreFactory(key, config, store=store)) for key in keys]
    resolving_module._force_thread = form.startswith("thread")
    try:

        async def timed() -> float:
            start = time.perf_counter()
            targets = await _resolve_all(proxies, form.endswith("concurrent"))
            elapsed = time.perf_counter() - start
            if any(t != payload for t in targets):
                raise AssertionError("a proxy resolved to the wrong object")
            return elapsed

        elapsed = asyncio.run(timed())
    finally:
        resolving_module._force_thread = False
    return len(keys) / elapsed


def measure(sizes: list[int], count: int, repeat: int, redis_url: str) -> list[Row]:
    """Run every form ``repeat`` times per size, alternating the forms."""
    rows: list[Row] = []
    for size in sizes:
        name = f"bench-resolve-{uuid.uuid4().hex[:8]}"
        store = Store(name, RedisConnector(redis_url, prefix=f"{name}:"), cache_size=0)
        payload = b"x" * size
        try:
            keys = store.put_batch([payload] * count)
            rates: dict[str, list[float]] = {form: [] for form in FORMS}
            for _ in range(repeat):
                for form in FORMS:
                    rates[form].append(run_form(store, keys, payload, form))
            for key in keys:
                store.evict(key)
        finally:
            store.close()
            unregister_store(name)
        rows.append(Row(size, rates))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table."""
    args = parse_args((__doc__ or "").split("\n")[0], argv)
    rows = measure(args.sizes, args.objects, args.repeat, args.redis_url)
    print(f"{args.objects} Redis store proxies per form, obj/s best (slowest) of {args.repeat}")
    print(f"{'size':>9} " + " ".join(f"{form:>20}" for form in FORMS) + "  native/thread seq, conc")
    for row in rows:
        best = {form: max(values) for form, values in row.rates.items()}
        seq = best["native sequential"] / best["thread sequential"]
        conc = best["native concurrent"] / best["thread concurrent"]
        print(
            f"{row.size:>9} "
            + " ".join(f"{cell(row.rates[form]):>20}" for form in FORMS)
            + f"  {seq:.2f}, {conc:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
