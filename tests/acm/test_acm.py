"""ACM: requested certificates signed by nubes' local authority, imported ones, tags, errors."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def test_requested_certificate_is_issued_by_the_local_authority(
    client: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    acm = client("acm")
    domain = f"{unique('site')}.example.com"
    token = unique("t").replace("-", "")
    arn = acm.request_certificate(
        DomainName=domain,
        SubjectAlternativeNames=[f"*.{domain}"],
        ValidationMethod="DNS",
        IdempotencyToken=token,
        Tags=[{"Key": "app", "Value": "web"}],
    )["CertificateArn"]
    again = acm.request_certificate(DomainName=domain, IdempotencyToken=token)
    assert again["CertificateArn"] == arn
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert detail["Status"] == "ISSUED"
    assert detail["Type"] == "AMAZON_ISSUED"
    assert detail["SubjectAlternativeNames"] == [domain, f"*.{domain}"]
    assert detail["DomainValidationOptions"][0]["ResourceRecord"]["Type"] == "CNAME"
    assert detail["InUseBy"] == []
    got = acm.get_certificate(CertificateArn=arn)
    cert = x509.load_pem_x509_certificate(got["Certificate"].encode())
    authority = x509.load_pem_x509_certificate(got["CertificateChain"].encode())
    assert cert.issuer == authority.subject
    cert.verify_directly_issued_by(authority)
    listed = acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
    assert arn in [c["CertificateArn"] for c in listed]
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == [
        {"Key": "app", "Value": "web"}
    ]
    acm.remove_tags_from_certificate(CertificateArn=arn, Tags=[{"Key": "app"}])
    assert acm.list_tags_for_certificate(CertificateArn=arn)["Tags"] == []
    acm.delete_certificate(CertificateArn=arn)
    with pytest.raises(ClientError) as exc:
        acm.describe_certificate(CertificateArn=arn)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_imported_certificate(client: Callable[..., Any]) -> None:
    acm = client("acm")
    cert, key = self_signed("imported.example.org")
    arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert (detail["Type"], detail["Status"], detail["DomainName"]) == (
        "IMPORTED",
        "ISSUED",
        "imported.example.org",
    )
    assert detail["KeyAlgorithm"] == "EC_prime256v1"
    assert acm.get_certificate(CertificateArn=arn)["Certificate"] == cert.decode()
    _, other_key = self_signed("other.example.org")
    with pytest.raises(ClientError) as exc:
        acm.import_certificate(Certificate=cert, PrivateKey=other_key)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        acm.import_certificate(Certificate=b"not a certificate", PrivateKey=key)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        acm.describe_certificate(CertificateArn="arn:aws:s3:::some-bucket")
    assert exc.value.response["Error"]["Code"] == "ValidationException"  # the model's pattern
    with pytest.raises(ClientError) as exc:
        acm.request_certificate(DomainName="a" * 60 + ".example.com")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
