"""The embeddable invoice status badge: a small shields-style SVG, ``label | message``.

Self-contained on purpose (it is embedded in third-party pages and mails): no scripts, no
external fonts or links, every text XML-escaped, an accessible name for screen readers.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

STATE_COLOURS = {
    "open": "#6b7280",
    "partially_paid": "#d97706",
    "overdue": "#dc2626",
    "paid": "#16a34a",
    "overpaid": "#16a34a",
    "cancelled": "#374151",
}
LABEL_COLOUR = "#555"
CHAR_PX = 6.5
PADDING_PX = 10
HEIGHT_PX = 20


def render_badge_svg(state: str, label: str, message: str) -> str:
    """The badge for an invoice in ``state`` (a key of :data:`STATE_COLOURS`).

    Part widths are estimated from the text length (``CHAR_PX`` per character plus padding),
    which is close enough for the 11px sans-serif the badge uses.
    """
    try:
        colour = STATE_COLOURS[state]
    except KeyError:
        raise ValueError(f"unknown invoice state {state!r} for a badge") from None
    left = _part_width(label)
    right = _part_width(message)
    width = left + right
    name = escape(f"{label}: {message}", {'"': "&quot;"})
    label_text = escape(label)
    message_text = escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT_PX}" '
        f'viewBox="0 0 {width} {HEIGHT_PX}" role="img" aria-label="{name}">'
        f"<title>{escape(f'{label}: {message}')}</title>"
        f'<rect width="{left}" height="{HEIGHT_PX}" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="{HEIGHT_PX}" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11">'
        f'<text x="{left / 2:g}" y="14">{label_text}</text>'
        f'<text x="{left + right / 2:g}" y="14">{message_text}</text>'
        "</g></svg>"
    )


def _part_width(text: str) -> int:
    return round(len(text) * CHAR_PX) + 2 * PADDING_PX
