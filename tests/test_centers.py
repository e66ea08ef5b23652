"""The centers registry: the national default, claim resolution, the mapping file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotline.centers import (
    Center,
    CenterRegistry,
    CentersConfig,
    UnknownCenter,
    build_centers,
    default_centers,
    load_centers_config,
)
from hotline.errors import ConfigurationError
from hotline.regions import UnknownRegion, default_registry


@pytest.fixture(scope="module")
def centers() -> CenterRegistry:
    return default_centers()


def test_national_default_counts(centers: CenterRegistry) -> None:
    # DOMAIN.md: about 366 city-level centers = 32 provincial-level + 334 prefecture-level.
    assert centers.counts() == {"provincial": 32, "city": 334, "district": 0}
    assert len(centers) == 366


def test_ids_names_and_levels(centers: CenterRegistry) -> None:
    nanjing = centers.get("C320100")
    assert (nanjing.name, nanjing.level, nanjing.home) == ("南京市12333", "city", "320100")
    jiangsu = centers.get("C320000")
    assert (jiangsu.name, jiangsu.level) == ("江苏省12333（省本级）", "provincial")
    assert centers.get("C110000").name == "北京市12333"
    assert centers.get("C660000").name == "新疆生产建设兵团12333（省本级）"
    with pytest.raises(UnknownCenter, match="C999999"):
        centers.get("C999999")


def test_municipalities_have_one_center(centers: CenterRegistry) -> None:
    assert [c.center_id for c in centers.centers_of_province("310000")] == ["C310000"]
    assert centers.center_for_region("310115").center_id == "C310000"
    assert centers.center_for_region("500229").center_id == "C500000"


def test_nearest_claim(centers: CenterRegistry) -> None:
    assert centers.center_for_region("320102").center_id == "C320100"
    assert centers.center_for_region("320100").center_id == "C320100"
    assert centers.center_for_region("320000").center_id == "C320000"
    assert [c.center_id for c in centers.centers_for_region("320102")] == ["C320100", "C320000"]
    assert centers.serves("C320100", "320102")
    assert not centers.serves("C320000", "320102")
    assert not centers.serves("C330100", "320102")
    with pytest.raises(UnknownRegion):
        centers.center_for_region("329999")


@pytest.mark.parametrize(
    ("region", "center"),
    [("429004", "C420000"), ("469002", "C460000"), ("659001", "C660000"), ("441900", "C441900")],
)
def test_units_without_a_prefecture_city(centers: CenterRegistry, region: str, center: str) -> None:
    assert centers.center_for_region(region).center_id == center


def test_every_region_has_a_center(centers: CenterRegistry) -> None:
    for region in default_registry():
        centers.center_for_region(region.code)


def test_centers_of_province(centers: CenterRegistry) -> None:
    hainan = [c.center_id for c in centers.centers_of_province("469002")]
    assert hainan == ["C460000", "C460100", "C460200", "C460300", "C460400"]
    assert len(centers.centers_of_province("320000")) == 14  # 省本级 + 13 cities


_MAPPING = """
remove = ["C429000"]

[provinces.330000]
mode = "centralized"

[provinces.320000]
name = "江苏省人社厅12333"

[[centers]]
name = "南京市玄武区12333分中心"
level = "district"
home = "320102"

[[centers]]
id = "C429004"
name = "仙桃市12333"
level = "city"
home = "429004"
"""


def test_mapping_file_toml(tmp_path: Path) -> None:
    path = tmp_path / "centers.toml"
    path.write_text(_MAPPING.replace('remove = ["C429000"]', ""), encoding="utf-8")
    reg = build_centers(config=load_centers_config(path))
    zhejiang = reg.centers_of_province("330000")
    assert [c.center_id for c in zhejiang] == ["C330000"]
    assert "省级大集中" in zhejiang[0].name
    assert reg.serves("C330000", "330106") and reg.serves("C330000", "330100")
    assert reg.get("C320000").name == "江苏省人社厅12333"
    assert reg.center_for_region("320102").center_id == "C320102"
    assert reg.get("C320102").level == "district"
    assert [c.center_id for c in reg.centers_for_region("320102")] == [
        "C320102",
        "C320100",
        "C320000",
    ]
    assert not reg.serves("C320100", "320102") and reg.serves("C320100", "320104")
    assert reg.center_for_region("429004").center_id == "C429004"
    assert reg.counts() == {"provincial": 32, "city": 334 - 11 + 1, "district": 1}


def test_mapping_file_json_and_remove(tmp_path: Path) -> None:
    path = tmp_path / "centers.json"
    path.write_text(json.dumps({"remove": ["C441900"]}), encoding="utf-8")
    reg = build_centers(config=load_centers_config(path))
    assert "C441900" not in reg
    assert reg.center_for_region("441900").center_id == "C440000"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_MAPPING, "remove unknown"),
        ('[provinces.320100]\nmode = "centralized"', "not a provincial unit"),
        ('[[centers]]\nname = "x"\nlevel = "city"\nhome = "320100"', "twice"),
        ('[[centers]]\nid = "X"\nname = "x"\nlevel = "district"\nhome = "320100"', "home"),
        ('[[centers]]\nname = "x"\nlevel = "city"\nhome = "329999"', "unknown home"),
        (
            '[[centers]]\nname = "x"\nlevel = "district"\nhome = "320102"\nregions = ["330106"]',
            "outside its province",
        ),
        (
            '[[centers]]\nid = "X"\nname = "x"\nlevel = "city"\nhome = "320102"\n'
            'regions = ["320100"]',
            "claimed by both",
        ),
        ('[[centers]]\nname = "x"\nlevel = "town"\nhome = "320102"', "level"),
        ("not = toml = at all", "centers mapping"),
    ],
)
def test_mapping_errors(tmp_path: Path, config: str, message: str) -> None:
    path = tmp_path / "centers.toml"
    path.write_text(config, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        build_centers(config=load_centers_config(path))


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"nope\.toml"):
        load_centers_config(tmp_path / "nope.toml")


def test_a_region_without_any_claim_is_a_configuration_error() -> None:
    regions = default_registry()
    only = Center("C320000", "江苏", "provincial", "320000", frozenset({"320000"}))
    reg = CenterRegistry([only], regions)
    with pytest.raises(ConfigurationError, match="330106"):
        reg.center_for_region("330106")


def test_default_is_cached() -> None:
    assert default_centers() is default_centers()
    assert build_centers(config=CentersConfig()).counts() == default_centers().counts()


def test_the_documented_mapping_example_is_valid(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "regions.md").read_text("utf-8")
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "centers.toml"
    path.write_text(block, encoding="utf-8")
    reg = build_centers(config=load_centers_config(path))
    assert reg.center_for_region("320102").center_id == "C320102"
    assert reg.center_for_region("441900").center_id == "C440000"
    assert reg.center_for_region("429004").center_id == "C429004"
    assert [c.center_id for c in reg.centers_of_province("330000")] == ["C330000"]
