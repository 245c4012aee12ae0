"""A Python interpreter for the e2e harness's module processes that starts with its imports done.

A module process of the collection spends most of its CPU before the module runs: Python's start, ``requests`` (about
0.17 CPU-seconds here) and ``ansible.module_utils.basic``; the e2e suite runs close to a thousand of them.
:func:`interpreter` starts, once per test process, a server that has imported those, and writes a small client script
that the harness's inventory names as ``ansible_python_interpreter``. ansible-playbook runs the client as it would run
Python (``<interpreter> .../AnsiballZ_tag.py``); the client hands its argv, working directory, environment and standard
streams (the descriptors themselves, over a Unix socket) to the server, which forks a child that runs the AnsiballZ file
with them; the child's exit status becomes the client's. Measured on the Gcore role run of tests/e2e/test_gcore_role.py
(system-wide CPU, 4 runs each): 5.4 CPU-seconds with ``sys.executable``, 4.1 with this.

What is shared is the interpreter's start and imports of code that is the same in every run: the standard library,
``requests``, and ansible-core's own ``module_utils`` from the ansible-core that builds the payloads. The collection's
code is never imported by the server (:func:`serve` checks): each run imports the module and its ``module_utils`` from
its AnsiballZ payload, so a collection file missing from the payload still fails the run. Each module run is its own
forked process: nothing a module sets or caches survives into the next one.

A client killed (a timeout, a test killing ansible-playbook) takes its module run with it: the child watches the
connection and kills itself when the client's end closes. The tests that freeze and kill a run's whole process tree
(tests/support/role_run.py), the demo and the benchmark run modules with the real interpreter.
``REGOPS_WARM_PYTHON=0`` turns this off (every module process is then a fresh ``sys.executable``).
"""

import atexit
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading

# Imported once by the server, inherited by every module run: what the collection's modules import besides the
# collection itself (and what AnsiballZ's wrapper and this module's child use).
PRELOAD = (
    "ansible.module_utils.basic", "ansible.module_utils.urls", "requests", "urllib3", "concurrent.futures", "json",
    "ssl", "socket", "threading", "hashlib", "base64", "datetime", "re", "typing", "dataclasses", "enum", "http.client",
    "email.utils", "subprocess", "tempfile", "traceback", "zipfile", "runpy", "ast", "importlib.util", "uuid",
)

CLIENT = """#!{python} -SE
import array, os, socket, struct, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect({address!r})
payload = repr((sys.argv, os.getcwd(), dict(os.environ))).encode()
conn.sendmsg([struct.pack("!I", len(payload)), payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
status = conn.recv(16)
sys.exit(int(status) if status else 255)
"""

_STARTED = {}
_STARTING = threading.Lock()  # tests that run two ansible-playbooks at once, from threads: one server all the same


def enabled():
    return os.environ.get("REGOPS_WARM_PYTHON", "1") != "0"


def interpreter(env):
    """The client's path (the server started with ``env`` on first use in this process), or ``sys.executable`` when
    turned off."""
    if not enabled():
        return sys.executable
    with _STARTING:
        if os.getpid() not in _STARTED:
            _STARTED[os.getpid()] = _start(env)
        return _STARTED[os.getpid()]


def _start(env):
    workdir = tempfile.mkdtemp(prefix="regops-warm-")
    # an abstract socket (Linux): no file, and no limit from the length of a deep temporary directory's path
    address = f"\0regops-warm-{os.getpid()}-{os.path.basename(workdir)}"
    client = os.path.join(workdir, "python")
    with open(client, "w", encoding="utf-8") as handle:
        handle.write(CLIENT.format(python=sys.executable, address=address))
    os.chmod(client, 0o755)
    # pylint: disable-next=consider-using-with
    proc = subprocess.Popen([sys.executable, __file__, address[1:]], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = proc.stdout.readline()
    proc.stdout.close()
    if ready != b"ready\n":
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the warm interpreter's server did not start (exit {proc.returncode})")
    atexit.register(_stop, proc, workdir)
    return client


def _stop(proc, workdir):
    """Close the server's stdin: it stops accepting, waits for its module runs and exits (so that their CPU time is
    counted in this process's children, like a module process's)."""
    proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    os.unlink(os.path.join(workdir, "python"))
    os.rmdir(workdir)


def _recv_exactly(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _run_child(conn):
    """In the forked child: take the client's streams, argv, cwd and environment, run the AnsiballZ file; never returns."""
    import ast  # pylint: disable=import-outside-toplevel
    import runpy  # pylint: disable=import-outside-toplevel
    import signal  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    import traceback  # pylint: disable=import-outside-toplevel
    header, fds, _flags, _addr = conn.recvmsg(4, socket.CMSG_LEN(3 * 4))
    (size,) = struct.unpack("!I", header)
    argv, cwd, environ = ast.literal_eval(_recv_exactly(conn, size).decode())
    received = []
    for level, kind, data in fds:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received.extend(struct.unpack(f"{len(data) // 4}i", data))
    for target, fd in zip((0, 1, 2), received):
        os.dup2(fd, target)
        os.close(fd)

    def watch():
        if not conn.recv(1):  # the client is gone: so is its module run
            os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, daemon=True).start()

    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    sys.argv = argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(argv[1]))
    status = 0
    try:
        runpy.run_path(argv[1], run_name="__main__")
    except SystemExit as exc:
        if exc.code is None:
            status = 0
        elif isinstance(exc.code, int):
            status = exc.code
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException:  # pylint: disable=broad-except
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        conn.sendall(str(status).encode())
        os._exit(status)  # pylint: disable=protected-access


def serve(name):
    """Import :data:`PRELOAD`, then fork a child per connection until stdin closes; children are waited for here, so
    that their CPU time adds up in the test process's children like any module process's."""
    import importlib  # pylint: disable=import-outside-toplevel
    import select  # pylint: disable=import-outside-toplevel
    for module in PRELOAD:
        importlib.import_module(module)
    leaked = sorted(module for module in sys.modules if module.startswith("ansible_collections"))
    if leaked:
        raise SystemExit(f"the warm interpreter must not import the collection: {leaked}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    children = set()
    while True:
        readable, _w, _x = select.select([listener, sys.stdin], [], [], 1.0)
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 1):
            break
        if listener in readable:
            conn, _addr = listener.accept()
            pid = os.fork()
            if pid == 0:
                listener.close()
                _run_child(conn)
            children.add(pid)
            conn.close()
        for pid in list(children):
            if os.waitpid(pid, os.WNOHANG)[0]:
                children.discard(pid)
    listener.close()
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    serve(sys.argv[1])
