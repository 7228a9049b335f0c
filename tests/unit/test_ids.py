"""Ids: ULID-style, Crockford base32, sortable and monotonic within a process."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from paydue.services import ids

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def reference_encoding(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars)).lower()


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_an_id_is_the_crockford_base32_of_its_128_bits(value: int) -> None:
    assert ids._encode(value) == reference_encoding(value)


def test_a_batch_of_ids_is_unique_and_in_creation_order() -> None:
    batch = ids.new_ids("inv", 5000) + ids.new_ids("inv", 3) + [ids.new_id("inv")]
    assert len(set(batch)) == len(batch)
    assert batch == sorted(batch)
    assert all(re.fullmatch(r"inv_[0-9a-z]{26}", i) for i in batch)


def test_consecutive_ids_carry_across_the_shared_prefix() -> None:
    start = (2**48 - 1 << 80) | (2**20 - 2)  # the last millisecond, two ids before a carry
    before, ids._last_id = ids._last_id, start - 1
    try:
        got = ids.new_ids("x", 4)
    finally:
        ids._last_id = before
    assert got == [f"x_{reference_encoding(start + i)}" for i in range(4)]
