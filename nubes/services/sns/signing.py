"""The key and certificate nubes signs SNS messages with, so that subscribers can check the
``Signature`` of a notification the way they check AWS's: fetch ``SigningCertURL``, verify the
string to sign with SHA1 (SignatureVersion 1) or SHA256 (2) and RSA PKCS#1 v1.5.

The pair is made once per data directory (kept in the blob area) so that certificates handed
out before a restart still verify."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

# cryptography is imported when the first message is signed: most runs never sign one, and it
# is one of the larger imports (time and memory) of the SNS provider.

CERT_PATH = "/_aws/sns/SimpleNotificationService-nubes.pem"

# The fields each message type signs, in the order AWS documents.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def string_to_sign(message: Mapping[str, str]) -> str:
    fields = SIGNED_FIELDS[message["Type"]]
    return "".join(f"{name}\n{message[name]}\n" for name in fields if name in message)


class Signer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._key: RSAPrivateKey | None = None
        self._cert_pem: bytes = b""

    def _load(self) -> RSAPrivateKey:
        if self._key is not None:
            return self._key
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
        from cryptography.x509.oid import NameOID

        key_file, cert_file = self.folder / "sns-signing.key", self.folder / "sns-signing.pem"
        if key_file.exists() and cert_file.exists():
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            assert isinstance(key, RSAPrivateKey)
            self._key, self._cert_pem = key, cert_file.read_bytes()
            return key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        self._cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_file.write_bytes(self._cert_pem)
        self._key = key
        return key

    def certificate(self) -> bytes:
        self._load()
        return self._cert_pem

    def sign(self, message: Mapping[str, str], version: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        digest = hashes.SHA256() if version == "2" else hashes.SHA1()
        raw = self._load().sign(string_to_sign(message).encode(), padding.PKCS1v15(), digest)
        return base64.b64encode(raw).decode()
