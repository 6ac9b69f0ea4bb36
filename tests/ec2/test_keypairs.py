"""Key pairs: real key material and AWS's fingerprints."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.ec2.conftest import error_code


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def test_created_rsa_key_and_its_fingerprint(ec2: Any) -> None:
    made = ec2.create_key_pair(KeyName="deploy")
    assert made["KeyPairId"].startswith("key-")
    private = serialization.load_pem_private_key(made["KeyMaterial"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    assert made["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    assert made["KeyFingerprint"] == _colons(hashlib.sha1(pkcs8).digest())
    assert error_code(lambda: ec2.create_key_pair(KeyName="deploy")) == ("InvalidKeyPair.Duplicate")
    listed = ec2.describe_key_pairs(KeyNames=["deploy"], IncludePublicKey=True)["KeyPairs"][0]
    assert listed["KeyType"] == "rsa" and listed["KeyFingerprint"] == made["KeyFingerprint"]
    ours = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    assert listed["PublicKey"].split()[:2] == ours.decode().split()[:2]


def test_created_ed25519_key(ec2: Any) -> None:
    made = ec2.create_key_pair(KeyName="ed", KeyType="ed25519")
    private = serialization.load_ssh_private_key(made["KeyMaterial"].encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    blob = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    raw = base64.b64decode(blob.split()[1])
    assert made["KeyFingerprint"] == base64.b64encode(hashlib.sha256(raw).digest()).decode()


def test_imported_keys_get_aws_fingerprints(ec2: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    openssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    imported = ec2.import_key_pair(KeyName="laptop", PublicKeyMaterial=openssh + b" me@host")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert imported["KeyFingerprint"] == _colons(hashlib.md5(der).digest())
    assert (
        error_code(
            lambda: ec2.import_key_pair(KeyName="junk", PublicKeyMaterial=b"ssh-rsa notakey")
        )
        == "InvalidKey.Format"
    )
    found = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["lap*"]}])
    assert [k["KeyName"] for k in found["KeyPairs"]] == ["laptop"]
    ec2.delete_key_pair(KeyName="laptop")
    ec2.delete_key_pair(KeyName="laptop")
    assert error_code(lambda: ec2.describe_key_pairs(KeyNames=["laptop"])) == (
        "InvalidKeyPair.NotFound"
    )


def test_instance_launched_with_a_key(ec2: Any, image: str) -> None:
    ec2.create_key_pair(KeyName="ops")
    run = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, KeyName="ops")
    launched = run["Instances"][0]
    assert launched["KeyName"] == "ops"
    found = ec2.describe_instances(Filters=[{"Name": "key-name", "Values": ["ops"]}])
    assert found["Reservations"][0]["Instances"][0]["InstanceId"] == launched["InstanceId"]
    ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])
