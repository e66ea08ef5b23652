"""Caller pseudonymisation. Numbers are generated here, never stored in fixture files.

The base numbers are libphonenumber's own example numbers for China (``example_number``),
re-spelled the ways CTI logs and agents write them.
"""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from pydantic import SecretStr

from hotline.errors import ConfigurationError, InvalidInput
from hotline.privacy import (
    DEMO_CALLER_KEY,
    CallerHasher,
    InvalidPhoneNumber,
    caller_id,
    caller_key,
    mask_phone,
    normalize_phone,
)
from hotline.settings import PrivacySettings, Settings

KEY = "k" * 32
OTHER_KEY = "o" * 32


def _national(kind: PhoneNumberType) -> str:
    number = phonenumbers.example_number_for_type("CN", kind)
    assert number is not None
    return str(number.national_number)


MOBILE = _national(PhoneNumberType.MOBILE)  # 11 digits
# Area code without its 0, then the local number; local numbers start with 2-9, and the
# library's example starts with 1, so its first local digit is replaced.
_EXAMPLE = _national(PhoneNumberType.FIXED_LINE)
LANDLINE = _EXAMPLE[:2] + "6" + _EXAMPLE[3:]
assert phonenumbers.is_valid_number(phonenumbers.parse("0" + LANDLINE, "CN"))


def _mobile_spellings(n: str) -> list[str]:
    a, b, c = n[:3], n[3:7], n[7:]
    return [
        n,
        f"+86{n}",
        f"+86 {a} {b} {c}",
        f"0086-{a}-{b}-{c}",
        f"(+86){n}",
        f"86{n}",
        f"+86 (0){a} {b} {c}",
        f" {a}-{b}-{c} ",
        f"0{n}",
    ]


def _landline_spellings(n: str, area_len: int) -> list[str]:
    area, local = n[:area_len], n[area_len:]
    half = len(local) // 2
    return [
        f"0{area}{local}",
        f"0{area}-{local}",
        f"(0{area}){local}",
        f"(0{area}) {local[:half]} {local[half:]}",
        f"+86 {area} {local}",
        f"+86 (0){area} {local}",
        f"+86 0{area} {local}",
        f"0086-{area}-{local}",
        f"86{area}{local}",
    ]


def _area_len(n: str) -> int:
    return 2 if n[0] in "12" else 3  # Beijing/Tianjin/Shanghai… 10, 2x; elsewhere 3 digits


def test_equivalent_mobile_spellings_give_one_id() -> None:
    ids = {caller_id(s, KEY) for s in _mobile_spellings(MOBILE)}
    assert len(ids) == 1
    assert normalize_phone(MOBILE).kind == "mobile"


def test_equivalent_landline_spellings_give_one_id() -> None:
    spellings = _landline_spellings(LANDLINE, _area_len(LANDLINE))
    ids = {caller_id(s, KEY) for s in spellings}
    assert len(ids) == 1, spellings
    assert normalize_phone(spellings[0]).kind == "landline"
    assert normalize_phone(spellings[0]).e164 == f"+86{LANDLINE}"


def test_local_landline_needs_its_area_code() -> None:
    area_len = _area_len(LANDLINE)
    area, local = LANDLINE[:area_len], LANDLINE[area_len:]
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(local)
    full = caller_id(f"0{area}{local}", KEY)
    assert caller_id(local, KEY, area_code=f"0{area}") == full
    assert caller_id(local, KEY, area_code=area) == full
    # A full number is left alone even when an area code is given.
    assert caller_id(MOBILE, KEY, area_code="999") == caller_id(MOBILE, KEY)


def test_id_format_and_reproducibility() -> None:
    import hashlib
    import hmac

    cid = caller_id(MOBILE, KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    expected = hmac.new(KEY.encode(), f"+86{MOBILE}".encode(), hashlib.sha256).hexdigest()
    assert cid == expected
    assert CallerHasher(KEY)(MOBILE) == cid
    assert caller_id(MOBILE, SecretStr(KEY)) == cid


def test_different_keys_and_callers_give_different_ids() -> None:
    assert caller_id(MOBILE, KEY) != caller_id(MOBILE, OTHER_KEY)
    assert caller_id(MOBILE, KEY) != caller_id(f"0{LANDLINE}", KEY)


@given(st.sampled_from(["130", "138", "150", "186", "199"]), st.integers(0, 10**8 - 1))
def test_generated_mobiles_normalise_the_same_in_every_spelling(prefix: str, rest: int) -> None:
    number = f"{prefix}{rest:08d}"
    parsed = phonenumbers.parse(number, "CN")
    if not phonenumbers.is_valid_number(parsed):
        return
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    assert {normalize_phone(s).e164 for s in _mobile_spellings(number)} == {e164}


@pytest.mark.parametrize("bad", ["abc", "", "+", "12", "12333", "1" + "3" * 9, "9" * 20])
def test_unusable_numbers_raise_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_phone(bad)


def test_error_message_masks_the_number() -> None:
    bad = MOBILE[:-1]  # one digit short: invalid
    with pytest.raises(InvalidPhoneNumber) as info:
        caller_id(bad, KEY)
    message = str(info.value)
    assert bad not in message
    assert not re.search(r"\d{4}", message), message
    assert info.value.__cause__ is None
    assert message.endswith("(a local number needs its area code)")
    assert f"…{bad[-2:]}" in message


def test_mask_phone() -> None:
    assert mask_phone(f"+86 {MOBILE}") == f"<13 digits, …{MOBILE[-2:]}>"
    assert mask_phone("123") == "<3 digits>"


def test_key_from_settings() -> None:
    settings = Settings(privacy=PrivacySettings(caller_key=SecretStr(KEY)))
    assert caller_key(settings) == KEY.encode()
    assert CallerHasher.from_settings(settings)(MOBILE) == caller_id(MOBILE, KEY)


def test_key_is_required_unless_demo() -> None:
    with pytest.raises(ConfigurationError, match="HOTLINE_PRIVACY__CALLER_KEY"):
        caller_key(Settings(privacy=PrivacySettings()))
    assert caller_key(Settings(demo=True)) == DEMO_CALLER_KEY.encode()
    # A real key wins over demo mode.
    both = Settings(demo=True, privacy=PrivacySettings(caller_key=SecretStr(KEY)))
    assert caller_key(both) == KEY.encode()


def test_short_keys_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        CallerHasher("short")


def test_hasher_repr_hides_the_key() -> None:
    assert KEY not in repr(CallerHasher(KEY))
