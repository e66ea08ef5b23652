"""Caller pseudonymisation: phone numbers become keyed HMAC-SHA256 ids before leaving a center.

The same caller always gets the same id under one deployment key, so repeat calls
(``repeat_7d``) can be counted; a different key gives unrelated ids; without the key an id
cannot be turned back into a number by trying all numbers. See ``docs/privacy.md``.

1. :func:`normalize_phone` parses a number with the well-kept ``phonenumbers`` library
   (Google's libphonenumber metadata) and gives its E.164 form: ``+86 138-…``, ``0086 138…``,
   ``(+86)138…``, ``86138…``, ``025-…``, ``(025)…``, ``+86 (0)25 …`` and ``+86 25 …`` of one
   line all give one string. Local landline numbers without an area code are completed only
   when the caller of this function passes the center's ``area_code``.
2. :func:`caller_id` is ``HMAC-SHA256(key, E.164 as UTF-8)`` in lower-case hex (64 chars), so
   a producer in any language can compute the same id.

An unusable number raises :class:`InvalidPhoneNumber` (an :class:`~hotline.errors.InvalidInput`)
whose message shows only a mask (length and last two digits), never the number. A missing key
raises :class:`~hotline.errors.ConfigurationError`, unless demo mode is on: then
:data:`DEMO_CALLER_KEY` is used, which is public and must never protect real callers.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from pydantic import SecretStr

from hotline.errors import ConfigurationError, InvalidInput
from hotline.settings import Settings

__all__ = [
    "DEMO_CALLER_KEY",
    "MIN_KEY_BYTES",
    "CallerHasher",
    "InvalidPhoneNumber",
    "LineKind",
    "Phone",
    "caller_id",
    "caller_key",
    "mask_phone",
    "normalize_phone",
]

#: The key used when ``settings.demo`` is true and no key is set. Public: demo data only.
DEMO_CALLER_KEY = "hotline-demo-caller-key/v1 (public, for demo data only)"
#: Shortest deployment key accepted, in bytes of UTF-8.
MIN_KEY_BYTES = 16

LineKind = Literal["mobile", "landline", "mobile_or_landline", "other"]
_KINDS: dict[int, LineKind] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile_or_landline",
}
_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


class InvalidPhoneNumber(InvalidInput):
    """A caller number that cannot be normalised; the message carries only a mask."""

    def __init__(self, raw: str, reason: str) -> None:
        self.masked = mask_phone(raw)
        super().__init__(f"unusable caller number {self.masked}: {reason}")


@dataclass(frozen=True, slots=True)
class Phone:
    """A normalised number: E.164 (``+86…``) and whether it is a mobile or a landline."""

    e164: str
    kind: LineKind


def mask_phone(raw: str) -> str:
    """A form of ``raw`` safe for logs and errors: its digit count and last two digits only."""
    digits = [c for c in str(raw) if c.isdigit()]
    if len(digits) <= 4:
        return f"<{len(digits)} digits>"
    return f"<{len(digits)} digits, …{''.join(digits[-2:])}>"


def normalize_phone(raw: str, *, area_code: str | None = None) -> Phone:
    """Parse a caller number (China by default) into :class:`Phone`.

    ``area_code`` (e.g. ``"025"`` or ``"25"``) completes a local landline number dialled
    without one (7–8 digits, no leading 0, 1 or +). Raises :class:`InvalidPhoneNumber` for
    anything that is not a valid number of its country's numbering plan.
    """
    text = str(raw).strip()
    digits = "".join(c for c in text if c.isdigit())
    if area_code and 7 <= len(digits) <= 8 and not text.startswith("+") and digits[0] not in "01":
        text = "0" + area_code.lstrip("0") + digits
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        # The library's message does not echo the input, but do not chain it anyway.
        reason = _PARSE_ERRORS.get(exc.error_type, "unparseable")
        raise InvalidPhoneNumber(raw, f"not a phone number ({reason})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(raw, "not a valid number (a local number needs its area code)")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return Phone(e164, _KINDS.get(phonenumbers.number_type(number), "other"))


def _key_bytes(key: str | bytes | SecretStr) -> bytes:
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(data) < MIN_KEY_BYTES:
        raise ConfigurationError(f"the caller key must have at least {MIN_KEY_BYTES} bytes")
    return data


def caller_key(settings: Settings) -> bytes:
    """The deployment key from ``settings.privacy.caller_key``.

    Without a key: :data:`DEMO_CALLER_KEY` in demo mode, else :class:`ConfigurationError`.
    """
    key = settings.privacy.caller_key
    if key is not None and key.get_secret_value():
        return _key_bytes(key)
    if settings.demo:
        return _key_bytes(DEMO_CALLER_KEY)
    raise ConfigurationError(
        "no caller key: set HOTLINE_PRIVACY__CALLER_KEY (a secret of at least "
        f"{MIN_KEY_BYTES} bytes, the same at every center of a deployment), "
        "or HOTLINE_DEMO=true for demo data"
    )


def caller_id(raw: str, key: str | bytes | SecretStr, *, area_code: str | None = None) -> str:
    """The pseudonymous id of a caller number: hex HMAC-SHA256 of its E.164 form."""
    e164 = normalize_phone(raw, area_code=area_code).e164
    return hmac.new(_key_bytes(key), e164.encode("utf-8"), hashlib.sha256).hexdigest()


class CallerHasher:
    """A reusable pseudonymiser holding one key (build it once, e.g. in a producer)."""

    __slots__ = ("_key",)

    def __init__(self, key: str | bytes | SecretStr) -> None:
        self._key = _key_bytes(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> CallerHasher:
        """The hasher of :func:`caller_key`."""
        return cls(caller_key(settings))

    def __call__(self, raw: str, *, area_code: str | None = None) -> str:
        """The caller id of ``raw`` (see :func:`caller_id`)."""
        e164 = normalize_phone(raw, area_code=area_code).e164
        return hmac.new(self._key, e164.encode("utf-8"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "CallerHasher(key=**********)"
