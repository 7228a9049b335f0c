"""Issuer API: webhook endpoints (placeholder until the delivery side lands)."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
