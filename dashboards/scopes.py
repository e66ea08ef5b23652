"""A dashboard user's scope: the whole nation, one province or one city.

Written ``national``, ``province:320000`` or ``city:320100``. The server checks every request
against it (:meth:`Scope.allows`): a region outside the scope is a 403, never an empty page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hotline.errors import InvalidInput
from hotline.regions import RegionRegistry

NATIONAL_CODE = "000000"  # the nation's region code in metric snapshots

ScopeKind = Literal["national", "province", "city"]


class InvalidScope(InvalidInput):
    """A scope text that names no known province or city."""


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    code: str  # NATIONAL_CODE for the nation

    @classmethod
    def parse(cls, text: str, regions: RegionRegistry) -> Scope:
        """``national`` | ``province:<code>`` | ``city:<code>``, checked against ``regions``."""
        text = text.strip()
        if text == "national":
            return cls("national", NATIONAL_CODE)
        kind, _, code = text.partition(":")
        if kind not in ("province", "city") or not code:
            raise InvalidScope(f"scope {text!r}: expected national, province:<code> or city:<code>")
        if code not in regions or regions.get(code).level != kind:
            raise InvalidScope(f"scope {text!r}: {code} is not a {kind} of the regions registry")
        return cls(kind, code)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return "national" if self.kind == "national" else f"{self.kind}:{self.code}"

    def allows(self, code: str, regions: RegionRegistry) -> bool:
        """Whether a user of this scope may see region ``code`` (NATIONAL_CODE: nation only)."""
        if self.kind == "national":
            return True
        if code == NATIONAL_CODE or code not in regions:
            return False
        return regions.is_within(code, self.code)
