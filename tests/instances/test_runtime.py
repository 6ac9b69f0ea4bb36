"""The instance runtime with real processes in real namespaces, driven through a fake EC2
provider (the API's own tests drive it through RunInstances)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from nubes.runtime.instances.runtime import InstanceRuntime
from tests.instances.conftest import Lab, command_lines, get, refused, run

WEB = b"""#!/bin/sh
ID=$(curl -s http://169.254.169.254/latest/meta-data/instance-id)
mkdir -p /tmp/www && echo "I am $ID" > /tmp/www/index.html
cd /tmp/www && exec python3 -m http.server 80
"""


def test_two_instances_serve_port_80_each_in_its_own_network(tmp_path: Path) -> None:
    async def scenario(lab: Lab) -> None:
        a, b = lab.spec(WEB), lab.spec(WEB)
        await asyncio.gather(lab.runtime.boot(a), lab.runtime.boot(b))
        assert await get(f"http://{a.public_ip}/") == f"I am {a.instance_id}\n".encode()
        assert await get(f"http://{b.public_ip}/") == f"I am {b.instance_id}\n".encode()
        assert lab.runtime.status(a.instance_id) == ("ok", "ok")
        console = lab.runtime.console_output(a.instance_id)
        assert b"Cloud-init v. nubes running" in console
        assert b'"GET / HTTP/1.1" 200' in console

    run(tmp_path, scenario)


def test_security_groups_gate_the_public_address_without_a_restart(tmp_path: Path) -> None:
    serve_8080 = WEB.replace(b" 80\n", b" 8080\n")

    async def scenario(lab: Lab) -> None:
        spec = lab.spec(serve_8080)
        lab.host.allowed = {22}
        await lab.runtime.boot(spec)
        # The server is up inside (its own view), yet nothing reaches it from outside.
        await _wait_for_listener(lab, spec.instance_id, 8080)
        assert await refused(str(spec.public_ip), 8080)
        lab.host.allowed.add(8080)
        assert await get(f"http://{spec.public_ip}:8080/") == f"I am {spec.instance_id}\n".encode()
        lab.host.allowed.discard(8080)
        assert await refused(str(spec.public_ip), 8080)
        # An Elastic IP associated: the ports move to the new address without a reboot.
        old, new = str(spec.public_ip), "127.77.250.1"
        lab.host.allowed.add(8080)
        lab.runtime.readdress(spec.instance_id, new)
        assert await get(f"http://{new}:8080/") == f"I am {spec.instance_id}\n".encode()
        assert await refused(old, 8080)

    run(tmp_path, scenario)


async def _wait_for_listener(lab: Lab, instance_id: str, port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        inst = lab.runtime.instances[instance_id]
        if port in inst.forwards:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{instance_id} never listened on {port}")


def test_tmp_etc_and_home_are_the_instances_own_and_volumes_are_mounted(tmp_path: Path) -> None:
    volume = tmp_path / "vol-1"
    volume.mkdir()
    (volume / "kept.txt").write_text("from an earlier life\n")
    marker = f"nubes-test-{os.getpid()}"
    script = f"""#!/bin/sh
echo secret > /tmp/{marker}
echo instance > /etc/{marker}
echo home > ~/{marker}
echo host > {Path(__file__).parent}/{marker} || echo "host files are read-only"
cat /mnt/sdf/kept.txt
date +%s >> /mnt/sdf/boots.txt
echo "volume has $(wc -l < /mnt/sdf/boots.txt) boots"
""".encode()

    async def scenario(lab: Lab) -> None:
        spec = lab.spec(script, volumes={"/dev/sdf": str(volume)})
        await lab.runtime.boot(spec)
        await _wait_console(lab, spec.instance_id, b"volume has 1 boots")
        assert not Path(f"/tmp/{marker}").exists()
        assert not Path(f"/etc/{marker}").exists()
        assert not (Path.home() / marker).exists()
        assert b"from an earlier life" in lab.runtime.console_output(spec.instance_id)
        assert b"host files are read-only" in lab.runtime.console_output(spec.instance_id)
        assert not (Path(__file__).parent / marker).exists()
        # The instance's own writes to /etc are kept with it, as its root volume keeps them.
        assert (Path(spec.work_dir) / "root/etc/upper" / marker).read_text() == "instance\n"
        # Stop and start (or recovery): the same spec boots again with the volume's data.
        await lab.runtime.halt(spec.instance_id)
        assert not lab.runtime.running(spec.instance_id)
        await lab.runtime.boot(spec)
        await _wait_console(lab, spec.instance_id, b"volume has 2 boots")

    run(tmp_path, scenario)


async def _wait_console(lab: Lab, instance_id: str, text: bytes) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if text in lab.runtime.console_output(instance_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} not in {lab.runtime.console_output(instance_id)!r}")


def test_halt_and_stop_leave_no_process_behind(tmp_path: Path) -> None:
    daemonizing = b"""#!/bin/sh
setsid sh -c 'sleep 1000' </dev/null >/dev/null 2>&1 &
nohup sleep 1001 </dev/null >/dev/null 2>&1 &
sleep 1002
"""

    async def scenario(lab: Lab) -> None:
        a, b = lab.spec(daemonizing), lab.spec(daemonizing)
        await lab.runtime.boot(a)
        await lab.runtime.boot(b)
        deadline = time.monotonic() + 60
        while _sleepers() < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _sleepers() >= 6
        await lab.runtime.halt(a.instance_id)
        assert _sleepers() >= 3
        await lab.runtime.stop()
        assert _sleepers() == 0

    run(tmp_path, scenario)


def _sleepers(*args: bytes) -> int:
    wanted = [[b"sleep", a] for a in args or (b"1000", b"1001", b"1002")]
    return sum(cmd[:2] in wanted for cmd in command_lines())


def test_faults_impair_status_checks_until_the_instance_boots_again(tmp_path: Path) -> None:
    async def scenario(lab: Lab) -> None:
        spec = lab.spec(WEB)
        await lab.runtime.boot(spec)
        url = f"http://{spec.public_ip}/"
        assert await get(url)
        lab.runtime.inject_fault(spec.instance_id, "ec2:host-failure")
        assert lab.runtime.status(spec.instance_id) == ("impaired", "insufficient-data")
        assert [f.fault for f in lab.runtime.faults()] == ["ec2:host-failure"]
        assert await refused(str(spec.public_ip), 80)
        metrics = {p.name: p.value for p in lab.runtime.collect(600.0)}
        assert metrics["StatusCheckFailed_System"] == 1
        assert metrics["StatusCheckFailed"] == 1
        assert metrics["StatusCheckFailed_Instance"] == 0
        # Recovery: the same spec again (same id, addresses, volumes).
        await lab.runtime.halt(spec.instance_id)
        await lab.runtime.boot(spec)
        assert await get(url) == f"I am {spec.instance_id}\n".encode()
        assert lab.runtime.faults() == []

        lab.runtime.inject_fault(spec.instance_id, "ec2:instance-crash")
        assert lab.runtime.status(spec.instance_id) == ("ok", "impaired")
        metrics = {p.name: p.value for p in lab.runtime.collect(660.0)}
        assert metrics["StatusCheckFailed_Instance"] == 1
        assert metrics["StatusCheckFailed_System"] == 0
        # Booting again clears it (what was left of the tree goes first).
        await lab.runtime.boot(spec)
        assert lab.runtime.status(spec.instance_id) == ("ok", "ok")
        assert await get(url) == f"I am {spec.instance_id}\n".encode()
        assert b"not copy-on-write" not in lab.runtime.console_output(spec.instance_id)

    run(tmp_path, scenario)


def test_shutdown_and_reboot_from_inside(tmp_path: Path) -> None:
    async def scenario(lab: Lab) -> None:
        stopper = lab.spec(b"#!/bin/sh\necho bye; shutdown -h now\n")
        await lab.runtime.boot(stopper)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if lab.host.exits:
                break
            await asyncio.sleep(0.05)
        assert lab.host.exits == [(stopper.instance_id, "shutdown")]
        assert not lab.runtime.running(stopper.instance_id)

        rebooter = lab.spec(
            b"#!/bin/sh\necho boot >> /mnt/sdf/boots\n"
            b'[ "$(wc -l < /mnt/sdf/boots)" -lt 2 ] && reboot\n',
            volumes={"/dev/sdf": str(_dir(lab.tmp / "vol-r"))},
        )
        await lab.runtime.boot(rebooter)
        boots_file = lab.tmp / "vol-r" / "boots"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            boots = boots_file.read_text().count("boot") if boots_file.exists() else 0
            if boots == 2:
                break
            await asyncio.sleep(0.05)
        assert boots == 2
        assert lab.runtime.running(rebooter.instance_id)
        assert lab.host.exits == [(stopper.instance_id, "shutdown")]

    run(tmp_path, scenario)


def _dir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def test_cpu_and_network_metrics_in_detailed_monitoring(tmp_path: Path) -> None:
    busy = WEB.replace(b"cd /tmp/www", b"(while :; do :; done) &\ncd /tmp/www")

    async def scenario(lab: Lab) -> None:
        spec = lab.spec(busy, vcpus=2)
        record = lab.host.records[spec.instance_id]
        record["Monitoring"] = {"State": "enabled"}
        record["Tags"] = [{"Key": "aws:autoscaling:groupName", "Value": "web"}]
        await lab.runtime.boot(spec)
        await get(f"http://{spec.public_ip}/")
        await asyncio.sleep(1)
        points = lab.runtime.collect(1200.0)
        by_dims = {(p.name, tuple(sorted(p.dimensions))): p for p in points}
        cpu = by_dims[("CPUUtilization", ("InstanceId",))]
        # A busy loop on one of two vCPUs: well above idle, however loaded the test machine.
        assert 1 < cpu.value <= 100
        assert cpu.unit == "Percent" and cpu.timestamp == 1140
        assert by_dims[("NetworkIn", ("AutoScalingGroupName",))].value > 0
        assert by_dims[("NetworkOut", ("InstanceId",))].value > 0
        # Basic monitoring publishes CPU and network at five-minute boundaries only.
        record["Monitoring"] = {"State": "disabled"}
        assert "CPUUtilization" not in {p.name for p in lab.runtime.collect(1260.0)}
        # A clock jump past a five-minute boundary publishes that period's points.
        later = {p.name: p for p in lab.runtime.collect(1560.0)}
        assert later["CPUUtilization"].timestamp == 1200
        assert "CPUUtilization" not in {p.name for p in lab.runtime.collect(1620.0)}

    run(tmp_path, scenario)


def test_host_mode_when_namespaces_are_not_there(tmp_path: Path) -> None:
    script = b"""#!/bin/sh
echo "imds=$AWS_EC2_METADATA_SERVICE_ENDPOINT"
curl -s "${AWS_EC2_METADATA_SERVICE_ENDPOINT}latest/meta-data/instance-id"; echo
echo "volume=$NUBES_VOLUME_SDF"
"""

    async def scenario(lab: Lab) -> None:
        lab.runtime = InstanceRuntime(lab.host, api_port=lab.runtime.api_port, isolation="host")
        await lab.runtime.start()
        spec = lab.spec(script, volumes={"/dev/sdf": str(_dir(lab.tmp / "vol-h"))})
        await lab.runtime.boot(spec)
        await _wait_console(lab, spec.instance_id, b"volume=")
        console = lab.runtime.console_output(spec.instance_id)
        assert spec.instance_id.encode() in console
        assert f"volume={lab.tmp / 'vol-h'}".encode() in console

    run(tmp_path, scenario)


KILLED_HOST = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.instances.conftest import Lab
from pathlib import Path

async def main():
    lab = Lab(Path({tmp!r}))
    await lab.runtime.start()
    await lab.runtime.boot(lab.spec(b"#!/bin/sh\\nsleep 1003\\n"))
    print("booted", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_instances_end_when_nubes_is_killed(tmp_path: Path) -> None:
    """However nubes ends (here SIGKILL, no clean-up at all), its instances end with it."""
    import subprocess
    import sys

    root = str(Path(__file__).parents[2])
    code = KILLED_HOST.format(root=root, tmp=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"booted\n"
        deadline = time.monotonic() + 60
        while _sleepers(b"1003") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sleepers(b"1003") == 1
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 60
    while _sleepers(b"1003") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sleepers(b"1003") == 0


def test_volumes_attach_and_detach_while_running(tmp_path: Path) -> None:
    script = b"""#!/bin/sh
until [ -f /mnt/sdg/hello ]; do sleep 0.05; done
cat /mnt/sdg/hello
echo written inside > /mnt/sdg/out
while [ -d /mnt/sdg ]; do sleep 0.05; done
echo detached
"""

    async def scenario(lab: Lab) -> None:
        volume = _dir(lab.tmp / "vol-g")
        (volume / "hello").write_text("hello from the volume\n")
        spec = lab.spec(script)
        await lab.runtime.boot(spec)
        await lab.runtime.attach(spec.instance_id, "/dev/sdg", str(volume))
        await _wait_console(lab, spec.instance_id, b"hello from the volume")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (volume / "out").exists():
                break
            await asyncio.sleep(0.05)
        assert (volume / "out").read_text() == "written inside\n"
        await lab.runtime.detach(spec.instance_id, "/dev/sdg")
        await _wait_console(lab, spec.instance_id, b"detached")

    run(tmp_path, scenario)


def test_multipart_user_data_runs_its_shell_scripts_in_order(tmp_path: Path) -> None:
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    message = MIMEMultipart()
    for kind, body in (
        ("x-shellscript", "#!/bin/sh\necho first part\n"),
        ("cloud-config", "#cloud-config\nruncmd: [echo never]\n"),
        ("x-shellscript", "#!/bin/sh\necho second part\n"),
    ):
        message.attach(MIMEText(body, kind))

    async def scenario(lab: Lab) -> None:
        spec = lab.spec(message.as_bytes())
        await lab.runtime.boot(spec)
        await _wait_console(lab, spec.instance_id, b"second part")
        console = lab.runtime.console_output(spec.instance_id)
        assert console.index(b"first part") < console.index(b"second part")
        assert b"text/cloud-config: ignored" in console
        assert b"never" not in console

    run(tmp_path, scenario)


def test_names_resolve_through_the_vpc_resolver(tmp_path: Path) -> None:
    import dns.message
    import dns.rrset

    asked: list[tuple[str, str]] = []

    def resolver(query: bytes, vpc_id: str, region: str) -> bytes:
        request = dns.message.from_wire(query)
        asked.append((vpc_id, region))
        response = dns.message.make_response(request)
        name = request.question[0].name
        if str(name) == "db.corp.internal.":
            response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "10.0.9.9"))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return bytes(response.to_wire())

    script = b"""#!/bin/sh
cat /etc/resolv.conf
python3 -c 'import socket; print("db is", socket.gethostbyname("db.corp.internal"))'
python3 -c 'import socket; socket.gethostbyname("nothing.corp.internal")' || echo "no such name"
"""

    async def scenario(lab: Lab) -> None:
        lab.runtime.vpc_resolver = lambda: resolver
        spec = lab.spec(script)
        lab.host.records[spec.instance_id]["VpcId"] = "vpc-123"
        await lab.runtime.boot(spec)
        await _wait_console(lab, spec.instance_id, b"no such name")
        console = lab.runtime.console_output(spec.instance_id)
        assert b"nameserver 169.254.169.253" in console
        assert b"db is 10.0.9.9" in console
        assert ("vpc-123", "us-east-1") in asked

    run(tmp_path, scenario)


def test_instances_of_a_vpc_reach_each_other_at_their_private_ips(tmp_path: Path) -> None:
    client = b"""#!/bin/sh
until curl -s --max-time 2 http://10.0.1.21:8080/ > /tmp/answer && [ -s /tmp/answer ]; do
  [ -f /tmp/refused ] || { echo "not reachable yet"; touch /tmp/refused; }
  sleep 0.1
done
echo "got: $(cat /tmp/answer)"
"""

    async def scenario(lab: Lab) -> None:
        lab.host.allowed = {80}
        server = lab.spec(WEB.replace(b" 80\n", b" 8080\n"), private_ip="10.0.1.21")
        caller = lab.spec(client, private_ip="10.0.1.20")
        other_vpc = lab.spec(client, private_ip="10.0.1.22")
        for spec, vpc in ((server, "vpc-a"), (caller, "vpc-a"), (other_vpc, "vpc-b")):
            lab.host.records[spec.instance_id]["VpcId"] = vpc
        await lab.runtime.boot(server)
        await lab.runtime.boot(caller)
        await lab.runtime.boot(other_vpc)
        # Port 8080 is not in the server's security groups yet: nothing gets through.
        await _wait_console(lab, caller.instance_id, b"not reachable yet")
        await _wait_for_listener(lab, server.instance_id, 8080)
        await asyncio.sleep(0.5)
        assert b"got:" not in lab.runtime.console_output(caller.instance_id)
        lab.host.allowed.add(8080)
        await _wait_console(lab, caller.instance_id, f"got: I am {server.instance_id}".encode())
        # Another VPC's instance never reaches it.
        await asyncio.sleep(0.5)
        assert b"got:" not in lab.runtime.console_output(other_vpc.instance_id)

    run(tmp_path, scenario)


def test_a_halt_is_a_shutdown_processes_get_sigterm_first(tmp_path: Path) -> None:
    clean = b"""#!/bin/sh
trap 'echo "stopped cleanly" >> /mnt/sdf/log; exit 0' TERM
echo up >> /mnt/sdf/log
while :; do sleep 0.1; done
"""
    stubborn = b"#!/bin/sh\ntrap '' TERM\nexec sleep 1004\n"

    async def scenario(lab: Lab) -> None:
        volume = _dir(lab.tmp / "vol-s")
        polite = lab.spec(clean, volumes={"/dev/sdf": str(volume)})
        deaf = lab.spec(stubborn)
        await lab.runtime.boot(polite)
        await lab.runtime.boot(deaf)
        while not (volume / "log").exists() or _sleepers(b"1004") == 0:
            await asyncio.sleep(0.05)
        await asyncio.gather(
            lab.runtime.halt(polite.instance_id), lab.runtime.halt(deaf.instance_id)
        )
        assert (volume / "log").read_text() == "up\nstopped cleanly\n"
        # What ignores SIGTERM is killed after the grace all the same.
        assert _sleepers(b"1004") == 0
        assert b"shutting down" in lab.runtime.console_output(deaf.instance_id)

    run(tmp_path, scenario)
