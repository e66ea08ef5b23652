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

:func:`looks_like_phone` is the producers' test for a number in clear in a caller field;
:func:`blank_phone_runs` (and :func:`blank_phone_runs_in_bytes`) mask runs of 5+ digits in
place, keeping the length in bytes, for dead-letter originals (:mod:`hotline.schemas.redact`).

An unusable number raises :class:`InvalidPhoneNumber` (an :class:`~hotline.errors.InvalidInput`)
whose message shows only a mask (length and last two digits), never the number. A missing key
raises :class:`~hotline.errors.ConfigurationError`, unless demo mode is on: then
:data:`DEMO_CALLER_KEY` is used, which is public and must never protect real callers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
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
    "PHONE_RUN",
    "CallerHasher",
    "InvalidPhoneNumber",
    "LineKind",
    "Phone",
    "blank_phone_runs",
    "blank_phone_runs_in_bytes",
    "caller_id",
    "caller_key",
    "has_phone_run",
    "is_dialable_number",
    "looks_like_phone",
    "mask_phone",
    "normalize_phone",
    "replace_phone_runs",
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
#: The punctuation ``normalize_phone`` (libphonenumber) reads between a number's digits: its
#: ``VALID_PUNCTUATION`` but the extension mark ``x``. ASCII ``-./()[]~`` and space; the
#: Unicode hyphens and dashes (U+2010–U+2015, U+2212, full-width U+FF0D, katakana ー); the
#: full-width ``．／（）［］`` and tilde, ⁓ and ∼; the no-break and ideographic spaces; and the
#: invisible soft hyphen, zero-width space and word joiner — ``138‐1234‐5678`` or 13812345678
#: with zero-width spaces between its groups is a number in clear as much as ``138-1234-5678``.
PHONE_PUNCTUATION = (
    "-./()[]~ \u00a0\u00ad\u200b\u2060\u3000"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
    "\uff0d\uff0e\uff0f\uff08\uff09\uff3b\uff3d\u2053\u223c\uff5e"
)
_SEPARATOR = r"\s" + re.escape(PHONE_PUNCTUATION)
#: Digits and the punctuation a phone number is written with (and a leading ``+``).
_PHONE_TEXT = re.compile(rf"^[+\uff0b{_SEPARATOR}\d]*$")
#: A run of 5+ digits, possibly with the separators a phone number is written with. Runs with
#: fewer than 5 digits are never taken for a number (see :func:`has_phone_run`).
PHONE_RUN = re.compile(rf"\+?\(?\d[\d{_SEPARATOR}]{{3,}}\d")
#: The same in bytes that are not UTF-8 as a whole (e.g. Avro of an unknown schema), where the
#: strings inside still are: ASCII and full-width digits, ASCII whitespace and the UTF-8 of
#: :data:`PHONE_PUNCTUATION`.
_DIGIT_BYTES = rb"(?:[0-9]|\xef\xbc[\x90-\x99])"
_SEPARATOR_BYTES = b"|".join(
    [rb"[\s" + re.escape("".join(c for c in PHONE_PUNCTUATION if c.isascii()).encode()) + rb"]"]
    + [re.escape(c.encode("utf-8")) for c in PHONE_PUNCTUATION if not c.isascii()]
)
_PHONE_RUN_BYTES = re.compile(
    rb"\+?\(?%b(?:%b|%b){3,}%b" % (_DIGIT_BYTES, _DIGIT_BYTES, _SEPARATOR_BYTES, _DIGIT_BYTES)
)
#: Digits of a phone number a same-length mask keeps (as :func:`mask_phone` does).
_KEPT_DIGITS = 2
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


def looks_like_phone(text: str) -> bool:
    """Whether ``text`` is a phone number in clear: digits and phone punctuation only, 5+ digits.

    The rule of the producers' caller check (:func:`hotline.producers.delivery.caller_problem`):
    ``170 0000 5678``, ``+86-170…``, ``(025)8888…``, ``170.0000.5678`` and ``170/0000/5678``
    all look like numbers; a 64-hex caller id, ``12`` or ``abc`` do not.
    """
    return sum(c.isdigit() for c in text) >= 5 and _PHONE_TEXT.fullmatch(text) is not None


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def replace_phone_runs(text: str, replace: Callable[[str], str]) -> str:
    """``text`` with each run of 5+ digits (:data:`PHONE_RUN`: phone separators allowed)
    replaced by ``replace(run)``; runs of fewer digits are kept."""
    if _digits(text) < 5:  # the common case: nothing to look for
        return text
    return PHONE_RUN.sub(
        lambda m: replace(m.group()) if _digits(m.group()) >= 5 else m.group(), text
    )


def has_phone_run(text: str) -> bool:
    """Whether ``text`` holds a run of 5+ digits (phone separators allowed) anywhere."""
    return any(_digits(m.group()) >= 5 for m in PHONE_RUN.finditer(text))


def _blank(run: str) -> str:
    """``run`` with every digit but the last two as ``*`` — as many ``*`` as the digit has
    UTF-8 bytes, so the UTF-8 length stays the same; separators are kept."""
    keep = _digits(run) - _KEPT_DIGITS
    out = []
    for c in run:
        if c.isdigit() and keep > 0:
            keep -= 1
            out.append("*" * len(c.encode("utf-8")))
        else:
            out.append(c)
    return "".join(out)


def blank_phone_runs(text: str) -> str:
    """``text`` with each run of 5+ digits masked in place, keeping its UTF-8 length.

    Every digit of a run but its last two becomes ``*`` (``138-1234-5678`` →
    ``***-****-**78``), so a masked value stays exactly as long in bytes as the number was
    (an Avro string, being length-prefixed, stays decodable) and shows no more than
    :func:`mask_phone` does. Runs of fewer than 5 digits are kept; masking is idempotent.
    """
    return replace_phone_runs(text, _blank)


def blank_phone_runs_in_bytes(data: bytes, start: int = 0) -> bytes:
    """``data`` (any bytes) with each run of 5+ digits after ``start`` masked, same length.

    UTF-8 text is masked as by :func:`blank_phone_runs` (full-width digits too); other bytes
    by the runs of ASCII or full-width digits and phone punctuation in them. Bytes before
    ``start`` (e.g. a header) are kept.
    """
    head, body = bytes(data[:start]), bytes(data[start:])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:

        def blank(match: re.Match[bytes]) -> bytes:
            run = match.group().decode("utf-8")  # digits and separators: UTF-8 by construction
            return (_blank(run) if _digits(run) >= 5 else run).encode("utf-8")

        return head + _PHONE_RUN_BYTES.sub(blank, body)
    return head + blank_phone_runs(text).encode("utf-8")


def is_dialable_number(run: str) -> bool:
    """Whether a run of digits (phone separators allowed) is a Chinese phone number as a
    caller's would be written: a valid number (libphonenumber) that is a mobile (11 digits
    from ``1``), or has its trunk ``0`` or the country code (``86``, ``0086``). A run that
    starts with another digit is not taken for one, valid or not (``2025030301`` could be
    Guangzhou's ``020 2503 0301``, but is far likelier a date and a sequence)."""
    digits = "".join(c for c in run if c.isdigit())
    if not (digits.startswith(("0", "86")) or (len(digits) == 11 and digits[0] == "1")):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits, "CN"))
    except phonenumbers.NumberParseException:
        return False


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

    def pseudonym(self, text: str, *, purpose: str, length: int = 12) -> str:
        """A stable, keyed stand-in for ``text`` (a number found where no caller id goes,
        e.g. inside an agent's name): ``length`` letters ``a``–``p`` (4 bits each) of
        ``HMAC-SHA256(key, purpose + NUL + text)``. Letters only, so the result never looks
        like a number itself; ``purpose`` separates these from caller ids and each other."""
        mac = hmac.new(self._key, f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()
        return "".join(chr(ord("a") + int(c, 16)) for c in mac[:length])

    def __repr__(self) -> str:
        return "CallerHasher(key=**********)"
