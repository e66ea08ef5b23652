"""The stream processors' pure core and (later) the Faust shell around it.

- :mod:`~hotline.streams.calls` — call events → one versioned call record per call;
- :mod:`~hotline.streams.counters` — a call's counter contribution (the simulator's rules);
- :mod:`~hotline.streams.aggregate` — versioned per-minute snapshots of the base level;
- :mod:`~hotline.streams.rollup` — city, province and national roll-ups;
- :mod:`~hotline.streams.pipeline` — the stages composed, batch by batch.

docs/streams.md states the definitions (completion, repeat, late, levels, versions).
"""
