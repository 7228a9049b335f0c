"""SVG sanitising for issuer logos: an allow-list of drawing elements and attributes.

Everything that can run script or reach out is dropped: ``script``, ``foreignObject``,
animation, ``on*`` handlers, ``style`` elements and attributes, and any reference that is not
a local fragment (``href="#id"``). The parser resolves no entities and loads nothing.
"""

from __future__ import annotations

from lxml import etree

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ELEMENTS = frozenset(
    {
        "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
        "text", "tspan", "title", "desc", "defs", "linearGradient", "radialGradient", "stop",
        "clipPath", "mask", "symbol", "use",
    }
)  # fmt: skip
ATTRIBUTES = frozenset(
    {
        "id", "class", "d", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry",
        "width", "height", "viewBox", "points", "fill", "fill-opacity", "fill-rule", "stroke",
        "stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-opacity", "opacity",
        "transform", "offset", "stop-color", "stop-opacity", "gradientUnits",
        "gradientTransform", "clip-path", "clip-rule", "mask", "font-family", "font-size",
        "font-weight", "text-anchor", "dominant-baseline", "preserveAspectRatio", "version",
        "href",
    }
)  # fmt: skip


class SvgError(ValueError):
    """Not an SVG document."""


def sanitize_svg(data: bytes) -> bytes:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise SvgError(f"not well-formed XML: {exc}") from None
    if etree.QName(root).localname != "svg":
        raise SvgError("the document's root element is not <svg>")
    for element in list(root.iter()):
        if not isinstance(element.tag, str):  # comments, processing instructions
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        name = etree.QName(element)
        if name.namespace not in (SVG_NS, None) or name.localname not in ELEMENTS:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        for attribute in list(element.attrib):
            attr = etree.QName(attribute)
            value = element.attrib[attribute]
            keep = attr.localname in ATTRIBUTES and attr.namespace in (None, XLINK_NS)
            if attr.localname == "href":
                keep = keep and value.startswith("#")
            if keep and "url(" in value:
                keep = value.strip().startswith("url(#")
            if not keep:
                del element.attrib[attribute]
    cleaned: bytes = etree.tostring(root, xml_declaration=False, encoding="utf-8")
    return cleaned
