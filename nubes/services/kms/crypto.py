"""The cryptography behind KMS keys, with ``cryptography`` doing every cipher: what each key
spec allows, making key material, and the operations on it. Pure functions over bytes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class CryptoError(ValueError):
    """Bytes that do not decrypt, verify or parse."""


@dataclass(frozen=True)
class Spec:
    usages: tuple[str, ...]
    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()


_RSA_ENC = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
_RSA_SIGN = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
)
_RSA = Spec(("ENCRYPT_DECRYPT", "SIGN_VERIFY"), encryption=_RSA_ENC, signing=_RSA_SIGN)

SPECS: dict[str, Spec] = {
    "SYMMETRIC_DEFAULT": Spec(("ENCRYPT_DECRYPT",), encryption=("SYMMETRIC_DEFAULT",)),
    "RSA_2048": _RSA,
    "RSA_3072": _RSA,
    "RSA_4096": _RSA,
    "ECC_NIST_P256": Spec(("SIGN_VERIFY", "KEY_AGREEMENT"), signing=("ECDSA_SHA_256",)),
    "ECC_NIST_P384": Spec(("SIGN_VERIFY", "KEY_AGREEMENT"), signing=("ECDSA_SHA_384",)),
    "ECC_NIST_P521": Spec(("SIGN_VERIFY", "KEY_AGREEMENT"), signing=("ECDSA_SHA_512",)),
    "ECC_SECG_P256K1": Spec(("SIGN_VERIFY",), signing=("ECDSA_SHA_256",)),
    "ECC_NIST_EDWARDS25519": Spec(
        ("SIGN_VERIFY",), signing=("ED25519_SHA_512", "ED25519_PH_SHA_512")
    ),
    "HMAC_224": Spec(("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_224",)),
    "HMAC_256": Spec(("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_256",)),
    "HMAC_384": Spec(("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_384",)),
    "HMAC_512": Spec(("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_512",)),
}

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_1": hashes.SHA1,
    "SHA_224": hashes.SHA224,
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}
HMAC_BYTES = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}


def agreement_algorithms(spec: str, usage: str) -> tuple[str, ...]:
    return ("ECDH",) if usage == "KEY_AGREEMENT" and spec in _CURVES else ()


def new_material(spec: str) -> bytes:
    """Fresh key material: 32 random bytes for AES-256, HMAC bytes of the digest's size, or
    a PKCS#8 DER private key."""
    if spec == "SYMMETRIC_DEFAULT":
        return os.urandom(32)
    if spec in HMAC_BYTES:
        return os.urandom(HMAC_BYTES[spec])
    return private_der(new_private_key(spec))


def new_private_key(
    spec: str,
) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    if spec.startswith("RSA_"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(spec[4:]))
    if spec in _CURVES:
        return ec.generate_private_key(_CURVES[spec]())
    if spec == "ECC_NIST_EDWARDS25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise CryptoError(spec)


def private_der(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@lru_cache(maxsize=256)
def _private(material: bytes) -> object:
    """The private key of stored material, parsed once: RSA keys are ours (made by
    ``new_material``), so the costly consistency check OpenSSL runs on parsing is skipped."""
    return serialization.load_der_private_key(
        material, password=None, unsafe_skip_rsa_key_validation=True
    )


def public_der(material: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo of an asymmetric key (what GetPublicKey returns)."""
    key = _private(material)
    return key.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# -- symmetric ciphertext blobs ---------------------------------------------------------------

_MAGIC = b"\x01nk"
KEY_ID_LENGTH = 36
"""Key ids are UUIDs, multi-Region ones ``mrk-`` and 32 hex digits: 36 characters either way."""


def _aad(key_id: str, context: dict[str, str] | None) -> bytes:
    return key_id.encode() + json.dumps(context or {}, sort_keys=True).encode()


def seal(
    key_id: str, version: int, material: bytes, plaintext: bytes, context: dict[str, str] | None
) -> bytes:
    """AES-256-GCM under the key's material, the key id and encryption context bound as
    associated data; the blob names the key and the material version (after rotation older
    blobs still name the material that sealed them)."""
    nonce = os.urandom(12)
    sealed = AESGCM(material).encrypt(nonce, plaintext, _aad(key_id, context))
    return _MAGIC + key_id.encode() + struct.pack(">I", version) + nonce + sealed


def blob_key(blob: bytes) -> tuple[str, int] | None:
    """The key id and material version a symmetric blob names (None when it is not one)."""
    head = len(_MAGIC) + KEY_ID_LENGTH + 4
    if len(blob) < head + 12 + 16 or not blob.startswith(_MAGIC):
        return None
    try:
        key_id = blob[len(_MAGIC) : len(_MAGIC) + KEY_ID_LENGTH].decode("ascii")
    except UnicodeDecodeError:
        return None
    (version,) = struct.unpack(">I", blob[head - 4 : head])
    return key_id, version


def unseal(key_id: str, material: bytes, blob: bytes, context: dict[str, str] | None) -> bytes:
    head = len(_MAGIC) + KEY_ID_LENGTH + 4
    nonce, sealed = blob[head : head + 12], blob[head + 12 :]
    try:
        return AESGCM(material).decrypt(nonce, sealed, _aad(key_id, context))
    except InvalidTag:
        raise CryptoError("ciphertext does not decrypt") from None


# -- RSA encryption ---------------------------------------------------------------------------


def _oaep(algorithm: str) -> padding.OAEP:
    digest = _HASHES[algorithm.removeprefix("RSAES_OAEP_")]()
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def rsa_encrypt(material: bytes, algorithm: str, plaintext: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, rsa.RSAPrivateKey)
    try:
        return key.public_key().encrypt(plaintext, _oaep(algorithm))
    except ValueError as exc:
        raise CryptoError(str(exc)) from None


def rsa_decrypt(material: bytes, algorithm: str, ciphertext: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, rsa.RSAPrivateKey)
    try:
        return key.decrypt(ciphertext, _oaep(algorithm))
    except ValueError:
        raise CryptoError("ciphertext does not decrypt") from None


# -- signatures -------------------------------------------------------------------------------


def _digest_of(algorithm: str) -> hashes.HashAlgorithm:
    return _HASHES[algorithm.rsplit("_", 2)[-2] + "_" + algorithm.rsplit("_", 1)[-1]]()


def sign(material: bytes, algorithm: str, message: bytes, digest: bool) -> bytes:
    """Sign ``message`` (a digest already when ``digest``), as KMS returns signatures: DER
    ECDSA, raw RSA, raw Ed25519."""
    key = _private(material)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    chosen = _digest_of(algorithm)
    prehashed: hashes.HashAlgorithm | utils.Prehashed = (
        utils.Prehashed(chosen) if digest else chosen
    )
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, _rsa_padding(algorithm, chosen), prehashed)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.sign(message, ec.ECDSA(prehashed))


def _rsa_padding(algorithm: str, chosen: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS_"):
        return padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
    return padding.PKCS1v15()


def verify(material: bytes, algorithm: str, message: bytes, signature: bytes, digest: bool) -> bool:
    key = _private(material)
    try:
        if isinstance(key, ed25519.Ed25519PrivateKey):
            key.public_key().verify(signature, message)
            return True
        chosen = _digest_of(algorithm)
        prehashed: hashes.HashAlgorithm | utils.Prehashed = (
            utils.Prehashed(chosen) if digest else chosen
        )
        if isinstance(key, rsa.RSAPrivateKey):
            key.public_key().verify(signature, message, _rsa_padding(algorithm, chosen), prehashed)
        else:
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            key.public_key().verify(signature, message, ec.ECDSA(prehashed))
    except (InvalidSignature, ValueError):
        return False
    return True


def digest_size(algorithm: str) -> int:
    return _digest_of(algorithm).digest_size


# -- HMAC and key agreement --------------------------------------------------------------------


def mac(material: bytes, algorithm: str, message: bytes) -> bytes:
    name = algorithm.removeprefix("HMAC_").replace("_", "").lower()
    return hmac.new(material, message, getattr(hashlib, name)).digest()


def derive_shared_secret(material: bytes, peer_public_der: bytes) -> bytes:
    key = _private(material)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    try:
        peer = serialization.load_der_public_key(peer_public_der)
    except ValueError:
        raise CryptoError("not a DER public key") from None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != key.curve.name:
        raise CryptoError("public key of another curve")
    return key.exchange(ec.ECDH(), peer)


# -- importing key material --------------------------------------------------------------------


def unwrap(wrapping_private: bytes, algorithm: str, wrapped: bytes) -> bytes:
    """Key material wrapped for import: RSA-OAEP alone, or (RSA_AES_KEY_WRAP_*) an ephemeral
    AES key under RSA-OAEP followed by the material under AES key wrap with padding."""
    key = _private(wrapping_private)
    assert isinstance(key, rsa.RSAPrivateKey)
    digest = _HASHES["SHA_256" if algorithm.endswith("SHA_256") else "SHA_1"]()
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    try:
        if algorithm.startswith("RSA_AES_KEY_WRAP_"):
            size = key.key_size // 8
            aes_key = key.decrypt(wrapped[:size], oaep)
            return keywrap.aes_key_unwrap_with_padding(aes_key, wrapped[size:])
        if algorithm == "RSAES_PKCS1_V1_5":
            return key.decrypt(wrapped, padding.PKCS1v15())
        return key.decrypt(wrapped, oaep)
    except (ValueError, keywrap.InvalidUnwrap):
        raise CryptoError("wrapped key material does not unwrap") from None
