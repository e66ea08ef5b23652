"""Shared fixtures: each area keeps its own in a plugin module listed here."""

pytest_plugins = ["fixtures_clickhouse", "fixtures_dashboard", "fixtures_kafka"]
