"""The invoice status badge: colour per state, escaped text, self-contained well-formed SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from paydue.adapters.formats.badge import render_badge_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
EXPECTED_COLOURS = {
    "open": "#6b7280",
    "partially_paid": "#d97706",
    "overdue": "#dc2626",
    "paid": "#16a34a",
    "overpaid": "#16a34a",
    "cancelled": "#374151",
}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 (our own renderer's output)
    assert root.tag == f"{SVG_NS}svg"
    return root


@pytest.mark.parametrize(("state", "colour"), EXPECTED_COLOURS.items())
def test_badge_message_part_has_the_colour_of_the_state(state: str, colour: str) -> None:
    rects = parse(render_badge_svg(state, "invoice", state.replace("_", " "))).findall(
        f"{SVG_NS}rect"
    )
    assert [rect.attrib["fill"] for rect in rects][1] == colour


def test_badge_shows_label_and_message_with_an_accessible_name() -> None:
    root = parse(render_badge_svg("paid", "invoice", "paid"))
    assert [text.text for text in root.iter(f"{SVG_NS}text")] == ["invoice", "paid"]
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == "invoice: paid"
    assert root.findtext(f"{SVG_NS}title") == "invoice: paid"


def test_badge_escapes_markup_in_label_and_message() -> None:
    label = '<script>alert("x")</script>'
    message = "a & b <img src=x onerror=alert(1)>"
    svg = render_badge_svg("open", label, message)
    assert "<script" not in svg
    assert "<img" not in svg
    root = parse(svg)
    assert [text.text for text in root.iter(f"{SVG_NS}text")] == [label, message]
    assert root.attrib["aria-label"] == f"{label}: {message}"
    assert [element.tag for element in root.iter()].count(f"{SVG_NS}script") == 0


def test_badge_references_nothing_outside_itself() -> None:
    svg = render_badge_svg("overdue", "invoice", "overdue")
    for element in parse(svg).iter():
        assert not any("href" in name for name in element.attrib)
    assert "url(" not in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_badge_grows_with_its_text() -> None:
    short = parse(render_badge_svg("paid", "invoice", "paid"))
    long = parse(render_badge_svg("paid", "invoice", "paid on 2024-05-17"))
    assert int(long.attrib["width"]) > int(short.attrib["width"])
    assert long.attrib["viewBox"] == f"0 0 {long.attrib['width']} 20"


def test_badge_rejects_an_unknown_state() -> None:
    with pytest.raises(ValueError, match="unknown invoice state"):
        render_badge_svg("refunded-ish", "invoice", "?")
