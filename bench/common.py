"""Helpers shared by the benchmark suites (bench/run.py, bench/providers.py, bench/growth.py).

A keep-alive raw HTTP client for seeding and request floors, the ``ansible-playbook`` runner that measures
wall time, CPU and peak memory of a run, request counting on a real registry, the machine description and
the plain-text table renderer. Nothing here imports the collection.
"""

import concurrent.futures
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402  pylint: disable=wrong-import-position
import yaml  # noqa: E402  pylint: disable=wrong-import-position
from requests.adapters import HTTPAdapter  # noqa: E402  pylint: disable=wrong-import-position

from tests.support.ansible_runner import ANSIBLE_BIN_DIR, ansible_env  # noqa: E402  pylint: disable=wrong-import-position

BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
CALLBACK_DIR = BENCH_DIR / "callback_plugins"
TIME_BIN = "/usr/bin/time"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cjson(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def iso(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# A plain keep-alive HTTP client: used for seeding and as the "raw request floor".
# It never imports the collection.
# ---------------------------------------------------------------------------
class RawClient:
    """``requests.Session`` (keep-alive pool), Basic auth sent up front, a bounded thread pool."""

    def __init__(self, registry, concurrency):
        self.base = registry.url
        self.concurrency = max(1, int(concurrency))
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, self.concurrency * 2), max_retries=2)
        self.session.mount("http://", adapter)
        if registry.auth == "htpasswd":
            self.session.auth = (registry.username, registry.password)
        elif registry.auth != "none":
            raise ValueError("RawClient supports auth none/htpasswd only")
        self.sent = 0
        self._lock = threading.Lock()

    def req(self, method, path, ok=(200,), **kwargs):
        with self._lock:
            self.sent += 1
        resp = self.session.request(method, self.base + path, timeout=60, **kwargs)
        if ok is not None and resp.status_code not in ok:
            raise RuntimeError("%s %s -> %s %s" % (method, path, resp.status_code, resp.text[:300]))
        return resp

    def pmap(self, func, items, concurrency=None):
        items = list(items)
        if not items:
            return []
        with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency or self.concurrency) as pool:
            return list(pool.map(func, items))

    # -- primitives --------------------------------------------------------
    def push_blob(self, repo, data, check=False):
        digest = sha256(data)
        if check and self.req("HEAD", "/v2/%s/blobs/%s" % (repo, digest), ok=(200, 404)).status_code == 200:
            return digest
        resp = self.req("POST", "/v2/%s/blobs/uploads/" % repo, ok=(202,))
        location = resp.headers["Location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        self.session.put(location + sep + "digest=" + digest, data=data, timeout=60,
                         headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        with self._lock:
            self.sent += 1
        return digest

    def put_manifest(self, repo, ref, body, media_type=OCI_MANIFEST):
        self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), ok=(201,), data=body, headers={"Content-Type": media_type})

    def tags(self, repo):
        resp = self.req("GET", "/v2/%s/tags/list" % repo, ok=(200, 404))
        return [] if resp.status_code == 404 else sorted(resp.json().get("tags") or [])

    def head(self, repo, ref):
        resp = self.req("HEAD", "/v2/%s/manifests/%s" % (repo, ref), ok=(200, 404), headers={"Accept": ACCEPT})
        return resp.headers.get("Docker-Content-Digest") if resp.status_code == 200 else None


def image_body(layer_digest, layer_size, config_bytes):
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256(config_bytes), "size": len(config_bytes)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}]}
    return cjson(manifest)


def config_bytes_for(created, layer_digest, label):
    return cjson({"created": created, "architecture": "amd64", "os": "linux",
                  "config": {"Labels": {"bench.id": label}},
                  "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                  "history": [{"created": created, "created_by": "regops bench"}]})


# ---------------------------------------------------------------------------
# Process-tree memory sampler + ansible-playbook runner
# ---------------------------------------------------------------------------
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root):
    """(sum RSS, max single RSS) in bytes over ``root`` and all its descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                stat = handle.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    total = biggest = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open("/proc/%d/statm" % pid, "rb") as handle:
                rss = int(handle.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            rss = 0
        total += rss
        biggest = max(biggest, rss)
        stack.extend(parents.get(pid, ()))
    return total, biggest


class Sampler(threading.Thread):
    def __init__(self, pid, interval=0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_sum = 0
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            total, _big = _tree_rss(self.pid)
            self.peak_sum = max(self.peak_sum, total)
            self.stop_event.wait(self.interval)


def run_playbook(plays, extra_vars, label, workroot):
    """Run ansible-playbook under /usr/bin/time -v; return timings, memory and the callback summary."""
    workdir = Path(tempfile.mkdtemp(prefix="pb-%s-" % label, dir=workroot))
    (workdir / "tmp").mkdir()
    playbook = workdir / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    inventory = workdir / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    vars_file = workdir / "vars.json"
    vars_file.write_text(json.dumps(extra_vars))
    events = workdir / "events.json"
    timefile = workdir / "time.txt"
    env = ansible_env(str(workdir), {
        "ANSIBLE_VERBOSITY": "0",  # the harness runs the tests at -vvv with --diff; a benchmark measures a plain run
        "ANSIBLE_DIFF_ALWAYS": "0",
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
        "ANSIBLE_CALLBACKS_ENABLED": "regops_bench",
        "REGOPS_BENCH_EVENTS": str(events),
    })
    cmd = [str(ANSIBLE_BIN_DIR / "ansible-playbook"), "-i", str(inventory), str(playbook), "-e", "@" + str(vars_file)]
    use_time = os.access(TIME_BIN, os.X_OK)
    if use_time:
        cmd = [TIME_BIN, "-v", "-o", str(timefile)] + cmd
    with open(workdir / "stdout.txt", "wb") as out, open(workdir / "stderr.txt", "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=str(workdir), env=env, stdout=out, stderr=err)  # pylint: disable=consider-using-with
        sampler = Sampler(proc.pid)
        sampler.start()
        proc.wait()
        wall = time.monotonic() - start
        sampler.stop_event.set()
        sampler.join()
    result = {"label": label, "rc": proc.returncode, "wall_s": round(wall, 3), "tree_peak_rss_mb": round(sampler.peak_sum / 2**20, 1),
              "workdir": str(workdir)}
    if use_time and timefile.exists():
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timefile.read_text())
        result["max_single_rss_mb"] = round(int(match.group(1)) / 1024, 1) if match else None
        text = timefile.read_text()
        user = re.search(r"User time \(seconds\): ([\d.]+)", text)
        system = re.search(r"System time \(seconds\): ([\d.]+)", text)
        if user and system:
            result["client_cpu_s"] = round(float(user.group(1)) + float(system.group(1)), 2)
    else:
        import resource  # pylint: disable=import-outside-toplevel
        result["max_single_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    if events.exists():
        summary = json.loads(events.read_text())
        result["module_invocations"] = summary["module_invocations"]
        result["tasks"] = summary["tasks"]
    else:
        result["module_invocations"] = None
        result["tasks"] = []
    if proc.returncode != 0:
        tail = (workdir / "stdout.txt").read_text(errors="replace")[-3000:]
        raise RuntimeError("ansible-playbook %s failed rc=%s (workdir %s):\n%s" % (label, proc.returncode, workdir, tail))
    return result


def play(tasks, name="bench"):
    return [{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def count_requests(registry, mark):
    entries = registry.request_log()[mark:]
    by = {}
    for entry in entries:
        kind = entry.path.split("?")[0]
        kind = ("catalog" if "/_catalog" in kind else "tags/list" if kind.endswith("/tags/list") else
                "manifests" if "/manifests/" in kind else "blobs/uploads" if "/blobs/uploads" in kind else
                "blobs" if "/blobs/" in kind else kind)
        key = "%s %s %d" % (entry.method, kind, entry.status)
        by[key] = by.get(key, 0) + 1
    return len(entries), dict(sorted(by.items()))


def registry_cpu_s(registry):
    """user+system CPU seconds the registry process has used so far."""
    with open("/proc/%d/stat" % registry._proc.pid, "rb") as handle:  # pylint: disable=protected-access
        stat = handle.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(registry, func):
    """Run ``func()``; return (its result, HTTP requests in the access log, breakdown).

    The result dict also gets ``registry_cpu_s`` (registry process CPU during the run), ``client_cpu_s``
    for in-process runs (when ``func`` does not report its own) and the load average before/after:
    the box is shared, so CPU seconds are the contention-robust complement to wall time.
    """
    mark = len(registry.request_log())
    load_before = os.getloadavg()[0]
    cpu0, proc0 = registry_cpu_s(registry), time.process_time()
    result = func()
    cpu1, proc1 = registry_cpu_s(registry), time.process_time()
    total, breakdown = count_requests(registry, mark)
    if isinstance(result, dict):
        result["registry_cpu_s"] = round(cpu1 - cpu0, 2)
        result.setdefault("client_cpu_s", round(proc1 - proc0, 2))
        result["loadavg_1m_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result, total, breakdown


def machine():
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            models = re.findall(r"model name\s*:\s*(.+)", handle.read())
        info["cpu_model"] = models[0] if models else None
        with open("/proc/meminfo", encoding="utf-8") as handle:
            info["mem_total_gb"] = round(int(re.search(r"MemTotal:\s+(\d+)", handle.read()).group(1)) / 2**20, 1)
    except (OSError, AttributeError):
        pass
    try:
        info["ansible_core"] = subprocess.run([str(ANSIBLE_BIN_DIR / "ansible-playbook"), "--version"], capture_output=True, text=True,
                                              check=False).stdout.splitlines()[0]
        info["docker_registry"] = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "docker-registry"], capture_output=True,
                                                 text=True, check=False).stdout.strip()
    except (OSError, IndexError):
        pass
    return info


def fmt_table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])
