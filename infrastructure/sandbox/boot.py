"""The first code a sandboxed run executes: isolate, drop privileges, then run the program.

Started by `infrastructure/sandbox/supervisor.py` as `python -I -S boot.py MODE LIMITS` with the
untrusted program on stdin. Stdlib only, and nothing here may import the project: `-I -S`
means no site-packages, no PYTHON* variables, no current folder on sys.path.

This process (the supervisor) dies with the evaluate process that started it (parent-death
signal). It starts inside the run's cgroup when there is one; in the isolated modes it unshares
mount, network and PID namespaces (plus a user namespace in `userns` mode) and forks the
program as PID 1 of the new PID namespace, so every descendant dies with it, and it dies with
the supervisor (its parent-death signal is set again after the UID change, which clears it).

The program's whole file system is a fresh tmpfs holding only: the Python installation, the
shared libraries and loader cache it needs (all bind-mounted read-only), /dev/null, zero,
random and urandom, its own /proc, and a size-limited writable work folder (`/sandbox`, also
`/tmp`). No host /tmp, no socket file, no home folder, no other run's files exist in it; a new
network namespace has no interface but a down loopback (abstract Unix sockets are per network
namespace too). Then it runs under an unprivileged identity: a sandbox UID (`namespaces`, as
root), or the namespace's root with every capability dropped and unrecoverable (`userns`).
If any step fails the run exits with SETUP_FAILED: it never silently runs with less isolation
than asked.

MODE `rlimits` (only when the caller explicitly accepted running untrusted code unsafely):
resource limits, sockets disabled in the interpreter (ctypes gets around that), and every
leftover descendant killed at the end.
"""
import ctypes
import json
import os
import resource
import signal
import sys

SETUP_FAILED = 97  # exit code the host reads as "the sandbox could not be set up"

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = -100, 0x8000, 0x1, 0x2
# (mount_setattr, pivot_root, capset) system call numbers
SYSCALLS = {"x86_64": (442, 155, 126), "aarch64": (442, 41, 91)}
SYS_MOUNT_SETATTR, SYS_PIVOT_ROOT, SYS_CAPSET = SYSCALLS.get(os.uname().machine, SYSCALLS["x86_64"])
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 24, 28, 38
PR_SET_CHILD_SUBREAPER = 36
SECURE_NOROOT_ALL_LOCKED = 0x2F  # NOROOT, NO_SETUID_FIXUP and their locks: exec never gives caps back
ROOT = "/tmp"  # where the new root is assembled (a tmpfs over it, in our namespace only); see main
WORK = "/sandbox"
DEVICES = ("null", "zero", "random", "urandom")


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def die(step: str, errno: int = 0) -> None:
    os.write(2, f"sandbox setup failed at {step}: {os.strerror(errno) if errno else ''}\n".encode())
    os._exit(SETUP_FAILED)


def check(result: int, step: str) -> None:
    if result != 0:
        die(step, ctypes.get_errno())


def write(path: str, text: str, step: str) -> None:
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except OSError as exc:
        die(step, exc.errno or 0)


def tie_to_parent(libc, parent: int) -> None:
    """Die with `parent`; if it is already gone, do not start at all."""
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl pdeathsig")
    if os.getppid() != parent:
        os._exit(SETUP_FAILED)


def unshare(libc, mode: str) -> None:
    """New mount, network and PID namespaces; in `userns` mode a user namespace first, in which
    this process is root (mapped to the caller's UID) and may therefore mount."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | (CLONE_NEWUSER if mode == "userns" else 0)
    check(libc.unshare(flags), "unshare")
    if mode == "userns":
        write("/proc/self/setgroups", "deny", "deny setgroups")
        write("/proc/self/uid_map", f"0 {uid} 1", "map the user")
        write("/proc/self/gid_map", f"0 {gid} 1", "map the group")


def mount(libc, source, target: str, fstype, flags: int, options, step: str) -> None:
    encode = lambda value: value.encode() if isinstance(value, str) else value  # noqa: E731
    check(libc.mount(encode(source), encode(target), encode(fstype), flags, encode(options)), step)


def build_root(libc, limits: dict) -> None:
    """A tmpfs at ROOT holding only what the program may see; read-only but for its folder."""
    mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, None, "mount --make-rprivate /")
    mount(libc, "tmpfs", ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755", "tmpfs for the new root")
    for path in limits["read_only"]:
        expose(libc, path)
    os.makedirs(ROOT + "/dev", mode=0o755, exist_ok=True)
    for name in DEVICES:
        open(f"{ROOT}/dev/{name}", "w").close()
        mount(libc, f"/dev/{name}", f"{ROOT}/dev/{name}", None, MS_BIND, None, f"bind /dev/{name}")
    for folder in (WORK, "/proc", "/.old"):
        os.makedirs(ROOT + folder, mode=0o755, exist_ok=True)
    os.symlink(WORK.lstrip("/"), ROOT + "/tmp")
    attr = MountAttr(attr_set=MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)
    check(libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, ROOT.encode(), AT_RECURSIVE, ctypes.byref(attr),
                       ctypes.sizeof(attr)), "mount_setattr read-only")
    owner = limits["uid"] if limits["uid"] is not None else 0
    options = f"size={limits['tmpfs_bytes']},mode=0700,uid={owner},gid={owner}"
    mount(libc, "tmpfs", ROOT + WORK, "tmpfs", MS_NOSUID | MS_NODEV, options, "tmpfs for the work folder")


def expose(libc, path: str) -> None:
    """Make host `path` appear at the same place in the new root: a symlink as a symlink (so
    /lib -> usr/lib keeps working), anything else bind-mounted (read-only later, with the rest)."""
    if not os.path.lexists(path):
        return
    inside = ROOT + path
    os.makedirs(os.path.dirname(inside), mode=0o755, exist_ok=True)
    if os.path.islink(path):
        if not os.path.lexists(inside):
            os.symlink(os.readlink(path), inside)
        return
    if os.path.isdir(path):
        os.makedirs(inside, mode=0o755, exist_ok=True)
    else:
        open(inside, "w").close()
    mount(libc, path, inside, None, MS_BIND | MS_REC, None, f"bind {path}")


def enter_root(libc) -> None:
    """Mount this PID namespace's /proc, then make ROOT `/` and let go of the host's tree."""
    # /proc is mounted while the host's is still visible: the kernel refuses a new proc mount in
    # a user namespace when no full proc mount is in sight.
    mount(libc, "proc", ROOT + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "mount /proc")
    check(libc.syscall(SYS_PIVOT_ROOT, ROOT.encode(), (ROOT + "/.old").encode()), "pivot_root")
    os.chdir("/")
    check(libc.umount2(b"/.old", MNT_DETACH), "detach the host's tree")


def drop_privileges(libc, mode: str, uid: int | None) -> None:
    """`namespaces`: become the sandbox UID. `userns`: stay the namespace's root but with no
    capability left, none regained by exec (securebits), and no setuid gain (no_new_privs)."""
    if mode == "namespaces" and uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    elif mode == "userns":
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
        for cap in range(last + 1):
            check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop the capability bounding set")
        check(libc.prctl(PR_SET_SECUREBITS, SECURE_NOROOT_ALL_LOCKED, 0, 0, 0), "securebits")
        no_caps = (CapData * 2)()
        check(libc.syscall(SYS_CAPSET, ctypes.byref(CapHeader(0x20080522, 0)), no_caps), "capset")
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def set_limits(limits: dict) -> None:
    for name, value in (("RLIMIT_AS", limits["memory_bytes"]), ("RLIMIT_NPROC", limits["max_processes"]),
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


def start_program(libc, mode: str, limits: dict, source: str) -> None:
    """In the forked child: finish isolating, drop privileges, limit, run. Never returns."""
    isolated = mode in ("namespaces", "userns")
    if isolated:
        build_root(libc, limits)
        enter_root(libc)
    try:
        drop_privileges(libc, mode, limits["uid"])
        # Changing credentials clears the parent-death signal: set it again, after the change.
        check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl pdeathsig")
        os.chdir(WORK if isolated else limits["workdir"])
        os.umask(0o077)
        set_limits(limits)
        if not isolated:
            disable_sockets()
    except OSError as exc:
        die("limits/privileges", exc.errno or 0)
    run_program(source)


def main() -> None:
    global ROOT
    mode, limits = sys.argv[1], json.loads(sys.argv[2])
    ROOT = limits.get("root", ROOT)
    source = sys.stdin.read()
    libc = ctypes.CDLL(None, use_errno=True)
    tie_to_parent(libc, limits["parent"])
    if mode in ("namespaces", "userns"):
        unshare(libc, mode)
    else:
        # No PID namespace: descendants that escape their parent (setsid, double fork) re-parent
        # to this supervisor instead of init, so it can kill them when the program ends.
        check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl subreaper")
    pid = os.fork()  # in the isolated modes the child is PID 1 of the new PID namespace
    if pid == 0:
        start_program(libc, mode, limits, source)
    _, status = os.waitpid(pid, 0)
    if mode == "rlimits":
        reap_descendants()
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
