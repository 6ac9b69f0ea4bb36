"""SQS as query clients see it. The JSON model SQS publishes dropped the element names its
query API uses on the wire (``Attribute.1.Name``, ``MessageAttribute.1.Value.StringValue``,
``SendMessageBatchRequestEntry.1.Id``, ``<ReceiveMessageResult><Message>``), so the query view
is the JSON model with those names put back."""

from __future__ import annotations

import copy
from typing import Any

from botocore.model import ServiceModel

from nubes.services.sqs.errors import QUERY_CODES

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

# list shape -> the name of each item
LIST_ITEMS = {
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "BinaryList": "BinaryListValue",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageSystemAttributeList": "MessageSystemAttributeName",
    "MessageList": "Message",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "StringList": "StringListValue",
    "TagKeyList": "TagKey",
}
# map shape -> (entry name, key name, value name)
MAPS = {
    "MessageBodyAttributeMap": (None, "Name", "Value"),
    "MessageBodySystemAttributeMap": (None, "Name", "Value"),
    "MessageSystemAttributeMap": ("Attribute", "Name", "Value"),
    "QueueAttributeMap": ("Attribute", "Name", "Value"),
    "TagMap": ("Tag", "Key", "Value"),
}
# (structure, member) -> wire name
MEMBERS = {
    ("CreateQueueRequest", "Attributes"): "Attribute",
    ("CreateQueueRequest", "tags"): "Tag",
    ("GetQueueAttributesResult", "Attributes"): "Attribute",
    ("ListQueueTagsResult", "Tags"): "Tag",
    ("Message", "Attributes"): "Attribute",
    ("Message", "MessageAttributes"): "MessageAttribute",
    ("MessageAttributeValue", "StringListValues"): "StringListValue",
    ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("MessageSystemAttributeValue", "StringListValues"): "StringListValue",
    ("MessageSystemAttributeValue", "BinaryListValues"): "BinaryListValue",
    ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
    ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
    ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
    ("SetQueueAttributesRequest", "Attributes"): "Attribute",
}
FLATTENED = {("ListMessageMoveTasksResult", "Results")}


def query_model(json_model: ServiceModel) -> ServiceModel:
    data: dict[str, Any] = copy.deepcopy(json_model._service_description)
    data["metadata"] = {
        **data["metadata"],
        "protocol": "query",
        "protocols": ["query"],
        "xmlNamespace": NAMESPACE,
    }
    shapes = data["shapes"]
    for name, item in LIST_ITEMS.items():
        if name in shapes:
            shapes[name]["member"]["locationName"] = item
    for name, (entry, key, value) in MAPS.items():
        if entry:
            shapes[name]["locationName"] = entry
        shapes[name]["key"]["locationName"] = key
        shapes[name]["value"]["locationName"] = value
    for (struct, member), wire in MEMBERS.items():
        if member in shapes[struct]["members"]:
            shapes[struct]["members"][member]["locationName"] = wire
    for struct, member in FLATTENED:
        shapes[struct]["members"][member]["flattened"] = True
    for code, query_code in QUERY_CODES.items():
        shapes[code]["error"] = {"code": query_code, "httpStatusCode": 400, "senderFault": True}
    for op_name, op in data["operations"].items():
        output = op.get("output")
        if output and shapes[output["shape"]]["members"]:
            output["resultWrapper"] = f"{op_name}Result"
    return ServiceModel(data, service_name=json_model.service_name)
