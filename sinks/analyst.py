"""The analysts' Python API: SQL in, a pandas DataFrame out, as the read-only analyst user.

::

    from hotline.sinks.analyst import query_df

    df = query_df(
        "SELECT bucket, region_code, connection_rate FROM metric_rates "
        "WHERE grain = 'month' AND level = 'province' AND business_line = 'all' "
        "AND channel = 'all' ORDER BY bucket",
    )

``params`` are clickhouse-driver's ``%(name)s`` parameters; ``settings`` are ClickHouse query
settings (the readonly analyst profile refuses most of them; ``max_execution_time`` is
allowed). Errors are :mod:`hotline.sinks.errors`. Views and rate functions: docs/analysts.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from hotline.settings import ClickHouseSettings, load_settings
from hotline.sinks.client import connect, sql_head, translated_errors

ANALYST_USER = "analyst"


def query_df(
    sql: str,
    params: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    clickhouse: ClickHouseSettings | None = None,
    user: str = ANALYST_USER,
    password: str | None = None,
) -> pd.DataFrame:
    """Run ``sql`` and return its rows as a DataFrame with the query's column names.

    Connects with ``clickhouse`` (default: :func:`~hotline.settings.load_settings`) as ``user``
    (default the read-only ``analyst``; its password from the settings unless given).
    """
    ch = clickhouse or load_settings().clickhouse
    if password is None:
        password = password_of(ch, user)
    client = connect(ch, user=user, password=password)
    try:
        with translated_errors(sql_head(sql)):
            rows, columns = client.execute(
                sql, dict(params or {}), with_column_types=True, settings=dict(settings or {})
            )
    finally:
        client.disconnect()
    return pd.DataFrame.from_records(rows, columns=[name for name, _type in columns])


def password_of(ch: ClickHouseSettings, user: str) -> str:
    """The password of ClickHouse user ``user`` from the settings ("" when none is set)."""
    if user == "analyst":
        return ch.analyst_password.get_secret_value()
    if user == "dashboard":
        return ch.dashboard_password.get_secret_value()
    if user == ch.user:
        return ch.password.get_secret_value()
    province = user.removeprefix("analyst_")
    if province != user and province in ch.province_passwords:
        return ch.province_passwords[province].get_secret_value()
    return ""
