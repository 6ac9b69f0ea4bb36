"""GetFunction's ``Code.Location`` and GetLayerVersion's ``Content.Location`` (Lambda API
reference, FunctionCodeLocation and LayerVersionContentOutput: "a presigned URL that you can use
to download the deployment package", valid for ten minutes): an S3 presigned GET of an object
in a bucket the Lambda service owns, which a plain HTTP client downloads and S3's signature and
expiry checks guard."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
import requests

from tests.lambda_.conftest import ROLE, zipped
from tests.server import NubesProcess

SOURCE = {"app.py": "def handler(event, context):\n    return event\n"}


def _error(answer: requests.Response) -> tuple[str, str]:
    root = ElementTree.fromstring(answer.content)
    return root.findtext("Code") or "", root.findtext("Message") or ""


def test_code_location_downloads_the_zip(
    lam: Any, unique: Callable[[str], str], endpoint: str
) -> None:
    name = unique("code")
    package = zipped(SOURCE)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": package},
    )
    code = lam.get_function(FunctionName=name)["Code"]
    assert code["RepositoryType"] == "S3"
    url = urlsplit(code["Location"])
    assert url.netloc == urlsplit(endpoint).netloc
    assert re.fullmatch(
        rf"/awslambda-us-east-1-tasks/snapshots/000000000000/{name}-[0-9a-f-]{{36}}", url.path
    )
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["600"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/s3/aws4_request")
    answer = requests.get(code["Location"], timeout=10)
    assert answer.status_code == 200
    assert answer.content == package

    # A published version keeps its own package after $LATEST changes.
    version = lam.publish_version(FunctionName=name)["Version"]
    newer = zipped({"app.py": "def handler(event, context):\n    return 2\n"})
    lam.update_function_code(FunctionName=name, ZipFile=newer)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    latest = lam.get_function(FunctionName=name)["Code"]["Location"]
    published = lam.get_function(FunctionName=name, Qualifier=version)["Code"]["Location"]
    assert requests.get(latest, timeout=10).content == newer
    assert requests.get(published, timeout=10).content == package
    lam.delete_function(FunctionName=name)


def test_a_tampered_location_is_refused_as_s3_refuses_it(
    lam: Any, make_function: Callable[..., str]
) -> None:
    name = make_function(SOURCE)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    base, _, signature = location.rpartition("X-Amz-Signature=")
    forged = base + "X-Amz-Signature=" + ("0" if signature[0] != "0" else "1") + signature[1:]
    answer = requests.get(forged, timeout=10)
    assert answer.status_code == 403
    assert _error(answer)[0] == "SignatureDoesNotMatch"
    # Another object under the same signature is not downloadable either.
    other = location.replace(f"/{name}-", f"/{name}x-")
    assert _error(requests.get(other, timeout=10))[0] == "SignatureDoesNotMatch"
    # Without a signature it is S3's bucket, which does not exist for the caller.
    unsigned = requests.get(location.split("?")[0], timeout=10)
    assert unsigned.status_code == 404
    assert _error(unsigned)[0] == "NoSuchBucket"


@pytest.mark.clock
def test_a_location_expires_after_ten_minutes(
    lam: Any, make_function: Callable[..., str], endpoint: str
) -> None:
    name = make_function(SOURCE)
    location = lam.get_function(FunctionName=name)["Code"]["Location"]
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 590}, timeout=10)
    assert requests.get(location, timeout=10).status_code == 200
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 20}, timeout=10)
    answer = requests.get(location, timeout=10)
    assert answer.status_code == 403
    assert _error(answer) == ("AccessDenied", "Request has expired")
    fresh = lam.get_function(FunctionName=name)["Code"]["Location"]
    assert requests.get(fresh, timeout=10).status_code == 200


def test_a_location_still_downloads_after_a_restart(
    nubes_factory: Callable[..., NubesProcess],
) -> None:
    server = nubes_factory(persistent=True)
    package = zipped(SOURCE)
    lam = server.client("lambda")
    lam.create_function(
        FunctionName="kept",
        Runtime="python3.12",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": package},
    )
    location = lam.get_function(FunctionName="kept")["Code"]["Location"]
    server.kill()
    # The same port, so the URL's host is the server's again; no Lambda request comes first.
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        answer = requests.get(location, timeout=10)
        assert answer.status_code == 200
        assert answer.content == package
    finally:
        restarted.stop()


def test_layer_content_location_downloads_the_zip(lam: Any, unique: Callable[[str], str]) -> None:
    name = unique("layer")
    package = zipped({"python/helper.py": "VALUE = 1\n"})
    published = lam.publish_layer_version(LayerName=name, Content={"ZipFile": package})
    location = published["Content"]["Location"]
    assert f"/awslambda-us-east-1-layers/snapshots/000000000000/{name}-" in location
    assert requests.get(location, timeout=10).content == package
    got = lam.get_layer_version(LayerName=name, VersionNumber=published["Version"])
    assert requests.get(got["Content"]["Location"], timeout=10).content == package
    lam.delete_layer_version(LayerName=name, VersionNumber=published["Version"])
