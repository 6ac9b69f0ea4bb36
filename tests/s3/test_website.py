"""Static website hosting through the s3-website host names."""

from __future__ import annotations

import re
from typing import Any

import requests


def site(endpoint: str, bucket: str, path: str, **kwargs: Any) -> requests.Response:
    port = endpoint.rsplit(":", 1)[1]
    host = f"{bucket}.s3-website.us-east-1.localhost.localstack.cloud:{port}"
    return requests.get(
        f"{endpoint}{path}", headers={"Host": host}, allow_redirects=False, timeout=10, **kwargs
    )


def test_index_error_and_redirects(s3: Any, bucket: str, endpoint: str) -> None:
    assert site(endpoint, bucket, "/").status_code == 404
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
            "RoutingRules": [
                {
                    "Condition": {"KeyPrefixEquals": "old/"},
                    "Redirect": {"ReplaceKeyPrefixWith": "new/", "HttpRedirectCode": "302"},
                }
            ],
        },
    )
    html = {"ContentType": "text/html"}
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", **html)
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"<h1>docs</h1>", **html)
    s3.put_object(Bucket=bucket, Key="error.html", Body=b"<h1>oops</h1>", **html)
    s3.put_object(Bucket=bucket, Key="moved", Body=b"", WebsiteRedirectLocation="/docs/")
    home = site(endpoint, bucket, "/")
    assert home.status_code == 200 and home.content == b"<h1>home</h1>"
    assert home.headers["Content-Type"] == "text/html"
    assert site(endpoint, bucket, "/docs/").content == b"<h1>docs</h1>"
    folder = site(endpoint, bucket, "/docs")
    assert folder.status_code == 302 and folder.headers["Location"] == "/docs/"
    missing = site(endpoint, bucket, "/nope.html")
    assert missing.status_code == 404 and missing.content == b"<h1>oops</h1>"
    moved = site(endpoint, bucket, "/moved")
    assert moved.status_code == 301 and moved.headers["Location"] == "/docs/"
    rule = site(endpoint, bucket, "/old/page.html")
    assert rule.status_code == 302 and rule.headers["Location"].endswith("/new/page.html")


def test_redirect_all_requests(s3: Any, bucket: str, endpoint: str) -> None:
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}
        },
    )
    resp = site(endpoint, bucket, "/a/b.html")
    assert resp.status_code == 301
    assert resp.headers["Location"] == "https://example.com/a/b.html"


def _items(page: str) -> list[str]:
    return re.findall(r"<li>([^<]*)</li>", page)


def test_error_pages(s3: Any, bucket: str, endpoint: str, unique: Any) -> None:
    """S3's own error pages (the website endpoints documentation): the status in the title, the
    error's Code, Message and Key or BucketName, the request ids, and why a configured error
    document could not be served."""
    absent = unique("nobkt")
    page = site(endpoint, absent, "/x")
    assert page.status_code == 404
    assert "<title>404 Not Found</title>" in page.text and "<h1>404 Not Found</h1>" in page.text
    assert _items(page.text)[:3] == [
        "Code: NoSuchBucket",
        "Message: The specified bucket does not exist",
        f"BucketName: {absent}",
    ]
    assert _items(page.text)[3] == f"RequestId: {page.headers['x-amz-request-id']}"
    assert _items(page.text)[4] == f"HostId: {page.headers['x-amz-id-2']}"
    unconfigured = site(endpoint, bucket, "/x")
    assert _items(unconfigured.text)[0] == "Code: NoSuchWebsiteConfiguration"
    s3.put_bucket_website(
        Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "i.htm"}}
    )
    missing = site(endpoint, bucket, "/docs/")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/html")
    assert _items(missing.text)[:3] == [
        "Code: NoSuchKey",
        "Message: The specified key does not exist.",
        "Key: docs/i.htm",
    ]
    assert "Custom Error Document" not in missing.text
    s3.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "i.htm"},
            "ErrorDocument": {"Key": "gone.html"},
        },
    )
    without_document = site(endpoint, bucket, "/a.html")
    assert without_document.status_code == 404
    assert (
        "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>"
        in without_document.text
    )
    assert _items(without_document.text)[2] == "Key: a.html"
    assert _items(without_document.text)[-3:] == [
        "Code: NoSuchKey",
        "Message: The specified key does not exist.",
        "Key: gone.html",
    ]
