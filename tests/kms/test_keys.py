"""KMS through boto3: encryption bound to its key and context, key states and deletion on the
advanced clock, signatures and public keys checked with ``cryptography`` outside nubes,
MACs, data keys, rotation, aliases, grants, multi-Region replicas, tags and paging."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


@pytest.fixture
def kms(client: Callable[..., Any]) -> Any:
    return client("kms")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_encrypt_decrypts_only_with_its_key_and_context(kms: Any) -> None:
    key = kms.create_key(Description="data")["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    assert key["KeyState"] == "Enabled" and key["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert key["Arn"].endswith(f":key/{key['KeyId']}")
    context = {"purpose": "test", "tenant": "a"}
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext=context)
    assert out["KeyId"] == key["Arn"]
    blob = out["CiphertextBlob"]
    assert b"secret" not in blob

    # The blob names its key: Decrypt finds it without KeyId.
    back = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert back["Plaintext"] == b"secret" and back["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=key["Arn"])

    for wrong in ({}, {"purpose": "test"}, {"purpose": "test", "tenant": "b"}):
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert _code(exc) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=other["KeyId"])
    assert _code(exc) == "IncorrectKeyException"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=tampered, EncryptionContext=context)
    assert _code(exc) == "InvalidCiphertextException"


def test_ciphertext_of_one_account_or_region_does_not_decrypt_elsewhere(
    kms: Any, client: Callable[..., Any], endpoint: str
) -> None:
    import boto3

    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        client("kms", region="eu-west-1").decrypt(CiphertextBlob=blob)
    assert _code(exc) == "InvalidCiphertextException"
    stranger = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="111122223333",
        aws_secret_access_key="test",
    )
    with pytest.raises(ClientError) as exc:
        stranger.decrypt(CiphertextBlob=blob)
    assert _code(exc) == "InvalidCiphertextException"


def test_disabled_key_refuses_and_enabled_again_works(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(exc) == "DisabledException"
    assert exc.value.response["Error"]["Message"].endswith("is disabled.")
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def _advance(endpoint: str, seconds: float) -> None:
    requests.post(
        f"{endpoint}/_nubes/clock", json={"advance": seconds}, timeout=10
    ).raise_for_status()


@pytest.mark.clock
def test_key_scheduled_for_deletion_is_gone_after_its_waiting_period(
    kms: Any, endpoint: str
) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/doomed-{key_id[:8]}", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6)
    assert _code(exc) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(exc) == "KMSInvalidStateException"
    assert "is pending deletion." in exc.value.response["Error"]["Message"]

    # Cancelled, the key comes back disabled; scheduled again, the clock deletes it.
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    _advance(endpoint, 6 * 86_400)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    _advance(endpoint, 86_400 + 60)
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=key_id)
    assert _code(exc) == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(exc) == "InvalidCiphertextException"
    aliases = kms.list_aliases()["Aliases"]
    assert not [a for a in aliases if a.get("TargetKeyId") == key_id]


@pytest.mark.parametrize(
    ("spec", "algorithms"),
    [
        ("RSA_2048", ["RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_512"]),
        ("ECC_NIST_P256", ["ECDSA_SHA_256"]),
        ("ECC_NIST_P384", ["ECDSA_SHA_384"]),
        ("ECC_NIST_P521", ["ECDSA_SHA_512"]),
        ("ECC_SECG_P256K1", ["ECDSA_SHA_256"]),
    ],
)
def test_signatures_verify_outside_nubes(kms: Any, spec: str, algorithms: list[str]) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    public = kms.get_public_key(KeyId=key["KeyId"])
    assert public["KeySpec"] == spec and public["KeyUsage"] == "SIGN_VERIFY"
    loaded = serialization.load_der_public_key(public["PublicKey"])
    for algorithm in algorithms:
        name = "SHA" + algorithm.rsplit("_", 1)[-1]
        chosen = getattr(hashes, name)()
        message = b"message to sign"
        signature = kms.sign(KeyId=key["KeyId"], Message=message, SigningAlgorithm=algorithm)[
            "Signature"
        ]
        if isinstance(loaded, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
                if "PSS" in algorithm
                else padding.PKCS1v15()
            )
            loaded.verify(signature, message, pad, chosen)
        else:
            assert isinstance(loaded, ec.EllipticCurvePublicKey)
            loaded.verify(signature, message, ec.ECDSA(chosen))
        assert kms.verify(
            KeyId=key["KeyId"], Message=message, Signature=signature, SigningAlgorithm=algorithm
        )["SignatureValid"]
        # A digest signed by KMS verifies as a prehashed signature.
        digest = hashlib.new(name.lower(), message).digest()
        signed = kms.sign(
            KeyId=key["KeyId"], Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm
        )["Signature"]
        if isinstance(loaded, ec.EllipticCurvePublicKey):
            loaded.verify(signed, digest, ec.ECDSA(utils.Prehashed(chosen)))
        with pytest.raises(ClientError) as exc:
            kms.verify(
                KeyId=key["KeyId"],
                Message=b"other message",
                Signature=signature,
                SigningAlgorithm=algorithm,
            )
        assert _code(exc) == "KMSInvalidSignatureException"


def test_rsa_encryption_with_the_public_key_outside_nubes(kms: Any) -> None:
    key = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 3072
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    blob = public.encrypt(b"outside", oaep)
    out = kms.decrypt(
        KeyId=key["KeyId"], CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert out["Plaintext"] == b"outside"
    inside = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"inside", EncryptionAlgorithm="RSAES_OAEP_SHA_1"
    )["CiphertextBlob"]
    assert (
        kms.decrypt(
            KeyId=key["Arn"], CiphertextBlob=inside, EncryptionAlgorithm="RSAES_OAEP_SHA_1"
        )["Plaintext"]
        == b"inside"
    )
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert _code(exc) == "InvalidKeyUsageException"


def test_key_usage_and_spec_rules(kms: Any) -> None:
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=signing["KeyId"], Plaintext=b"x")
    assert _code(exc) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="HMAC_256", KeyUsage="ENCRYPT_DECRYPT")
    assert _code(exc) == "ValidationException"
    symmetric = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.get_public_key(KeyId=symmetric["KeyId"])
    assert _code(exc) == "UnsupportedOperationException"


def test_hmac_keys(kms: Any) -> None:
    key = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert key["MacAlgorithms"] == ["HMAC_SHA_384"]
    tag = kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert len(tag) == 48
    assert kms.verify_mac(KeyId=key["KeyId"], Message=b"m", Mac=tag, MacAlgorithm="HMAC_SHA_384")[
        "MacValid"
    ]
    with pytest.raises(ClientError) as exc:
        kms.verify_mac(KeyId=key["KeyId"], Message=b"n", Mac=tag, MacAlgorithm="HMAC_SHA_384")
    assert _code(exc) == "KMSInvalidMacException"


def test_key_agreement(kms: Any) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert key["KeyAgreementAlgorithms"] == ["ECDH"]
    theirs = ec.generate_private_key(ec.SECP256R1())
    peer = theirs.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    secret = kms.derive_shared_secret(
        KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=peer
    )["SharedSecret"]
    ours = serialization.load_der_public_key(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
    assert isinstance(ours, ec.EllipticCurvePublicKey)
    assert secret == theirs.exchange(ec.ECDH(), ours)


def test_data_keys_and_pairs(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    data = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"a": "b"})
    assert len(data["Plaintext"]) == 32
    back = kms.decrypt(CiphertextBlob=data["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert back["Plaintext"] == data["Plaintext"]
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=64)
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 64
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key_id)
    assert _code(exc) == "ValidationException"

    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P384")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pair["PublicKey"]
    )
    sealed = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert sealed == pair["PrivateKeyPlaintext"]
    assert "PrivateKeyPlaintext" not in kms.generate_data_key_pair_without_plaintext(
        KeyId=key_id, KeyPairSpec="RSA_2048"
    )
    assert len(kms.generate_random(NumberOfBytes=17)["Plaintext"]) == 17


def test_re_encrypt_moves_ciphertext_to_another_key(kms: Any) -> None:
    first = kms.create_key()["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=first["KeyId"], Plaintext=b"p", EncryptionContext={"k": "1"})
    out = kms.re_encrypt(
        CiphertextBlob=blob["CiphertextBlob"],
        SourceEncryptionContext={"k": "1"},
        DestinationKeyId=second["KeyId"],
        DestinationEncryptionContext={"k": "2"},
    )
    assert out["SourceKeyId"] == first["Arn"] and out["KeyId"] == second["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"k": "2"})
    assert back["Plaintext"] == b"p" and back["KeyId"] == second["Arn"]


@pytest.mark.clock
def test_rotation_keeps_old_ciphertexts_readable(kms: Any, endpoint: str) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    before = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 90
    kms.rotate_key_on_demand(KeyId=key_id)
    _advance(endpoint, 91 * 86_400)
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND", "AUTOMATIC"]
    after = kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
    assert kms.decrypt(CiphertextBlob=after)["Plaintext"] == b"new"
    assert (
        kms.decrypt(CiphertextBlob=before)["KeyMaterialId"]
        != kms.decrypt(CiphertextBlob=after)["KeyMaterialId"]
    )


def test_aliases(kms: Any, unique: Callable[[str], str]) -> None:
    first = kms.create_key()["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    name = f"alias/{unique('app')}"
    kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=first["KeyId"])
    assert _code(exc) == "AlreadyExistsException"
    for bad in ("alias/aws/mine", "noprefix"):
        with pytest.raises(ClientError):
            kms.create_alias(AliasName=bad, TargetKeyId=first["KeyId"])
    blob = kms.encrypt(KeyId=name, Plaintext=b"a")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == first["Arn"]
    kms.update_alias(AliasName=name, TargetKeyId=second["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == second["KeyId"]
    alias_arn = first["Arn"].replace(f"key/{first['KeyId']}", name)
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == second["KeyId"]
    listed = kms.list_aliases(KeyId=second["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [name]
    kms.delete_alias(AliasName=name)
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=name)
    assert _code(exc) == "NotFoundException"


def test_aws_managed_key_made_on_first_use(kms: Any) -> None:
    meta = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]
    with pytest.raises(ClientError) as exc:
        kms.schedule_key_deletion(KeyId=meta["KeyId"])
    assert _code(exc) == "UnsupportedOperationException"


def test_key_policy_and_grants(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::000000000000:root"}
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]
    policy["Statement"][0]["Sid"] = "Changed"
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert "Changed" in kms.get_key_policy(KeyId=key["KeyId"])["Policy"]
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy="{not json")
    assert _code(exc) == "MalformedPolicyDocumentException"

    grantee = "arn:aws:iam::000000000000:role/app"
    retiring = "arn:aws:iam::000000000000:role/ops"
    made = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee,
        RetiringPrincipal=retiring,
        Operations=["Decrypt", "Encrypt"],
        Name="g1",
    )
    again = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=grantee,
        RetiringPrincipal=retiring,
        Operations=["Decrypt", "Encrypt"],
        Name="g1",
    )
    assert again["GrantId"] == made["GrantId"]
    second = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee, Operations=["Sign"])
    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert {g["GrantId"] for g in grants} == {made["GrantId"], second["GrantId"]}
    assert kms.list_grants(KeyId=key["KeyId"], Limit=1)["Truncated"]
    retirable = kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]
    assert [g["GrantId"] for g in retirable] == [made["GrantId"]]
    kms.retire_grant(GrantToken=made["GrantToken"])
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    with pytest.raises(ClientError) as exc:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=second["GrantId"])
    assert _code(exc) == "NotFoundException"


def test_multi_region_replica_decrypts_the_primarys_ciphertext(
    kms: Any, client: Callable[..., Any]
) -> None:
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert primary["KeyId"].startswith("mrk-")
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    meta = replica["ReplicaKeyMetadata"]
    assert meta["Arn"] == primary["Arn"].replace("us-east-1", "eu-west-1")
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    config = kms.describe_key(KeyId=primary["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["ReplicaKeys"] == [{"Arn": meta["Arn"], "Region": "eu-west-1"}]
    blob = kms.encrypt(KeyId=primary["KeyId"], Plaintext=b"everywhere")["CiphertextBlob"]
    europe = client("kms", region="eu-west-1")
    assert europe.decrypt(CiphertextBlob=blob)["Plaintext"] == b"everywhere"
    with pytest.raises(ClientError) as exc:
        kms.replicate_key(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], ReplicaRegion="eu-west-1")
    assert _code(exc) == "UnsupportedOperationException"


def test_tags_and_paging(kms: Any, client: Callable[..., Any]) -> None:
    regional = client("kms", region="ap-south-2")
    made = [regional.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]
    regional.tag_resource(
        KeyId=made[0], Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}]
    )
    regional.untag_resource(KeyId=made[0], TagKeys=["b"])
    assert regional.list_resource_tags(KeyId=made[0])["Tags"] == [{"TagKey": "a", "TagValue": "1"}]
    seen: list[str] = []
    marker: dict[str, str] = {}
    while True:
        page = regional.list_keys(Limit=2, **marker)
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            break
        marker = {"Marker": page["NextMarker"]}
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    with pytest.raises(ClientError) as exc:
        regional.list_keys(Marker="not-a-marker")
    assert _code(exc) == "InvalidMarkerException"
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId="11111111-2222-3333-4444-555555555555")
    assert _code(exc) == "NotFoundException"
