"""IP-based routing: CIDR collections and records that answer by the client's address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.edns
import pytest
from botocore.exceptions import ClientError

from tests.route53.helpers import change, record, values


def test_cidr_collection_and_ip_based_answers(
    client: Callable[..., Any], zone: dict[str, Any], ask: Any, unique: Callable[[str], str]
) -> None:
    r53 = client("route53")
    made = r53.create_cidr_collection(Name=unique("c"), CallerReference=unique("r"))
    collection = made["Collection"]
    assert collection["Version"] == 1
    assert collection["Arn"] == f"arn:aws:route53:::cidrcollection/{collection['Id']}"
    r53.change_cidr_collection(
        Id=collection["Id"],
        CollectionVersion=1,
        Changes=[
            {"LocationName": "local", "Action": "PUT", "CidrList": ["127.0.0.0/24"]},
            {"LocationName": "partner", "Action": "PUT",
             "CidrList": ["198.51.100.0/24", "2001:db8::/48"]},
        ],
    )  # fmt: skip
    with pytest.raises(ClientError) as caught:
        r53.change_cidr_collection(
            Id=collection["Id"],
            CollectionVersion=1,
            Changes=[{"LocationName": "x", "Action": "PUT", "CidrList": ["10.0.0.0/8"]}],
        )
    assert caught.value.response["Error"]["Code"] == "CidrCollectionVersionMismatchException"
    locations = r53.list_cidr_locations(CollectionId=collection["Id"])["CidrLocations"]
    assert [loc["LocationName"] for loc in locations] == ["local", "partner"]
    blocks = r53.list_cidr_blocks(CollectionId=collection["Id"], LocationName="partner")
    assert sorted(b["CidrBlock"] for b in blocks["CidrBlocks"]) == [
        "198.51.100.0/24",
        "2001:db8::/48",
    ]

    name = f"ip.{zone['Name']}"

    def by(location: str, address: str) -> dict[str, Any]:
        return record(name, "A", address, SetIdentifier=location,
                      CidrRoutingConfig={"CollectionId": collection["Id"],
                                         "LocationName": location})  # fmt: skip

    change(
        client,
        zone["Id"],
        ("CREATE", by("local", "127.0.6.1")),
        ("CREATE", by("partner", "127.0.6.2")),
        ("CREATE", by("*", "127.0.6.3")),
    )
    assert values(ask(name, "A")) == ["127.0.6.1"]  # asked from 127.0.0.1
    assert values(ask(name, "A", options=[dns.edns.ECSOption("198.51.100.9", 24)])) == ["127.0.6.2"]
    assert values(ask(name, "A", options=[dns.edns.ECSOption("203.0.113.9", 24)])) == ["127.0.6.3"]
    with pytest.raises(ClientError) as caught:
        change(client, zone["Id"], ("CREATE", record(f"x.{zone['Name']}", "A", "127.0.0.1",
               SetIdentifier="n", CidrRoutingConfig={"CollectionId": collection["Id"],
                                                     "LocationName": "nowhere"})))  # fmt: skip
    assert caught.value.response["Error"]["Code"] == "InvalidChangeBatch"
    with pytest.raises(ClientError) as caught:
        r53.delete_cidr_collection(Id=collection["Id"])
    assert caught.value.response["Error"]["Code"] == "CidrCollectionInUseException"
    listed = [c["Id"] for c in r53.list_cidr_collections()["CidrCollections"]]
    assert collection["Id"] in listed
