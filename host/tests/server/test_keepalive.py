"""Keepalive: a client pinging every 10 s keeps quiet calls (v1 and v2) and an idle connection
alive for longer than a default grpc server allows (it cuts them after about 50 s). The probe
runs in the background from the end of collection (see ``conftest.py``)."""

from __future__ import annotations

import json

from keepalive_probe import QUIET_SECONDS, KeepaliveProbe


def test_client_pinging_every_10s_is_never_cut_off(keepalive_probe: KeepaliveProbe) -> None:
    outcome = keepalive_probe.result(timeout=QUIET_SECONDS + 120)
    for protocol in ("v1", "v2"):
        status, meta = outcome[protocol]
        assert status == "OK", (protocol, meta)
        assert json.loads(meta)["job_id"] == "keepalive"
    assert outcome["lost"] == {"busy": [], "idle": []}  # no GOAWAY, during calls or between
    assert outcome["idle_call"] > 0
