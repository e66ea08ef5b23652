"""Provincial dashboards: a FastAPI app (``hotline dashboard``) with a plain ES-module front end.

Modules, one concept each:

- :mod:`.config` — the dashboard's own settings (where users and acknowledgements live);
- :mod:`.scopes` — a user's scope (national, one province, one city) and what it allows;
- :mod:`.users` — dashboard accounts in a JSON file, argon2id password hashes;
- :mod:`.sessions` — login sessions that expire;
- :mod:`.timerange` — live / today / 7 days / month / year / custom → grain and bounds;
- :mod:`.tables` — the one table shape every API answer has, as JSON or CSV;
- :mod:`.queries` — the SQL (rates from summed counters with the ``hotline_*`` functions);
- :mod:`.acks` — alert acknowledgements (the dashboard's ClickHouse user is read-only);
- :mod:`.quality` — 质量监测: the report's figures and the evaluation form (the one write path);
- :mod:`.grafana` — the provisioned Grafana dashboards (generator of infra/grafana/dashboards/);
- :mod:`.app` — the HTTP shell; :mod:`.cli` — ``hotline dashboard``; :mod:`.assets` — ECharts.

docs/dashboards.md describes the pages, the API and the scopes.
"""
