"""EC2 instances as real process trees (the runtime the EC2 provider drives).

The EC2 provider (``nubes/services/ec2``) keeps the records (state, addresses, volumes, security
groups) and calls this runtime to make an instance run:

- ``runtime = InstanceRuntime(host, api_port=env.settings.port, metrics=env.metrics,
  hide=[str(env.settings.data_dir)], vpc_resolver=lambda: <Route 53 provider>
  .resolver_for_vpc())`` in the provider's ``start()`` (``vpc_resolver`` gives instances DNS
  at 169.254.169.253 with the VPC's private hosted zones), then
  ``await runtime.start()`` and ``runtime.boot(spec)`` for every instance whose record says
  running (their processes ended with the previous server). ``await runtime.stop()`` in the
  provider's ``stop()`` ends every instance process.
- ``runtime.boot(spec)`` and ``runtime.halt(instance_id)`` act at once (callable from a sync
  operation inside its transaction) and return an awaitable that completes when the agent is up
  and the user data started (boot) or the last process is gone (halt): ``await`` it or ignore
  it. Stop/terminate = ``halt``; reboot and recovery = ``halt`` then ``boot`` with the same spec
  (same id, private IP, public IP/EIP, volumes and their data).
- ``running(id)``, ``console_output(id)`` (last 64 KB, also after a halt), ``status(id)`` ->
  (system, instance) status: ``initializing`` until the agent is up, ``ok``; after
  ``ec2:host-failure`` ("impaired", "insufficient-data") and after ``ec2:instance-crash`` (or
  processes that ended unexpectedly) ("ok", "impaired"), until the next ``boot``;
  "not-applicable" when not running here. Automatic recovery is the provider's call: e.g. a
  minute task that recovers running instances whose system status is "impaired".
- Faults: give the provider ``inject_fault(self, body: dict) -> dict`` and
  ``active_faults(self) -> list[dict]`` (``/_nubes/faults`` calls them, see
  nubes/gateway/internal.py), e.g. ``return self.runtime.inject_fault(body.get("instance_id",
  ""), body.get("fault", "")).to_dict()`` (it raises ValueError for an unknown fault ->
  400, KeyError for an instance not running -> 404) and
  ``[f.to_dict() for f in self.runtime.faults()]``.
- ``readdress(id, public_ip)`` when an Elastic IP moves (forwarding follows, no reboot);
  ``attach(id, device, host_dir)`` / ``detach(id, device)`` when AttachVolume/DetachVolume
  change a running instance (it appears at /mnt/<device> at once; the host dir must be under
  a ``hide`` directory, as the blob store's volumes are);
  ``halt_all()`` for ``reset()``; metrics: pass ``metrics=env.metrics`` and the runtime
  registers its collector (AWS/EC2 per instance, reading Monitoring and tags from ``describe``).
- Everything is called on the event loop thread (provider operations and scheduler tasks are).
- ``host`` is the provider side (``InstanceHost``): the runtime asks it, when needed, for the
  DescribeInstances record (IMDS; its VpcId groups instances that reach each other at their
  private IPs), the user data, the role credentials and whether a security group lets a
  connection in (from the host: source 127.0.0.1; from another instance of the VPC: its
  private IP), so changes to the records apply without a reboot.

Per instance the runtime keeps its private files in ``spec.work_dir`` (``console.log``, Unix
sockets, the copy-on-write layers of the instance's own /etc, /var, /usr, /home, /root).
"""

from __future__ import annotations

from nubes.runtime.instances.runtime import InstanceRuntime
from nubes.runtime.instances.spec import FAULTS, Fault, InstanceHost, InstanceSpec

__all__ = ["FAULTS", "Fault", "InstanceHost", "InstanceRuntime", "InstanceSpec"]
