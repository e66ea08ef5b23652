"""The HTTP ingest gateway: centers without a Kafka client POST JSON events in batches.

``POST /v1/events`` with ``Authorization: Bearer <token>`` and ``{"events": [...]}``.

Checks, in order, each with its status:

1. ``Content-Length`` above ``max_body_bytes`` → **413** (none given → **411**);
2. no or unknown token → **401**;
3. the token's bucket is empty → **429** with ``Retry-After``;
4. more than ``max_events`` events → **413**; a body that is not ``{"events": [...]}`` → 422;
5. each event on its own (:func:`check_event`): a phone number in a caller field, an unknown
   type, a schema violation, a ``center_id`` other than the token's, or a region the center
   does not serve makes that event **rejected** with its index and reason — the others go on;
6. the accepted events are sent with ``acks=all`` and the response waits for Kafka's
   acknowledgement of every one: **200** with per-event results. If Kafka does not acknowledge
   them in ``ack_timeout_s`` → **503** with ``Retry-After`` and nothing is promised: the
   client sends the same batch again (events keep their ``event_id``, so the stream drops any
   that had arrived). The gateway does not spool: a center's own retry is its spool.

OpenAPI docs: ``/docs``; the schema at ``/openapi.json``.
"""

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kafka import KafkaProducer
from kafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.centers import CenterRegistry, default_centers
from hotline.errors import InvalidInput, RetryableError
from hotline.producers.base import DeliveryConfig, OutboundRecord
from hotline.producers.delivery import Preparer, abandon, caller_problem, new_producer
from hotline.producers.gateway.ratelimit import RateLimiter
from hotline.producers.gateway.tokens import TokenStore, hash_token
from hotline.schemas import EVENT_TYPES, Event

__all__ = [
    "BatchSender",
    "EventResult",
    "GatewayConfig",
    "IngestRequest",
    "IngestResponse",
    "KafkaBatchSender",
    "check_event",
    "create_app",
]

log = logging.getLogger(__name__)


class GatewayConfig(BaseModel):
    """Limits and files of the gateway."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tokens_file: Path = Path(".hotline/gateway/tokens.json")
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_events: int = Field(1000, ge=1)
    rate_per_s: float = Field(5.0, gt=0, description="requests per second per token")
    burst: int = Field(20, ge=1)
    ack_timeout_s: float = Field(10.0, gt=0)
    retry_after_s: int = Field(5, ge=1)


class IngestRequest(BaseModel):
    """A batch of events, each an object in the JSON form of its ``hotline.schemas`` model."""

    events: list[Any] = Field(description="events; each is checked on its own")


class EventResult(BaseModel):
    index: int
    status: Literal["accepted", "rejected"]
    event_id: str | None = None
    reason: str | None = None


class IngestResponse(BaseModel):
    accepted: int
    rejected: int
    results: list[EventResult]


class BatchSender:
    """Sends records and returns only when Kafka acknowledged all; else ``RetryableError``."""

    def send(self, records: list[OutboundRecord], timeout_s: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection."""


class KafkaBatchSender(BatchSender):
    """A shared idempotent ``acks=all`` producer, (re)connected on demand."""

    def __init__(self, config: DeliveryConfig) -> None:
        self.config = config
        self._producer: KafkaProducer | None = None

    def send(self, records: list[OutboundRecord], timeout_s: float) -> None:
        try:
            if self._producer is None:
                self._producer = new_producer(self.config, "hotline-gateway")
            producer = self._producer
            futures = [
                producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers))
                for r in records
            ]
            producer.flush(timeout=timeout_s)
            for future in futures:
                future.get(timeout=0.1)
        except (KafkaError, OSError) as exc:
            if self._producer is not None:
                abandon(self._producer)
                self._producer = None
            raise RetryableError(f"Kafka did not acknowledge the batch: {exc!r}") from exc

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None


def _validation_reason(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def check_event(
    item: Any, center_id: str, centers: CenterRegistry, preparer: Preparer
) -> tuple[Event, OutboundRecord] | str:
    """The event and its record, or why it is rejected (never echoing a caller number)."""
    if not isinstance(item, dict):
        return "not a JSON object"
    problem = caller_problem(item)
    if problem:
        return f"caller_in_clear: {problem}"
    envelope = item.get("envelope")
    event_type = envelope.get("event_type") if isinstance(envelope, dict) else None
    model = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        return f"unknown event type {event_type!r}; known: {sorted(EVENT_TYPES)}"
    try:
        event = model.model_validate_json(json.dumps(item))
    except ValidationError as exc:
        return f"invalid {event_type}: {_validation_reason(exc)}"
    if event.envelope.center_id != center_id:
        return f"center_id {event.envelope.center_id} is not the token's center {center_id}"
    region = event.envelope.region_code
    if region not in centers.regions or not centers.serves(center_id, region):
        return f"center {center_id} does not serve region {region}"
    try:
        return event, preparer.prepare(event)
    except InvalidInput as exc:
        return str(exc)


class _BodyLimit:
    """ASGI middleware: 413 for a declared body above the limit, 411 for POST without one."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            status, detail = 0, ""
            if length is None:
                status, detail = 411, "Content-Length is required"
            elif not length.isdigit() or int(length) > self.max_bytes:
                status = 413
                detail = f"body of {length.decode()} bytes exceeds {self.max_bytes} bytes"
            if status:
                response = JSONResponse({"detail": detail}, status_code=status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    config: GatewayConfig,
    tokens: TokenStore,
    sender: BatchSender,
    *,
    centers: CenterRegistry | None = None,
    preparer: Preparer | None = None,
    limiter: RateLimiter | None = None,
) -> FastAPI:
    """The gateway application (run with uvicorn, or test with FastAPI's TestClient)."""
    centers = centers or default_centers()
    preparer = preparer or Preparer()
    limiter = limiter or RateLimiter(config.rate_per_s, config.burst)
    bearer = HTTPBearer(auto_error=False, description="a center's ingest token (hl_…)")
    app = FastAPI(
        title="hotline ingest gateway",
        version="1",
        description=__doc__,
    )
    app.add_middleware(_BodyLimit, max_bytes=config.max_body_bytes)
    app.state.sender = sender

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        unauthorized = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required", headers=unauthorized)
        center_id = tokens.center_of(credentials.credentials)
        if center_id is None:
            raise HTTPException(401, "unknown token", headers=unauthorized)
        wait = limiter.take(hash_token(credentials.credentials))
        if wait > 0:
            retry = str(max(1, round(wait + 0.5)))
            raise HTTPException(429, "rate limit reached", headers={"Retry-After": retry})
        return center_id

    @app.post(
        "/v1/events",
        response_model=IngestResponse,
        responses={
            401: {"description": "no or unknown token"},
            411: {"description": "no Content-Length"},
            413: {"description": "body or batch too large"},
            429: {"description": "rate limit; see Retry-After"},
            503: {"description": "Kafka did not acknowledge; retry after Retry-After"},
        },
    )
    def ingest(batch: IngestRequest, center_id: Annotated[str, Depends(authenticate)]) -> Any:
        """Check each event, send the accepted ones, answer after Kafka acknowledged them."""
        if len(batch.events) > config.max_events:
            raise HTTPException(413, f"{len(batch.events)} events exceed {config.max_events}")
        results: list[EventResult] = []
        records: list[OutboundRecord] = []
        for index, item in enumerate(batch.events):
            checked = check_event(item, center_id, centers, preparer)
            if isinstance(checked, str):
                event_id = None
                if isinstance(item, dict) and isinstance(item.get("envelope"), dict):
                    raw_id = item["envelope"].get("event_id")
                    event_id = raw_id if isinstance(raw_id, str) else None
                results.append(EventResult(index=index, status="rejected", event_id=event_id,
                                           reason=checked))  # fmt: skip
                continue
            event, record = checked
            records.append(record)
            results.append(
                EventResult(index=index, status="accepted", event_id=event.envelope.event_id)
            )
        if records:
            try:
                sender.send(records, config.ack_timeout_s)
            except RetryableError as exc:
                log.warning("batch of %s not acknowledged: %s", center_id, exc)
                return JSONResponse(
                    {"detail": "Kafka is unavailable; send the same batch again later"},
                    status_code=503,
                    headers={"Retry-After": str(config.retry_after_s)},
                )
        accepted = len(records)
        return IngestResponse(accepted=accepted, rejected=len(results) - accepted, results=results)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
