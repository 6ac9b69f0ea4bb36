"""Key pairs: CreateKeyPair makes a real RSA or ED25519 key and hands back its private key;
ImportKeyPair reads an OpenSSH / RFC 4716 / DER public key. Fingerprints as AWS computes them:
created RSA keys, SHA-1 of the PKCS#8 private key; imported RSA keys, MD5 of the public key's
DER; ED25519 keys, base64 SHA-256 of the OpenSSH public key (as OpenSSH shows it)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from nubes.core.context import RequestContext
from nubes.services.ec2.common import Ec2Base, stamp
from nubes.services.ec2.errors import errors
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.model import Record, Scope

KEY_FILTERS = Filters(
    {"key-pair-id": "KeyPairId", "fingerprint": "KeyFingerprint", "key-name": "KeyName"}
)
_NAME = re.compile(r"^[\x20-\x7e]{1,255}$")


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _openssh_fingerprint(public: Any) -> str:
    blob = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    raw = base64.b64decode(blob.split()[1])
    return base64.b64encode(hashlib.sha256(raw).digest()).decode()


def _load_public(material: bytes) -> Any:
    text = material.strip()
    if text.startswith(b"---- BEGIN SSH2 PUBLIC KEY ----"):
        lines = [
            line
            for line in text.decode(errors="replace").splitlines()[1:-1]
            if ":" not in line and not line.startswith(" ")
        ]
        text = b"ssh-rsa " + "".join(lines).encode()
        body = base64.b64decode(text.split()[1])
        kind = body[4 : 4 + int.from_bytes(body[:4], "big")]
        text = kind + b" " + text.split()[1]
    if text.startswith((b"ssh-", b"ecdsa-")):
        return serialization.load_ssh_public_key(b" ".join(text.split()[:2]))
    if text.startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(text)
    try:
        der = base64.b64decode(text, validate=True)
    except binascii.Error:
        der = material
    return serialization.load_der_public_key(der)


def import_fingerprint(material: bytes) -> tuple[str, str, str]:
    """(key type, fingerprint, OpenSSH public key) of imported public key material."""
    try:
        public = _load_public(material)
    except (ValueError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise errors("InvalidKey.Format", "Key is not in valid OpenSSH public key format") from None
    openssh = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size not in (1024, 2048, 4096):
            raise errors(
                "InvalidKey.Format",
                "Key is not in valid OpenSSH public key format (RSA keys must be "
                "1024, 2048 or 4096 bits)",
            )
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "rsa", _colons(hashlib.md5(der, usedforsecurity=False).digest()), openssh
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "ed25519", _openssh_fingerprint(public), openssh
    raise errors("InvalidKey.Format", "Only RSA and ED25519 keys are supported")


def create_key(key_type: str) -> tuple[str, str, str]:
    """(private key material, fingerprint, OpenSSH public key) of a new key."""
    if key_type == "ed25519":
        private_ed = ed25519.Ed25519PrivateKey.generate()
        material = private_ed.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode()
        public: Any = private_ed.public_key()
        fingerprint = _openssh_fingerprint(public)
    else:
        private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        material = private_rsa.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        pkcs8 = private_rsa.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fingerprint = _colons(hashlib.sha1(pkcs8, usedforsecurity=False).digest())
        public = private_rsa.public_key()
    openssh = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return material, fingerprint, openssh


class KeyPairMixin(Ec2Base):
    def key_by_name(self, scope: Scope, name: str) -> Record | None:
        for record in self.res.all(scope, "key"):
            if record.doc["KeyName"] == name:
                return record
        return None

    def _new_key(
        self, scope: Scope, params: dict[str, Any], key_type: str, fingerprint: str, public: str
    ) -> Record:
        name = params["KeyName"]
        kid = self.new_id("key")
        doc = {
            "KeyPairId": kid,
            "KeyName": name,
            "KeyFingerprint": fingerprint,
            "KeyType": key_type,
            "CreateTime": stamp(),
        }
        record = Record("key", kid, doc, {"public_key": public})
        self.save(scope, record)
        self.tag(scope, kid, self.tag_specs(params, "key-pair"))
        return record

    def _check_new_name(self, scope: Scope, name: str) -> None:
        if not _NAME.match(name):
            raise errors(
                "InvalidParameterValue",
                f"Value ({name}) for parameter keyName is invalid. Key names must be "
                "1-255 ASCII characters.",
            )
        if self.key_by_name(scope, name) is not None:
            raise errors("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.")

    def create_key_pair(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        self._check_new_name(scope, params["KeyName"])
        key_type = params.get("KeyType") or "rsa"
        if key_type not in ("rsa", "ed25519"):
            raise errors(
                "InvalidParameterValue", f"Value ({key_type}) for parameter keyType is invalid."
            )
        if (params.get("KeyFormat") or "pem") != "pem":
            raise errors(
                "InvalidParameterValue", "nubes hands out key material in the pem format only"
            )
        self.tag_specs(params, "key-pair")
        self.dry_run(params)
        material, fingerprint, public = create_key(key_type)
        record = self._new_key(scope, params, key_type, fingerprint, public)
        return {
            "KeyName": record.doc["KeyName"],
            "KeyFingerprint": fingerprint,
            "KeyMaterial": material,
            "KeyPairId": record.id,
            "Tags": self.tag_list(scope, record.id),
        }

    def import_key_pair(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        self._check_new_name(scope, params["KeyName"])
        key_type, fingerprint, public = import_fingerprint(params["PublicKeyMaterial"])
        self.tag_specs(params, "key-pair")
        self.dry_run(params)
        record = self._new_key(scope, params, key_type, fingerprint, public)
        return {
            "KeyName": record.doc["KeyName"],
            "KeyFingerprint": fingerprint,
            "KeyPairId": record.id,
            "Tags": self.tag_list(scope, record.id),
        }

    def delete_key_pair(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = None
        if params.get("KeyPairId"):
            record = self.find(scope, "key", params["KeyPairId"])
        elif params.get("KeyName"):
            record = self.key_by_name(scope, params["KeyName"])
        else:
            raise errors("MissingParameter", "The request must contain the parameter KeyName")
        self.dry_run(params)
        if record is not None:
            self.res.delete(scope, "key", record.id)
        return {"Return": True, **({"KeyPairId": record.id} if record else {})}

    def describe_key_pairs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        records = None
        if params.get("KeyNames"):
            records = []
            for name in params["KeyNames"]:
                found = self.key_by_name(scope, name)
                if found is None:
                    raise errors("InvalidKeyPair.NotFound", f"The key pair '{name}' does not exist")
                records.append(found)
        docs, _ = self.describe_kind(
            scope, "key", params, KEY_FILTERS, "KeyPairIds", records, page=False
        )
        if params.get("IncludePublicKey"):
            by_id = {r.id: r for r in self.res.all(scope, "key")}
            for doc in docs:
                doc["PublicKey"] = by_id[doc["KeyPairId"]].meta["public_key"]
        return {"KeyPairs": docs}
