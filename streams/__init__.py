"""The stream processors: a pure core, and the Faust worker that runs it (docs/streams.md).

- :mod:`~hotline.streams.calls` — call events → one versioned call record per call;
- :mod:`~hotline.streams.counters` — a call's counter contribution (the simulator's rules);
- :mod:`~hotline.streams.aggregate` — versioned per-minute snapshots of the base level;
- :mod:`~hotline.streams.rollup` — city, province and national roll-ups;
- :mod:`~hotline.streams.pipeline` — the stages composed, batch by batch;
- :mod:`~hotline.streams.tickets` — ticket state → ticket records and ticket counters;
- :mod:`~hotline.streams.agents` — agent time per center × minute;
- :mod:`~hotline.streams.alerts` — alert rules, dedupe and hysteresis → versioned alerts;
- :mod:`~hotline.streams.groups` — one province (or the nation) as a processing group, with
  its table image;
- :mod:`~hotline.streams.app` — the Faust shell (``hotline streams worker``); ``cli``,
  ``worker_config`` and ``status`` around it.

docs/streams.md states the definitions (completion, repeat, late, levels, versions).
"""
