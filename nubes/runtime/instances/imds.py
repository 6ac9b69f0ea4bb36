"""The instance metadata service (IMDSv1 and v2) an instance reaches at 169.254.169.254.

The runtime serves it on a Unix socket per instance (the agent relays the instance's
connections to it), so who asks is known from the socket, never from anything the instance
says. The tree is built per request from the provider's DescribeInstances record: tags, security
groups and metadata options changed through the API show at once.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from nubes.core import clock
from nubes.core.arns import partition_of
from nubes.runtime.instances.spec import InstanceHost, InstanceSpec

TOKEN_PATH = "/latest/api/token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
MAX_TTL = 21600
REFRESH_BEFORE = 15 * 60
"""Credentials are asked for again this long before they expire (AWS makes new ones available
well before the old ones lapse)."""
VERSIONS = ("1.0", "2007-01-19", "2016-09-02", "2018-09-24", "2021-07-15", "latest")

Tree = dict[str, Any]


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


def _error(status: int, reason: str) -> Response:
    title = f"{status} - {reason}"
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        f" <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n"
        " </body>\n</html>\n"
    )
    return Response(status, body.encode(), "text/html")


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class Imds:
    def __init__(self, host: InstanceHost) -> None:
        self.host = host
        self._tokens: dict[str, tuple[str, float]] = {}
        self._credentials: dict[str, dict[str, Any]] = {}

    def forget(self, instance_id: str) -> None:
        self._credentials.pop(instance_id, None)
        self._tokens = {t: v for t, v in self._tokens.items() if v[0] != instance_id}

    # -- requests ---------------------------------------------------------------------------

    def respond(
        self, spec: InstanceSpec, method: str, target: str, headers: dict[str, str]
    ) -> Response:
        instance = self.host.describe(spec.instance_id)
        if instance is None:
            return _error(404, "Not Found")
        options = instance.get("MetadataOptions") or {}
        if options.get("HttpEndpoint") == "disabled":
            return _error(403, "Forbidden")
        path = target.split("?", 1)[0]
        if path == TOKEN_PATH:
            if method != "PUT":
                return _error(405, "Method Not Allowed")
            return self._token(spec.instance_id, headers)
        if method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed")
        token = headers.get(TOKEN_HEADER)
        if token is not None:
            held = self._tokens.get(token)
            if held is None or held[0] != spec.instance_id or held[1] <= clock.now():
                return _error(401, "Unauthorized")
        elif options.get("HttpTokens") == "required":
            return _error(401, "Unauthorized")
        return self._get(spec, instance, path)

    def _token(self, instance_id: str, headers: dict[str, str]) -> Response:
        # A PUT that went through a proxy is refused, as IMDSv2 refuses forwarded requests.
        if "x-forwarded-for" in headers:
            return _error(403, "Forbidden")
        raw = headers.get(TTL_HEADER, "")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_TTL:
            return _error(400, "Bad Request")
        now = clock.now()
        self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        token = secrets.token_urlsafe(42)
        self._tokens[token] = (instance_id, now + int(raw))
        return Response(200, token.encode(), headers=((TTL_HEADER, raw),))

    def _get(self, spec: InstanceSpec, instance: dict[str, Any], path: str) -> Response:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return Response(200, "\n".join(VERSIONS).encode())
        if parts[0] not in VERSIONS:
            return _error(404, "Not Found")
        root: Tree = {
            "meta-data": self.metadata(spec, instance),
            "dynamic": {"instance-identity": {"document": identity(spec, instance)}},
        }
        user_data = self.host.user_data(spec.instance_id)
        if user_data:
            root["user-data"] = user_data
        node: Any = root
        for part in parts[1:]:
            if not isinstance(node, dict) or part not in node:
                return _error(404, "Not Found")
            node = node[part]
        if isinstance(node, dict):
            listing = [f"{k}/" if isinstance(v, dict) else k for k, v in node.items()]
            return Response(200, "\n".join(listing).encode())
        if isinstance(node, bytes):
            return Response(200, node, "application/octet-stream")
        return Response(200, str(node).encode())

    # -- the tree ---------------------------------------------------------------------------

    def metadata(self, spec: InstanceSpec, instance: dict[str, Any]) -> Tree:
        interfaces = instance.get("NetworkInterfaces") or [{}]
        primary = interfaces[0]
        mac = primary.get("MacAddress", "02:00:00:00:00:00")
        groups = instance.get("SecurityGroups") or primary.get("Groups") or []
        placement = instance.get("Placement") or {}
        private_dns = instance.get("PrivateDnsName") or spec.hostname
        md: Tree = {
            "ami-id": instance.get("ImageId", ""),
            "ami-launch-index": str(instance.get("AmiLaunchIndex", 0)),
            "ami-manifest-path": "(unknown)",
            "block-device-mapping": self._devices(instance),
            "hostname": private_dns,
            "instance-action": "none",
            "instance-id": spec.instance_id,
            "instance-life-cycle": instance.get("InstanceLifecycle", "on-demand"),
            "instance-type": instance.get("InstanceType", ""),
            "local-hostname": private_dns,
            "local-ipv4": instance.get("PrivateIpAddress", spec.private_ip),
            "mac": mac,
            "network": {"interfaces": {"macs": {}}},
            "placement": {
                "availability-zone": placement.get("AvailabilityZone", ""),
                "region": spec.region,
            },
            "security-groups": "\n".join(g.get("GroupName", "") for g in groups),
            "services": {"domain": "amazonaws.com", "partition": partition_of(spec.region)},
        }
        if placement.get("GroupName"):
            md["placement"]["group-name"] = placement["GroupName"]
        if instance.get("PublicIpAddress"):
            md["public-ipv4"] = instance["PublicIpAddress"]
        if instance.get("PublicDnsName"):
            md["public-hostname"] = instance["PublicDnsName"]
        for index, interface in enumerate(interfaces):
            if interface.get("MacAddress"):
                md["network"]["interfaces"]["macs"][interface["MacAddress"]] = self._interface(
                    spec, instance, interface, index
                )
        if not md["network"]["interfaces"]["macs"]:
            md["network"]["interfaces"]["macs"][mac] = self._interface(spec, instance, {}, 0)
        iam = self._iam(spec, instance)
        if iam:
            md["iam"] = iam
        options = instance.get("MetadataOptions") or {}
        if options.get("InstanceMetadataTags") == "enabled":
            tags = {t["Key"]: t.get("Value", "") for t in instance.get("Tags") or []}
            md["tags"] = {"instance": tags}
        return md

    @staticmethod
    def _devices(instance: dict[str, Any]) -> Tree:
        root_device = instance.get("RootDeviceName", "/dev/xvda")
        devices: Tree = {"ami": root_device, "root": root_device}
        n = 0
        for mapping in instance.get("BlockDeviceMappings") or []:
            name = mapping.get("DeviceName", "")
            if name and name != root_device:
                n += 1
                devices[f"ebs{n}"] = name.removeprefix("/dev/")
        return devices

    @staticmethod
    def _interface(
        spec: InstanceSpec, instance: dict[str, Any], interface: dict[str, Any], index: int
    ) -> Tree:
        groups = interface.get("Groups") or instance.get("SecurityGroups") or []
        private_ip = interface.get("PrivateIpAddress") or instance.get("PrivateIpAddress", "")
        public_ip = (interface.get("Association") or {}).get("PublicIp")
        if index == 0 and not public_ip:
            public_ip = instance.get("PublicIpAddress")
        node: Tree = {
            "device-number": str((interface.get("Attachment") or {}).get("DeviceIndex", index)),
            "interface-id": interface.get("NetworkInterfaceId", ""),
            "local-hostname": interface.get("PrivateDnsName") or instance.get("PrivateDnsName", ""),
            "local-ipv4s": "\n".join(
                a["PrivateIpAddress"] for a in interface.get("PrivateIpAddresses") or []
            )
            or private_ip,
            "mac": interface.get("MacAddress", ""),
            "owner-id": interface.get("OwnerId", spec.account_id),
            "security-group-ids": "\n".join(g.get("GroupId", "") for g in groups),
            "security-groups": "\n".join(g.get("GroupName", "") for g in groups),
            "subnet-id": interface.get("SubnetId") or instance.get("SubnetId", ""),
            "vpc-id": interface.get("VpcId") or instance.get("VpcId", ""),
        }
        if public_ip:
            node["public-ipv4s"] = public_ip
            node["ipv4-associations"] = {public_ip: private_ip}
        return node

    def _iam(self, spec: InstanceSpec, instance: dict[str, Any]) -> Tree | None:
        profile = instance.get("IamInstanceProfile")
        if not profile:
            return None
        creds = self.credentials(spec.instance_id)
        if creds is None:
            return None
        updated = _iso(creds.get("LastUpdated", clock.now()))
        info = {
            "Code": "Success",
            "LastUpdated": updated,
            "InstanceProfileArn": profile.get("Arn", ""),
            "InstanceProfileId": profile.get("Id", ""),
        }
        document = {
            "Code": "Success",
            "LastUpdated": updated,
            "Type": "AWS-HMAC",
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds.get("Token") or creds.get("SessionToken", ""),
            "Expiration": _iso(creds["Expiration"]),
        }
        return {
            "info": json.dumps(info, indent=2),
            "security-credentials": {creds["RoleName"]: json.dumps(document, indent=2)},
        }

    def credentials(self, instance_id: str) -> dict[str, Any] | None:
        """The role's credentials, asked for again before they expire."""
        held = self._credentials.get(instance_id)
        if held is not None and _epoch(held["Expiration"]) - clock.now() > REFRESH_BEFORE:
            return held
        fresh = self.host.role_credentials(instance_id)
        if fresh is None:
            self._credentials.pop(instance_id, None)
            return None
        fresh = {**fresh, "LastUpdated": clock.now()}
        self._credentials[instance_id] = fresh
        return fresh


def identity(spec: InstanceSpec, instance: dict[str, Any]) -> str:
    document = {
        "accountId": spec.account_id,
        "architecture": instance.get("Architecture", "x86_64"),
        "availabilityZone": (instance.get("Placement") or {}).get("AvailabilityZone", ""),
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": instance.get("ImageId", ""),
        "instanceId": spec.instance_id,
        "instanceType": instance.get("InstanceType", ""),
        "kernelId": None,
        "pendingTime": _iso(instance.get("LaunchTime", clock.now())),
        "privateIp": instance.get("PrivateIpAddress", spec.private_ip),
        "ramdiskId": None,
        "region": spec.region,
        "version": "2017-09-30",
    }
    return json.dumps(document, indent=2)


Respond = Callable[[str, str, dict[str, str]], Response]


class Reader(Protocol):
    async def readline(self) -> bytes: ...

    async def readexactly(self, n: int) -> bytes: ...


async def serve_http(reader: Reader, writer: asyncio.StreamWriter, respond: Respond) -> None:
    """A small HTTP/1.1 server loop (keep-alive as SDKs use it) for one connection."""
    try:
        while True:
            line = await reader.readline()
            if not line.strip():
                break
            try:
                method, target, version = line.decode("latin-1").split()
            except ValueError:
                break
            headers: dict[str, str] = {}
            while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = headers.get("content-length", "0")
            if length.isdigit() and int(length):
                await reader.readexactly(int(length))
            resp = respond(method, target, headers)
            keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            head = [
                f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'OK')}",
                f"Content-Type: {resp.content_type}",
                f"Content-Length: {len(resp.body)}",
                "Server: EC2ws",
                f"Connection: {'keep-alive' if keep else 'close'}",
                *(f"{k}: {v}" for k, v in resp.headers),
            ]
            writer.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n")
            if method != "HEAD":
                writer.write(resp.body)
            await writer.drain()
            if not keep:
                break
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        writer.close()


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}
