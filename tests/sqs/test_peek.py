"""``/_aws/sqs/messages``: list a queue's messages without consuming them; DELETE purges."""

from __future__ import annotations

from typing import Any

import requests
from botocore.model import ServiceModel
from botocore.parsers import QueryParser

from nubes.services.sqs.query_names import query_model


def test_peek_lists_without_consuming(client: Any, endpoint: str, unique: Any) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("peek"))["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody="look",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    answer = requests.get(
        f"{endpoint}/_aws/sqs/messages",
        params={"QueueUrl": url},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200
    messages = answer.json()["Messages"]
    assert [m["Body"] for m in messages] == ["look"]
    assert messages[0]["MessageAttributes"]["k"]["StringValue"] == "v"
    xml = requests.get(f"{endpoint}/_aws/sqs/messages", params={"QueueUrl": url}, timeout=10)
    model: ServiceModel = query_model(sqs.meta.service_model)
    parsed = QueryParser().parse(
        {"status_code": 200, "headers": dict(xml.headers), "body": xml.content},
        model.operation_model("ReceiveMessage").output_shape,
    )
    assert [m["Body"] for m in parsed["Messages"]] == ["look"]
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "look"
    invisible = requests.get(
        f"{endpoint}/_aws/sqs/messages",
        params={"QueueUrl": url, "ShowInvisible": "true"},
        headers={"Accept": "application/json"},
        timeout=10,
    ).json()
    assert len(invisible["Messages"]) == 1
    assert requests.delete(f"{endpoint}/_aws/sqs/messages", params={"QueueUrl": url}, timeout=10).ok
    assert (
        "Messages"
        not in requests.get(
            f"{endpoint}/_aws/sqs/messages/us-east-1/000000000000/{url.rsplit('/', 1)[-1]}",
            params={"ShowInvisible": "true"},
            headers={"Accept": "application/json"},
            timeout=10,
        ).json()
    )
