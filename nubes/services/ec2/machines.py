"""What makes instances real: the instance runtime (``nubes/runtime/instances``) boots and
halts a process tree per instance, and asks back through :class:`Host` for the instance's
record (IMDS), user data, role credentials and security-group decisions. Where no runtime can
run, instances stay records whose states still move as AWS's do.

State changes are finished once the runtime reports the boot or halt done (a callback on the
event loop, in a transaction of its own) and each one goes to EventBridge as an
``EC2 Instance State-change Notification``."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import os
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nubes.core import arns, clock
from nubes.core.context import RequestContext
from nubes.core.events import Event
from nubes.services.ec2 import instance_types
from nubes.services.ec2.filters import Filters
from nubes.services.ec2.instances import InstanceMixin
from nubes.services.ec2.model import Record, Scope
from nubes.services.ec2.network_acls import acl_allows
from nubes.services.ec2.security_groups import rule_allows

if TYPE_CHECKING:
    from nubes.runtime.instances.runtime import InstanceRuntime
    from nubes.runtime.instances.spec import InstanceSpec

log = logging.getLogger("nubes.ec2")

EPHEMERAL_PORT = 49152
"""A client port the answer to a connection goes back to (network ACLs are stateless)."""
AUTO_RECOVERY_AFTER = 300.0
"""How long a host failure lasts before automatic recovery moves the instance (AWS acts
within minutes; an alarm with the recover action usually comes first)."""

STATUS_FILTERS = Filters(
    {
        "availability-zone": "AvailabilityZone",
        "instance-state-code": "InstanceState.Code",
        "instance-state-name": "InstanceState.Name",
        "instance-status.reachability": "InstanceStatus.Details.Status",
        "instance-status.status": "InstanceStatus.Status",
        "system-status.reachability": "SystemStatus.Details.Status",
        "system-status.status": "SystemStatus.Status",
        "event.code": "Events.Code",
    },
    tags=False,
)
_CHECK = {
    "ok": "passed",
    "impaired": "failed",
    "initializing": "initializing",
    "insufficient-data": "insufficient-data",
}


class Host:
    """The provider's side of the runtime contract (``InstanceHost``)."""

    def __init__(self, provider: MachineMixin) -> None:
        self.provider = provider

    def _record(self, instance_id: str) -> tuple[Scope, Record] | None:
        scope = self.provider.res.locate("i", instance_id)
        if scope is None:
            return None
        record = self.provider.res.get(scope, "i", instance_id)
        return (scope, record) if record is not None else None

    def describe(self, instance_id: str) -> dict[str, Any] | None:
        found = self._record(instance_id)
        if found is None:
            return None
        scope, record = found
        doc = self.provider.instance_docs(scope, [record])[0]
        return {k: v for k, v in doc.items() if not k.startswith("_")}

    def user_data(self, instance_id: str) -> bytes:
        found = self._record(instance_id)
        return base64.b64decode(found[1].meta["user_data"]) if found else b""

    def role_credentials(self, instance_id: str) -> dict[str, Any] | None:
        found = self._record(instance_id)
        if found is None or not found[1].meta.get("profile"):
            return None
        scope, record = found
        invoke = self.provider.env.providers.invoke
        try:
            profile = invoke(
                "iam",
                "GetInstanceProfile",
                {"InstanceProfileName": record.meta["profile"]},
                scope.account,
                scope.region,
            )["InstanceProfile"]
            roles = profile.get("Roles") or []
            if not roles:
                return None
            role = roles[0]
            creds = invoke(
                "sts",
                "AssumeRole",
                {"RoleArn": role["Arn"], "RoleSessionName": instance_id, "DurationSeconds": 3600},
                scope.account,
                scope.region,
            )["Credentials"]
        except Exception:
            log.exception("%s: no credentials for its instance profile", instance_id)
            return None
        return {
            "RoleName": role["RoleName"],
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "Token": creds["SessionToken"],
            "Expiration": creds["Expiration"],
        }

    def ingress_allowed(self, instance_id: str, protocol: str, port: int, source_ip: str) -> bool:
        found = self._record(instance_id)
        if found is None:
            return False
        scope, record = found
        return self.provider.ingress_allowed(scope, record, protocol, port, source_ip)

    def exited(self, instance_id: str, reason: str) -> None:
        found = self._record(instance_id)
        if found is None:
            return
        scope = found[0]
        with self.provider.store.transaction():
            record = self.provider.res.get(scope, "i", instance_id)
            if record is not None:
                self.provider.shut_down_from_inside(scope, record)


class MachineMixin(InstanceMixin):
    runtime: InstanceRuntime | None = None

    # -- server life --------------------------------------------------------------------

    @classmethod
    def wants_start(cls, env: Any) -> bool:
        rows = env.state.store.query(
            "SELECT 1 FROM ec2_resources WHERE kind = 'i' AND json_extract(doc, '$.State.Name') "
            "IN ('pending', 'running', 'stopping', 'shutting-down') LIMIT 1"
        )
        return bool(rows)

    async def start(self) -> None:
        if os.environ.get("NUBES_EC2_RUNTIME", "").lower() in ("off", "records"):
            # Instances as records only, their states moving as AWS's do (benchmarks, hosts
            # that must not start processes).
            self.runtime = None
        else:
            from nubes.runtime.instances.runtime import InstanceRuntime

            settings = self.env.settings
            runtime = InstanceRuntime(
                Host(self),
                api_port=settings.port,
                api_host=settings.host,
                metrics=self.env.metrics,
                hide=[str(settings.data_dir), str(self.blobs.root)],
                vpc_resolver=self._vpc_resolver,
            )
            try:
                await runtime.start()
                self.runtime = runtime
            except Exception:
                log.exception("the instance runtime did not start: instances are records only")
                self.runtime = None
        self.env.scheduler.every("ec2-instances", 60.0, self._minutely)
        with self.store.transaction():
            self._resume()

    def _vpc_resolver(self) -> Callable[[bytes, str, str], bytes] | None:
        """Route 53's answer to a DNS query inside a VPC (private hosted zones included): the
        instances' resolver at 169.254.169.253."""
        try:
            route53 = self.env.providers.get("route53")
        except KeyError:
            return None
        resolver = getattr(route53, "resolver_for_vpc", None)
        return resolver() if resolver is not None else None

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()

    def reset(self) -> None:
        super().reset()
        if self.runtime is not None:
            self.runtime.halt_all()

    def _resume(self) -> None:
        """After a restart: instances that were running boot again; half-done stops and
        terminations finish."""
        states = ("pending", "running", "stopping", "shutting-down")
        for scope, record in self.res.in_states("i", states):
            state = record.doc["State"]["Name"]
            if state == "stopping":
                self.finish_stop(scope, record)
            elif state == "shutting-down":
                self._terminated(scope, record)
            elif self.runtime is not None:
                self._boot(scope, record)
            elif state == "pending":
                self.set_state(scope, record, "running")

    def _minutely(self) -> None:
        """Forget terminated instances after their hour; recover instances whose host failed
        long ago and whose AutoRecovery is on."""
        for scope in self.res.known_scopes():
            self.forget_terminated(scope, self.res.all(scope, "i"))
        if self.runtime is None:
            return
        for fault in self.runtime.faults():
            if fault.fault != "ec2:host-failure" or clock.now() - fault.since < (
                AUTO_RECOVERY_AFTER
            ):
                continue
            where = self.res.locate("i", fault.instance_id)
            record = self.res.get(where, "i", fault.instance_id) if where else None
            if where is None or record is None:
                continue
            if record.doc["MaintenanceOptions"].get("AutoRecovery", "default") == "default":
                log.info("%s: automatic recovery after a host failure", record.id)
                self._reboot(where, record.id)

    # -- scheduling ---------------------------------------------------------------------

    def _later(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` in a transaction of its own once the current request is done."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            fn()
            return
        loop.call_soon(self._in_transaction, fn)

    def _in_transaction(self, fn: Callable[[], object]) -> None:
        try:
            with self.store.transaction():
                fn()
        except Exception:
            log.exception("EC2 instance state change failed")

    def schedule_launch(self, scope: Scope, instance_id: str) -> None:
        self._later(lambda: self._launch(scope, instance_id))

    def schedule_halt(self, scope: Scope, instance_id: str, then: str) -> None:
        self._later(lambda: self._halt(scope, instance_id, then))

    def schedule_reboot(self, scope: Scope, instance_id: str) -> None:
        self._later(lambda: self._reboot(scope, instance_id))

    # -- transitions --------------------------------------------------------------------

    def spec(self, scope: Scope, record: Record) -> InstanceSpec:
        from nubes.runtime.instances.spec import InstanceSpec

        doc = record.doc
        volumes = {
            m["DeviceName"]: str(self.data_dir("volumes", m["Ebs"]["VolumeId"]))
            for m in doc["BlockDeviceMappings"]
            if m["DeviceName"] != doc["RootDeviceName"]
        }
        work_dir = self.data_dir("instances", record.id)
        work_dir.mkdir(parents=True, exist_ok=True)
        return InstanceSpec(
            instance_id=record.id,
            account_id=scope.account,
            region=scope.region,
            private_ip=doc["PrivateIpAddress"],
            public_ip=doc.get("PublicIpAddress"),
            user_data=base64.b64decode(record.meta["user_data"]),
            volumes=volumes,
            work_dir=str(work_dir),
            vcpus=instance_types.vcpus(doc["InstanceType"]),
            hostname=doc["PrivateDnsName"],
        )

    def _launch(self, scope: Scope, instance_id: str) -> None:
        record = self.res.get(scope, "i", instance_id)
        if record is None or record.doc["State"]["Name"] != "pending":
            return
        if self.runtime is None:
            self.set_state(scope, record, "running")
            return
        self._boot(scope, record)

    def _boot(self, scope: Scope, record: Record) -> None:
        assert self.runtime is not None
        instance_id = record.id
        try:
            done = self.runtime.boot(self.spec(scope, record))
        except Exception as exc:
            self._boot_failed(scope, instance_id, exc)
            return

        def booted(future: asyncio.Future[None]) -> None:
            failure = future.exception() if not future.cancelled() else None
            if failure is not None:
                self._in_transaction(lambda: self._boot_failed(scope, instance_id, failure))
            else:
                self._in_transaction(lambda: self._running(scope, instance_id))

        done.add_done_callback(booted)

    def _running(self, scope: Scope, instance_id: str) -> None:
        record = self.res.get(scope, "i", instance_id)
        if record is not None and record.doc["State"]["Name"] == "pending":
            self.set_state(scope, record, "running")

    def _boot_failed(self, scope: Scope, instance_id: str, failure: BaseException) -> None:
        log.warning("%s did not boot: %s", instance_id, failure)
        record = self.res.get(scope, "i", instance_id)
        if record is None or record.doc["State"]["Name"] not in ("pending", "running"):
            return
        self.set_state(
            scope,
            record,
            "stopping",
            (
                "Server.InternalError",
                f"Server.InternalError: the instance failed to boot ({failure})",
            ),
        )
        self.finish_stop(scope, record)

    def _halt(self, scope: Scope, instance_id: str, then: str) -> None:
        if self.runtime is None:
            self._halted(scope, instance_id, then)
            return
        done = self.runtime.halt(instance_id)
        done.add_done_callback(
            lambda _: self._in_transaction(lambda: self._halted(scope, instance_id, then))
        )

    def _halted(self, scope: Scope, instance_id: str, then: str) -> None:
        record = self.res.get(scope, "i", instance_id)
        if record is None:
            return
        state = record.doc["State"]["Name"]
        if then == "stopped" and state == "stopping":
            self.finish_stop(scope, record)
        elif then == "terminated" and state == "shutting-down":
            self._terminated(scope, record)

    def _terminated(self, scope: Scope, record: Record) -> None:
        self.finish_termination(scope, record)
        shutil.rmtree(self.data_dir("instances", record.id), ignore_errors=True)

    def _reboot(self, scope: Scope, instance_id: str) -> None:
        """Reboot and recovery alike: the same spec boots again once the old tree is gone."""
        if self.runtime is None:
            return
        runtime = self.runtime

        def again() -> None:
            record = self.res.get(scope, "i", instance_id)
            if record is not None and record.doc["State"]["Name"] == "running":
                self._boot(scope, record)

        runtime.halt(instance_id).add_done_callback(lambda _: self._in_transaction(again))

    def shut_down_from_inside(self, scope: Scope, record: Record) -> None:
        """``shutdown`` ran inside: stop or terminate as InstanceInitiatedShutdownBehavior says."""
        if record.doc["State"]["Name"] not in ("pending", "running"):
            return
        reason = (
            "Client.InstanceInitiatedShutdown",
            "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
        )
        if record.meta["shutdown_behavior"] == "terminate":
            self.begin_termination(scope, record, reason, "")
        else:
            self.set_state(scope, record, "stopping", reason, "")
            self.schedule_halt(scope, record.id, "stopped")

    def emit_state(self, scope: Scope, instance: Record) -> None:
        arn = arns.arn("ec2", scope.region, scope.account, f"instance/{instance.id}")
        self.env.events.emit(
            Event(
                account_id=scope.account,
                region=scope.region,
                source="aws.ec2",
                detail_type="EC2 Instance State-change Notification",
                detail={"instance-id": instance.id, "state": instance.doc["State"]["Name"]},
                resources=(arn,),
            )
        )

    def public_address_changed(self, scope: Scope, instance: Record) -> None:
        """A running instance's public address moved (an Elastic IP came or went): the
        runtime forwards its ports from the new address."""
        if self.runtime is not None:
            self.runtime.readdress(instance.id, instance.doc.get("PublicIpAddress"))

    def attach_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """A volume attached to a running instance appears inside it at once."""
        out = super().attach_volume(ctx, params)
        runtime = self.runtime
        if runtime is not None:
            path = str(self.data_dir("volumes", out["VolumeId"]))
            self._later(lambda: runtime.attach(out["InstanceId"], out["Device"], path))
        return out

    def detach_volume(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        out = super().detach_volume(ctx, params)
        runtime = self.runtime
        if runtime is not None:
            self._later(lambda: runtime.detach(out["InstanceId"], out["Device"]))
        return out

    # -- what other services and the internal endpoints call ----------------------------

    def recover_instance(self, account_id: str, region: str, instance_id: str) -> None:
        """CloudWatch's ``recover`` alarm action: the instance comes back on a new host with
        the same id, addresses, volumes and metadata (its processes boot again)."""
        scope = self.scope_of(account_id, region)
        record = self.find(scope, "i", instance_id)
        if record.doc["State"]["Name"] != "running":
            return
        log.info("%s: recovering on a new host", instance_id)
        self.schedule_reboot(scope, instance_id)

    def inject_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.runtime is None:
            raise KeyError(body.get("instance_id", ""))
        fault = self.runtime.inject_fault(body.get("instance_id", ""), body.get("fault", ""))
        return fault.to_dict()

    def active_faults(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.runtime.faults()] if self.runtime else []

    def ingress_allowed(
        self, scope: Scope, record: Record, protocol: str, port: int, source_ip: str
    ) -> bool:
        """Whether a connection from ``source_ip`` gets in: the instance's security groups
        (stateful: the answer needs no rule) and its subnet's network ACL (stateless: inbound
        to the port and outbound to the client's ephemeral port); from another instance of
        the VPC, also that one's egress rules and its own subnet's ACL."""
        if record.doc["State"]["Name"] != "running":
            return False
        try:
            source = ipaddress.ip_address(source_ip)
        except ValueError:
            return False
        if not self._acl_passes(scope, record.doc.get("SubnetId"), protocol, port, source_ip,
                                inbound=True):  # fmt: skip
            return False
        peers = self._peers(scope, record.doc.get("VpcId"))
        sender = peers.get(source_ip)
        if sender is not None:
            target_ip = record.doc["PrivateIpAddress"]
            if not self._acl_passes(scope, sender[0], protocol, port, target_ip, inbound=False):
                return False
            target_groups = {g["GroupId"] for g in record.doc["SecurityGroups"]}
            if not self._rules_allow(
                scope,
                sender[1],
                True,
                protocol,
                port,
                ipaddress.ip_address(target_ip),
                target_groups,
            ):
                return False  # fmt: skip
        sender_groups = sender[1] if sender is not None else set()
        groups = {g["GroupId"] for g in record.doc["SecurityGroups"]}
        return self._rules_allow(scope, groups, False, protocol, port, source, sender_groups)

    def _acl_passes(
        self, scope: Scope, subnet_id: str | None, protocol: str, port: int, peer: str,
        inbound: bool,
    ) -> bool:  # fmt: skip
        acl = self.acl_of_subnet(scope, subnet_id or "")
        if acl is None:
            return True
        if inbound:
            return acl_allows(acl.doc, False, protocol, port, peer) and acl_allows(
                acl.doc, True, protocol, EPHEMERAL_PORT, peer
            )
        return acl_allows(acl.doc, True, protocol, port, peer) and acl_allows(
            acl.doc, False, protocol, EPHEMERAL_PORT, peer
        )

    def _rules_allow(
        self,
        scope: Scope,
        groups: set[str],
        egress: bool,
        protocol: str,
        port: int,
        peer: ipaddress.IPv4Address | ipaddress.IPv6Address,
        peer_groups: set[str],
    ) -> bool:
        for gid in groups:
            group = self.res.get(scope, "sg", gid)
            if group is None:
                continue
            for rule in group.meta["rules"]:
                if rule["IsEgress"] != egress or not rule_allows(rule, protocol, port):
                    continue
                cidr = rule.get("CidrIpv4") or rule.get("CidrIpv6")
                if cidr and peer in ipaddress.ip_network(cidr, strict=False):
                    return True
                if (rule.get("ReferencedGroupInfo") or {}).get("GroupId") in peer_groups:
                    return True
        return False

    def _peers(self, scope: Scope, vpc_id: str | None) -> dict[str, tuple[str, set[str]]]:
        """Private address -> (subnet, security groups) of the VPC's interfaces."""
        out: dict[str, tuple[str, set[str]]] = {}
        for eni in self.res.all(scope, "eni", shared=True):
            if eni.doc["VpcId"] == vpc_id:
                out[eni.doc["PrivateIpAddress"]] = (
                    eni.doc["SubnetId"],
                    {g["GroupId"] for g in eni.doc["Groups"]},
                )
        return out

    # -- status and console -------------------------------------------------------------

    def _status(self, record: Record) -> tuple[str, str]:
        if record.doc["State"]["Name"] != "running":
            return ("not-applicable", "not-applicable")
        if self.runtime is None:
            return ("ok", "ok")
        return self.runtime.status(record.id)

    def describe_instance_status(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        scope = self.scope(ctx)
        everyone = bool(params.get("IncludeAllInstances"))
        ids = params.get("InstanceIds") or []
        records = (
            [self.find(scope, "i", i) for i in dict.fromkeys(ids)]
            if ids
            else self.res.all(scope, "i")
        )

        def render(_: Scope, found: list[Record]) -> list[dict[str, Any]]:
            docs = []
            for record in found:
                running = record.doc["State"]["Name"] == "running"
                if not running and not everyone:
                    continue
                system, instance = self._status(record)
                docs.append(
                    {
                        "InstanceId": record.id,
                        "AvailabilityZone": record.doc["Placement"]["AvailabilityZone"],
                        "InstanceState": record.doc["State"],
                        "SystemStatus": _summary(system),
                        "InstanceStatus": _summary(instance),
                        "Events": [],
                    }
                )
            return docs

        docs, token = self.describe_kind(
            scope, "i", params, STATUS_FILTERS, "InstanceIds", records, render=render
        )
        return {"InstanceStatuses": docs, **({"NextToken": token} if token else {})}

    def get_console_output(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self.find(scope, "i", params["InstanceId"])
        self.dry_run(params)
        output = self.runtime.console_output(record.id) if self.runtime else b""
        out: dict[str, Any] = {"InstanceId": record.id, "Timestamp": clock.now()}
        if output:
            out["Output"] = base64.b64encode(output).decode()
        return out

    def get_password_data(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        scope = self.scope(ctx)
        record = self.find(scope, "i", params["InstanceId"])
        self.dry_run(params)
        return {"InstanceId": record.id, "PasswordData": "", "Timestamp": clock.now()}


def _summary(status: str) -> dict[str, Any]:
    if status == "not-applicable":
        return {"Status": "not-applicable"}
    return {
        "Status": status,
        "Details": [{"Name": "reachability", "Status": _CHECK.get(status, status)}],
    }
