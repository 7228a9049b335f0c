"""Whatever the bytes, a parser answers with statements or a StatementFormatError, quickly."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paydue.adapters.formats.statements import StatementFormatError, camt, mt940, parse_statement
from tests.samples import REJECTED_STATEMENTS, SAMPLES_DIR, samples_available, statement_files

FAST = settings(
    max_examples=100,
    deadline=timedelta(seconds=2),  # generous: the test machines are shared and noisy
    suppress_health_check=[HealthCheck.too_slow],
)
SEEDS = {
    "camt": ["oca_test-camt053.xml", "genkgo_camt054.v4.xml", "oca_test-camt053-txdtls.xml"],
    "mt940": ["oca_test-ing.940", "wolph-betterplace_sepa_snippet.sta", "wolph-self_multiline.sta"],
}
PARSERS = {"camt": camt.parse, "mt940": mt940.parse}


def _seed(folder: str, name: str) -> bytes:
    if not samples_available():
        pytest.skip(f"shared samples folder not found at {SAMPLES_DIR}")
    return (SAMPLES_DIR / folder / name).read_bytes()


def _accepts_or_refuses(parse: object, data: bytes) -> None:
    assert callable(parse)
    with contextlib.suppress(StatementFormatError):
        parse(data)


@FAST
@given(st.binary(max_size=2000))
def test_random_bytes_give_statements_or_a_format_error(data: bytes) -> None:
    for parse in (camt.parse, mt940.parse, parse_statement):
        _accepts_or_refuses(parse, data)


@FAST
@given(st.text(alphabet=":0123456789CDNRTF,/?\n -{}EUR", max_size=400))
def test_random_mt940_like_text_gives_statements_or_a_format_error(text: str) -> None:
    _accepts_or_refuses(mt940.parse, text.encode())


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("drop-line"), st.integers(0, 10**6), st.just(0)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    for kind, position, value in mutations:
        if not data:
            break
        at = position % len(data)
        if kind == "flip":
            data = data[:at] + bytes([value]) + data[at + 1 :]
        elif kind == "cut":
            data = data[:at]
        else:
            lines = data.split(b"\n")
            del lines[position % len(lines)]
            data = b"\n".join(lines)
    return data


@pytest.mark.parametrize(
    ("folder", "name"), [(folder, name) for folder, names in SEEDS.items() for name in names]
)
@FAST
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_real_files_give_statements_or_a_format_error(
    folder: str, name: str, mutations: list[tuple[str, int, int]]
) -> None:
    data = _mutate(_seed(folder, name), mutations)
    _accepts_or_refuses(PARSERS[folder], data)
    _accepts_or_refuses(parse_statement, data)


_XML_ELEMENT = re.compile(rb"<([A-Za-z][\w.:-]*)[^>/]*>.*?</\1>", re.DOTALL)
_MT940_FIELD = re.compile(rb"^:\w{2,3}:.*?(?=^:\w{2,3}:|^-|\Z)", re.DOTALL | re.MULTILINE)

tag_mutation = st.tuples(
    st.sampled_from(["duplicate", "drop", "swap"]), st.integers(0, 10**6), st.integers(0, 10**6)
)


def _mutate_tags(
    data: bytes, pattern: re.Pattern[bytes], edits: list[tuple[str, int, int]]
) -> bytes:
    """Duplicate, drop or swap whole elements (XML) or fields (MT940) of a real file."""
    for kind, first, second in edits:
        spans = [m.span() for m in pattern.finditer(data)]
        if not spans:
            break
        start, end = spans[first % len(spans)]
        if kind == "duplicate":
            data = data[:end] + data[start:end] + data[end:]
        elif kind == "drop":
            data = data[:start] + data[end:]
        else:
            other_start, other_end = spans[second % len(spans)]
            if other_start >= end:
                data = (
                    data[:start]
                    + data[other_start:other_end]
                    + data[end:other_start]
                    + data[start:end]
                    + data[other_end:]
                )
    return data


EVERY_SAMPLE = [sample for sample in statement_files() if sample not in REJECTED_STATEMENTS]


@pytest.mark.skipif(not EVERY_SAMPLE, reason="shared samples folder is absent")
@pytest.mark.parametrize(
    ("folder", "name"), EVERY_SAMPLE, ids=[f"{f}/{n}" for f, n in EVERY_SAMPLE]
)
@settings(
    max_examples=15,
    deadline=timedelta(seconds=5),  # generous: only here to turn a hang into a failure
    suppress_health_check=[HealthCheck.too_slow],
)
@given(edits=st.lists(tag_mutation, min_size=1, max_size=3))
def test_every_sample_with_elements_duplicated_dropped_or_swapped_parses_or_is_refused(
    folder: str, name: str, edits: list[tuple[str, int, int]]
) -> None:
    pattern = _XML_ELEMENT if folder == "camt" else _MT940_FIELD
    data = _mutate_tags((SAMPLES_DIR / folder / name).read_bytes(), pattern, edits)
    _accepts_or_refuses(parse_statement, data)
