"""A minimal OpenID Connect identity provider for tests: HTTPS on 127.0.0.1 with a self-signed
certificate, a discovery document, a key set (one RSA and one EC key) and token signing."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _int(value: int, size: int) -> str:
    return b64(value.to_bytes(size, "big"))


@dataclass
class IdP:
    """A minimal OpenID provider: discovery document, key set, and token signing."""

    url: str = ""
    thumbprint: str = ""
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rsa_kid: str = "rsa-1"
    # Issuer stated by the discovery document of each path the server answers under.
    issuers: dict[str, str] = field(default_factory=dict)
    fetches: list[str] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        rsa_numbers = self.rsa_key.public_key().public_numbers()
        ec_numbers = self.ec_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": self.rsa_kid,
                    "use": "sig",
                    "alg": "RS256",
                    "n": _int(rsa_numbers.n, 256),
                    "e": _int(rsa_numbers.e, 3),
                },
                {
                    "kty": "EC",
                    "kid": "ec-1",
                    "use": "sig",
                    "crv": "P-256",
                    "x": _int(ec_numbers.x, 32),
                    "y": _int(ec_numbers.y, 32),
                },
            ]
        }

    def rotate(self) -> None:
        """A new RSA signing key under a new key id, as providers roll their keys."""
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa_kid = f"rsa-{int(self.rsa_kid.rsplit('-', 1)[1]) + 1}"

    def token(
        self,
        claims: dict[str, Any],
        alg: str = "RS256",
        kid: str | None = None,
        key: Any = None,
    ) -> str:
        kid = kid or (self.rsa_kid if alg == "RS256" else "ec-1")
        head = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
        body = b64(json.dumps(claims).encode())
        signing_input = f"{head}.{body}".encode()
        if alg == "RS256":
            signer = key or self.rsa_key
            signature = signer.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            signer = key or self.ec_key
            r, s = decode_dss_signature(signer.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{head}.{body}.{b64(signature)}"


def self_signed(
    common_name: str, ip: str | None = None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed certificate (valid from yesterday for 30 days) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if ip is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(key, hashes.SHA256()), key


def _self_signed(tmp: Path) -> tuple[Path, Path, str]:
    cert, key = self_signed("127.0.0.1", "127.0.0.1")
    cert_path, key_path = tmp / "idp.pem", tmp / "idp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return cert_path, key_path, hashlib.sha1(der, usedforsecurity=False).hexdigest()


@contextmanager
def serve_idp(tmp: Path) -> Iterator[IdP]:
    """An OpenID provider over HTTPS on 127.0.0.1 (self-signed certificate), for as long as the
    ``with`` block runs."""
    cert, key, thumb = _self_signed(tmp)
    provider = IdP(thumbprint=thumb)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches.append(self.path)
            base, _, leaf = self.path.rpartition("/.well-known/")
            if leaf == "openid-configuration":
                issuer = provider.issuers.get(base, provider.url + base)
                body: Any = {"issuer": issuer, "jwks_uri": f"{provider.url}{base}/jwks"}
            elif self.path.endswith("/jwks"):
                body = provider.jwks()
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    provider.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()
    thread.join()
