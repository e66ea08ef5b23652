"""Signed-in API clients of the dashboards' test accounts, for the modules that define an
``app`` fixture (the dashboard under test): ``nat`` (national), ``js`` (Jiangsu), ``nj``
(Nanjing), each once per module."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_dashboard_data import ACCOUNTS


def login(app: Any, name: str) -> TestClient:
    """A client of ``app`` signed in as the test account ``name``."""
    client = TestClient(app)
    response = client.post("/api/login", json={"username": name, "password": ACCOUNTS[name][0]})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(scope="module")
def nat(app: Any) -> TestClient:
    return login(app, "nat")


@pytest.fixture(scope="module")
def js(app: Any) -> TestClient:
    return login(app, "js")


@pytest.fixture(scope="module")
def nj(app: Any) -> TestClient:
    return login(app, "nj")
