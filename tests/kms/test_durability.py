"""Keys, parameters and secrets survive a SIGKILL of the server: after a restart on the same
data directory, old ciphertexts decrypt and SecureStrings and secrets read back."""

from __future__ import annotations

from collections.abc import Callable

from tests.server import NubesProcess


def test_key_material_survives_a_sigkill(nubes_factory: Callable[..., NubesProcess]) -> None:
    server = nubes_factory(persistent=True)
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"kept", EncryptionContext={"a": "b"})[
        "CiphertextBlob"
    ]
    server.client("ssm").put_parameter(Name="/kept/secure", Value="p4ss", Type="SecureString")
    server.client("secretsmanager").create_secret(Name="kept", SecretString="s3cret")
    server.kill()
    restarted = NubesProcess(server.data_dir, port=server.port).start()
    try:
        back = restarted.client("kms").decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
        assert back["Plaintext"] == b"kept" and back["KeyId"] == key["Arn"]
        ssm = restarted.client("ssm")
        value = ssm.get_parameter(Name="/kept/secure", WithDecryption=True)["Parameter"]["Value"]
        assert value == "p4ss"
        secret = restarted.client("secretsmanager").get_secret_value(SecretId="kept")
        assert secret["SecretString"] == "s3cret"
    finally:
        restarted.stop()
