"""EventBridge errors (the model's, plus the common ValidationException), and what a failed
delivery to a target reports."""

from nubes.core.errors import ErrorCatalogue

errors = ErrorCatalogue("events")


class DeliveryFailed(Exception):
    """A target could not be reached: the code and message dead letters carry, and whether
    retrying can help."""

    def __init__(self, code: str, message: str, retriable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retriable = retriable
