"""The stream processors' pure core (the Faust shell is not written yet).

- :mod:`~hotline.streams.calls` — call events → one versioned call record per call;
- :mod:`~hotline.streams.counters` — a call's counter contribution (the simulator's rules);
- :mod:`~hotline.streams.aggregate` — versioned per-minute snapshots of the base level;
- :mod:`~hotline.streams.rollup` — city, province and national roll-ups;
- :mod:`~hotline.streams.pipeline` — the stages composed, batch by batch;
- :mod:`~hotline.streams.tickets` — ticket state → ticket records and ticket counters;
- :mod:`~hotline.streams.agents` — agent time per center × minute.

docs/streams.md states the definitions (completion, repeat, late, levels, versions).
"""
