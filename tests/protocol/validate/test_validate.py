"""Input validation against botocore's models, reported in each service's own style."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.model import OperationModel, ServiceModel

from nubes.protocol.base import ServiceError
from nubes.protocol.validate import (
    MAX_REPORTED,
    describe_violation,
    validate,
    validation_error,
)


@cache
def service(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


def op(service_name: str, operation: str) -> OperationModel:
    return service(service_name).operation_model(operation)


def rejected(service_name: str, operation: str, params: dict[str, Any]) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        validate(op(service_name, operation), params)
    return info.value


def coral(*violations: str) -> str:
    count = len(violations)
    return f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(violations)


# --- coral style, JSON services ----------------------------------------------------------------


def test_missing_required_member_is_reported_as_null() -> None:
    err = rejected("dynamodb", "PutItem", {"Item": {"pk": {"S": "a"}}})
    assert err.code == "ValidationException"
    assert err.status == 400
    assert err.sender_fault
    assert err.message == coral(
        "Value null at 'tableName' failed to satisfy constraint: Member must not be null"
    )


def test_explicit_none_counts_as_missing() -> None:
    err = rejected("dynamodb", "DeleteTable", {"TableName": None})
    assert "Value null at 'tableName'" in err.message


def test_several_violations_in_model_order() -> None:
    err = rejected("dynamodb", "Scan", {"Select": "EVERYTHING", "TableName": "", "Limit": 0})
    assert err.message == coral(
        "Value '' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        "Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
        "Value 'EVERYTHING' at 'select' failed to satisfy constraint: Member must satisfy enum "
        "value set: [ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES, SPECIFIC_ATTRIBUTES, COUNT]",
    )


def test_list_items_use_one_based_index_and_member() -> None:
    err = rejected(
        "dynamodb",
        "CreateTable",
        {
            "TableName": "t",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"KeyType": "SORT"},
            ],
        },
    )
    assert err.message == coral(
        "Value null at 'keySchema.2.member.attributeName' failed to satisfy constraint: "
        "Member must not be null",
        "Value 'SORT' at 'keySchema.2.member.keyType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [HASH, RANGE]",
    )


def test_nested_structures_lower_camel_case_each_member() -> None:
    err = rejected(
        "dynamodb",
        "CreateTable",
        {
            "TableName": "t",
            "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 1},
        },
    )
    assert err.message == coral(
        "Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_empty_list_shows_java_rendering() -> None:
    err = rejected("dynamodb", "CreateTable", {"TableName": "t", "KeySchema": []})
    assert err.message == coral(
        "Value '[]' at 'keySchema' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_map_values_are_reported_once_at_the_map_with_all_value_constraints() -> None:
    put = {"PutRequest": {"Item": {"pk": {"S": "a"}}}}
    err = rejected("dynamodb", "BatchWriteItem", {"RequestItems": {"a": [put], "b": []}})
    assert err.message == coral(
        "Value '{a=[WriteRequest(putRequest=PutRequest(item={pk=AttributeValue(s=a, n=null, "
        "b=null, sS=null, nS=null, bS=null, m=null, l=null, nULL=null, bOOL=null)}), "
        "deleteRequest=null)], b=[]}' at 'requestItems' failed to satisfy constraint: "
        "Map value must satisfy constraint: [Member must have length less than or equal to 25, "
        "Member must have length greater than or equal to 1]"
    )


def test_map_keys_are_reported_once_and_before_values() -> None:
    err = rejected(
        "lambda",
        "CreateAlias",
        {
            "FunctionName": "f",
            "Name": "live",
            "FunctionVersion": "1",
            "RoutingConfig": {"AdditionalVersionWeights": {"x": 2.0, "y": 3.0}},
        },
    )
    assert err.message == coral(
        "Value '{x=2.0, y=3.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or "
        "equal to 1024, Member must have length greater than or equal to 1, Member must satisfy "
        "regular expression pattern: [0-9]+]",
        "Value '{x=2.0, y=3.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have value less than or "
        "equal to 1.0, Member must have value greater than or equal to 0.0]",
    )


def test_values_inside_map_values_get_key_and_member_in_their_path() -> None:
    err = rejected(
        "dynamodb",
        "BatchGetItem",
        {"RequestItems": {"users": {"Keys": []}}},
    )
    assert err.message == coral(
        "Value '[]' at 'requestItems.users.member.keys' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1"
    )


def test_pattern_and_length_both_reported_length_first() -> None:
    err = rejected("iam", "CreateUser", {"UserName": ""})
    assert err.code == "ValidationError"
    assert err.message == coral(
        "Value '' at 'userName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
        "Value '' at 'userName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
    )


def test_regex_must_match_the_whole_value() -> None:
    err = rejected("iam", "CreateUser", {"UserName": "alice smith"})
    assert err.message == coral(
        "Value 'alice smith' at 'userName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]+"
    )


def test_java_only_patterns_are_skipped_but_lengths_still_checked() -> None:
    # IAM tag keys use \p{L}: Python's re cannot run it, so only the length is enforced.
    tags_ok = {"UserName": "alice", "Tags": [{"Key": "!!", "Value": "v"}]}
    assert validate(op("iam", "CreateUser"), tags_ok) is None
    err = rejected("iam", "CreateUser", {"UserName": "alice", "Tags": [{"Key": "", "Value": ""}]})
    assert err.message == coral(
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_length_counts_utf16_code_units_like_java() -> None:
    fits = "😀" * 128  # 256 UTF-16 code units: the maximum
    base = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {}}
    assert validate(op("lambda", "CreateFunction"), {**base, "Description": fits}) is None
    err = rejected("lambda", "CreateFunction", {**base, "Description": fits + "a"})
    assert err.message.endswith("Member must have length less than or equal to 256")


def test_blob_length_and_rendering() -> None:
    err = rejected("kms", "Encrypt", {"KeyId": "alias/k", "Plaintext": b""})
    assert err.message == coral(
        "Value 'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]' at 'plaintext' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1"
    )


def test_reports_at_most_max_reported_violations() -> None:
    definitions = [{"AttributeName": f"a{i}", "AttributeType": "X"} for i in range(12)]
    err = rejected(
        "dynamodb", "CreateTable", {"TableName": "t", "AttributeDefinitions": definitions}
    )
    assert err.message.startswith(f"{MAX_REPORTED} validation errors detected: ")
    assert err.message.count("failed to satisfy constraint") == MAX_REPORTED
    assert f"attributeDefinitions.{MAX_REPORTED}.member.attributeType" in err.message
    assert f"attributeDefinitions.{MAX_REPORTED + 1}.member" not in err.message


def test_query_compatible_json_service_carries_the_query_code() -> None:
    err = rejected(
        "cloudwatch", "PutMetricData", {"Namespace": "n", "MetricData": [{"MetricName": ""}]}
    )
    assert err.code == "ValidationException"
    assert err.query_code == "ValidationError"
    assert "'metricData.1.member.metricName'" in err.message


def test_rest_xml_service_with_its_own_code() -> None:
    err = rejected("route53", "GetHostedZone", {"Id": "Z" * 33})
    assert err.wire_code == "InvalidInput"
    assert err.message == coral(
        f"Value '{'Z' * 33}' at 'id' failed to satisfy constraint: "
        "Member must have length less than or equal to 32"
    )


# --- types (JSON family: a deserialization failure, before any constraint) ----------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"TableName": 5},
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
            "can not be converted to an String",
        ),
        (
            {"TableName": "t", "Limit": True},
            "class java.lang.Boolean can not be converted to an Integer",
        ),
        (
            {"TableName": "t", "Limit": "5"},
            "class java.lang.String can not be converted to an Integer",
        ),
        ({"TableName": "t", "ConsistentRead": "yes"}, "'YES' can not be converted to an Boolean"),
        ({"TableName": ["t"]}, "Start of list found where not expected"),
        ({"TableName": {"a": 1}}, "Start of structure or map found where not expected."),
        ({"TableName": "t", "AttributesToGet": "a"}, "Expected list or null"),
        ({"TableName": "t", "ExclusiveStartKey": "k"}, "Expected map or null"),
        ({"TableName": "t", "ExclusiveStartKey": {"k": "v"}}, "Expected null"),
    ],
)
def test_type_mismatch_is_a_serialization_exception(params: dict[str, Any], message: str) -> None:
    err = rejected("dynamodb", "Scan", {"Select": "BAD", **params})
    assert err.code == "SerializationException"
    assert err.status == 400
    assert err.message == message


def test_types_are_checked_through_recursive_shapes() -> None:
    item = {"pk": {"M": {"inner": {"L": [{"N": 5}]}}}}
    err = rejected("dynamodb", "PutItem", {"TableName": "t", "Item": item})
    assert err.code == "SerializationException"
    assert "can not be converted to an String" in err.message


def test_floats_are_accepted_for_integers_and_ints_for_doubles() -> None:
    assert validate(op("dynamodb", "Scan"), {"TableName": "t", "Limit": 5.0}) is None
    metric = {"MetricName": "m", "Value": 1, "Timestamp": datetime.now(UTC)}
    assert (
        validate(op("cloudwatch", "PutMetricData"), {"Namespace": "n", "MetricData": [metric]})
        is None
    )


# --- parameter style (SQS, EC2) ----------------------------------------------------------------


def test_sqs_missing_parameter() -> None:
    err = rejected("sqs", "SendMessage", {"QueueUrl": "http://127.0.0.1/000000000000/q"})
    assert err.code == "MissingParameter"
    assert err.query_code == "MissingParameter"
    assert err.message == "The request must contain the parameter MessageBody."


def test_sqs_leaves_attribute_names_to_the_service() -> None:
    # SQS reports unknown attribute names itself (InvalidAttributeName), not as a model check.
    params = {"QueueUrl": "http://127.0.0.1/000000000000/q", "AttributeNames": ["Bogus"]}
    assert validate(op("sqs", "GetQueueAttributes"), params) is None
    err = rejected("sqs", "GetQueueAttributes", {"AttributeNames": ["Bogus"]})
    assert err.message == "The request must contain the parameter QueueUrl."


def test_ec2_missing_parameter_uses_the_wire_name() -> None:
    err = rejected("ec2", "RunInstances", {"MaxCount": 1})
    assert err.code == "MissingParameter"
    assert err.message == "The request must contain the parameter MinCount"


def test_ec2_invalid_enum_value() -> None:
    err = rejected("ec2", "RunInstances", {"MaxCount": 1, "MinCount": 1, "InstanceType": "t9.huge"})
    assert err.code == "InvalidParameterValue"
    assert err.message == "Value (t9.huge) for parameter instanceType is invalid."


def test_s3_is_left_to_the_service() -> None:
    assert validate(op("s3", "PutObject"), {}) is None


# --- valid inputs: no false positives ----------------------------------------------------------

VALID: list[tuple[str, str, dict[str, Any]]] = [
    (
        "dynamodb",
        "PutItem",
        {
            "TableName": "users",
            "Item": {
                "pk": {"S": "user#1"},
                "n": {"N": "12"},
                "b": {"B": b"\x00\x01"},
                "ok": {"BOOL": False},
                "nothing": {"NULL": True},
                "tags": {"SS": ["a", "b"]},
                "doc": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}]}}},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValues": "ALL_OLD",
        },
    ),
    (
        "dynamodb",
        "CreateTable",
        {
            "TableName": "users",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "Tags": [{"Key": "env", "Value": "test"}],
        },
    ),
    (
        "sqs",
        "SendMessage",
        {
            "QueueUrl": "http://127.0.0.1:4566/000000000000/q",
            "MessageBody": "hello",
            "DelaySeconds": 0,
            "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": b"\x01"}},
        },
    ),
    (
        "iam",
        "CreateRole",
        {
            "RoleName": "r",
            "AssumeRolePolicyDocument": '{"Version": "2012-10-17", "Statement": []}',
            "Path": "/service/",
            "MaxSessionDuration": 3600,
        },
    ),
    (
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "session"},
    ),
    ("sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": "hi"}),
    (
        "lambda",
        "CreateFunction",
        {
            "FunctionName": "fn",
            "Runtime": "python3.12",
            "Role": "arn:aws:iam::123456789012:role/r",
            "Handler": "index.handler",
            "Code": {"ZipFile": b"PK\x03\x04"},
            "Timeout": 30,
            "MemorySize": 128,
            "Environment": {"Variables": {"KEY_1": "v"}},
        },
    ),
    ("lambda", "Invoke", {"FunctionName": "fn", "Payload": b"{}"}),
    ("kms", "Encrypt", {"KeyId": "alias/k", "Plaintext": b"secret"}),
    (
        "logs",
        "PutLogEvents",
        {
            "logGroupName": "/aws/lambda/fn",
            "logStreamName": "s",
            "logEvents": [{"timestamp": 1_700_000_000_000, "message": "m"}],
        },
    ),
    (
        "ec2",
        "RunInstances",
        {"ImageId": "ami-12345678", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro"},
    ),
    ("route53", "GetHostedZone", {"Id": "Z123"}),
]


@pytest.mark.parametrize(("service_name", "operation", "params"), VALID)
def test_valid_input_passes(service_name: str, operation: str, params: dict[str, Any]) -> None:
    assert validate(op(service_name, operation), params) is None


def test_unknown_members_are_ignored() -> None:
    assert validate(op("dynamodb", "DeleteTable"), {"TableName": "t", "Bogus": 1}) is None


# --- ad-hoc violations raised by services ------------------------------------------------------


def test_validation_error_in_coral_style() -> None:
    violation = describe_violation(
        ["a", "b", "c"], "keySchema", "Member must have length less than or equal to 2"
    )
    assert violation == (
        "Value '[a, b, c]' at 'keySchema' failed to satisfy constraint: "
        "Member must have length less than or equal to 2"
    )
    err = validation_error(service("dynamodb"), violation)
    assert err.code == "ValidationException"
    assert err.message == coral(violation)
    iam_err = validation_error(service("iam"), violation, violation)
    assert iam_err.code == "ValidationError"
    assert iam_err.message == coral(violation, violation)


def test_validation_error_in_parameter_style() -> None:
    err = validation_error(service("ec2"), "Value (x) for parameter groupName is invalid.")
    assert err.code == "InvalidParameterValue"
    assert err.message == "Value (x) for parameter groupName is invalid."


def test_describe_violation_renders_null_unquoted() -> None:
    assert describe_violation(None, "a", "Member must not be null") == (
        "Value null at 'a' failed to satisfy constraint: Member must not be null"
    )


def test_document_members_take_any_json_value() -> None:
    params = {
        "modelId": "m",
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "additionalModelRequestFields": {"top_k": 5, "stop": ["a"], "nested": {"x": None}},
    }
    assert validate(op("bedrock-runtime", "Converse"), params) is None
    err = rejected("bedrock-runtime", "Converse", {**params, "modelId": ""})
    assert "at 'modelId'" in err.message
