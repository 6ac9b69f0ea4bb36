"""The agent: first process of an instance, run inside its namespaces (standard library only,
started as a script so that it imports nothing of nubes and starts fast).

It makes the namespaces look like a machine (loopback with the private IP; 169.254.169.254
and 169.254.169.253 behind a veth in a link namespace of their own; hostname; its own /tmp,
/run, /mnt/<device> volumes and copy-on-write /etc, /var, /usr, /opt, /srv, /home, /root; the
host's other mounts read-only), relays connections between the instance's network and Unix
sockets in its work directory (Unix sockets cross network namespaces), runs the user data as
cloud-init runs ``#!`` scripts, reaps orphans and shuts down as init does. When the agent ends,
the kernel ends every process of the PID namespace with it.

Events go to the runtime as JSON lines on the status pipe: ``ready``, ``ports`` (the TCP ports
listened on), ``user-data`` (exit status), ``shutdown`` and ``reboot`` (asked from inside with
the usual commands), ``failed`` (the machine could not be set up). Requests come on
``ctl.sock``: volumes attached or detached, the VPC's other instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gzip
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

MS_BIND = 4096
MS_REC = 16384
MS_NOSUID = 2
MS_NODEV = 4
OVERLAID = ("etc", "var", "usr", "opt", "srv", "home", "root")
"""Directories the instance sees copy-on-write: it writes its own /etc, /var, ... (kept in the
work directory across boots, as a root volume keeps them) and never the host's."""
SCRIPT = "/var/lib/cloud/instance/scripts/part-001"
KEPT = {"", "/usr", "/etc", "/var", "/home", "/root", "/tmp", "/opt", "/srv", "/run", "/mnt"}
"""Directories never hidden, whatever the work directory's parent is."""
CLONE_NEWNET = 0x40000000
SYS_MOUNT_SETATTR = 442
MNT_DETACH = 2
MOUNT_ATTR_RDONLY = 1
AT_EMPTY_PATH = 0x1000
AT_FDCWD = -100
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_DUMP = 0x301
"""NLM_F_REQUEST | NLM_F_DUMP."""
NLMSG_ERROR = 2
NLMSG_DONE = 3
SHUTDOWN_GRACE = 2.0
"""How long processes get between SIGTERM and the end of the machine (the runtime kills the
whole tree a second after that in any case)."""
PORTS_FAST = 0.05
PORTS_SLOW = 0.5
PORTS_FAST_FOR = 30.0
METADATA_IP = "169.254.169.254"
RESOLVER_IP = "169.254.169.253"
LINK_IP = "169.254.0.1"

_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    if (
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _host_mounts() -> list[int]:
    """Descriptors of the host's mounts (taken before the instance's own cover any), except
    the kernel's /proc, /sys and /dev."""
    fds = []
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in points:
        if "\\" in point or point.startswith(("/proc", "/sys", "/dev")):
            continue
        with contextlib.suppress(OSError):
            fds.append(os.open(point, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC))
    return fds


class _DnsRelay(asyncio.DatagramProtocol):
    def __init__(self, path: str) -> None:
        self.path = path
        self.transport: Any = None
        self.pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self.ask(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def ask(self, query: bytes, addr: tuple[str, int]) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(self.path)
            writer.write(len(query).to_bytes(2, "big") + query)
            size = int.from_bytes(await reader.readexactly(2), "big")
            answer = await reader.readexactly(size)
            writer.close()
        except (OSError, asyncio.IncompleteReadError):
            return
        if self.transport is not None:
            self.transport.sendto(answer, addr)


def listening_ports(private_ip: str) -> set[int]:
    """TCP ports listened on in this network namespace on all addresses or the private IP
    (loopback-only ones are not reachable from outside, as on a real host), asked of the
    kernel's socket diagnostics (only listening sockets are walked; /proc/net/tcp walks all)."""
    private = socket.inet_aton(private_ip)
    ports: set[int] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        # inet_diag_req_v2: family, protocol, extensions, pad, states (1 << TCP_LISTEN), id.
        request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << 10) + bytes(48)
        header = struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_DUMP, 1, 0)
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
            nl.sendto(header + request, (0, 0))
            done = False
            while not done:
                data = nl.recv(65536)
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind in (NLMSG_DONE, NLMSG_ERROR) or length < 16:
                        done = True
                        break
                    # inet_diag_msg: family, state, timer, retrans, then sport, dport, src...
                    message = offset + 16
                    port = struct.unpack_from(">H", data, message + 4)[0]
                    source = data[message + 8 : message + 24]
                    if family == socket.AF_INET:
                        if source[:4] in (bytes(4), private):
                            ports.add(port)
                    elif source == bytes(16):
                        ports.add(port)
                    offset += (length + 3) & ~3
    return ports


def _ip(commands: str) -> None:
    subprocess.run(["ip", "-batch", "-"], input=commands.encode(), check=True)


class Agent:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.isolated: bool = cfg["namespaces"]
        # In namespaces, every host path is reached through a descriptor opened now: the
        # mounts below hide /tmp (where the work directory often is) and ``hide``.
        self.wfd = os.open(cfg["work_dir"], os.O_PATH | os.O_DIRECTORY) if self.isolated else -1
        self.work = f"/proc/self/fd/{self.wfd}" if self.isolated else cfg["work_dir"]
        self.status_fd: int = cfg["status_fd"]
        self.death_fd: int = cfg["death_fd"]
        self.console = os.open(
            f"{self.work}/console.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )
        with open(f"{self.work}/user-data", "rb") as f:
            self.user_data = f.read()
        self.volume_fds = {
            dev: os.open(path, os.O_PATH | os.O_DIRECTORY)
            for dev, path in (cfg["volumes"].items() if self.isolated else ())
        }
        self.user_data_pid = 0
        self.stopping = False
        self.ending_task: asyncio.Future[None] | None = None
        self.host_mounts: list[int] = []
        self.hidden: dict[str, int] = {}
        self.link_sockets: list[socket.socket] = []
        self.link_ns = -1
        self.own_ns = -1
        self.peer_ips: set[str] = set()
        self.peer_servers: dict[tuple[str, int], asyncio.Server] = {}
        """Directories hidden from the instance, kept reachable for the agent alone (volumes
        attached later live in there)."""
        # The Python environment nubes runs from stays visible inside even when it lives under
        # /tmp on the host (a venv in a checkout there), which the instance's own /tmp hides.
        self.kept_in_tmp = {
            path: os.open(path, os.O_PATH | os.O_DIRECTORY)
            for path in {sys.prefix, os.path.dirname(os.path.dirname(sys.executable))}
            if self.isolated and path.startswith("/tmp/") and os.path.isdir(path)
        }
        for path in cfg["hide"] if self.isolated else ():
            path = path.rstrip("/")
            if path not in KEPT and os.path.isdir(path):
                self.hidden[path] = os.open(path, os.O_PATH | os.O_DIRECTORY)
        self.started = time.monotonic()

    def emit(self, event: str, **fields: Any) -> None:
        with contextlib.suppress(OSError):
            os.write(self.status_fd, json.dumps({"event": event, **fields}).encode() + b"\n")

    def console_line(self, text: str) -> None:
        os.write(self.console, text.encode() + b"\n")

    # -- the machine ------------------------------------------------------------------------

    def setup(self) -> None:
        cfg = self.cfg
        self.host_mounts = _host_mounts()
        _mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        overlaid = {name_ for name_ in OVERLAID if self.overlay(name_)}
        self.own_work_dir()
        _ip(f"link set lo up\naddr add {cfg['private_ip']}/32 dev lo")
        self.metadata_network()
        name = cfg["hostname"].encode()
        _libc.sethostname(name, len(name))
        _mount("tmpfs", "/mnt", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        for dev, fd in self.volume_fds.items():
            self.mount_volume(dev, f"/proc/self/fd/{fd}")
        for path in ("/tmp", "/dev/shm"):
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
        for path, fd in self.kept_in_tmp.items():
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
            attr = (ctypes.c_uint64 * 4)(0, MOUNT_ATTR_RDONLY, 0, 0)
            _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), 0, attr, 32)
        for path in self.hidden:
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64k")
        if "etc" in overlaid:
            if cfg.get("dns"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink("/etc/resolv.conf")
                with open("/etc/resolv.conf", "w") as f:
                    f.write(
                        f"nameserver {RESOLVER_IP}\nsearch {cfg['hostname'].split('.', 1)[-1]}\n"
                    )
            hostname = cfg["hostname"]
            with open("/etc/hosts", "w") as f:
                f.write(
                    "127.0.0.1   localhost localhost.localdomain\n"
                    f"{cfg['private_ip']}   {hostname} {hostname.split('.')[0]}\n"
                )
            with open("/etc/hostname", "w") as f:
                f.write(hostname + "\n")

    @staticmethod
    def mount_volume(device: str, source: str) -> None:
        target = f"/mnt/{device.rsplit('/', 1)[-1]}"
        os.mkdir(target)
        _mount(source, target, None, MS_BIND | MS_REC, None)
        # A bind mount takes the flags of the mount it comes from, read-only once frozen.
        attr = (ctypes.c_uint64 * 4)(0, MOUNT_ATTR_RDONLY, 0, 0)
        _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, target.encode(), 0, attr, 32)

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Volumes attached to or detached from the running instance, the VPC's other
        instances (a JSON line each)."""
        try:
            request = json.loads(await reader.readline())
            if "peers" in request:
                await self.set_peers(request["peers"])
            elif "attach" in request:
                self.mount_volume(request["attach"], self.reachable(request["path"]))
            else:
                target = f"/mnt/{request['detach'].rsplit('/', 1)[-1]}"
                if _libc.umount2(target.encode(), MNT_DETACH) != 0:
                    raise OSError(ctypes.get_errno(), f"umount {target}")
                os.rmdir(target)
            answer: dict[str, Any] = {"ok": True}
        except (OSError, ValueError, KeyError) as exc:
            answer = {"error": str(exc)}
        writer.write(json.dumps(answer).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    def reachable(self, path: str) -> str:
        """A host path as the agent can still reach it (under a directory hidden from the
        instance, through the descriptor kept of it)."""
        for root, fd in self.hidden.items():
            if path == root or path.startswith(root + "/"):
                return f"/proc/self/fd/{fd}{path[len(root) :]}"
        return path

    def own_work_dir(self) -> None:
        """Reach the work directory through a mount of our own, detached from every path: the
        host's mount it lives on can then be made read-only (no writer left on it), and the
        instance cannot find it."""
        point = "/run/nubes-work"
        os.mkdir(point)
        _mount(self.work, point, None, MS_BIND, None)
        fd = os.open(point, os.O_PATH | os.O_DIRECTORY)
        if _libc.umount2(point.encode(), MNT_DETACH) != 0:
            raise OSError(ctypes.get_errno(), f"umount {point}")
        os.rmdir(point)
        os.close(self.wfd)
        self.wfd, self.work = fd, f"/proc/self/fd/{fd}"
        console = os.open(f"{self.work}/console.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(console, self.console)
        os.close(console)
        log = os.open(f"{self.work}/agent.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(log, 2)
        os.close(log)

    def freeze(self) -> None:
        """Make the host's own mounts read-only in here (the instance's copy-on-write
        directories, /tmp, /run and volumes are mounts of its own and stay writable): an
        instance never changes the host's files."""
        attr = (ctypes.c_uint64 * 4)(MOUNT_ATTR_RDONLY, 0, 0, 0)
        for fd in self.host_mounts:
            if _libc.syscall(SYS_MOUNT_SETATTR, fd, b"", AT_EMPTY_PATH, attr, 32) != 0:
                self.console_line(
                    f"nubes: a host mount stays writable: {os.strerror(ctypes.get_errno())}"
                )
            os.close(fd)
        self.host_mounts = []

    def overlay(self, name: str) -> bool:
        """Make /<name> copy-on-write, its changes kept in the work directory; where that
        filesystem cannot hold an overlay's upper layer (itself an overlay, in a container),
        in memory for this boot. False when the directory stays the host's."""
        lower = f"/{name}"
        if not os.path.isdir(lower) or os.path.islink(lower):
            return False
        for base in (f"{self.work}/root/{name}", f"/run/nubes/layers/{name}"):
            os.makedirs(f"{base}/upper", exist_ok=True)
            os.makedirs(f"{base}/work", exist_ok=True)
            options = f"lowerdir={lower},upperdir={base}/upper,workdir={base}/work"
            try:
                _mount("overlay", lower, "overlay", 0, options)
                return True
            except OSError as exc:
                self.console_line(f"nubes: {lower} not copy-on-write in {base}: {exc}")
        if name in ("root", "home"):
            # A home of its own all the same (an empty one), never the host's.
            _mount("tmpfs", lower, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
            return True
        return False

    def metadata_network(self) -> None:
        """169.254.169.254 (metadata) and 169.254.169.253 (the Amazon DNS resolver) live in a
        network namespace of their own behind a veth pair, as they live outside a real
        instance: so the instance can still listen on 0.0.0.0:80 and :53. The agent makes
        their listening sockets there and comes back; the sockets keep that namespace."""
        own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        # ``ip`` names the instance's namespace to move the veth's end into it.
        os.makedirs("/run/netns", exist_ok=True)
        with open("/run/netns/instance", "w"):
            pass
        _mount(f"/proc/self/fd/{own}", "/run/netns/instance", None, MS_BIND, None)
        try:
            if _libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            _ip(
                "link set lo up\n"
                "link add imds1 type veth peer name imds0 netns instance\n"
                f"addr add {METADATA_IP}/32 dev imds1\n"
                f"addr add {RESOLVER_IP}/32 dev imds1\n"
                "link set imds1 up\n"
                f"route add {LINK_IP}/32 dev imds1\n"
                f"route add {self.cfg['private_ip']}/32 dev imds1"
            )
            self.link_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            self.link_sockets = [
                socket.create_server((METADATA_IP, 80)),
                socket.create_server((RESOLVER_IP, 53)),
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
            ]
            self.link_sockets[2].bind((RESOLVER_IP, 53))
            if _libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back into the instance's network")
        finally:
            _libc.umount2(b"/run/netns/instance", MNT_DETACH)
        self.own_ns = own
        shutil.rmtree("/run/netns", ignore_errors=True)
        _ip(
            f"link set imds0 up\naddr add {LINK_IP}/32 dev imds0\n"
            f"route add {METADATA_IP}/32 dev imds0 src {LINK_IP}\n"
            f"route add {RESOLVER_IP}/32 dev imds0 src {LINK_IP}"
        )

    def in_link(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the link namespace (sockets made there stay there)."""
        if _libc.setns(self.link_ns, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the link namespace")
        try:
            return fn()
        finally:
            if _libc.setns(self.own_ns, CLONE_NEWNET) != 0:
                os._exit(3)  # never go on in the wrong network

    async def set_peers(self, peers: dict[str, list[int]]) -> None:
        """The other instances of the VPC and the ports they listen on: the instance reaches
        them at their private IPs, through the link namespace, where the agent takes each
        connection to the runtime (which checks the peer's security groups)."""
        wanted = {(ip, port) for ip, ports in peers.items() for port in ports}
        for key in set(self.peer_servers) - wanted:
            self.peer_servers.pop(key).close()
        added, removed = set(peers) - self.peer_ips, self.peer_ips - set(peers)
        if added or removed:
            link = [f"addr add {ip}/32 dev imds1" for ip in added]
            link += [f"addr del {ip}/32 dev imds1" for ip in removed]
            self.in_link(lambda: _ip("\n".join(link)))
            own = [f"route add {ip}/32 dev imds0 src {self.cfg['private_ip']}" for ip in added]
            own += [f"route del {ip}/32 dev imds0" for ip in removed]
            _ip("\n".join(own))
            self.peer_ips = set(peers)
        for ip, port in sorted(wanted - set(self.peer_servers)):
            sock = self.in_link(functools.partial(socket.create_server, (ip, port)))
            self.peer_servers[(ip, port)] = await asyncio.start_server(
                functools.partial(self.to_peer, ip, port), sock=sock
            )

    async def to_peer(
        self, ip: str, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            other = await asyncio.open_unix_connection(f"{self.work}/peer.sock")
        except OSError:
            writer.close()
            return
        other[1].write(f"{ip} {port}\n".encode())
        await self.splice((reader, writer), other)

    async def link_services(self) -> None:
        """Metadata and DNS, on the sockets made in their namespace."""
        metadata, dns_tcp, dns_udp = self.link_sockets
        await asyncio.start_server(lambda r, w: self.to_unix("imds.sock", r, w), sock=metadata)
        # DNS over TCP goes through as it is; each UDP query is sent on in TCP's framing.
        await asyncio.start_server(lambda r, w: self.to_unix("dns.sock", r, w), sock=dns_tcp)
        await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _DnsRelay(f"{self.work}/dns.sock"), sock=dns_udp
        )

    def shims(self) -> str:
        """Commands that end or restart the machine, as the agent's signals."""
        bin_dir = "/run/nubes/bin" if self.isolated else f"{self.cfg['work_dir']}/bin"
        os.makedirs(bin_dir, exist_ok=True)
        pid = os.getpid()
        scripts = {
            "poweroff": f"kill -USR1 {pid}",
            "halt": f"kill -USR1 {pid}",
            "reboot": f"kill -USR2 {pid}",
            "shutdown": (
                f'case " $* " in *" -r "*|*" --reboot "*) kill -USR2 {pid};; '
                f"*) kill -USR1 {pid};; esac"
            ),
        }
        for name, body in scripts.items():
            path = f"{bin_dir}/{name}"
            with open(path, "w") as f:
                f.write(f"#!/bin/sh\n{body}\n")
            os.chmod(path, 0o755)
        return bin_dir

    # -- relays -----------------------------------------------------------------------------

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Pump one direction; a half-close is passed on."""
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.transport.abort()

    async def splice(
        self,
        a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        try:
            await asyncio.gather(self.relay(a[0], b[1]), self.relay(b[0], a[1]))
        finally:
            a[1].close()
            b[1].close()

    async def to_unix(
        self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            other = await asyncio.open_unix_connection(f"{self.work}/{name}")
        except OSError:
            writer.close()
            return
        await self.splice((reader, writer), other)

    async def inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A connection the runtime let in: its first line names the port to reach."""
        try:
            port = int(await reader.readline())
            other = await asyncio.open_connection(self.cfg["private_ip"], port)
        except (ValueError, OSError):
            writer.close()
            return
        await self.splice((reader, writer), other)

    async def serve(self) -> None:
        await asyncio.start_unix_server(self.inbound, path=f"{self.work}/in.sock")
        await asyncio.start_unix_server(self.control, path=f"{self.work}/ctl.sock")
        await asyncio.start_server(
            lambda r, w: self.to_unix("api.sock", r, w), "127.0.0.1", self.cfg["api_port"]
        )

    # -- boot -------------------------------------------------------------------------------

    def environment(self, bin_dir: str) -> dict[str, str]:
        cfg = self.cfg
        path = [bin_dir, os.path.dirname(sys.executable)]
        path += ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        path += [p for p in os.environ.get("PATH", "").split(":") if p and p not in path]
        env = {
            "PATH": ":".join(path),
            "HOME": "/root",
            "USER": "root",
            "LOGNAME": "root",
            "SHELL": "/bin/sh",
            "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{cfg['api_port']}",
            "AWS_DEFAULT_REGION": cfg["region"],
            "AWS_REGION": cfg["region"],
        }
        if not self.isolated:
            env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = cfg["imds_endpoint"]
            env["AWS_ENDPOINT_URL"] = cfg["api_endpoint"]
            env["HOME"] = os.environ.get("HOME", "/root")
            for dev, path_ in cfg["volumes"].items():
                env[f"NUBES_VOLUME_{dev.rsplit('/', 1)[-1].upper()}"] = path_
        return env

    def run_user_data(self, bin_dir: str) -> None:
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        self.console_line(f"Cloud-init v. nubes running 'modules:final' at {stamp}.")
        scripts = self.scripts(self.user_data)
        if not scripts:
            return
        directory = os.path.dirname(SCRIPT) if self.isolated else self.cfg["work_dir"]
        os.makedirs(directory, exist_ok=True)
        paths = []
        for name, body in scripts:
            path = f"{directory}/{name}"
            with open(path, "wb") as f:
                f.write(body)
            os.chmod(path, 0o700)
            paths.append(path)
        # Parts run one after the other, as cloud-init's scripts-user runs them.
        argv = [paths[0]] if len(paths) == 1 else ["/bin/sh", "-c", 'for p; do "$p"; done', "sh"]
        proc = subprocess.Popen(
            argv + (paths if len(paths) > 1 else []),
            stdin=subprocess.DEVNULL,
            stdout=self.console,
            stderr=self.console,
            cwd="/",
            env=self.environment(bin_dir),
        )
        self.user_data_pid = proc.pid

    def scripts(self, data: bytes) -> list[tuple[str, bytes]]:
        """The ``#!`` scripts of the user data (plain, gzip, or MIME multipart parts of type
        text/x-shellscript), named as cloud-init names them; others are noted on the console."""
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if not data.strip():
            return []
        if data.startswith(b"#!"):
            return [("part-001", data)]
        head = data[:200].lower()
        if b"content-type: multipart/" in head or head.startswith(b"mime-version"):
            import email  # only multipart user data needs it: kept out of every boot

            message = email.message_from_bytes(data)
            found = []
            for n, part in enumerate(message.walk(), 1):
                if part.is_multipart():
                    continue
                body = part.get_payload(decode=True)
                kind = part.get_content_type()
                if kind == "text/x-shellscript" and isinstance(body, bytes):
                    found.append(
                        (os.path.basename(part.get_filename() or "") or f"part-{n:03d}", body)
                    )
                else:
                    self.console_line(f"Unhandled user data part of type {kind}: ignored")
            return found
        first = data.split(b"\n", 1)[0].decode(errors="replace").strip()
        self.console_line(f"Unhandled user data ({first[:40]}): only #! scripts run")
        return []

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.user_data_pid:
                code = os.waitstatus_to_exitcode(status)
                self.emit("user-data", status=code)
                up = time.monotonic() - self.started
                self.console_line(
                    f"Cloud-init v. nubes finished at "
                    f"{time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}. "
                    f"Datasource DataSourceEc2.  Up {up:.2f} seconds"
                )

    def power_off(self, event: str | None) -> None:
        """Shut down as an OS does: every process gets SIGTERM and a little time to end (what
        the user data's servers do on SIGTERM, they do on stop), then the machine is off."""
        if self.stopping:
            return
        self.stopping = True
        self.console_line("nubes: the instance is shutting down")
        with contextlib.suppress(OSError):
            if self.isolated:
                os.kill(-1, signal.SIGTERM)  # every process of the namespace but init
            else:
                os.killpg(0, signal.SIGTERM)
        self.ending_task = asyncio.ensure_future(self.end_after_grace(event))

    async def end_after_grace(self, event: str | None) -> None:
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while time.monotonic() < deadline and self.others_run():
            await asyncio.sleep(0.02)
        self.end(event)

    def others_run(self) -> bool:
        self.reap()
        if self.isolated:
            return any(entry.isdigit() and entry != "1" for entry in os.listdir("/proc"))
        try:
            return os.waitpid(-1, os.WNOHANG)[0] == 0
        except ChildProcessError:
            return False

    def end(self, event: str | None) -> None:
        if event:
            self.emit(event)
        # Without a PID namespace nothing ends the rest of the tree for us.
        with contextlib.suppress(OSError):
            os.killpg(0, signal.SIGKILL)
        os._exit(0)

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGCHLD, self.reap)
        loop.add_signal_handler(signal.SIGUSR1, self.power_off, "shutdown")
        loop.add_signal_handler(signal.SIGUSR2, self.power_off, "reboot")
        loop.add_signal_handler(signal.SIGTERM, self.power_off, None)
        # The runtime holds the other end: when nubes goes, however it goes, so does the tree.
        loop.add_reader(self.death_fd, self.end, None)
        if self.isolated:
            await self.link_services()
            await self.serve()
            self.freeze()
        bin_dir = self.shims()
        self.run_user_data(bin_dir)
        self.emit("ready")
        if self.isolated:
            await self.watch_ports()
        await asyncio.Event().wait()

    async def watch_ports(self) -> None:
        """Tell the runtime which TCP ports the instance listens on (it opens them on the
        public address and for the VPC's other instances): often in the first seconds, when
        the user data starts its servers, then at a slower pace."""
        known: set[int] | None = None
        while True:
            ports = listening_ports(self.cfg["private_ip"])
            if ports != known:
                known = ports
                self.emit("ports", ports=sorted(ports))
            fast = time.monotonic() - self.started < PORTS_FAST_FOR
            await asyncio.sleep(PORTS_FAST if fast else PORTS_SLOW)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    agent = Agent(cfg)
    if agent.isolated:
        try:
            agent.setup()
        except (OSError, subprocess.CalledProcessError) as exc:
            agent.console_line(f"nubes: the instance's namespaces could not be set up: {exc}")
            agent.emit("failed", error=str(exc))
            raise SystemExit(1) from exc
    asyncio.run(agent.main())


if __name__ == "__main__":
    main()
