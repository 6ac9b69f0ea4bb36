"""SQS errors. SQS moved from the query protocol to JSON without giving its error shapes their
old query codes, so the codes query clients (and the ``x-amzn-query-error`` header) carry are
declared here."""

from __future__ import annotations

from nubes.core.errors import ErrorCatalogue, ErrorFactory

QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}


class _SqsErrors(ErrorCatalogue):
    def _build(self, code: str) -> ErrorFactory:
        factory = super()._build(code)
        factory.query_code = factory.query_code or QUERY_CODES.get(code)
        if factory.query_code is None and code not in _modeled():
            # Errors SQS's model does not declare (InvalidParameterValue, MissingParameter...)
            # go out over JSON as an exception type, with the query code beside it in
            # x-amzn-query-error, as SQS's own JSON answers give them.
            factory.query_code = code
            factory.code = code if code.endswith("Exception") else f"{code}Exception"
        return factory


def _modeled() -> frozenset[str]:
    from nubes.gateway.catalog import catalog

    info = catalog().get("sqs")
    if info is None:
        return frozenset()
    model = info.model
    return frozenset(n for n in model.shape_names if model.shape_for(n).metadata.get("exception"))


errors = _SqsErrors("sqs")


def invalid_value(message: str) -> Exception:
    """The generic ``InvalidParameterValue`` SQS gives for a broken parameter."""
    return errors.InvalidParameterValue(message)
