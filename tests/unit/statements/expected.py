"""Readers for other parsers' expected outputs shipped with the shared samples.

The wolph/mt940 ``.yml`` files are YAML dumps of Python objects (``!!python/object`` tags);
they are read here with a safe loader that turns those objects into plain dicts, decimals and
dates, so no code from the dump is ever executed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class _ExpectedLoader(yaml.SafeLoader):
    """SafeLoader that reads python-object tags as data only."""


def _object(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Iterator[dict[str, Any]]:
    data: dict[str, Any] = {}
    yield data  # yielded first: the dumps are self-referencing (a transaction -> its statement)
    if isinstance(node, yaml.MappingNode):
        data.update(loader.construct_mapping(node, deep=True))


def _apply(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    args = loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode) else []
    if suffix == "decimal.Decimal":
        return Decimal(args[0])
    if suffix.endswith(".Date") and args and isinstance(args[0], bytes):
        raw = args[0]  # pickled datetime.date state: year (2 bytes), month, day
        return date(raw[0] * 256 + raw[1], raw[2], raw[3])
    return None


_ExpectedLoader.add_multi_constructor("tag:yaml.org,2002:python/object:", _object)
_ExpectedLoader.add_multi_constructor("tag:yaml.org,2002:python/object/apply:", _apply)


def load_wolph_yml(path: Path) -> dict[str, Any]:
    """``{"data": ..., "transactions": [transaction data dicts]}`` of a wolph/mt940 dump."""
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_ExpectedLoader)  # noqa: S506
    return {
        "data": loaded.get("data", {}),
        "transactions": [t["data"] for t in loaded.get("transactions", [])],
    }


def load_oca_json(path: Path) -> dict[str, Any]:
    """OCA's expected camt parse result, as converted to JSON beside the samples."""
    return json.loads(path.read_text(encoding="utf-8"))


def minor(value: Decimal | float | str, exponent: int = 2) -> int:
    """Decimal amount as integer minor units."""
    return int((Decimal(str(value)) * 10**exponent).to_integral_value())
