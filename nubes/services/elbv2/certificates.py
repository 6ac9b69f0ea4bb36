"""Listener certificates for both load balancer APIs: ACM certificates and IAM server
certificates (``arn:aws:iam::<account>:server-certificate/<name>``), as AWS accepts either."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nubes.core.arns import arn_service
from nubes.core.context import RequestContext
from nubes.protocol.base import ServiceError

if TYPE_CHECKING:
    from nubes.app import Environment


def _is_iam(certificate_arn: str) -> bool:
    return arn_service(certificate_arn) == "iam" and ":server-certificate/" in certificate_arn


def usable(env: Environment, ctx: RequestContext, certificate_arn: str) -> bool:
    """Whether the caller's account has the certificate and it can be served."""
    try:
        if _is_iam(certificate_arn):
            name = certificate_arn.rsplit("/", 1)[1]
            found = env.providers.invoke(
                "iam",
                "GetServerCertificate",
                {"ServerCertificateName": name},
                ctx.account_id,
                ctx.region,
            )
            return bool(
                found["ServerCertificate"]["ServerCertificateMetadata"]["Arn"] == certificate_arn
            )
        found = env.providers.invoke(
            "acm",
            "DescribeCertificate",
            {"CertificateArn": certificate_arn},
            ctx.account_id,
            ctx.region,
        )
        return bool(found["Certificate"]["Status"] == "ISSUED")
    except ServiceError:
        return False


def material(env: Environment, certificate_arn: str) -> tuple[bytes, bytes] | None:
    """(certificate + chain PEM, private key PEM) the data plane serves; the private key is
    never returned by either service's API, so it is read through the provider's accessor."""
    service = "iam" if _is_iam(certificate_arn) else "acm"
    provider = env.providers.get(service)
    found: tuple[bytes, bytes] | None = (
        provider.server_certificate_pem(certificate_arn)  # type: ignore[attr-defined]
        if service == "iam"
        else provider.key_pair(certificate_arn)  # type: ignore[attr-defined]
    )
    return found
