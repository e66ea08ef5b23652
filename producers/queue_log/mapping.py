"""The mapping file: which queue is which business line, center, region; PAUSE reasons.

TOML, documented in ``docs/queue_log.md``::

    center_id = "C320100"            # optional: else the center serving region_code
    region_code = "320100"           # GB/T 2260 region of calls by default
    timezone = "Asia/Shanghai"       # for text timestamps in the log; epoch needs none
    area_code = "025"                # optional: completes local landline caller numbers
    default_business_line = "other"  # queues not listed below (a warning per queue)

    [queues.yanglao]                 # queue name as in queues.conf
    business_line = "pension"
    region_code = "320102"           # optional, else the file's region_code

    [pause_reasons]                  # PAUSE reason text → break | training | acw | other
    "午餐" = "break"

    [agents]                         # optional: queue_log agent → agent id
    "PJSIP/8001" = "A8001"

    [transfers]                      # where transfers go (TransferTarget values)
    default = "other_department"     # BLINDTRANSFER / TRANSFER to an unlisted extension
    attended = "supervisor"          # ATTENDEDTRANSFER (the log names no extension)
    extensions = { "12345" = "platform_12345", "8000" = "supervisor" }
    contexts = { "experts" = "expert_seat" }
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotline.centers import UnknownCenter, default_centers
from hotline.errors import ConfigurationError
from hotline.regions import default_registry
from hotline.schemas import BusinessLine, NotReadyReason, TransferTarget
from hotline.schemas.types import ID_PATTERN, REGION_CODE_PATTERN

__all__ = [
    "DEFAULT_PAUSE_KEYWORDS",
    "QueueLogMapping",
    "QueueSpec",
    "TransferSpec",
    "check_mapping",
    "load_mapping",
]

#: Built-in reading of PAUSE reasons (lower-case substring → reason), after the file's own.
DEFAULT_PAUSE_KEYWORDS: tuple[tuple[str, NotReadyReason], ...] = (
    ("acw", NotReadyReason.ACW),
    ("wrap", NotReadyReason.ACW),
    ("after", NotReadyReason.ACW),
    ("话后", NotReadyReason.ACW),
    ("train", NotReadyReason.TRAINING),
    ("meeting", NotReadyReason.TRAINING),
    ("coach", NotReadyReason.TRAINING),
    ("培训", NotReadyReason.TRAINING),
    ("学习", NotReadyReason.TRAINING),
    ("break", NotReadyReason.BREAK),
    ("lunch", NotReadyReason.BREAK),
    ("rest", NotReadyReason.BREAK),
    ("toilet", NotReadyReason.BREAK),
    ("休息", NotReadyReason.BREAK),
    ("小休", NotReadyReason.BREAK),
    ("用餐", NotReadyReason.BREAK),
    ("午餐", NotReadyReason.BREAK),
)

_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueueSpec(_Model):
    """One queue: its business line and (optionally) its own region."""

    business_line: BusinessLine
    region_code: str | None = Field(None, pattern=REGION_CODE_PATTERN)


class TransferSpec(_Model):
    """How transfer destinations map to :class:`~hotline.schemas.TransferTarget`."""

    default: TransferTarget = TransferTarget.OTHER_DEPARTMENT
    attended: TransferTarget = TransferTarget.SUPERVISOR
    extensions: dict[str, TransferTarget] = {}
    contexts: dict[str, TransferTarget] = {}

    def target(self, extension: str, context: str) -> TransferTarget:
        """Extension match first, then context, then the default."""
        found = self.extensions.get(extension) or self.contexts.get(context)
        return found or self.default


class QueueLogMapping(_Model):
    """The whole mapping file (see the module docstring)."""

    region_code: str = Field(pattern=REGION_CODE_PATTERN)
    center_id: str | None = Field(None, pattern=ID_PATTERN)
    producer_id: str | None = Field(None, pattern=ID_PATTERN)
    timezone: str = "Asia/Shanghai"
    area_code: str | None = Field(None, pattern=r"^0?\d{2,3}$")
    default_business_line: BusinessLine = BusinessLine.OTHER
    queues: dict[str, QueueSpec] = {}
    pause_reasons: dict[str, NotReadyReason] = {}
    agents: dict[str, str] = {}
    transfers: TransferSpec = TransferSpec()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("agents")
    @classmethod
    def _agent_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for name, agent_id in value.items():
            if not re.match(ID_PATTERN, agent_id):
                raise ValueError(f"agent id {agent_id!r} (for {name!r}) is not a valid id")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @functools.cached_property
    def center(self) -> str:
        """The emitting center: ``center_id``, else the center serving ``region_code``."""
        if self.center_id:
            return self.center_id
        return default_centers().center_for_region(self.region_code).center_id

    def queue(self, name: str) -> QueueSpec | None:
        """The spec of queue ``name``, or None when it is not listed."""
        return self.queues.get(name)

    def business_line(self, queue: str) -> BusinessLine:
        spec = self.queues.get(queue)
        return spec.business_line if spec else self.default_business_line

    def region(self, queue: str) -> str:
        spec = self.queues.get(queue)
        return spec.region_code if spec and spec.region_code else self.region_code

    def pause_reason(self, text: str) -> NotReadyReason:
        """The file's exact (case-insensitive) entry, else built-in keywords, else ``other``."""
        key = text.strip().casefold()
        for name, reason in self.pause_reasons.items():
            if name.strip().casefold() == key:
                return reason
        for word, reason in DEFAULT_PAUSE_KEYWORDS:
            if word in key:
                return reason
        return NotReadyReason.OTHER

    def agent_id(self, agent: str) -> str:
        """The agent id of a queue_log agent: the file's entry, else ``<center>:<agent>``.

        ``/`` becomes ``:`` (``PJSIP/8001`` → ``C320100:PJSIP:8001``); other characters an
        id may not hold become ``_``, and then a short hash keeps distinct agents apart
        (``Zhang San`` → ``C320100:Zhang_San.1a2b3c``).
        """
        if agent in self.agents:
            return self.agents[agent]
        clean = _ID_CHARS.sub("_", agent.replace("/", ":"))
        ident = f"{self.center}:{clean}"
        if clean != agent.replace("/", ":") or len(ident) > 64:
            digest = hashlib.sha256(agent.encode("utf-8")).hexdigest()[:6]
            ident = f"{ident[:57]}.{digest}"
        return ident


def load_mapping(path: str | Path) -> QueueLogMapping:
    """Read and check a mapping file; :class:`ConfigurationError` says what is wrong."""
    path = Path(path)
    try:
        mapping = QueueLogMapping.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigurationError(f"queue_log mapping {path}: {exc}") from exc
    return check_mapping(mapping, str(path))


def check_mapping(mapping: QueueLogMapping, where: str = "queue_log mapping") -> QueueLogMapping:
    """Every region code must exist in the GB/T 2260 registry; an explicit ``center_id`` must be
    a center of the registry; that center must serve every region code of the file (the
    gateway's per-event rule: :meth:`~hotline.centers.CenterRegistry.serves`).

    :class:`ConfigurationError` names each key and what is wrong with it.
    """
    regions = default_registry()
    keyed = [("region_code", mapping.region_code)] + [
        (f"queues.{name}.region_code", q.region_code)
        for name, q in mapping.queues.items()
        if q.region_code
    ]
    unknown = sorted({c for _, c in keyed if c not in regions})
    if unknown:
        raise ConfigurationError(f"{where}: unknown region codes {unknown}")
    centers = default_centers()
    if mapping.center_id is not None:
        try:
            centers.get(mapping.center_id)
        except UnknownCenter:
            hint = ""
            with contextlib.suppress(Exception):
                hint = (
                    f"; region_code {mapping.region_code} is served by "
                    f"{centers.center_for_region(mapping.region_code).center_id}"
                )
            raise ConfigurationError(
                f"{where}: center_id {mapping.center_id!r} is not a center of the registry{hint}"
            ) from None
    try:
        center = mapping.center
    except Exception as exc:  # no center claims the region
        raise ConfigurationError(f"{where}: {exc}") from exc
    problems = []
    for key, code in keyed:
        try:
            if centers.serves(center, code):
                continue
            owner = centers.center_for_region(code).center_id
            problems.append(f"{key} {code} is served by {owner}, not by {center}")
        except Exception as exc:  # no center claims the region at all
            problems.append(f"{key} {code}: {exc}")
    if problems:
        raise ConfigurationError(
            f"{where}: center {center} does not serve every region of the file: "
            + "; ".join(problems)
        )
    return mapping
