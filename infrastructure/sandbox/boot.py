"""The first code a sandboxed run executes: isolate, drop privileges, then run the program.

Started by `infrastructure/sandbox/supervisor.py` as `python -I -S boot.py MODE WORKDIR UID LIMITS`
with the untrusted program on stdin. Stdlib only, and nothing here may import the project:
`-I -S` means no site-packages, no PYTHON* variables, no current folder on sys.path.

MODE `namespaces` (root): new mount, network and PID namespaces; every mount read-only
except a fresh size-limited tmpfs on WORKDIR; the program then runs as PID 1 of its namespace
under an unprivileged UID with resource limits, so its descendants die with it and it can
neither reach a network nor write anywhere but WORKDIR. If any step fails the run exits with
SETUP_FAILED: it never silently runs with less isolation than asked.

MODE `rlimits` (no root, or namespaces refused): resource limits, the program under a sandbox
UID when started as root, sockets disabled in the interpreter (a program using ctypes could
get around that; the sandbox says so), and every leftover descendant killed at the end.
"""
import ctypes
import json
import os
import resource
import signal
import sys

SETUP_FAILED = 97  # exit code the host reads as "the sandbox could not be set up"

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x1000, 0x4000, 0x40000
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x1
SYS_MOUNT_SETATTR = 442  # the same number on x86_64 and aarch64
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def die(step: str, errno: int = 0) -> None:
    os.write(2, f"sandbox setup failed at {step}: {os.strerror(errno) if errno else ''}\n".encode())
    os._exit(SETUP_FAILED)


def check(result: int, step: str) -> None:
    if result != 0:
        die(step, ctypes.get_errno())


def isolate(libc, workdir: str, limits: dict) -> None:
    """New namespaces; the whole tree read-only; a private tmpfs as the only writable folder."""
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID), "unshare")
    # Private first, so nothing below propagates back to the host's mounts.
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    expose_stdlib(libc, limits["stdlib_mount"])
    attr = MountAttr(attr_set=MOUNT_ATTR_RDONLY)
    check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr),
                       ctypes.sizeof(attr)), "mount_setattr / read-only")
    options = f"size={limits['tmpfs_bytes']},mode=0700,uid={limits['uid']},gid={limits['uid']}"
    check(libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode()),
          "mount tmpfs on the work folder")


def expose_stdlib(libc, stash: str) -> None:
    """Let the sandbox UID import the standard library even if it lives under a closed folder.

    Python here lives under /root/.pyenv and /root is 0700. In our private mount namespace the
    closed folder is covered with an empty tmpfs that holds only the interpreter's prefix,
    bind-mounted back at its own path, so sys.path stays valid and the rest stays hidden.
    """
    prefix = os.path.realpath(sys.base_prefix)
    parts = prefix.split("/")[1:]
    closed = next(("/" + "/".join(parts[:i + 1]) for i in range(len(parts))
                   if not os.stat("/" + "/".join(parts[:i + 1])).st_mode & 0o001), None)
    if closed is None:
        return
    check(libc.mount(prefix.encode(), stash.encode(), None, MS_BIND | MS_REC, None), "bind the stdlib aside")
    check(libc.mount(b"tmpfs", closed.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=1m,mode=0755"),
          f"cover {closed}")
    os.makedirs(prefix, mode=0o755, exist_ok=True)
    check(libc.mount(stash.encode(), prefix.encode(), None, MS_BIND | MS_REC, None), "bind the stdlib back")


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def set_limits(limits: dict) -> None:
    as_bytes = limits["memory_bytes"]
    for name, value in (("RLIMIT_AS", as_bytes), ("RLIMIT_NPROC", limits["max_processes"]),
                        ("RLIMIT_CPU", limits["cpu_seconds"]), ("RLIMIT_FSIZE", limits["file_bytes"]),
                        ("RLIMIT_NOFILE", 64), ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))


def disable_sockets() -> None:
    import _socket
    import socket

    def refuse(*args, **kwargs):
        raise OSError(101, "network disabled in the sandbox")

    for module in (socket, _socket):
        for name in ("socket", "create_connection", "socketpair", "fromfd", "getaddrinfo"):
            if hasattr(module, name):
                setattr(module, name, refuse)


def run_program(source: str) -> None:
    """Execute the program as `__main__`; exit 0 only if it ran to its end."""
    try:
        exec(compile(source, "program.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except BaseException:  # SystemExit too: a program that exits early has not passed its tests
        import traceback

        sys.stdout.flush()
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


def reap_descendants() -> None:
    """Kill and reap every process left under this one (orphans re-parent here: subreaper)."""
    me = os.getpid()
    while True:
        try:
            with open(f"/proc/{me}/task/{me}/children") as handle:
                children = [int(pid) for pid in handle.read().split()]
        except OSError:
            children = []
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in children:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break


def main() -> None:
    mode, workdir, limits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    source = sys.stdin.read()
    libc = ctypes.CDLL(None, use_errno=True)
    if mode == "namespaces":
        isolate(libc, workdir, limits)
    else:
        # No PID namespace: descendants that escape their parent (setsid, double fork) re-parent
        # to this supervisor instead of init, so it can kill them when the program ends.
        check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl subreaper")
    pid = os.fork()  # in `namespaces` mode the child is PID 1 of the new PID namespace
    if pid == 0:
        if mode == "namespaces":
            # If the supervisor is killed (wall-time limit), take the whole namespace down.
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            # A /proc of its own: the program sees its processes, not the host's command lines.
            check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
        try:
            if limits["uid"] is not None:
                drop_privileges(limits["uid"])
            os.chdir(workdir)
            os.umask(0o077)
            set_limits(limits)
            if mode != "namespaces":
                disable_sockets()
        except OSError as exc:
            die("limits/privileges", exc.errno or 0)
        run_program(source)
    _, status = os.waitpid(pid, 0)
    if mode != "namespaces":
        reap_descendants()
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
