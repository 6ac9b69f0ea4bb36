"""CIDR collections for IP-based routing: named locations, each a list of CIDR blocks. A record
with ``CidrRoutingConfig`` answers queries whose client address (the EDNS client subnet, else
the address the query came from) falls in its location's blocks, the most specific block
winning; the location ``*`` answers the rest."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nubes.core.context import RequestContext
from nubes.core.pagination import InvalidToken, decode_token, encode_token
from nubes.services.route53.errors import errors, invalid_input
from nubes.services.route53.params import resource_arn

if TYPE_CHECKING:
    from nubes.services.route53.models import Route53Model

MAX_COLLECTIONS = 5
MAX_BLOCKS_PER_COLLECTION = 1000
MAX_RESULTS = 100


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    raw = str(params.get("MaxResults") or MAX_RESULTS)
    if not raw.isdigit():
        raise invalid_input(f"MaxResults '{raw}' is not a number")
    limit = max(1, min(int(raw), MAX_RESULTS))
    start = 0
    if params.get("NextToken"):
        try:
            start = int(decode_token(params["NextToken"]))
        except (InvalidToken, TypeError, ValueError):
            raise errors.InvalidPaginationToken("The pagination token is not valid.") from None
    following = encode_token(start + limit) if start + limit < len(items) else None
    return items[start : start + limit], following


class CidrOperations:
    """The CIDR collection half of the Route 53 provider."""

    model: Route53Model
    zones_changed: Callable[..., None]

    def _collection(self, ctx: RequestContext, collection_id: str) -> Any:
        row = self.model.store.query_one(
            "SELECT * FROM r53_cidr_collections WHERE id = ? AND account = ?",
            (collection_id, ctx.account_id),
        )
        if row is None:
            raise errors.NoSuchCidrCollectionException(
                f"The CIDR collection {collection_id} does not exist."
            )
        return row

    def _collection_out(self, ctx: RequestContext, row: Any) -> dict[str, Any]:
        return {
            "Arn": resource_arn(ctx, f"cidrcollection/{row['id']}"),
            "Id": row["id"],
            "Name": row["name"],
            "Version": row["version"],
        }

    def create_cidr_collection(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        store = self.model.store
        existing = store.query_one(
            "SELECT * FROM r53_cidr_collections WHERE account = ? AND name = ?",
            (ctx.account_id, params["Name"]),
        )
        if existing is not None:
            raise errors.CidrCollectionAlreadyExistsException(
                f"A CIDR collection named {params['Name']} already exists.",
                Collection=self._collection_out(ctx, existing),
            )
        count = store.scalar(
            "SELECT count(*) FROM r53_cidr_collections WHERE account = ?", (ctx.account_id,)
        )
        if count >= MAX_COLLECTIONS:
            raise errors.LimitsExceeded("Limits Exceeded: MAX_CIDR_COLLECTIONS_BY_OWNER")
        collection_id = str(uuid.uuid4())
        store.execute(
            "INSERT INTO r53_cidr_collections (id, account, name, caller_reference, version) "
            "VALUES (?, ?, ?, ?, 1)",
            (collection_id, ctx.account_id, params["Name"], params["CallerReference"]),
        )
        row = self._collection(ctx, collection_id)
        return {
            "Collection": self._collection_out(ctx, row),
            "Location": f"https://route53.amazonaws.com/2013-04-01/cidrcollection/{collection_id}",
        }

    def change_cidr_collection(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._collection(ctx, params["Id"])
        store = self.model.store
        wanted = params.get("CollectionVersion")
        if wanted is not None and int(wanted) != row["version"]:
            raise errors.CidrCollectionVersionMismatchException(
                f"The CIDR collection version {wanted} does not match the current version "
                f"{row['version']}."
            )
        used = self.model.cidr_locations_in_use(row["id"])
        for change in params["Changes"]:
            location = change["LocationName"]
            blocks = []
            for text in change["CidrList"]:
                try:
                    blocks.append(str(ipaddress.ip_network(text, strict=True)))
                except ValueError:
                    raise invalid_input(f"{text} is not a valid CIDR block.") from None
            if change["Action"] == "PUT":
                store.executemany(
                    "INSERT OR IGNORE INTO r53_cidr_blocks (collection_id, location, cidr) "
                    "VALUES (?, ?, ?)",
                    [(row["id"], location, b) for b in blocks],
                )
            else:
                store.executemany(
                    "DELETE FROM r53_cidr_blocks WHERE collection_id = ? AND location = ? "
                    "AND cidr = ?",
                    [(row["id"], location, b) for b in blocks],
                )
                left = store.scalar(
                    "SELECT count(*) FROM r53_cidr_blocks WHERE collection_id = ? AND location = ?",
                    (row["id"], location),
                )
                if location in used and not left:
                    raise errors.CidrBlockInUseException(
                        f"The location {location} is used by resource record sets: its last "
                        "CIDR blocks cannot be deleted."
                    )
        total = store.scalar(
            "SELECT count(*) FROM r53_cidr_blocks WHERE collection_id = ?", (row["id"],)
        )
        if total > MAX_BLOCKS_PER_COLLECTION:
            raise errors.LimitsExceeded("Limits Exceeded: MAX_CIDR_BLOCKS_BY_COLLECTION")
        store.execute(
            "UPDATE r53_cidr_collections SET version = version + 1 WHERE id = ?", (row["id"],)
        )
        self.zones_changed()
        return {"Id": str(uuid.uuid4())}

    def list_cidr_collections(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = self.model.store.query(
            "SELECT * FROM r53_cidr_collections WHERE account = ? ORDER BY name, id",
            (ctx.account_id,),
        )
        page, following = _page(list(rows), params)
        out: dict[str, Any] = {"CidrCollections": [self._collection_out(ctx, r) for r in page]}
        if following:
            out["NextToken"] = following
        return out

    def list_cidr_locations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._collection(ctx, params["CollectionId"])
        names = [
            r[0]
            for r in self.model.store.query(
                "SELECT DISTINCT location FROM r53_cidr_blocks WHERE collection_id = ? "
                "ORDER BY location",
                (row["id"],),
            )
        ]
        page, following = _page(names, params)
        out: dict[str, Any] = {"CidrLocations": [{"LocationName": n} for n in page]}
        if following:
            out["NextToken"] = following
        return out

    def list_cidr_blocks(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._collection(ctx, params["CollectionId"])
        sql = "SELECT location, cidr FROM r53_cidr_blocks WHERE collection_id = ?"
        args: list[str] = [row["id"]]
        if params.get("LocationName"):
            sql, args = sql + " AND location = ?", [*args, params["LocationName"]]
            if not self.model.store.query(sql, args):
                raise errors.NoSuchCidrLocationException(
                    f"The location {params['LocationName']} does not exist in the collection."
                )
        blocks = self.model.store.query(sql + " ORDER BY location, cidr", args)
        page, following = _page(list(blocks), params)
        out: dict[str, Any] = {
            "CidrBlocks": [{"CidrBlock": b["cidr"], "LocationName": b["location"]} for b in page]
        }
        if following:
            out["NextToken"] = following
        return out

    def delete_cidr_collection(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self._collection(ctx, params["Id"])
        store = self.model.store
        if store.scalar(
            "SELECT count(*) FROM r53_cidr_blocks WHERE collection_id = ?", (row["id"],)
        ):
            raise errors.CidrCollectionInUseException(
                "This CIDR collection is in use, and isn't empty."
            )
        store.execute("DELETE FROM r53_cidr_collections WHERE id = ?", (row["id"],))
        return {}
