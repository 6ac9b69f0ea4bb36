"""The rest-xml protocol (S3, CloudFront, Route 53): REST bindings with XML bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from nubes.protocol.base import Body, HttpRequest, HttpResponse, ResponseContext, ServiceError
from nubes.protocol.rest import Bindings, RestProtocol, bindings
from nubes.protocol.xml import (
    escape_text,
    parse_document,
    read_element,
    write_element,
    write_error_fields,
    write_members,
)

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

_S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_S3_DOCUMENTS = {
    # S3's output documents are named by its Smithy model's @xmlName, which botocore's models
    # leave out; strict clients (the AWS SDK for Java v1, behind Hadoop's s3a) look for them.
    "CompleteMultipartUploadOutput": "CompleteMultipartUploadResult",
    "CreateMultipartUploadOutput": "InitiateMultipartUploadResult",
    "CreateSessionOutput": "CreateSessionResult",
    "DeleteObjectsOutput": "DeleteResult",
    "GetBucketAccelerateConfigurationOutput": "AccelerateConfiguration",
    "GetBucketAclOutput": "AccessControlPolicy",
    "GetBucketCorsOutput": "CORSConfiguration",
    "GetBucketLifecycleConfigurationOutput": "LifecycleConfiguration",
    "GetBucketLifecycleOutput": "LifecycleConfiguration",
    "GetBucketLoggingOutput": "BucketLoggingStatus",
    "GetBucketRequestPaymentOutput": "RequestPaymentConfiguration",
    "GetBucketTaggingOutput": "Tagging",
    "GetBucketVersioningOutput": "VersioningConfiguration",
    "GetBucketWebsiteOutput": "WebsiteConfiguration",
    "GetObjectAclOutput": "AccessControlPolicy",
    "GetObjectAttributesOutput": "GetObjectAttributesResponse",
    "GetObjectTaggingOutput": "Tagging",
    "ListBucketAnalyticsConfigurationsOutput": "ListBucketAnalyticsConfigurationResult",
    "ListBucketInventoryConfigurationsOutput": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurationsOutput": "ListMetricsConfigurationsResult",
    "ListBucketsOutput": "ListAllMyBucketsResult",
    "ListDirectoryBucketsOutput": "ListAllMyDirectoryBucketsResult",
    "ListMultipartUploadsOutput": "ListMultipartUploadsResult",
    "ListObjectVersionsOutput": "ListVersionsResult",
    "ListObjectsOutput": "ListBucketResult",
    "ListObjectsV2Output": "ListBucketResult",
    "ListPartsOutput": "ListPartsResult",
    "NotificationConfigurationDeprecated": "NotificationConfiguration",
}


class RestXmlProtocol(RestProtocol):
    name = "rest-xml"
    content_type = "application/xml"
    # XML documents (S3's DeleteObjects of 1000 keys is the largest) are far smaller.
    max_body = 16 * 1024 * 1024
    too_large_code = "MaxMessageLengthExceeded"

    def parse(
        self, op: OperationModel, req: HttpRequest, uri_params: Mapping[str, str]
    ) -> dict[str, Any]:
        try:
            return super().parse(op, req, uri_params)
        except ServiceError as exc:
            if exc.code != self.malformed_code or op.service_model.service_name != "s3":
                raise
            # S3 answers a header or query value of the wrong type (max-keys=blah) this way.
            raise ServiceError("InvalidArgument", str(exc)) from exc

    def decode_body(self, shape: Shape, raw: bytes) -> dict[str, Any]:
        root = parse_document(raw)
        value = read_element(shape, root)
        return value if isinstance(value, dict) else {}

    def encode_body(self, shape: Shape, value: Mapping[str, Any]) -> bytes:
        out = [_XML_DECLARATION]
        s3_root = _S3_DOCUMENTS.get(shape.name)
        if s3_root is None:
            write_element(out, shape.serialization.get("name") or shape.name, shape, value)
        else:
            out.append("")
            attrs = write_members(out, shape, value)
            out[1] = f'<{s3_root} xmlns="{_S3_NAMESPACE}"{attrs}>'
            out.append(f"</{s3_root}>")
        return "".join(out).encode("utf-8")

    @staticmethod
    def _parse_query(b: Bindings, query: dict[str, list[str]], out: dict[str, Any]) -> None:
        RestProtocol._parse_query(b, query, out)
        if b.query_map is None or b.query_map[0] not in out:
            return
        # Unlike rest-json's, rest-xml's query map leaves out keys bound to their own members.
        found = out[b.query_map[0]]
        for _, wire, _ in b.query:
            found.pop(wire, None)
        if not found:
            del out[b.query_map[0]]

    def _parse_payload(self, payload: tuple[str, Shape], req: HttpRequest, out: dict) -> None:
        super()._parse_payload(payload, req, out)
        name, member = payload
        # An empty element (<foo />) is an empty structure, not an absent one.
        if name not in out and member.type_name == "structure" and req.body_size():
            out[name] = {}

    def render(
        self, shape: Shape, value: Mapping[str, Any], status: int
    ) -> tuple[int, dict[str, str], Body]:
        status, headers, body = super().render(shape, value, status)
        b = bindings(shape)
        # A response has no uri or query string: members bound there travel in the body.
        stray = [name for name, _, _ in (*b.uri, *b.query) if value.get(name) is not None]
        if stray and b.payload is None:
            members = b.body_members.union(stray)
            body = self.encode_body(shape, {k: v for k, v in value.items() if k in members})
            headers.setdefault("Content-Type", self.content_type)
        return status, headers, body

    def base_headers(self, ctx: ResponseContext) -> dict[str, str]:
        if _is_s3(ctx):
            # S3 pairs each request id with a host id; ours need not differ.
            return {"x-amz-request-id": ctx.request_id, "x-amz-id-2": ctx.request_id}
        return {"x-amzn-RequestId": ctx.request_id}

    def serialize(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        op = ctx.operation
        assert op is not None
        if op.name == "GetBucketLocation" and _is_s3(ctx):
            return self._bucket_location(result, ctx)
        response = super().serialize(result, ctx)
        if op.http.get("method") == "HEAD":
            response.body = b""
        return response

    def _bucket_location(self, result: Mapping[str, Any], ctx: ResponseContext) -> HttpResponse:
        # S3 answers with the bare constraint as the document's root text (empty for
        # us-east-1), not the usual output document; botocore reads it back that way.
        text = escape_text(str(result.get("LocationConstraint") or ""))
        body = (
            f'{_XML_DECLARATION}<LocationConstraint xmlns="{_S3_NAMESPACE}">'
            f"{text}</LocationConstraint>"
        )
        headers = {**self.base_headers(ctx), "Content-Type": self.content_type}
        return HttpResponse(200, headers, body.encode("utf-8"))

    def serialize_error(self, error: ServiceError, ctx: ResponseContext) -> HttpResponse:
        shape, headers, fields = self.error_parts(error, ctx)
        if isinstance(shape, StructureShape):
            # S3 reports fields its models leave out (NoSuchBucket's BucketName): keep them.
            fields.update((k, v) for k, v in error.fields.items() if k not in shape.members)
        headers = {**self.base_headers(ctx), **headers}
        head = ctx.operation is not None and ctx.operation.http.get("method") == "HEAD"
        if head or error.status == 304:
            return HttpResponse(error.status, headers, b"")
        headers["Content-Type"] = self.content_type
        code = escape_text(error.wire_code)
        message = escape_text(error.message)
        request_id = escape_text(ctx.request_id)
        out = [_XML_DECLARATION]
        if _is_s3(ctx):
            out.append(f"<Error><Code>{code}</Code><Message>{message}</Message>")
            write_error_fields(out, shape, fields)
            host_id = escape_text(ctx.host_id or ctx.request_id)
            out.append(f"<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>")
        else:
            fault = "Sender" if error.sender_fault else "Receiver"
            out.append(
                f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message>"
            )
            write_error_fields(out, shape, fields)
            out.append(f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return HttpResponse(error.status, headers, "".join(out).encode("utf-8"))


def _is_s3(ctx: ResponseContext) -> bool:
    return ctx.service.service_name == "s3"
