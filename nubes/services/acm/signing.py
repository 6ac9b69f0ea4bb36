"""Certificates: reading imported ones, and issuing requested ones from nubes' own local
certificate authority (made once per data directory, its certificate is each issued
certificate's chain: trust it to verify HTTPS listeners)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUED_DAYS = 395
"""ACM's public certificates are valid for 395 days."""
BACKDATE = 86400


@dataclass
class Parsed:
    subject: str
    issuer: str
    serial: str
    not_before: float
    not_after: float
    domain: str
    names: list[str]
    key_algorithm: str
    signature_algorithm: str


def _key_algorithm(key: object) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"RSA_{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1"}.get(
            key.curve.name, f"EC_{key.curve.name}"
        )
    return "UNKNOWN"


def _serial_bytes(serial: int) -> bytes:
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def parse(pem: bytes) -> Parsed:
    """Raises ValueError for anything that is not a PEM X.509 certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    domain = str(common[0].value) if common else (names[0] if names else "")
    if domain and domain not in names:
        names.insert(0, domain)
    hash_name = cert.signature_hash_algorithm.name.upper() if cert.signature_hash_algorithm else ""
    kind = "RSA" if isinstance(cert.public_key(), rsa.RSAPublicKey) else "ECDSA"
    return Parsed(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=":".join(f"{b:02x}" for b in _serial_bytes(cert.serial_number)),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
        domain=domain,
        names=names,
        key_algorithm=_key_algorithm(cert.public_key()),
        signature_algorithm=f"{hash_name}WITH{kind}",
    )


def key_matches(cert_pem: bytes, key_pem: bytes) -> bool:
    key = serialization.load_pem_private_key(key_pem, password=None)
    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return key.public_key().public_bytes(enc, fmt) == public.public_bytes(enc, fmt)


def new_key(algorithm: str) -> CertificateIssuerPrivateKeyTypes:
    if algorithm.startswith("EC_"):
        curve = ec.SECP384R1() if "384" in algorithm else ec.SECP256R1()
        return ec.generate_private_key(curve)
    size = int(algorithm.split("_")[1]) if algorithm.startswith("RSA_") else 2048
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def pem_key(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def new_authority(now: float) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a fresh local root CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nubes"),
            x509.NameAttribute(NameOID.COMMON_NAME, "nubes local certificate authority"),
        ]
    )
    start = datetime.datetime.fromtimestamp(now - BACKDATE, datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key(key)


def issue(
    authority: tuple[bytes, bytes], domain: str, names: list[str], algorithm: str, now: float
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for ``domain`` and ``names``, signed by the authority."""
    ca_cert = x509.load_pem_x509_certificate(authority[0])
    ca_key = serialization.load_pem_private_key(authority[1], password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = new_key(algorithm)
    # Valid from a day before issue: clients judge validity by their own clocks, which are
    # behind nubes' when tests have moved its clock forward.
    start = datetime.datetime.fromtimestamp(now - BACKDATE, datetime.UTC)
    alternatives: list[x509.GeneralName] = []
    for name in dict.fromkeys([domain, *names]):
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=ISSUED_DAYS, seconds=BACKDATE))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key(key)
