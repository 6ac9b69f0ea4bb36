"""Keys with imported key material: wrapped outside nubes with the import parameters' public
key, usable once imported, unusable when the material expires on the clock or is deleted, and
restored only by the same material."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _wrap(kms: Any, key_id: str, material: bytes, algorithm: str) -> tuple[bytes, bytes]:
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    public = serialization.load_der_public_key(params["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    if algorithm == "RSA_AES_KEY_WRAP_SHA_256":
        aes = os.urandom(32)
        wrapped = public.encrypt(aes, oaep) + keywrap.aes_key_wrap_with_padding(aes, material)
    else:
        wrapped = public.encrypt(material, oaep)
    return params["ImportToken"], wrapped


@pytest.mark.clock
def test_imported_material_lifecycle(client: Callable[..., Any], endpoint: str) -> None:
    kms = client("kms")
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert exc.value.response["Error"]["Code"] == "KMSInvalidStateException"
    material = os.urandom(32)
    token, wrapped = _wrap(kms, key["KeyId"], material, "RSAES_OAEP_SHA_256")
    with pytest.raises(ClientError) as exc:
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=b"wrong",
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert exc.value.response["Error"]["Code"] == "InvalidImportTokenException"
    now = requests.get(f"{endpoint}/_nubes/clock", timeout=10).json()["now"]
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=token,
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=datetime.fromtimestamp(now, UTC) + timedelta(days=2),
    )
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"imported")["CiphertextBlob"]

    # The material expires on the clock; only the same material brings the key back.
    requests.post(f"{endpoint}/_nubes/clock", json={"advance": 2 * 86_400 + 60}, timeout=10)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert exc.value.response["Error"]["Code"] == "KMSInvalidStateException"
    token, other = _wrap(kms, key["KeyId"], os.urandom(32), "RSA_AES_KEY_WRAP_SHA_256")
    with pytest.raises(ClientError) as exc:
        kms.import_key_material(
            KeyId=key["KeyId"],
            ImportToken=token,
            EncryptedKeyMaterial=other,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    assert exc.value.response["Error"]["Code"] == "IncorrectKeyMaterialException"
    token, same = _wrap(kms, key["KeyId"], material, "RSA_AES_KEY_WRAP_SHA_256")
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=token,
        EncryptedKeyMaterial=same,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    kms.delete_imported_key_material(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as exc:
        kms.get_parameters_for_import(
            KeyId=kms.create_key()["KeyMetadata"]["KeyId"],
            WrappingAlgorithm="RSAES_OAEP_SHA_256",
            WrappingKeySpec="RSA_2048",
        )
    assert exc.value.response["Error"]["Code"] == "UnsupportedOperationException"
