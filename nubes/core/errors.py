"""Each service's catalogue of errors, built from the error shapes of its botocore model.

``errors = ErrorCatalogue("sqs")`` then ``raise errors.QueueDoesNotExist("...")``: the code,
HTTP status and fault come from the model. Errors a service really returns but its model does
not declare (S3's ``BucketNotEmpty``, the common ``AccessDenied``) are declared with their
status when the catalogue is made. Asking for an error neither knows is a programming mistake
and fails at once.
"""

from __future__ import annotations

from typing import Any

from nubes.protocol.base import ServiceError

# Errors every AWS service may return, with the status AWS uses.
COMMON: dict[str, int] = {
    "AccessDenied": 403,
    "AccessDeniedException": 400,
    "IncompleteSignature": 400,
    "InternalFailure": 500,
    "InvalidAction": 400,
    "InvalidClientTokenId": 403,
    "InvalidParameterCombination": 400,
    "InvalidParameterValue": 400,
    "InvalidQueryParameter": 400,
    "MalformedQueryString": 404,
    "MissingAction": 400,
    "MissingAuthenticationToken": 403,
    "MissingParameter": 400,
    "NotImplemented": 501,
    "OptInRequired": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "UnrecognizedClientException": 400,
    "ValidationError": 400,
    "ValidationException": 400,
    "SignatureDoesNotMatch": 403,
    "ExpiredToken": 400,
    "ExpiredTokenException": 400,
    "InvalidAccessKeyId": 403,
    "RequestTimeTooSkewed": 403,
}


class ErrorFactory:
    def __init__(self, code: str, status: int, sender_fault: bool, query_code: str | None):
        self.code = code
        self.status = status
        self.sender_fault = sender_fault
        self.query_code = query_code

    def __call__(self, message: str = "", **fields: Any) -> ServiceError:
        return ServiceError(
            code=self.code,
            message=message,
            status=self.status,
            sender_fault=self.sender_fault,
            query_code=self.query_code,
            fields=fields,
        )


class ErrorCatalogue:
    def __init__(
        self,
        service: str,
        extra: dict[str, int] | None = None,
        query_codes: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self._extra = {**COMMON, **(extra or {})}
        self._query_codes = query_codes or {}
        self._factories: dict[str, ErrorFactory] = {}

    def _build(self, code: str) -> ErrorFactory:
        from nubes.gateway.catalog import catalog

        info = catalog().get(self.service)
        if info is not None:
            model = info.model
            if code in model.shape_names:
                shape = model.shape_for(code)
                if shape.metadata.get("exception"):
                    meta = shape.metadata.get("error", {})
                    return ErrorFactory(
                        code=code,
                        status=int(meta.get("httpStatusCode", 400)),
                        sender_fault=bool(meta.get("senderFault", not shape.metadata.get("fault"))),
                        query_code=meta.get("code"),
                    )
        if code in self._extra:
            status = self._extra[code]
            return ErrorFactory(code, status, status < 500, self._query_codes.get(code))
        raise AttributeError(f"{self.service} has no error {code!r} in its catalogue")

    def __getattr__(self, code: str) -> ErrorFactory:
        if code.startswith("__"):
            raise AttributeError(code)
        factory = self._factories.get(code)
        if factory is None:
            factory = self._factories[code] = self._build(code)
        return factory

    def __call__(self, code: str, message: str = "", **fields: Any) -> ServiceError:
        return getattr(self, code)(message, **fields)
