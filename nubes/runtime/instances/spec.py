"""What the EC2 provider and the instance runtime say to each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class InstanceSpec:
    """Everything a boot needs; the same spec boots the instance again after a stop/start,
    reboot or recovery (same id, addresses, volumes and their data)."""

    instance_id: str
    account_id: str
    region: str
    private_ip: str
    public_ip: str | None
    """A loopback address (127.x.y.z) the provider allocates per instance (its public IP or
    Elastic IP); the runtime forwards the ports its security groups allow from it."""
    user_data: bytes
    """Decoded (not base64). Run at every boot as cloud-init runs ``#!`` scripts."""
    volumes: dict[str, str]
    """Device name (``/dev/sdf``) -> host directory holding the EBS volume's data; inside the
    instance it is ``/mnt/sdf``."""
    work_dir: str
    """Host directory for the instance's private runtime files; keep it across stop/start (it
    holds the instance's own writes to /etc, /var, /usr, /home, /root ...), delete it when the
    instance is terminated."""
    vcpus: int = 2
    """The instance type's vCPUs: CPUUtilization is the tree's CPU time against them."""
    hostname: str = ""
    """The private DNS name (``ip-10-0-1-5.ec2.internal``); derived from the IP when empty."""


class InstanceHost(Protocol):
    """Implemented by the EC2 provider; the runtime calls it (on the event loop thread,
    outside any request's transaction: open one if the store needs it)."""

    def describe(self, instance_id: str) -> dict[str, Any] | None:
        """The ``Instance`` dict DescribeInstances returns for it (None once it is gone).
        IMDS builds its tree from it (ImageId, InstanceType, Placement, PrivateIpAddress,
        PublicIpAddress, NetworkInterfaces[0] with MacAddress, SubnetId, VpcId, Groups,
        SecurityGroups, Tags, IamInstanceProfile, MetadataOptions, Monitoring, LaunchTime);
        the metrics collector reads Monitoring.State and the aws:autoscaling:groupName tag."""
        ...

    def user_data(self, instance_id: str) -> bytes:
        """The current user data, decoded (``/latest/user-data``)."""
        ...

    def role_credentials(self, instance_id: str) -> dict[str, Any] | None:
        """Temporary credentials of the instance profile's role that nubes accepts, or None
        without a profile: ``RoleName``, ``AccessKeyId``, ``SecretAccessKey``, ``Token``,
        ``Expiration`` (epoch seconds on the one clock, or a datetime). The runtime caches them
        and asks again when less than 15 minutes are left, so return fresh ones each call."""
        ...

    def ingress_allowed(self, instance_id: str, protocol: str, port: int, source_ip: str) -> bool:
        """Whether the instance's security groups let a connection in (``protocol`` "tcp");
        asked per connection, so a rule added or revoked applies to the next one."""
        ...

    def exited(self, instance_id: str, reason: str) -> None:
        """The process tree ended on its own. ``reason`` is ``"shutdown"`` when something inside
        ran ``shutdown``/``poweroff``/``halt`` (apply InstanceInitiatedShutdownBehavior).
        A ``reboot`` inside is handled by the runtime itself (halt + boot, no call here);
        faults never call this (the provider reads ``status()``/``faults()``)."""
        ...


@dataclass
class Fault:
    instance_id: str
    fault: str
    """``ec2:host-failure`` or ``ec2:instance-crash``."""
    since: float
    """When it was injected, on the one clock."""

    def to_dict(self) -> dict[str, Any]:
        return {"fault": self.fault, "instance_id": self.instance_id, "since": self.since}


FAULTS = ("ec2:host-failure", "ec2:instance-crash")
