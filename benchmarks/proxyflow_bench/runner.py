"""Producer/consumer process pairs: spawn them once per (system, config) and run trials.

Each pair is two ``spawn``-context processes. The parent talks to each over a
duplex pipe (``("trial", spec)`` -> ``("result", dict)`` or ``("error", text)``)
and the consumer acknowledges to the producer over a one-way pipe (see
`proxyflow_bench.protocol`). A pair lives for all sizes and repeats of its
configuration, so process start-up and connection set-up are never measured.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import traceback
from multiprocessing.connection import Connection
from typing import Any

from proxyflow_bench.protocol import (
    AckReader,
    consumer_sync,
    producer_sync,
    run_consumer_trial,
    run_producer_trial,
)
from proxyflow_bench.spec import CONFIGS, TrialSpec

__all__ = ["Pair", "PairError", "open_channel"]

START_TIMEOUT = 60.0
TRIAL_TIMEOUT = 180.0


class PairError(RuntimeError):
    """A pair failed to start or a trial failed (the message holds the child's traceback)."""


def open_channel(system: str, config_name: str, role: str, env: dict[str, Any]) -> Any:
    """Build the ``role`` end (``"producer"``/``"consumer"``) of ``system`` on ``config_name``."""
    config = CONFIGS[config_name]
    if system == "raw":
        from proxyflow_bench import raw

        opener = raw.open_raw_producer if role == "producer" else raw.open_raw_consumer
    elif system == "proxyflow":
        from proxyflow_bench import pf

        opener = pf.open_pf_producer if role == "producer" else pf.open_pf_consumer
    elif system == "proxystore":
        from proxyflow_bench import ps

        opener = ps.open_ps_producer if role == "producer" else ps.open_ps_consumer
    else:
        raise ValueError(f"unknown system {system!r}")
    return opener(config, env)


def _child(
    role: str,
    system: str,
    config_name: str,
    env: dict[str, Any],
    ctrl: Connection,
    ack: Connection,
) -> None:
    """Body of a producer or consumer process."""
    channel: Any = None
    try:
        channel = open_channel(system, config_name, role, env)
        if role == "producer":
            acks = AckReader(ack)
            producer_sync(channel, acks)
        else:
            consumer_sync(channel, ack)
        ctrl.send(("ready", os.getpid()))
        while True:
            command, payload = ctrl.recv()
            if command == "stop":
                break
            spec = TrialSpec(**payload)
            if role == "producer":
                result = run_producer_trial(channel, acks, spec)
            else:
                result = run_consumer_trial(channel, ack, spec)
            ctrl.send(("result", result))
    except BaseException:
        with contextlib.suppress(OSError):
            ctrl.send(("error", traceback.format_exc()))
    finally:
        if channel is not None:
            with contextlib.suppress(Exception):
                channel.close()


class Pair:
    """A producer process and a consumer process of one system on one configuration.

    Args:
        system: ``"raw"``, ``"proxyflow"`` or ``"proxystore"``.
        config_name: A key of `proxyflow_bench.spec.CONFIGS`.
        env: Addresses and paths (``topic``, ``prefix``, ``zmq_address``,
            ``redis_url``, ``file_dir``, ``mp_queue``...), picklable.
    """

    def __init__(self, system: str, config_name: str, env: dict[str, Any]) -> None:
        self.system = system
        self.config_name = config_name
        self.env = env
        self._procs: dict[str, Any] = {}
        self._ctrl: dict[str, Connection] = {}

    def start(self) -> None:
        """Start both processes and wait until they have synchronised.

        Raises:
            PairError: If either process fails or does not get ready in time.
        """
        ctx = mp.get_context("spawn")
        ack_recv, ack_send = ctx.Pipe(duplex=False)
        for role, ack in (("consumer", ack_send), ("producer", ack_recv)):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_child,
                args=(role, self.system, self.config_name, self.env, child, ack),
                name=f"bench-{self.system}-{self.config_name}-{role}",
                daemon=True,
            )
            proc.start()
            child.close()
            self._procs[role] = proc
            self._ctrl[role] = parent
        ack_recv.close()
        ack_send.close()
        for role in ("consumer", "producer"):
            self._expect(role, "ready", START_TIMEOUT)

    def _expect(self, role: str, what: str, timeout: float) -> Any:
        conn = self._ctrl[role]
        if not conn.poll(timeout):
            raise PairError(f"{self.system}/{self.config_name} {role}: no {what} in {timeout}s")
        try:
            kind, payload = conn.recv()
        except EOFError:
            raise PairError(f"{self.system}/{self.config_name} {role} died") from None
        if kind == "error":
            raise PairError(f"{self.system}/{self.config_name} {role} failed:\n{payload}")
        return payload

    def run(self, spec: TrialSpec) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run one trial; return ``(producer result, consumer result)``.

        Raises:
            PairError: If a process fails or the trial does not finish in time.
        """
        payload = spec.to_dict()
        self._ctrl["consumer"].send(("trial", payload))
        self._ctrl["producer"].send(("trial", payload))
        producer = self._expect("producer", "result", TRIAL_TIMEOUT)
        consumer = self._expect("consumer", "result", TRIAL_TIMEOUT)
        return producer, consumer

    def stop(self) -> None:
        """Ask both processes to stop, then make sure they are gone."""
        for conn in self._ctrl.values():
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop", None))
        for proc in self._procs.values():
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._ctrl.values():
            conn.close()
        self._procs.clear()
        self._ctrl.clear()
