"""The IAM policy language: documents, their validation, and AWS's evaluation logic.

Pure: no store, no clock, no network. Callers hand in the parsed policies that apply and a
:class:`Request` (action, resource, principal, context keys); :func:`evaluate` answers as
AWS would, with the statements that decided.
"""

from nubes.services.iam.policy.document import Policy, PolicyError, parse_policy
from nubes.services.iam.policy.engine import (
    Caller,
    Decision,
    Request,
    evaluate,
    principal_matches,
)

__all__ = [
    "Caller",
    "Decision",
    "Policy",
    "PolicyError",
    "Request",
    "evaluate",
    "parse_policy",
    "principal_matches",
]
