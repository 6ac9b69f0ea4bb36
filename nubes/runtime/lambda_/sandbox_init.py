"""Inside a Lambda worker's fresh user, mount and PID namespaces (made by ``unshare``): build the
function's file system on an empty tmpfs (the system's directories read-only, its code at
/var/task, its layers at /opt, a private /tmp, a new /proc), make it the root, drop the old one
and run the function's command. Nothing of nubes' data directory, of other functions or of the
server's processes is left to see.

Run as ``python -I -S sandbox_init.py PLAN -- COMMAND...`` (stdlib only, no site: it starts in a
few milliseconds). PLAN is JSON made by ``sandbox.py``.
"""

import ctypes
import json
import os
import platform
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# statvfs flag -> the mount flag a read-only remount must keep (the kernel locks them).
KEPT = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME}
KEPT.update({2048: MS_NODIRATIME, 4096: MS_RELATIME})
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source} on {target}",
    )


def bind(source: str, target: str, read_only: bool) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    if read_only:
        kept = 0
        have = os.statvfs(target).f_flag
        for flag, mount_flag in KEPT.items():
            if have & flag:
                kept |= mount_flag
        mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def main() -> None:
    plan = json.loads(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1 :]
    root = plan["root"]
    # Nothing mounted here reaches the server's view (unshare makes it private too).
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for link, target in plan["symlinks"]:
        os.makedirs(os.path.dirname(root + link), exist_ok=True)
        os.symlink(target, root + link)
    # The private /tmp first, then the binds: an installation the worker needs that lives
    # under /tmp on the host (a venv in a checkout there) stays visible inside it.
    for target, options in plan["tmpfs"]:
        os.makedirs(root + target, exist_ok=True)
        mount("tmpfs", root + target, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for source, target, read_only in plan["binds"]:
        bind(source, root + target, read_only)
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{fd}", f"{root}/dev/{name}")
    os.symlink("/proc/self/fd", f"{root}/dev/fd")
    old = root + "/.old-root"
    os.makedirs(old)
    number = PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"no pivot_root system call number known for {platform.machine()}")
    _check(libc.syscall(number, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    _check(libc.umount2(b"/.old-root", MNT_DETACH), "umount the old root")
    os.rmdir("/.old-root")
    # The root itself read-only: a function writes to /tmp only, as on AWS.
    mount("none", "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(plan["cwd"])
    os.umask(0o022)  # the server's 077 keeps its own files private; a function's are its own
    os.execve(command[0], command, os.environ)


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        print(f"nubes: the function's sandbox could not be set up: {exc}", file=sys.stderr)
        sys.exit(127)
