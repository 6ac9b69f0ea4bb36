"""Load balancer listeners: the data plane of Elastic Load Balancing.

The elbv2 provider (``nubes/services/elbv2``) keeps the records and drives this runtime:

- ``plane = Plane(env, load)`` where ``load()`` returns a :class:`config.Snapshot` of the
  records; ``plane.changed()`` after any change (the snapshot is rebuilt on next use and the
  listeners' ports are rebound); ``await plane.start()`` / ``await plane.stop()`` with the
  provider.
- ``env.gateway.interceptors.append(plane.intercept)``: requests to nubes' port whose ``Host``
  is a load balancer's DNS name (``Host: <DNSName>`` for the port-80 listener,
  ``Host: <DNSName>:<port>`` for another) are served by that listener.
- Each HTTP/TCP listener is also bound at the load balancer's own loopback address and port,
  where the OS allows it (the DNS name resolves to that address through ``env.names``).
- ``await plane.probe(group, target)`` runs one health check and returns an
  :class:`config.Outcome`; the provider applies thresholds and intervals on the one clock.
- ``plane.in_flight(group_arn, target_id, port)``: requests a target is serving (a draining
  target with none left is deregistered at once, as AWS documents).
- ``plane.collect`` is a metrics collector (HealthyHostCount, UnHealthyHostCount,
  RequestCountPerTarget); per-request metrics are recorded as requests are served.

Instance targets are reached inside their own networks through the EC2 provider's instance
runtime (``InstanceRuntime.open_port``), with the load balancer's interface address as the
source their security groups judge.
"""

from nubes.runtime.proxy import config
from nubes.runtime.proxy.plane import Plane

__all__ = ["Plane", "config"]
