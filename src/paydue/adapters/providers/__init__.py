"""Payment providers behind one port (``base.Provider``) and the registry that names them."""

from __future__ import annotations

import hashlib
import hmac

import sqlalchemy as sa

from paydue.adapters.clock import Clock
from paydue.adapters.providers.banktransfer import BankTransfer
from paydue.adapters.providers.base import Provider
from paydue.adapters.providers.simulator import Simulator


def provider_secret(secret: bytes, name: str) -> bytes:
    """The key a built-in provider signs its notifications with, derived from the server's."""
    return hmac.new(secret, f"provider:{name}".encode(), hashlib.sha256).digest()


def registry(engine: sa.Engine, clock: Clock, secret: bytes, base_url: str) -> dict[str, Provider]:
    """Every provider this installation can use, by name. A new provider is one line here."""
    providers: list[Provider] = [
        Simulator(engine, clock, provider_secret(secret, "simulator"), base_url),
        BankTransfer(),
    ]
    return {p.name: p for p in providers}
