"""The delivery engine and the sender protocol adapters implement; it is handed its
schedule kinds by the composition root and names no feature."""

from __future__ import annotations

from handlers.delivery._engine import (
    LEASE,
    RETRY_AFTER_MAX,
    DeliveryEngine,
    Sender,
    SendFailed,
    TickResult,
)

__all__ = [
    "LEASE", "RETRY_AFTER_MAX", "DeliveryEngine", "SendFailed", "Sender", "TickResult",
]
