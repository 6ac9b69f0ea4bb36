"""The web console in headless Chromium: what boto3 made is there to find, peek and download."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By

from tests.console.conftest import screenshot
from tests.server import NubesProcess


def _wait_for(predicate: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_console_shows_buckets_queues_tables(
    browser: Any, endpoint: str, client: Any, unique: Callable[[str], str]
) -> None:
    bucket, queue, table = unique("console"), unique("console"), unique("console")
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="reports/hello.txt", Body=b"hello from nubes")
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="peek at me")
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"id": {"S": "item-1"}, "colour": {"S": "teal"}})

    browser.get(f"{endpoint}/_nubes/console")
    assert "nubes console" in browser.title
    screenshot(browser, "overview")

    browser.find_element(By.LINK_TEXT, "s3").click()
    browser.find_element(By.LINK_TEXT, bucket).click()
    browser.find_element(By.LINK_TEXT, "reports/").click()
    assert "reports/hello.txt" in browser.page_source
    screenshot(browser, "s3-objects")
    browser.find_element(By.LINK_TEXT, "download").click()
    target = browser.downloads / "hello.txt"
    assert _wait_for(target.exists), "the download did not arrive"
    assert _wait_for(lambda: target.read_bytes() == b"hello from nubes")

    browser.find_element(By.LINK_TEXT, "sqs").click()
    browser.find_element(By.LINK_TEXT, queue).click()
    assert "peek at me" in browser.page_source
    screenshot(browser, "sqs-queue")
    # A peek receives nothing: the message is still there for a consumer.
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in got] == ["peek at me"]

    browser.find_element(By.LINK_TEXT, "dynamodb").click()
    browser.find_element(By.LINK_TEXT, table).click()
    assert "item-1" in browser.page_source and "teal" in browser.page_source
    screenshot(browser, "dynamodb-items")


def test_console_is_live(
    browser: Any, endpoint: str, client: Any, unique: Callable[[str], str]
) -> None:
    browser.get(f"{endpoint}/_nubes/console/s3")
    bucket = unique("live")
    client("s3").create_bucket(Bucket=bucket)
    # The page refreshes its content by itself, no reload.
    assert _wait_for(lambda: bucket in browser.page_source)


def test_lambda_invoke_and_logs_in_the_console(
    browser: Any, endpoint: str, client: Any, unique: Callable[[str], str], tmp_path: Path
) -> None:
    import io
    import zipfile

    name = unique("fn")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "app.py",
            "def handler(event, context):\n    print('called with', event)\n"
            "    return {'echo': event}\n",
        )
    client("iam").create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=f"arn:aws:iam::000000000000:role/{name}",
        Code={"ZipFile": buf.getvalue()},
    )
    browser.get(f"{endpoint}/_nubes/console/lambda/{name}")
    box = browser.find_element(By.NAME, "payload")
    box.clear()
    box.send_keys('{"x": 41}')
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert _wait_for(
        lambda: "&#34;echo&#34;" in browser.page_source or '"echo"' in browser.page_source
    )
    assert "called with" in browser.page_source
    screenshot(browser, "lambda-function")


def test_console_under_enforcement_asks_and_shows_what_credentials_may_read(
    browser: Any, nubes_factory: Callable[..., NubesProcess]
) -> None:
    server = nubes_factory(persistent=False, env={"NUBES_ENFORCE_IAM": "1"})
    root_s3 = server.client("s3")
    root_s3.create_bucket(Bucket="visible-bucket")
    iam = server.client("iam")
    iam.create_user(UserName="viewer")
    iam.put_user_policy(
        UserName="viewer",
        PolicyName="list-buckets",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="viewer")["AccessKey"]

    browser.get(f"{server.endpoint}/_nubes/console/s3")
    assert "Sign in" in browser.page_source
    browser.find_element(By.NAME, "access_key_id").send_keys(key["AccessKeyId"])
    browser.find_element(By.NAME, "secret_access_key").send_keys("not the secret")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # A click returns before the answer has replaced the page.
    assert _wait_for(lambda: "not accepted" in browser.page_source)

    browser.find_element(By.NAME, "access_key_id").send_keys(key["AccessKeyId"])
    browser.find_element(By.NAME, "secret_access_key").send_keys(key["SecretAccessKey"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert _wait_for(lambda: "user/viewer" in browser.page_source)
    browser.get(f"{server.endpoint}/_nubes/console/s3")
    assert "visible-bucket" in browser.page_source
    browser.get(f"{server.endpoint}/_nubes/console/sqs")
    assert "AccessDenied" in browser.page_source
    screenshot(browser, "enforced-sqs-denied")
    # Without a session the console's pages are not served at all.
    with urllib.request.urlopen(f"{server.endpoint}/_nubes/console/s3") as resp:
        assert "Sign in" in resp.read().decode()
