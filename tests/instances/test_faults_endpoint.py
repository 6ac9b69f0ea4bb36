"""``/_nubes/faults`` as a test reaches it (the EC2 story itself is in tests/ec2)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def call(endpoint: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{endpoint}/_nubes/faults", data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_listing_and_bad_requests(endpoint: str) -> None:
    status, body = call(endpoint, "GET")
    assert status == 200 and isinstance(body["faults"], list)
    assert call(endpoint, "POST", {"instance_id": "i-1"})[0] == 400
    assert call(endpoint, "POST", {"fault": "nosuchservice:melt"})[0] == 400
    assert call(endpoint, "DELETE")[0] == 405
