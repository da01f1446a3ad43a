"""``factmem.striped_locks``: one lock per key, from a fixed pool."""

from __future__ import annotations

from factmem.striped_locks import StripedLocks


def test_a_key_always_gets_its_own_stripe_and_keys_spread_over_the_pool() -> None:
    locks = StripedLocks(stripes=8)
    assert locks.for_key("claim-1") is locks.for_key("claim-1")
    assert len({id(locks.for_key(f"claim-{i}")) for i in range(200)}) == 8


def test_holding_one_key_does_not_hold_another_stripe() -> None:
    locks = StripedLocks(stripes=64)
    first = locks.for_key("a")
    other = next(locks.for_key(f"k{i}") for i in range(1000) if locks.for_key(f"k{i}") is not first)
    with first:
        assert other.acquire(blocking=False)
        other.release()
