"""The HTTP ingest gateway (``hotline serve ingest``): FastAPI app, tokens, rate limits.

See :mod:`hotline.producers.gateway.app` for the API and docs/producers.md for operations.
"""

from hotline.producers.gateway.app import (
    REJECTION_KINDS,
    BatchSender,
    EventResult,
    GatewayConfig,
    GatewayStats,
    IngestRequest,
    IngestResponse,
    KafkaBatchSender,
    check_event,
    create_app,
)
from hotline.producers.gateway.ratelimit import RateLimiter
from hotline.producers.gateway.tokens import TokenStore, hash_token

__all__ = [
    "REJECTION_KINDS",
    "BatchSender",
    "EventResult",
    "GatewayConfig",
    "GatewayStats",
    "IngestRequest",
    "IngestResponse",
    "KafkaBatchSender",
    "RateLimiter",
    "TokenStore",
    "check_event",
    "create_app",
    "hash_token",
]
