"""Settings: flags over NUBES_* variables over LocalStack's names over defaults."""

from __future__ import annotations

from pathlib import Path

from nubes.config import Settings, from_environment


def test_defaults() -> None:
    s = from_environment({})
    assert (s.host, s.port, s.ephemeral, s.enforce_iam) == ("127.0.0.1", 4566, False, False)
    assert s.account_id == "000000000000" and s.region == "us-east-1"


def test_nubes_variables() -> None:
    s = from_environment(
        {
            "NUBES_PORT": "4599",
            "NUBES_DATA_DIR": "/tmp/x",
            "NUBES_EPHEMERAL": "true",
            "NUBES_ACCOUNT_ID": "123456789012",
            "NUBES_ENFORCE_IAM": "1",
        }
    )
    assert s.port == 4599 and s.data_dir == Path("/tmp/x") and s.ephemeral
    assert s.account_id == "123456789012" and s.enforce_iam


def test_localstack_names_are_accepted() -> None:
    s = from_environment({"GATEWAY_LISTEN": "0.0.0.0:4510", "ENFORCE_IAM": "1"})
    assert (s.host, s.port, s.enforce_iam) == ("0.0.0.0", 4510, True)


def test_flags_win_over_environment() -> None:
    s = from_environment({"NUBES_PORT": "4599"}, port=4600, host=None)
    assert s.port == 4600 and s.host == Settings().host
