"""Static website hosting through the s3-website host names."""

from __future__ import annotations

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
