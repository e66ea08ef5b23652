"""The HTTP ingest gateway: centers without a Kafka client POST JSON events in batches.

``POST /v1/events`` with ``Authorization: Bearer <token>`` and ``{"events": [...]}``.

Checks, in order, each with its status:

1. ``Content-Length`` above ``max_body_bytes`` → **413** (none given → **411**);
2. no or unknown token → **401**; a token of a center not in the registry → **403**;
3. the token's bucket is empty → **429** with ``Retry-After``;
4. more than ``max_events`` events → **413**; a body that is not ``{"events": [...]}`` → 422;
5. each event on its own (:func:`check_event`): a phone number in a caller field, an unknown
   type, a schema violation, a ``center_id`` other than the token's, a region the center
   does not serve, or an implausible ``occurred_at`` (before 2000, or more than
   ``max_future_s`` ahead) makes that event **rejected** with its index and reason — the
   others go on. With the 200 answer each rejected event is also written to the gateway's
   dead-letter file (stage ``gateway``, its kind and reason, the original JSON with any
   possible phone number masked), counted by kind (``GET /healthz``), and the request is
   logged once with the counts;
6. the accepted events are sent with ``acks=all`` and the response waits until Kafka
   acknowledged every one: **200** with per-event results. An event whose record Kafka
   refuses (too large, invalid: it never would take it) is rejected as above, kind
   ``kafka_refused``, with Kafka's error in its reason
   (:mod:`~hotline.producers.gateway.sender`). If Kafka does not acknowledge them in
   ``ack_timeout_s`` → **503** with ``Retry-After`` and nothing is promised: the
   client sends the same batch again (events keep their ``event_id``, so the stream drops any
   that had arrived). The gateway does not spool: a center's own retry is its spool.

Tokens added or revoked while the gateway runs count from the next request on
(:class:`~hotline.producers.gateway.tokens.TokenStore`). ``GET /healthz``: whether Kafka
takes a connection now (200, else **503**: a container's healthcheck then fails) and the
counters (accepted events, rejected ones by kind, dead letters, 503s).

OpenAPI docs: ``/docs``; the schema at ``/openapi.json``.
"""

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Container, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.centers import CenterRegistry, default_centers
from hotline.errors import InvalidInput, RetryableError
from hotline.privacy import blank_phone_runs
from hotline.producers.base import OutboundRecord, RefusedEvent
from hotline.producers.delivery import DeadLetterLog, Preparer, caller_problem
from hotline.producers.gateway.health import KafkaHealth
from hotline.producers.gateway.ratelimit import RateLimiter
from hotline.producers.gateway.sender import BatchSender, KafkaBatchSender
from hotline.producers.gateway.tokens import TokenStore, hash_token
from hotline.schemas import EVENT_TYPES, Event, QaKind
from hotline.schemas.qa import QaEvaluation
from hotline.schemas.redact import redact_json
from hotline.schemas.types import EARLIEST_OCCURRED_AT, MAX_FUTURE_S, UUID_PATTERN

__all__ = [
    "REJECTION_KINDS",
    "BatchSender",
    "EventResult",
    "GatewayConfig",
    "GatewayStats",
    "IngestRequest",
    "IngestResponse",
    "KafkaBatchSender",
    "check_event",
    "create_app",
]

log = logging.getLogger(__name__)

#: The kinds a rejected event is counted under (``GET /healthz``) and dead-lettered with.
REJECTION_KINDS = (
    "not_an_object",
    "caller_in_clear",
    "unknown_type",
    "invalid",
    "wrong_center",
    "wrong_producer",
    "wrong_region",
    "implausible_time",
    "refused",
    "kafka_refused",
)
_UUID = re.compile(UUID_PATTERN)


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
    health_timeout_s: float = Field(
        1.0, gt=0, description="GET /healthz: how long a bootstrap address may take to answer"
    )
    health_ttl_s: float = Field(
        2.0, gt=0, description="GET /healthz: how long a probe's answer about Kafka is kept"
    )
    max_future_s: float = Field(
        MAX_FUTURE_S, gt=0, description="an occurred_at further ahead of the clock is rejected"
    )
    dead_letters_file: Path = Field(
        Path(".hotline/gateway/dead_letters.jsonl"),
        description="rejected events, one JSON line each (stage gateway, masked original)",
    )


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


def _validation_reason(exc: ValidationError) -> str:
    """Up to five of pydantic's errors, each as ``location: message``. Inputs are hidden by the
    models; a location names the client's own keys (an unknown one too), so digit runs in it
    are masked as in any other client text."""
    parts = [
        f"{blank_phone_runs('.'.join(str(p) for p in err['loc'])) or 'event'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _shown(value: object, known: Container[object]) -> str:
    """``value`` for an error text: as is if it is one of ``known``, else any run of 5+
    digits in it masked (a client's free text must not carry a number into logs)."""
    text = str(value)
    return text if text in known else blank_phone_runs(text)


def check_event(
    item: Any, center_id: str, centers: CenterRegistry, preparer: Preparer, latest: datetime
) -> tuple[Event, OutboundRecord] | tuple[str, str]:
    """The event and its record, or the kind (:data:`REJECTION_KINDS`) and reason of its
    rejection (never echoing a caller number); ``occurred_at`` must lie between 2000-01-01
    and ``latest`` (the wall clock + ``max_future_s``, as the stream worker's ingest has it)."""
    if not isinstance(item, dict):
        return "not_an_object", "not a JSON object"
    problem = caller_problem(item)
    if problem:
        return "caller_in_clear", f"caller_in_clear: {problem}"
    envelope = item.get("envelope")
    event_type = envelope.get("event_type") if isinstance(envelope, dict) else None
    model = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if model is None:
        shown = repr(_shown(event_type, EVENT_TYPES)) if event_type is not None else "None"
        return "unknown_type", f"unknown event type {shown}; known: {sorted(EVENT_TYPES)}"
    try:
        event = model.model_validate_json(json.dumps(item))
    except ValidationError as exc:
        return "invalid", f"invalid {event_type}: {_validation_reason(exc)}"
    env = event.envelope
    if env.center_id != center_id:
        shown = _shown(env.center_id, centers)
        return "wrong_center", f"center_id {shown} is not the token's center {center_id}"
    if center_id not in env.producer_id:
        return "wrong_producer", (
            f"producer_id {blank_phone_runs(env.producer_id)!r} does not contain the token's "
            f"center {center_id} (e.g. {center_id}-cti): sequence gaps are tracked per "
            "producer across the network, so producer ids must not be shared by centers"
        )
    region = env.region_code
    if region not in centers.regions or not centers.serves(center_id, region):
        return "wrong_region", f"center {center_id} does not serve region {region}"
    if isinstance(event, QaEvaluation) and (
        event.kind is not QaKind.INTERNAL
        or event.evaluated_center_id != center_id
        or not centers.serves(center_id, event.evaluated_region_code)
    ):
        return "wrong_center", (
            f"a center's token sends only internal evaluations of its own calls (kind "
            f"'internal', evaluated_center_id {center_id}, a region it serves); the national "
            "mystery shopper's are stored with `hotline quality import` or the quality form"
        )
    if env.occurred_at < EARLIEST_OCCURRED_AT:
        return "implausible_time", (
            f"implausible occurred_at {env.occurred_at.isoformat()}: "
            f"before {EARLIEST_OCCURRED_AT.isoformat()}"
        )
    if env.occurred_at > latest:
        return "implausible_time", (
            f"implausible occurred_at {env.occurred_at.isoformat()}: after "
            f"{latest.isoformat(timespec='seconds')} (the gateway's clock + max_future_s)"
        )
    try:
        return event, preparer.prepare(event)
    except RefusedEvent as exc:
        return "caller_in_clear", f"caller_in_clear: {exc}"
    except InvalidInput as exc:
        return "refused", str(exc)


class GatewayStats:
    """The gateway's counters since start (thread-safe), shown by ``GET /healthz``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.dead_letters = 0
        self.dead_letter_errors = 0
        self.unavailable = 0

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def reject(self, kinds: Counter[str]) -> None:
        with self._lock:
            self.rejected.update(kinds)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accepted": self.accepted,
                "rejected": sum(self.rejected.values()),
                "rejected_by_kind": dict(sorted(self.rejected.items())),
                "dead_letters": self.dead_letters,
                "dead_letter_errors": self.dead_letter_errors,
                "unavailable": self.unavailable,
            }


def _envelope(item: Any) -> dict[str, Any]:
    """The ``envelope`` object of a client's event, else an empty one."""
    envelope = item.get("envelope") if isinstance(item, dict) else None
    return envelope if isinstance(envelope, dict) else {}


def _event_id(item: Any) -> str | None:
    """A client's event id if it is a UUID: any other text could be a number."""
    event_id = _envelope(item).get("event_id")
    return event_id if isinstance(event_id, str) and _UUID.match(event_id) else None


def _rejection(index: int, item: Any, reason: str) -> EventResult:
    """The result of a rejected event (its event id if that is a UUID)."""
    return EventResult(index=index, status="rejected", event_id=_event_id(item), reason=reason)


def _dead_letter(
    item: Any, index: int, center_id: str, kind: str, reason: str, centers: CenterRegistry
) -> dict[str, Any]:
    """A rejected event's dead-letter line. Nothing of the client's is in it in clear but
    what passed its pattern (a UUID event id, a known event type); the original is the
    event's JSON with every value that could hold a phone number masked
    (:func:`~hotline.schemas.redact.redact_json`; known center ids are kept)."""
    event_type = _envelope(item).get("event_type")
    known_type = isinstance(event_type, str) and event_type in EVENT_TYPES  # a list: no key
    original, masked = redact_json(item, keep=centers.__contains__)
    line: dict[str, Any] = {
        "stage": "gateway",
        "event_id": _event_id(item),
        "event_type": event_type if known_type else None,
        "center_id": center_id,  # the token's
        "index": index,
        "kind": kind,
        "reason": reason,
        "original": original,
    }
    if masked:
        line["original_note"] = (
            "original masked: each run of 5+ digits (a possible phone number) in its values "
            "has its digits but the last two replaced by '*'"
        )
    return line


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """422 naming what is wrong with the body, without FastAPI's echo of it (``input``: the
    whole body, caller numbers and all)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{k: v for k, v in error.items() if k != "input"} for error in errors]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


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
    kafka_health = KafkaHealth(
        lambda: sender.reachable(config.health_timeout_s), config.health_ttl_s
    )
    bearer = HTTPBearer(auto_error=False, description="a center's ingest token (hl_…)")
    app = FastAPI(
        title="hotline ingest gateway",
        version="1",
        description=__doc__,
    )
    app.add_middleware(_BodyLimit, max_bytes=config.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.state.sender = sender
    stats = GatewayStats()
    app.state.stats = stats
    dead_letters = DeadLetterLog(config.dead_letters_file)
    app.state.dead_letters = dead_letters

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        unauthorized = {"WWW-Authenticate": "Bearer"}
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required", headers=unauthorized)
        center_id = tokens.center_of(credentials.credentials)
        if center_id is None:
            raise HTTPException(401, "unknown token", headers=unauthorized)
        if center_id not in centers:
            raise HTTPException(
                403,
                f"the token's center {center_id} is not a known center: "
                "revoke its tokens and add one for the center that took over",
            )
        wait = limiter.take(hash_token(credentials.credentials))
        if wait > 0:
            retry = str(max(1, round(wait + 0.5)))
            raise HTTPException(429, "rate limit reached", headers={"Retry-After": retry})
        return center_id

    def record_rejections(center_id: str, total: int, rejected: list[dict[str, Any]]) -> None:
        """Count, dead-letter and log a request's rejected events (never raises)."""
        kinds = Counter(line["kind"] for line in rejected)
        stats.reject(kinds)
        written = 0
        try:
            written = dead_letters.append(rejected)
        except OSError as exc:
            stats.add(dead_letter_errors=len(rejected))
            log.error(
                "%d rejected event(s) of %s not dead-lettered: %s cannot be written: %s",
                len(rejected),
                center_id,
                dead_letters.path,
                exc,
            )
        stats.add(dead_letters=written)
        log.warning(
            "%s: %d of %d event(s) rejected (%s); %d dead-lettered to %s",
            center_id,
            len(rejected),
            total,
            ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())),
            written,
            dead_letters.path,
        )

    @app.post(
        "/v1/events",
        response_model=IngestResponse,
        responses={
            401: {"description": "no or unknown token"},
            403: {"description": "the token's center is not in the center registry"},
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
        latest = datetime.now(UTC) + timedelta(seconds=config.max_future_s)
        results: list[EventResult] = []
        records: list[OutboundRecord] = []
        sent: list[int] = []  # the index of each record's event
        rejected: list[tuple[int, Any, str, str]] = []
        for index, item in enumerate(batch.events):
            checked = check_event(item, center_id, centers, preparer, latest)
            if isinstance(checked[0], str):
                kind, reason = checked
                results.append(_rejection(index, item, reason))
                rejected.append((index, item, kind, reason))
                continue
            event, record = checked
            records.append(record)
            sent.append(index)
            results.append(
                EventResult(index=index, status="accepted", event_id=event.envelope.event_id)
            )
        if records:
            try:
                refused = sender.send(records, config.ack_timeout_s)
            except RetryableError as exc:
                # nothing is promised: the client sends the batch again, and its rejected
                # events are counted and dead-lettered with the answer that reports them
                stats.add(unavailable=1)
                log.warning("batch of %s not acknowledged: %s", center_id, exc)
                return JSONResponse(
                    {"detail": "Kafka is unavailable; send the same batch again later"},
                    status_code=503,
                    headers={"Retry-After": str(config.retry_after_s)},
                )
            for i, reason in refused.items():
                item = batch.events[sent[i]]
                results[sent[i]] = _rejection(sent[i], item, reason)
                rejected.append((sent[i], item, "kafka_refused", reason))
        accepted = len(results) - len(rejected)
        stats.add(accepted=accepted)
        if rejected:
            rejected.sort(key=lambda r: r[0])
            lines = [_dead_letter(item, i, center_id, k, r, centers) for i, item, k, r in rejected]
            record_rejections(center_id, len(results), lines)
        return IngestResponse(accepted=accepted, rejected=len(rejected), results=results)

    @app.get(
        "/healthz",
        responses={503: {"description": "Kafka is unreachable: every batch would get 503"}},
    )
    def healthz() -> JSONResponse:
        """Whether Kafka is reachable (``kafka``: ``ok``, else ``unreachable`` and 503 with
        ``status`` ``unavailable``; a probe's answer is kept ``health_ttl_s``), the counters
        since start, and why the tokens file could not be re-read (``tokens_error``; the last
        good tokens are in use) if it could not. Run in a worker thread: the probe waits
        ``health_timeout_s`` at most per address."""
        up = kafka_health.up()
        body = {
            "status": "ok" if up else "unavailable",
            "kafka": "ok" if up else "unreachable",
            **stats.snapshot(),
            "tokens_error": tokens.error,
        }
        return JSONResponse(body, status_code=200 if up else 503)

    return app
