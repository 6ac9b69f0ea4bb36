"""Pure pieces: the Describe* filter engine, volume limits, key fingerprints."""

from __future__ import annotations

import pytest

from nubes.protocol.base import ServiceError
from nubes.services.ec2.filters import Filters, matches_any, values_at
from nubes.services.ec2.keypairs import create_key, import_fingerprint
from nubes.services.ec2.volumes import check_volume, gp2_iops

DOC = {
    "State": {"Name": "running", "Code": 16},
    "NetworkInterfaces": [
        {"Groups": [{"GroupId": "sg-1"}, {"GroupId": "sg-2"}]},
        {"Groups": [{"GroupId": "sg-3"}]},
    ],
    "EbsOptimized": False,
    "Tags": [{"Key": "Name", "Value": "web*1"}],
    "LaunchTime": 0.0,
}


def test_paths_walk_through_lists() -> None:
    assert values_at(DOC, "NetworkInterfaces.Groups.GroupId") == ["sg-1", "sg-2", "sg-3"]
    assert values_at(DOC, "State.Code") == [16]
    assert values_at(DOC, "Missing.Path") == []


def test_wildcards_and_escapes() -> None:
    assert matches_any(["web-1"], ["web-?"])
    assert matches_any(["web-12"], ["web-*"])
    assert not matches_any(["web-12"], ["web-?"])
    assert matches_any(["web*1"], ["web\\*1"])
    assert not matches_any(["webx1"], ["web\\*1"])
    assert matches_any([False], ["false"]) and matches_any([16], ["16"])


def test_filters_combine_and_check_names() -> None:
    filters = Filters({
        "instance-state-name": "State.Name", "group-id": "NetworkInterfaces.Groups.GroupId",
        "ebs-optimized": "EbsOptimized", "launch-time": "@LaunchTime",
    })  # fmt: skip
    check = filters.compile([
        {"Name": "instance-state-name", "Values": ["stopped", "running"]},
        {"Name": "group-id", "Values": ["sg-3"]},
        {"Name": "tag:Name", "Values": ["web\\*?"]},
        {"Name": "launch-time", "Values": ["1970-01-01T*"]},
    ])  # fmt: skip
    assert check(DOC)
    assert not filters.compile([{"Name": "tag-key", "Values": ["Env"]}])(DOC)
    with pytest.raises(ServiceError) as info:
        filters.compile([{"Name": "nope", "Values": ["x"]}])
    assert info.value.code == "InvalidParameterValue"


def test_volume_limits() -> None:
    assert check_volume("gp3", 1000, None, None) == (3000, 125)
    assert check_volume("gp3", 1000, 16000, 1000) == (16000, 1000)
    assert check_volume("io2", 4, 4000, None) == (4000, None)
    assert check_volume("st1", 125, None, None) == (None, None)
    assert gp2_iops(1) == 100 and gp2_iops(1000) == 3000 and gp2_iops(10000) == 16000
    for bad in (("io2", 4, 4001, None), ("gp3", 10, 5001, None), ("gp3", 100, 3000, 751),
                ("sc1", 100, None, None), ("standard", 1025, None, None)):  # fmt: skip
        with pytest.raises(ServiceError):
            check_volume(*bad)


def test_fingerprints_of_created_keys_match_their_import() -> None:
    _, fingerprint, public = create_key("ed25519")
    kind, imported, _ = import_fingerprint(public.encode())
    assert kind == "ed25519" and imported == fingerprint
    _, created, public = create_key("rsa")
    kind, imported, _ = import_fingerprint(public.encode())
    # AWS fingerprints a created RSA key by its private key (SHA-1) and an imported one by its
    # public key (MD5): the same key shows two different fingerprints.
    assert kind == "rsa" and len(imported.split(":")) == 16 and len(created.split(":")) == 20
