"""Attaching a subscriber to its durable consumers, and giving messages back on close.

[`attach`][proxyflow.shims.nats._attach.attach] creates or checks the stream
and one durable pull consumer per topic, and starts the
[`Puller`][proxyflow.shims.nats.puller.Puller] that reads them all;
[`give_back`][proxyflow.shims.nats._attach.give_back] returns every message
the subscriber still holds to the server (``-NAK``) and stops the puller.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from nats.aio.client import Client
from proxyflow.shims.nats.puller import Puller, PullTarget
from proxyflow.shims.nats.settings import StreamSettings
from proxyflow.shims.nats.settling import NAK, DeadLetters, Settlements
from proxyflow.shims.nats.streams import ConsumerSettings, ensure_consumer, ensure_stream
from proxyflow.shims.nats.subjects import consumer_name, subject_for
from proxyflow.shims.nats.translation import translate_errors

__all__ = ["LINGER", "attach", "give_back"]

LINGER = 5.0
"""Seconds a waiting pull request stays open on the server."""


async def attach(
    client: Client,
    *,
    stream: StreamSettings,
    topics: Sequence[str],
    durable: str,
    consumer: ConsumerSettings,
    dead_letters: DeadLetters | None,
    batch: int,
    url: str,
) -> Puller:
    """Create or check the stream and the durable consumers; return their started puller.

    Raises:
        StreamConfigMismatchError: if the stream exists with other settings.
        ConsumerConfigMismatchError: if a durable consumer exists with other settings.
        BrokerUnavailableError: if the server cannot be reached.
    """
    js = client.jetstream()
    await ensure_stream(js, stream, url)
    targets = []
    for topic in topics:
        name = consumer_name(durable, topic)
        await ensure_consumer(
            js,
            stream.name,
            name,
            subject_for(stream.prefix, topic),
            consumer,
            dead_letters=dead_letters is not None,
            description=f"proxyflow: durable {durable!r} reading topic {topic!r}",
            url=url,
        )
        request = f"$JS.API.CONSUMER.MSG.NEXT.{stream.name}.{name}"
        targets.append(PullTarget(topic, name, request))
    puller = Puller(client, targets, batch=batch, linger=LINGER)
    with translate_errors(url, "subscribing"):
        await puller.start()
    return puller


async def give_back(client: Client | None, puller: Puller | None, settlements: Settlements) -> None:
    """Give back every unsettled or fetched message and stop ``puller`` (on close).

    Every unsettled delivery is marked released first. Whatever cannot be
    given back (the connection is gone) is handed out again by the server
    after ``ack_wait``. ``client`` stays open.
    """
    messages = settlements.release_all()
    if puller is not None:
        with settlements.lock:
            puller.closing = True
            messages += [pulled.msg for pulled in puller.ready]
            puller.ready.clear()
        puller.arrived.set()
    if client is not None and client.is_connected:
        with contextlib.suppress(Exception):
            for msg in messages:
                await client.publish(msg.reply, NAK)
            if puller is not None:
                await puller.stop()
                for msg in puller.late:
                    await client.publish(msg.reply, NAK)
