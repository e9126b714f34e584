"""Standalone demo PSA simulator: canonical REST API plus signed webhooks, stdlib only."""

from .server import PsaSimulator, sign

__all__ = ["PsaSimulator", "sign"]
