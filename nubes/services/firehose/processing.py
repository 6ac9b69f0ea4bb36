"""Firehose's record processors that need no other service (Lambda is the provider's):
gzip decompression, CloudWatch Logs message extraction, metadata extraction for dynamic
partitioning, and grouping by partition keys. Each takes and returns (record, data) pairs and
reports failed records as (record, error code, message, Lambda ARN)."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from nubes.services.firehose import prefixes
from nubes.services.firehose.models import Buffered

Output = tuple[Buffered, bytes]
Failure = tuple[Buffered, str, str, str]

_QUERY_PAIR = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\s*"
)


def decompress(
    outputs: list[Output],
) -> tuple[list[Output], list[Failure]]:
    kept, failed = [], []
    for record, data in outputs:
        try:
            kept.append((record, gzip.decompress(data)))
        except (OSError, EOFError) as err:
            failed.append((record, "Decompression.Failed", str(err), ""))
    return kept, failed


def log_messages(outputs: list[Output]) -> list[Output]:
    """CloudWatch Logs' subscription documents as the messages of their log events, each a
    record of its own (so a delimiter follows each); control messages (and records that are
    not such documents) are dropped."""
    kept = []
    for record, data in outputs:
        try:
            document = json.loads(data)
            if document.get("messageType") != "DATA_MESSAGE":
                continue
            messages = [str(event["message"]).encode() for event in document["logEvents"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        kept += [(record, message) for message in messages]
    return kept


def extraction_paths(query: str) -> list[tuple[str, list[str]]] | None:
    """A MetadataExtractionQuery of the JQ form ``{name: .a.b, ...}`` as (name, path) pairs
    (None for any other JQ)."""
    text = query.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    pairs = []
    for part in text[1:-1].split(","):
        match = _QUERY_PAIR.fullmatch(part)
        if match is None:
            return None
        pairs.append((match.group(1), match.group(2)[1:].split(".")))
    return pairs


def extract(
    outputs: list[Output], query: str, keys: dict[int, dict[str, str]]
) -> tuple[list[Output], list[Failure]]:
    """The partitioning keys of JSON records, found by the query's paths."""
    paths = extraction_paths(query) or []
    kept, failed = [], []
    for record, data in outputs:
        try:
            document = json.loads(data)
            found = {}
            for name, path in paths:
                value = document
                for step in path:
                    value = value[step]
                if isinstance(value, dict | list) or value is None:
                    raise TypeError(name)
                found[f"partitionKeyFromQuery:{name}"] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        except (ValueError, KeyError, TypeError):
            failed.append(
                (
                    record,
                    "DynamicPartitioning.MetadataExtractionFailed",
                    "Non JSON record provided or the query found no value",
                    "",
                )
            )
            continue
        keys.setdefault(record.seq, {}).update(found)
        kept.append((record, data))
    return kept, failed


def partitions(
    dest: dict[str, Any], outputs: list[Output], keys: dict[int, dict[str, str]]
) -> tuple[
    dict[tuple[tuple[str, str], ...], list[Output]],
    list[Failure],
]:
    """The records grouped by the partitioning keys the prefix uses (one group without
    dynamic partitioning); records missing a key fail."""
    dynamic = (dest.get("DynamicPartitioningConfiguration") or {}).get("Enabled")
    wanted = [f"{ns}:{name}" for ns, name in prefixes.partition_keys(dest.get("Prefix") or "")]
    groups: dict[tuple[tuple[str, str], ...], list[Output]] = {}
    failed = []
    for record, data in outputs:
        found = keys.get(record.seq, {})
        if dynamic and any(k not in found for k in wanted):
            failed.append(
                (
                    record,
                    "DynamicPartitioning.MissingPartitionKey",
                    "The record has no value for a partitioning key of the prefix.",
                    "",
                )
            )
            continue
        group = tuple((k, found[k]) for k in wanted) if dynamic else ()
        groups.setdefault(group, []).append((record, data))
    return groups, failed
