"""质量监测 in the dashboard against the real ClickHouse server: the report API answers exactly
``quality_figures`` for the hand-made campaign of test_quality.py (national and province
variants, scope checks), and the evaluation form stores, refuses with item-level reasons, or
forbids (out-of-scope center) — validated by the CSV import's own parser."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from fastapi.testclient import TestClient
from fixtures_clickhouse import PASSWORDS
from fixtures_dashboard import login
from test_dashboard_data import DB, loaded_admin, services
from test_quality import current, previous

from hotline.centers import default_centers
from hotline.dashboards.app import create_app
from hotline.dashboards.quality import EvaluationWriter, one_row_sheet, reasons
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.reports.csv_import import parse_csv
from hotline.reports.records import ITEM_FIELDS, OUTCOMES, EvaluationRow
from hotline.reports.report import quality_figures
from hotline.reports.store import insert_evaluations, load_evaluations
from hotline.settings import ClickHouseSettings
from hotline.workdays import CHINA_TZ

pytestmark = pytest.mark.clickhouse

FULL = dict(zip(ITEM_FIELDS, (5, 5, 10, 5, 10, 20, 5, 5, 10, 15, 10), strict=True))
FORM_YEAR = 2030  # the form's rows live in their own year


@pytest.fixture(scope="module")
def admin(clickhouse_server: ClickHouseServer) -> Iterator[Client]:
    with loaded_admin(clickhouse_server) as client:
        client.execute(f"TRUNCATE TABLE {DB}.qa_evaluations")
        insert_evaluations(client, DB, current() + previous())
        yield client


@pytest.fixture(scope="module")
def app(admin: Client, clickhouse_server: ClickHouseServer, tmp_path_factory):
    base = services(clickhouse_server.tcp_port, tmp_path_factory.mktemp("dash"))
    writer = EvaluationWriter(
        ClickHouseSettings(host=HOST, port=clickhouse_server.tcp_port, database=DB),
        "qa_writer",
        PASSWORDS["qa_writer"],
    )
    return create_app(replace(base, evaluations=writer))


def direct(admin: Client, year: int, province: str | None = None) -> dict:
    figures = quality_figures(admin, DB, year, province, registry=default_centers())
    return json.loads(json.dumps(figures))  # as JSON: tuples become lists


# -- the report ---------------------------------------------------------------------------------


def test_national_figures_equal_the_report(nat: TestClient, admin: Client) -> None:
    response = nat.get("/api/quality", params={"year": 2025})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == direct(admin, 2025)
    assert body["coverage"]["current"]["dialled"] == 7  # the campaign's eight centers, one twice
    assert body["coverage"]["previous"]["dialled"] == 7


def test_province_figures_equal_the_report(nat: TestClient, js: TestClient, admin: Client) -> None:
    expected = direct(admin, 2025, "320000")
    assert nat.get("/api/quality", params={"year": 2025, "province": "320000"}).json() == expected
    assert js.get("/api/quality", params={"year": 2025}).json() == expected  # its own by default
    own = js.get("/api/quality", params={"year": 2025, "province": "320000"})
    assert own.json() == expected
    assert expected["scope"]["unit_label"] == "城市"


def test_quality_scopes_and_bad_parameters(nat: TestClient, js: TestClient, nj: TestClient) -> None:
    other = js.get("/api/quality", params={"year": 2025, "province": "330000"})
    assert other.status_code == 403 and "江苏省" in other.json()["detail"]
    assert nj.get("/api/quality", params={"year": 2025}).status_code == 403
    assert nj.get("/api/quality", params={"year": 2025, "province": "320000"}).status_code == 403
    assert nat.get("/api/quality").status_code == 400
    assert nat.get("/api/quality", params={"year": "abc"}).status_code == 400
    assert nat.get("/api/quality", params={"year": 2025, "province": "320100"}).status_code == 400
    assert nat.get("/api/quality", params={"year": 2025, "province": "990000"}).status_code == 404
    assert TestClient(nat.app).get("/api/quality", params={"year": 2025}).status_code == 401


def test_options_follow_the_scope(nat: TestClient, js: TestClient, nj: TestClient) -> None:
    national = nat.get("/api/quality/options").json()
    assert national["national"] and len(national["provinces"]) == 32
    assert len(national["centers"]) == len(default_centers())
    assert [r["maximum"] for r in national["rubric"]] == list(FULL.values())
    province = js.get("/api/quality/options").json()
    assert [p["code"] for p in province["provinces"]] == ["320000"]
    assert {c["home"][:2] for c in province["centers"]} == {"32"}
    city = nj.get("/api/quality/options").json()
    assert not city["report"] and [c["center_id"] for c in city["centers"]] == ["C320100"]


# -- the evaluation form ------------------------------------------------------------------------


def stored_row(evaluation_id: str, year: int, *, day: int) -> EvaluationRow:
    """A national evaluation of C320100 as the campaign or an import stores it: reached on
    ``year``-06-``day`` 10:00, full marks."""
    return EvaluationRow(
        evaluation_id=evaluation_id,
        version=1,
        year=year,
        center_id="C320100",
        region_code="320100",
        outcome=1,
        human_service=True,
        tries=(dt.datetime(year, 6, day, 10, 0, tzinfo=CHINA_TZ),),
        items=tuple(FULL.values()),
    )


def form(center_id: str = "C320100", **changes) -> dict:
    body = {
        "year": FORM_YEAR,
        "center_id": center_id,
        "outcome": 1,
        "human_service": "",
        "dialled_at": f"{FORM_YEAR}-06-03 09:10",
        "items": dict(FULL),
        "total": "",
        "evaluator": "张三",
        "note": "",
    }
    body.update(changes)
    return body


def test_the_form_writer_may_only_insert_evaluations(
    admin: Client, clickhouse_server: ClickHouseServer
) -> None:
    writer = Client(
        HOST, port=clickhouse_server.tcp_port, user="qa_writer", password=PASSWORDS["qa_writer"]
    )
    try:
        for sql in (
            f"SELECT count() FROM {DB}.qa_evaluations",
            f"SELECT count() FROM {DB}.call_records",
            f"TRUNCATE TABLE {DB}.qa_evaluations",
            f"INSERT INTO {DB}.alerts (alert_id) VALUES ('x')",
        ):
            with pytest.raises(ServerException, match=r"ACCESS_DENIED|Not enough privileges"):
                writer.execute(sql)
    finally:
        writer.disconnect()


def test_an_evaluation_is_stored(nat: TestClient, js: TestClient, admin: Client) -> None:
    """A national user's evaluation is the national mystery shopper's: the report counts it."""
    items = dict(FULL, warm_tone=8, accurate_complete=12)
    response = nat.post("/api/quality/evaluations", json=form(items=items))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["total"] == 95 and body["evaluation"]["evaluation_id"] == f"ms-{FORM_YEAR}-C320100"
    assert body["evaluation"]["kind"] == "mystery_shopper" and body["counted"]
    rows, problems = load_evaluations(admin, DB, (FORM_YEAR,))
    assert not problems
    (row,) = [r for r in rows if r.center_id == "C320100"]
    assert row.items == tuple(items.values()) and row.evaluator == "张三" and row.outcome == 1
    assert row.region_code == "320100" and row.human_service
    report = js.get("/api/quality", params={"year": FORM_YEAR}).json()
    assert report["coverage"]["current"]["reached"] == 1
    assert report["score_average"]["total"] == 95.0


def test_outcome_three_with_several_tries(nj: TestClient, admin: Client) -> None:
    tries = f"{FORM_YEAR}-06-04 09:10; {FORM_YEAR}-06-04 14:30; {FORM_YEAR}-06-05 10:05"
    body = form(outcome=3, dialled_at=tries, items={})
    response = nj.post("/api/quality/evaluations", json=body)  # a city user, its own center
    assert response.status_code == 201, response.text
    assert len(response.json()["evaluation"]["tries"]) == 3
    assert response.json()["evaluation"]["items"] is None


def test_refused_with_item_level_reasons(js: TestClient) -> None:
    items = dict(FULL, states_agent_number=7, grasps_and_guides=21)
    response = js.post("/api/quality/evaluations", json=form(items=items, total=130))
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(fields) == {"states_agent_number", "grasps_and_guides", "total"}
    assert "0..5" in fields["states_agent_number"] and "0..20" in fields["grasps_and_guides"]

    cases = [
        ("outcome", form(outcome=5)),
        ("dialled_at", form(dialled_at="3.6. 9:10")),
        ("dialled_at", form(dialled_at=f"{FORM_YEAR - 1}-06-03 09:10")),  # not in the year
        ("warm_tone", form(items=dict(FULL, warm_tone=""))),
        ("polite_language", form(items=dict(FULL, polite_language="x"))),
        ("human_service", form(human_service="vielleicht")),
    ]
    for field, body in cases:
        refused = js.post("/api/quality/evaluations", json=body)
        assert refused.status_code == 422, (field, refused.text)
        assert field in [e["field"] for e in refused.json()["errors"]], refused.json()
    scored_but_unreached = js.post("/api/quality/evaluations", json=form(outcome=4))
    assert scored_but_unreached.status_code == 422
    assert scored_but_unreached.json()["errors"][0]["field"] == "outcome"


def test_reasons_are_the_csv_imports(js: TestClient) -> None:
    """The form's reasons are the import's messages for the same values (no twin rules)."""
    values = dict(form(items={}), outcome=2, **dict(FULL, no_dead_air=6))
    values.pop("items")
    sheet = parse_csv(one_row_sheet(values), default_centers(), default_version=1)
    (error,) = sheet.errors
    response = js.post(
        "/api/quality/evaluations", json=form(outcome=2, items=dict(FULL, no_dead_air=6))
    )
    assert [e["message"] for e in response.json()["errors"]] == [
        e["message"] for e in reasons(error.message)
    ]
    assert "no_dead_air = 6 is outside 0..5" in error.message


def test_out_of_scope_and_bad_requests(js: TestClient, nj: TestClient, app) -> None:
    denied = js.post("/api/quality/evaluations", json=form(center_id="C330100"))
    assert denied.status_code == 403 and "江苏省" in denied.json()["detail"]
    assert nj.post("/api/quality/evaluations", json=form(center_id="C320200")).status_code == 403
    # the provincial center serves Nanjing callers but is not the city user's
    assert nj.post("/api/quality/evaluations", json=form(center_id="C320000")).status_code == 403
    assert js.post("/api/quality/evaluations", json=form(center_id="C999999")).status_code == 404
    as_form = js.post("/api/quality/evaluations", content="center_id=C320100")
    assert as_form.status_code == 415
    off = create_app(replace(app.state.services, evaluations=None))
    client = login(off, "js")
    assert client.post("/api/quality/evaluations", json=form()).status_code == 503


@pytest.mark.parametrize("center", [None, "", " ", 320100])
def test_a_missing_center_is_refused_naming_the_field(js: TestClient, center: object) -> None:
    body = {k: v for k, v in form().items() if k != "center_id"}
    if center is not None:
        body["center_id"] = center
    response = js.post("/api/quality/evaluations", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "center_id", "message": "center_id 须为中心编码（字符串），如 C320100"}
    ]


@pytest.mark.parametrize("items", [[5, 5, 10], "5,5,10", 5])
def test_items_that_are_not_an_object_are_refused_naming_the_field(
    js: TestClient, items: object
) -> None:
    response = js.post("/api/quality/evaluations", json=form(items=items))
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["items"]
    assert "items" in body["detail"] and "评价未保存" in body["detail"]


def test_a_scoped_user_cannot_replace_the_national_evaluation(
    js: TestClient, nj: TestClient, admin: Client
) -> None:
    """The national campaign's row (version 1) stays what the report counts when a province or
    city user enters an evaluation of the same center and year: theirs are their own
    (kind internal, an id of their scope), which the national report does not read."""
    year = FORM_YEAR + 1
    national = stored_row(f"ms-{year}-C320100", year, day=3)
    insert_evaluations(admin, DB, [national])
    before = direct(admin, year, "320000"), direct(admin, year)
    assert before[0]["score_average"]["total"] == 100.0
    zero = dict.fromkeys(FULL, 0)
    entered = {}
    for client, scope in ((js, "320000"), (nj, "320100")):
        body = form(year=year, dialled_at=f"{year}-06-20 09:30", items=zero, outcome=2)
        response = client.post("/api/quality/evaluations", json=body)
        assert response.status_code == 201, response.text
        entered[scope] = response.json()
    assert (direct(admin, year, "320000"), direct(admin, year)) == before
    rows, _ = load_evaluations(admin, DB, (year,))
    assert [(r.evaluation_id, r.version, r.source, r.total) for r in rows] == [
        (national.evaluation_id, 1, "campaign", 100)
    ]
    for scope, body in entered.items():
        assert body["evaluation"]["evaluation_id"] == f"internal-{scope}-{year}-C320100"
        assert body["evaluation"]["kind"] == "internal" and body["total"] == 0
        assert not body["counted"]
    own, _ = load_evaluations(admin, DB, (year,), kind="internal")
    assert sorted((r.evaluation_id, r.outcome, r.total) for r in own) == [
        (f"internal-320000-{year}-C320100", 2, 0),
        (f"internal-320100-{year}-C320100", 2, 0),
    ]


def test_a_second_evaluation_of_a_center_in_the_year_needs_confirmation(
    nat: TestClient, js: TestClient, admin: Client
) -> None:
    """Entering a center and year that already has an evaluation (the user's own kind) is a
    409 naming the stored one, nothing written; only ``replace: true`` replaces it."""
    year = FORM_YEAR + 3
    tries = f"{year}-06-03 09:10"
    assert (
        nat.post("/api/quality/evaluations", json=form(year=year, dialled_at=tries)).status_code
        == 201
    )
    again = form(year=year, dialled_at=f"{year}-06-05 10:00", outcome=4, items={})

    def stored(kind: str = "mystery_shopper") -> list[tuple]:
        rows, _ = load_evaluations(admin, DB, (year,), kind=kind)
        return [(r.evaluation_id, r.outcome) for r in rows]

    refused = nat.post("/api/quality/evaluations", json=again)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert f"南京市12333：{year}年已有评价：ms-{year}-C320100" in body["detail"]
    assert f"结果代码1，总分100，拨打时间{year}-06-03 09:10" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["center_id"]
    assert stored() == [(f"ms-{year}-C320100", 1)]
    for not_a_yes in ("true", 1, None):
        answer = nat.post("/api/quality/evaluations", json=again | {"replace": not_a_yes})
        assert answer.status_code == 409
    confirmed = nat.post("/api/quality/evaluations", json=again | {"replace": True})
    assert confirmed.status_code == 201, confirmed.text
    assert stored() == [(f"ms-{year}-C320100", 4)]

    # a province's own check: its second one of the center and year, not the national row
    own = form(year=year, dialled_at=tries, outcome=2)
    assert js.post("/api/quality/evaluations", json=own).status_code == 201
    second = js.post("/api/quality/evaluations", json=own)
    assert (
        second.status_code == 409 and f"internal-320000-{year}-C320100" in second.json()["detail"]
    )
    assert js.post("/api/quality/evaluations", json=own | {"replace": True}).status_code == 201
    assert stored("internal") == [(f"internal-320000-{year}-C320100", 2)]


def test_a_confirmed_entry_replaces_an_imported_row_under_its_own_id(
    nat: TestClient, admin: Client
) -> None:
    """The form stores ``ms-<year>-<center>``; an import's row of the center and year may have
    another id. Confirming replaced nothing then: a second row was added (the report's
    ``duplicate``, the old one possibly counted). Now the entry takes the stored row's id; with
    several stored rows the 409 says one entry cannot replace them (no confirm button)."""
    year = FORM_YEAR + 4

    def stored() -> list[tuple]:
        rows, _ = load_evaluations(admin, DB, (year,), kind="mystery_shopper")
        return sorted((r.evaluation_id, r.outcome) for r in rows)

    insert_evaluations(admin, DB, [stored_row("sheet-7", year, day=3)])
    again = form(year=year, dialled_at=f"{year}-06-05 10:00", outcome=4, items={})
    refused = nat.post("/api/quality/evaluations", json=again)
    assert refused.status_code == 409 and refused.json()["replaceable"] is True
    assert "确认替换后再保存（替换sheet-7）" in refused.json()["detail"]
    confirmed = nat.post("/api/quality/evaluations", json=again | {"replace": True})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["evaluation"]["evaluation_id"] == "sheet-7"
    assert stored() == [("sheet-7", 4)]

    insert_evaluations(admin, DB, [stored_row("sheet-8", year, day=4)])  # two of one center
    for confirm in (False, True):
        answer = nat.post("/api/quality/evaluations", json=again | {"replace": confirm})
        assert answer.status_code == 409 and answer.json()["replaceable"] is False
        assert "多条已有评价无法由一次录入替换" in answer.json()["detail"]
    assert stored() == [("sheet-7", 4), ("sheet-8", 1)]


def test_internal_checks_are_listed_within_the_scope_only(
    nat: TestClient, js: TestClient, nj: TestClient, app
) -> None:
    """A province's and a city's own checks are listed back to them (and to the nation), each
    user seeing only the centers of its scope, filtered on the server."""
    year = FORM_YEAR + 2
    entries = ((js, "C320500", 1), (js, "C320100", 2), (nj, "C320100", 1))
    for client, center, outcome in entries:
        items = FULL if outcome == 1 else dict.fromkeys(FULL, 0)
        body = form(center, year=year, outcome=outcome, items=items, note=f"{center} 复核")
        body["dialled_at"] = f"{year}-06-20 09:30"
        assert client.post("/api/quality/evaluations", json=body).status_code == 201

    def listed(client: TestClient, **params: object) -> list[tuple]:
        response = client.get("/api/quality/internal", params={"year": year, **params})
        assert response.status_code == 200, response.text
        return sorted(
            (e["evaluation_id"], e["name"], e["outcome_label"], e["total"])
            for e in response.json()["evaluations"]
        )

    suzhou = (f"internal-320000-{year}-C320500", "苏州市12333", OUTCOMES[1], 100)
    nanjing = [
        (f"internal-320000-{year}-C320100", "南京市12333", OUTCOMES[2], 0),
        (f"internal-320100-{year}-C320100", "南京市12333", OUTCOMES[1], 100),
    ]
    assert listed(nat) == listed(nat, province="320000") == sorted([suzhou, *nanjing])
    assert listed(js) == listed(js, province="320000") == sorted([suzhou, *nanjing])
    assert listed(nj) == nanjing  # not Suzhou's, though its province entered both
    assert listed(nat, province="110000") == []
    first = nj.get("/api/quality/internal", params={"year": year}).json()["evaluations"][1]
    assert first["dialled_at"] == [f"{year}-06-20 09:30"]  # China time, as entered
    assert first["note"] == "C320100 复核" and first["evaluator"] == "张三"
    assert nj.get("/api/quality/internal", params={"year": "x"}).status_code == 400
    other = {"year": year, "province": "110000"}
    assert js.get("/api/quality/internal", params=other).status_code == 403
    assert (
        nat.get("/api/quality/internal", params={"year": year, "province": "320100"}).status_code
        == 400
    )
    assert TestClient(app).get("/api/quality/internal", params={"year": year}).status_code == 401
