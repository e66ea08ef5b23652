"""Records the pipeline emits: one call record per call, the latest ticket record per ticket,
metric, agent-time and ticket-count snapshots (counters only, never rates), alerts and dead letters.

Records that are rewritten as more is learned (call, ticket, snapshot, alert) carry a
``version``; a sink keeps the highest version, so writing the same record twice, or an older
one after a newer one, changes nothing.
"""

from __future__ import annotations

from hotline.schemas.base import Record
from hotline.schemas.enums import (
    AlertKind,
    BusinessLine,
    Channel,
    DeadLetterReason,
    Level,
    SelfServiceKind,
    Severity,
    SurveyResult,
    TicketCategory,
    TicketStatus,
    TransferTarget,
)
from hotline.schemas.types import (
    Bool,
    Bytes,
    Count,
    Count32,
    Id,
    Int,
    Millis,
    Millis32,
    RegionCode,
    SnapshotRegionCode,
    Text,
    UtcMillis,
)


class CallRecord(Record):
    """Everything counted about one call; the per-call counters of DOMAIN.md as 0/1 flags.

    The thresholds used for ``short_abandoned`` and ``answered_in_sl`` are stored with the
    record, and ``wait_ms`` is kept, so a changed threshold can be recomputed from the facts.
    """

    RECORD_TYPE = "call.record"

    call_id: Id
    center_id: Id
    region_code: RegionCode
    channel: Channel
    business_line: BusinessLine | None = None
    """Null when the call never reached a queue."""
    agent_id: Id | None = None
    started_at: UtcMillis
    ended_at: UtcMillis | None = None
    offered: Bool = True
    self_served: Bool = False
    queued: Bool = False
    answered: Bool = False
    abandoned: Bool = False
    short_abandoned: Bool = False
    answered_in_sl: Bool = False
    wait_ms: Millis = 0
    talk_ms: Millis = 0
    hold_ms: Millis = 0
    acw_ms: Millis = 0
    transferred: Bool = False
    transfer_target: TransferTarget | None = None
    caller_hung_up_first: Bool = False
    repeat_7d: Bool = False
    survey_result: SurveyResult | None = None
    closed_by_timeout: Bool = False
    """True when the record was closed by the assembly timeout instead of a call.ended."""
    short_abandon_threshold_ms: Millis32 = 5_000
    service_level_threshold_ms: Millis32 = 30_000
    version: Count = 0
    self_service_kind: SelfServiceKind | None = None
    """What the IVR served when ``self_served`` (its bucket's business line); added in v2."""


class TicketRecord(Record):
    """The latest state of one ticket, as of ``as_of``."""

    RECORD_TYPE = "ticket.record"

    ticket_id: Id
    center_id: Id
    region_code: RegionCode
    call_id: Id | None = None
    category: TicketCategory
    business_line: BusinessLine
    status: TicketStatus
    created_at: UtcMillis
    due_at: UtcMillis
    resolved_at: UtcMillis | None = None
    closed_at: UtcMillis | None = None
    callbacks: Count32 = 0
    reopens: Count32 = 0
    on_time: Bool | None = None
    """Resolved by ``due_at``; null while unresolved."""
    overdue: Bool = False
    """Open (neither resolved nor closed) and past ``due_at`` at ``as_of``."""
    as_of: UtcMillis
    version: Count = 0


class MetricSnapshot(Record):
    """Summable counters for one bucket × level × region × business line × channel.

    Rates are computed at query time from summed counters (docs/events.md lists them).
    """

    RECORD_TYPE = "metric.snapshot"

    bucket_start: UtcMillis
    bucket_seconds: Int = 60
    level: Level
    region_code: SnapshotRegionCode
    """The region at ``level``; ``000000`` for the national level."""
    business_line: BusinessLine | None = None
    """Null for calls that never reached a queue (self-served in the IVR)."""
    channel: Channel
    version: Count
    offered: Count = 0
    self_served: Count = 0
    queued: Count = 0
    answered: Count = 0
    abandoned: Count = 0
    short_abandoned: Count = 0
    answered_in_sl: Count = 0
    wait_ms_answered: Count = 0
    """Σ queue wait of answered calls (ASA numerator)."""
    wait_ms_abandoned: Count = 0
    talk_ms: Count = 0
    hold_ms: Count = 0
    acw_ms: Count = 0
    transferred: Count = 0
    caller_hung_up_first: Count = 0
    repeat_7d: Count = 0
    survey_responses: Count = 0
    survey_satisfied: Count = 0
    survey_basic: Count = 0
    survey_dissatisfied: Count = 0
    closed_by_timeout: Count = 0
    late: Count = 0
    """Calls that arrived after the lateness horizon and are counted in this later bucket."""


#: The summable counters of a :class:`MetricSnapshot`, in field order (everything after its
#: identity and ``version``): the one list the streams, the sink and the views share.
METRIC_COUNTERS: tuple[str, ...] = tuple(
    name
    for name in MetricSnapshot.model_fields
    if name
    not in {
        "bucket_start",
        "bucket_seconds",
        "level",
        "region_code",
        "business_line",
        "channel",
        "version",
    }
)


class AgentTimeSnapshot(Record):
    """Agent time for one minute × level × region: the occupancy denominator of DOMAIN.md.

    The province's stream worker turns ``agent.state`` events into time per state (an agent is
    in the state of its latest event until the next one) and sends a minute once the lateness
    horizon has passed it; national sums the provinces' snapshots. Staffed = ready + on call +
    after-call work; occupancy = Σ handle time (talk + hold + ACW of the metric snapshots) /
    Σ ``staffed_ms``.
    """

    RECORD_TYPE = "agent_time.snapshot"

    bucket_start: UtcMillis
    bucket_seconds: Int = 60
    level: Level
    region_code: SnapshotRegionCode
    """The region at ``level`` (an agent counts where the center of its state event is);
    ``000000`` for the national level."""
    version: Count
    staffed_ms: Millis = 0
    ready_ms: Millis = 0
    on_call_ms: Millis = 0
    acw_ms: Millis = 0
    """After-call work (``not_ready`` with reason ``acw``)."""
    not_ready_ms: Millis = 0
    """Logged in and not ready for any other reason (break, training, meeting, …)."""


class TicketCountSnapshot(Record):
    """Ticket counters for one minute × level × region × category.

    A ticket counts ``created`` in the minute of its creation and, for each resolution,
    ``resolved`` (and ``resolved_on_time`` when at or before the due time then in force) in
    the resolution's minute, in the region and category of its creation. The province's
    stream worker sends the county, city and province snapshots as tickets change; national
    sums the provinces'.
    """

    RECORD_TYPE = "ticket_count.snapshot"

    bucket_start: UtcMillis
    bucket_seconds: Int = 60
    level: Level
    region_code: SnapshotRegionCode
    """The region at ``level``; ``000000`` for the national level."""
    category: TicketCategory
    version: Count
    created: Count = 0
    resolved: Count = 0
    resolved_on_time: Count = 0


class Alert(Record):
    """An alert; open while ``closed_at`` is null. One ``dedupe_key`` → one open alert."""

    RECORD_TYPE = "alert.record"

    alert_id: Id
    kind: AlertKind
    severity: Severity
    region_code: RegionCode
    center_id: Id | None = None
    opened_at: UtcMillis
    closed_at: UtcMillis | None = None
    message: Text
    dedupe_key: Text
    version: Count = 0


class QueueSnapshot(Record):
    """A center's queue at one moment: calls waiting for an agent now and the longest wait.

    The province's stream worker counts its open calls that queued and are not yet answered,
    abandoned or ended; ``as_of`` is the latest event time it has seen. A newer ``as_of``
    replaces an older one (it is the record's version).
    """

    RECORD_TYPE = "queue.snapshot"

    center_id: Id
    region_code: RegionCode
    """The center's home region."""
    as_of: UtcMillis
    waiting: Count32
    longest_wait_ms: Millis = 0
    """How long the longest-waiting of them has waited at ``as_of`` (0 when none waits)."""


class DeadLetter(Record):
    """A message that could not be decoded, validated or processed, with where it came from."""

    RECORD_TYPE = "dead_letter.record"

    reason: DeadLetterReason
    stage: Text
    """The step that gave up, e.g. ``streams.assemble``."""
    source_topic: Text
    source_partition: Int
    source_offset: Count
    original: Bytes
    error_type: Text
    error_detail: Text
    failed_at: UtcMillis


#: The counters of an :class:`AgentTimeSnapshot`, in field order (everything after
#: ``version``): staffed, ready, on call, after-call work, not ready.
AGENT_TIME_COUNTERS: tuple[str, ...] = tuple(
    name
    for name in AgentTimeSnapshot.model_fields
    if name not in {"bucket_start", "bucket_seconds", "level", "region_code", "version"}
)


#: The counters of a :class:`TicketCountSnapshot`, in field order (after ``version``).
TICKET_COUNT_COUNTERS: tuple[str, ...] = tuple(
    name
    for name in TicketCountSnapshot.model_fields
    if name not in {"bucket_start", "bucket_seconds", "level", "region_code", "category", "version"}
)
