"""DeliveryOutcome: the states of a delivery and the rule after release."""

from __future__ import annotations

import pytest

from proxyflow.api import DeliveryOutcome

SETTLING = [DeliveryOutcome.ACKED, DeliveryOutcome.NACKED, DeliveryOutcome.REJECTED]


def test_only_pending_is_unsettled() -> None:
    assert [o for o in DeliveryOutcome if not o.settled] == [DeliveryOutcome.PENDING]


@pytest.mark.parametrize("wanted", SETTLING)
@pytest.mark.parametrize(
    "current",
    [
        DeliveryOutcome.PENDING,
        DeliveryOutcome.ACKED,
        DeliveryOutcome.NACKED,
        DeliveryOutcome.REJECTED,
    ],
)
def test_only_a_released_delivery_refuses(
    current: DeliveryOutcome, wanted: DeliveryOutcome
) -> None:
    assert not current.refuses(wanted)


def test_a_released_delivery_refuses_ack_and_reject_but_not_nack() -> None:
    released = DeliveryOutcome.RELEASED
    assert released.refuses(DeliveryOutcome.ACKED)
    assert released.refuses(DeliveryOutcome.REJECTED)
    assert not released.refuses(DeliveryOutcome.NACKED)


def test_values_are_the_names_the_shims_show_in_reprs() -> None:
    assert [o.value for o in DeliveryOutcome] == [
        "pending",
        "acked",
        "nacked",
        "rejected",
        "released",
    ]
