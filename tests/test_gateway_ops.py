"""The ingest gateway in operation: token changes without a restart, rejected events counted,
dead-lettered (masked) and logged, implausible event times refused at the edge."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures_kafka import free_port
from test_gateway import NANJING, NINGBO, MemorySender, auth, offered_json

from hotline.producers.gateway import GatewayConfig, TokenStore, create_app
from hotline.schemas.redact import TOO_DEEP
from hotline.schemas.types import EARLIEST_OCCURRED_AT, MAX_FUTURE_S
from hotline.streams.worker_config import WorkerConfig

PHONE = "13800138000"  # built here, never read from a fixture


def gateway(tmp_path: Path, store: TokenStore, sender: MemorySender | None = None) -> TestClient:
    config = GatewayConfig(
        tokens_file=store.path, dead_letters_file=tmp_path / "gw" / "dead_letters.jsonl"
    )
    return TestClient(create_app(config, store, sender or MemorySender()))


def post(client: TestClient, token: str, *events: Any) -> Any:
    return client.post("/v1/events", json={"events": list(events)}, headers=auth(token))


# -- tokens: the running gateway follows the file -----------------------------------------


def test_revoked_token_is_refused_on_the_next_request(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token, other = store.add(NINGBO), store.add(NANJING)
    client = gateway(tmp_path, store)
    assert post(client, token, offered_json(NINGBO, "330203", 1)).status_code == 200
    assert TokenStore(store.path).revoke(NINGBO) == 1  # `ingest-token revoke`, another process
    response = post(client, token, offered_json(NINGBO, "330203", 2))
    assert response.status_code == 401 and response.json()["detail"] == "unknown token"
    assert post(client, other, offered_json(NANJING, "320102", 3)).status_code == 200


def test_added_token_works_without_a_restart(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.add(NINGBO)
    sender = MemorySender()
    client = gateway(tmp_path, store, sender)
    new = TokenStore(store.path).add(NANJING)  # `ingest-token add` while the gateway runs
    assert post(client, new, offered_json(NANJING, "320102", 1)).status_code == 200
    assert len(sender.records) == 1


def test_the_gateway_starts_without_tokens_and_takes_the_first_one_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A fresh server has no token yet: `serve ingest` starts anyway (a container that exits
    would restart-loop), says so, refuses every request, and the first token added with
    `ingest-token add` works without a restart."""
    from typer.testing import CliRunner

    import hotline.producers.gateway.app as gateway_app
    import hotline.producers.gateway.cli as gateway_cli
    from hotline.cli import app as cli

    served: list[Any] = []

    def serve_on(app: Any, sock: socket.socket) -> None:
        served.append(app)
        sock.close()

    monkeypatch.setattr(gateway_cli, "serve_on", serve_on)
    sender = MemorySender()
    monkeypatch.setattr(gateway_app, "KafkaBatchSender", lambda config: sender)
    path = tmp_path / "gateway" / "tokens.json"  # as on a new volume: not even the folder

    with caplog.at_level(logging.WARNING, logger="hotline.producers.gateway.cli"):
        result = CliRunner().invoke(
            cli,
            ["serve", "ingest", "--tokens", str(path), "--port", str(free_port())],
            env={"HOTLINE_STACK__HOME": str(tmp_path / "home")},
        )
    assert result.exit_code == 0, result.output
    assert len(served) == 1
    assert f"no tokens in {path}" in caplog.text and "ingest-token add" in caplog.text

    client = TestClient(served[0])
    refused = post(client, "hl_" + "x" * 43, offered_json(NINGBO, "330203", 1))
    assert refused.status_code == 401
    token = TokenStore(path).add(NINGBO)  # `ingest-token add`, another process
    assert post(client, token, offered_json(NINGBO, "330203", 2)).status_code == 200
    assert len(sender.records) == 1


@pytest.mark.parametrize("damage", ["not json {", '{"tokens": [{"center": 1}]}', "missing"])
def test_a_broken_tokens_file_keeps_the_last_good_tokens(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    client = gateway(tmp_path, store)
    if damage == "missing":
        store.path.unlink()
    else:
        store.path.write_text(damage)
    with caplog.at_level(logging.ERROR, logger="hotline.producers.gateway.tokens"):
        for n in range(3):  # logged once per change of the file, not per request
            assert post(client, token, offered_json(NINGBO, "330203", n)).status_code == 200
        assert post(client, "hl_never-issued", offered_json(NINGBO, "330203", 9)).status_code == 401
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "keeping the 1 token(s)" in errors[0].getMessage()
    assert "keeping" in client.get("/healthz").json()["tokens_error"]
    # repaired: `ingest-token revoke` rewrites the file; the gateway follows again
    if damage == "missing":
        store.path.write_text('{"tokens": []}')
    else:
        store.path.unlink()
    assert TokenStore(store.path).revoke(NINGBO) == 0
    assert post(client, token, offered_json(NINGBO, "330203", 10)).status_code == 401
    assert client.get("/healthz").json()["tokens_error"] is None


def test_a_hand_edit_in_place_is_seen(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    client = gateway(tmp_path, store)
    inode = store.path.stat().st_ino
    with store.path.open("r+") as f:  # same inode: size and mtime change
        f.seek(0)
        f.write('{"tokens": []}')
        f.truncate()
    assert store.path.stat().st_ino == inode
    os.utime(store.path, ns=(1, 1))  # even with an old mtime: the size changed
    assert post(client, token, offered_json(NINGBO, "330203", 1)).status_code == 401


# -- rejected events: counted, dead-lettered (masked), logged -----------------------------


def test_rejected_events_are_counted_dead_lettered_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    sender = MemorySender()
    client = gateway(tmp_path, store, sender)
    bad_type = offered_json(NINGBO, "330203", 5)
    bad_type["envelope"]["event_type"] = f"call.{PHONE}"
    events = [
        offered_json(NINGBO, "330203", 1),
        offered_json(NINGBO, "330203", 2, caller=PHONE),
        offered_json(NANJING, "320102", 3),
        offered_json(NINGBO, "320102", 4),
        bad_type,
        {**offered_json(NINGBO, "330203", 6), "note": f"call me on {PHONE}"},
        PHONE,
    ]
    with caplog.at_level(logging.INFO, logger="hotline.producers.gateway.app"):
        response = post(client, token, *events)
    assert response.status_code == 200 and response.json()["rejected"] == 6
    assert PHONE not in response.text and "0013" not in response.text
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["accepted"] == 1 and health["rejected"] == 6
    assert health["rejected_by_kind"] == {
        "caller_in_clear": 1,
        "invalid": 1,
        "not_an_object": 1,
        "unknown_type": 1,
        "wrong_center": 1,
        "wrong_region": 1,
    }
    assert health["dead_letters"] == 6 and health["dead_letter_errors"] == 0

    path = tmp_path / "gw" / "dead_letters.jsonl"
    text = path.read_text()
    assert PHONE not in text and "0013" not in text and "138 0013" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["index"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert all(line["stage"] == "gateway" and line["center_id"] == NINGBO for line in lines)
    by_index = {line["index"]: line for line in lines}
    assert by_index[1]["kind"] == "caller_in_clear"
    assert by_index[1]["original"]["caller_id"] == "*********00"
    assert "original masked" in by_index[1]["original_note"]
    assert by_index[2]["kind"] == "wrong_center" and "C320100" in by_index[2]["reason"]
    assert by_index[2]["event_id"] == "00000000-0000-4000-8000-000000000003"
    # values that cannot hold a number are kept: the original stays readable
    assert by_index[3]["original"]["envelope"]["region_code"] == "320102"
    assert by_index[3]["original"]["envelope"]["occurred_at"] == "2025-03-03T01:00:00Z"
    assert by_index[3]["original"]["envelope"]["center_id"] == NINGBO  # a known center
    # other ids with 5+ digits could be numbers: masked too (the center keeps its event)
    assert by_index[3]["original"]["envelope"]["producer_id"] == "C****00-cti"
    assert by_index[4]["event_type"] is None and "*******00" in by_index[4]["reason"]
    assert by_index[5]["original"]["note"] == "call me on *********00"
    assert by_index[6] == {**by_index[6], "kind": "not_an_object", "original": "*********00"}

    logged = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(logged) == 1 and caplog.records[-1].levelno == logging.WARNING
    assert "6 of 7 event(s) rejected" in logged[0] and "wrong_region 1" in logged[0]
    assert PHONE not in caplog.text and "0013" not in caplog.text


def test_a_dead_letter_file_that_cannot_be_written_does_not_stop_the_flow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    sender = MemorySender()
    (tmp_path / "gw").write_text("a file where the folder should be")
    client = gateway(tmp_path, store, sender)
    response = post(
        client, token, offered_json(NINGBO, "330203", 1), offered_json(NINGBO, "320102", 2)
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert len(sender.records) == 1
    health = client.get("/healthz").json()
    assert (health["rejected"], health["dead_letters"], health["dead_letter_errors"]) == (1, 0, 1)
    assert "not dead-lettered" in caplog.text


def test_on_503_rejections_wait_for_the_resent_batch(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    sender = MemorySender(fail=True)
    client = gateway(tmp_path, store, sender)
    batch = [offered_json(NINGBO, "330203", 1), offered_json(NINGBO, "320102", 2)]
    assert post(client, token, *batch).status_code == 503
    health = client.get("/healthz").json()
    assert (health["unavailable"], health["rejected"], health["dead_letters"]) == (1, 0, 0)
    sender.fail = False
    assert post(client, token, *batch).status_code == 200
    health = client.get("/healthz").json()
    assert (health["accepted"], health["rejected"], health["dead_letters"]) == (1, 1, 1)


# -- implausible event times ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "says"),
    [
        ("0001-01-01T00:00:00Z", "before 2000-01-01"),
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("9999-12-31T00:00:00Z", "max_future_s"),
        ("2099-01-01T00:00:00Z", "max_future_s"),
    ],
)
def test_implausible_occurred_at_is_rejected(tmp_path: Path, occurred_at: str, says: str) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    sender = MemorySender()
    client = gateway(tmp_path, store, sender)
    event = offered_json(NINGBO, "330203", 1)
    event["envelope"]["occurred_at"] = occurred_at
    result = post(client, token, event).json()["results"][0]
    assert result["status"] == "rejected" and "implausible occurred_at" in result["reason"]
    assert says in result["reason"] and sender.records == []
    assert client.get("/healthz").json()["rejected_by_kind"] == {"implausible_time": 1}


def test_time_bounds_are_the_stream_workers(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    assert GatewayConfig().max_future_s == WorkerConfig().max_future_s == MAX_FUTURE_S
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    client = gateway(tmp_path, store)
    soon = datetime.now(UTC) + timedelta(seconds=MAX_FUTURE_S - 600)
    for n, at in enumerate([EARLIEST_OCCURRED_AT, soon]):
        event = offered_json(NINGBO, "330203", n)
        event["envelope"]["occurred_at"] = at.isoformat()
        assert post(client, token, event).json()["accepted"] == 1, at


def test_a_number_as_a_field_name_is_not_echoed_in_a_reason(tmp_path: Path) -> None:
    """Before: pydantic's error location names the unknown key, so the reason in the answer
    and in the dead-letter line carried the number in clear (the original was masked)."""
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    client = gateway(tmp_path, store)
    top = {**offered_json(NINGBO, "330203", 1), PHONE: "x"}
    inner = offered_json(NINGBO, "330203", 2)
    inner["envelope"][PHONE] = 1
    caller_key = {**offered_json(NINGBO, "330203", 3), f"caller_{PHONE}": PHONE}
    response = post(client, token, top, inner, caller_key)
    reasons = [r["reason"] for r in response.json()["results"]]
    assert reasons[0] == "invalid call.offered: *********00: Extra inputs are not permitted"
    assert reasons[1].startswith("invalid call.offered: envelope.*********00: Extra inputs")
    assert reasons[2].startswith("caller_in_clear: caller_*********00 holds a phone number")
    assert PHONE not in response.text
    assert PHONE not in (tmp_path / "gw" / "dead_letters.jsonl").read_text()


@pytest.mark.parametrize("depth", [100, 600, 900])
def test_a_deeply_nested_event_is_rejected_and_its_batch_mates_go_in(
    tmp_path: Path, depth: int
) -> None:
    """Before: from about 450 levels down, masking the original for its dead-letter line ran
    out of recursion — a 500 after its batch-mates were in Kafka, for every resend of it."""
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    sender = MemorySender()
    client = gateway(tmp_path, store, sender)
    deep: Any = PHONE
    for _ in range(depth):
        deep = [deep]
    good, nested = offered_json(NINGBO, "330203", 1), offered_json(NINGBO, "330203", 2)
    nested["note"] = deep
    response = post(client, token, good, nested)
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 1)
    assert len(sender.records) == 1
    [line] = [
        json.loads(x) for x in (tmp_path / "gw" / "dead_letters.jsonl").read_text().splitlines()
    ]
    assert line["kind"] == "invalid" and line["index"] == 1
    assert PHONE not in json.dumps(line) and TOO_DEEP in json.dumps(line["original"]["note"])


def test_a_body_that_is_not_a_batch_is_422_without_echoing_it(tmp_path: Path) -> None:
    """Before: FastAPI's 422 carried the whole body as ``input`` — numbers in clear, and up
    to ``max_body_bytes`` sent back."""
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    client = gateway(tmp_path, store)
    event = offered_json(NINGBO, "330203", 1, caller=PHONE)
    for body in ({"evnts": [event]}, {"events": event}):
        response = client.post("/v1/events", json=body, headers=auth(token))
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "events"] and error["msg"]
        assert "input" not in error and PHONE not in response.text


def test_a_rejected_event_id_that_is_no_uuid_is_not_echoed(tmp_path: Path) -> None:
    """Before: a rejected event's result carried its ``event_id`` as sent, a number too (the
    dead-letter line already kept only a UUID); the client finds it by ``index``."""
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    client = gateway(tmp_path, store)
    event = offered_json(NINGBO, "330203", 1)
    event["envelope"]["event_id"] = PHONE
    wrong_region = offered_json(NINGBO, "320102", 2)
    response = post(client, token, event, wrong_region)
    first, second = response.json()["results"]
    assert (first["status"], first["index"], first["event_id"]) == ("rejected", 0, None)
    assert "envelope.event_id" in first["reason"] and PHONE not in response.text
    assert second["event_id"] == wrong_region["envelope"]["event_id"]  # a UUID stays


def test_an_event_type_that_is_no_text_is_rejected_and_its_batch_mates_go_in(
    tmp_path: Path,
) -> None:
    """Before: an array or object as ``event_type`` made its dead-letter line raise (an
    unhashable key looked up among the known types): a 500 after the batch-mates were sent,
    for every resend of the batch."""
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add(NINGBO)
    sender = MemorySender()
    client = gateway(tmp_path, store, sender)
    as_list, as_object = offered_json(NINGBO, "330203", 2), offered_json(NINGBO, "330203", 3)
    as_list["envelope"]["event_type"] = ["call.offered"]
    as_object["envelope"]["event_type"] = {"type": "call.offered"}
    response = post(client, token, offered_json(NINGBO, "330203", 1), as_list, as_object)
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, 2)
    assert "unknown event type" in response.json()["results"][1]["reason"]
    assert len(sender.records) == 1
    lines = [
        json.loads(x) for x in (tmp_path / "gw" / "dead_letters.jsonl").read_text().splitlines()
    ]
    assert [(x["index"], x["kind"], x["event_type"]) for x in lines] == [
        (1, "unknown_type", None),
        (2, "unknown_type", None),
    ]


def test_a_token_of_a_center_the_registry_does_not_know_is_403(tmp_path: Path) -> None:
    """A token of a center no longer in the registry (a region code retired by a GB/T 2260
    update, a hand-edited file). Before: every batch of it was a 500 (``UnknownCenter``)."""
    store = TokenStore(tmp_path / "tokens.json")
    token = store.add("C330299")  # not a center: ``ingest-token add`` refuses it
    sender = MemorySender()
    client = gateway(tmp_path, store, sender)
    event = offered_json("C330299", "330203", 1)
    response = post(client, token, event)
    assert response.status_code == 403, response.text
    assert "C330299 is not a known center" in response.json()["detail"]
    assert sender.records == []


def _add_tokens(path: str, n: int) -> list[str]:
    return [TokenStore(path).add(NINGBO) for _ in range(n)]


def test_ingest_token_commands_run_at_once_lose_no_token(tmp_path: Path) -> None:
    """Each `ingest-token add` is its own process: without a lock between them, two at once
    each wrote the file they had read plus their own token, and one token was lost."""
    from concurrent.futures import ProcessPoolExecutor

    path = str(tmp_path / "tokens.json")
    with ProcessPoolExecutor(6) as pool:
        made = [t for batch in pool.map(_add_tokens, [path] * 6, [40] * 6) for t in batch]
    store = TokenStore(path)
    assert len(store.entries) == len(made) == 240
    assert all(store.center_of(token) == NINGBO for token in made)
