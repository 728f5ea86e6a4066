"""What every benchmark shares: how busy the machine was, a trivial view to compare with,
and the pieces of an HTTP run (a throwaway site, gunicorn, wrk).

Figures from a shared machine are only as good as the machine was quiet, so every
benchmark wraps its measuring in :class:`MachineWatch` and prints its line: the load
average before and after, and the share of all CPUs that *other* processes took while it
ran (the machine's busy time from ``/proc/stat``, less this process's own time and its
children's, gunicorn and wrk included). Every benchmark also times a trivial view in the
same run, so its figures can be read as a ratio that a noisy machine disturbs less.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
TRIVIAL_PATH = "/__bench/trivial/"
_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """Something stopped the benchmark from running; the message says what."""


# --------------------------------------------------------------------------- the machine


def _machine_times() -> tuple[float, float]:
    """(busy, total) CPU-seconds of the whole machine since boot, all CPUs together."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    return (total - idle) / _TICKS, total / _TICKS


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        parent = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _process_tree_seconds(pid: int) -> float:
    """utime + stime (+ their reaped children's) of a live process, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the name: state is fields[0]; utime, stime, cutime, cstime are 14-17 in man 5 proc.
    return sum(int(v) for v in fields[11:15]) / _TICKS


def own_cpu_seconds() -> float:
    """CPU time of this process and everything it started: finished children through
    rusage (including what they reaped), running ones through /proc."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    running = sum(_process_tree_seconds(pid) for pid in _descendants(os.getpid()))
    return me.ru_utime + me.ru_stime + reaped.ru_utime + reaped.ru_stime + running


@dataclass
class MachineWatch:
    """``with MachineWatch("label") as watch: ...`` then ``watch.line()``."""

    label: str = "run"
    result: dict = field(default_factory=dict)

    def __enter__(self) -> MachineWatch:
        self._load = os.getloadavg()
        self._busy, self._total = _machine_times()
        self._own = own_cpu_seconds()
        self._wall = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        busy, total = _machine_times()
        own = own_cpu_seconds()
        busy, total, own = busy - self._busy, total - self._total, own - self._own
        others = max(0.0, busy - own)
        self.result = {
            "label": self.label,
            "wall_s": round(time.monotonic() - self._wall, 3),
            "cpus": os.cpu_count(),
            "load_before": [round(v, 2) for v in self._load],
            "load_after": [round(v, 2) for v in os.getloadavg()],
            "machine_busy_share": round(busy / total, 3) if total else None,
            "own_cpu_s": round(own, 2),
            "others_cpu_s": round(others, 2),
            "others_share": round(others / total, 3) if total else None,
        }

    def line(self) -> str:
        r = self.result
        return (
            f"[{r['label']}] load {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f} "
            f"({r['cpus']} CPUs); other processes took {100 * (r['others_share'] or 0):.0f}% of all CPU "
            f"({r['others_cpu_s']:.1f} s; this run {r['own_cpu_s']:.1f} s, machine busy "
            f"{100 * (r['machine_busy_share'] or 0):.0f}%) over {r['wall_s']:.1f} s"
        )


# --------------------------------------------------------------------------- in-process runs


def use_bench_urls() -> None:
    """Put the trivial view in front of the site's URLs (in-process benchmarks)."""
    from django.conf import settings
    from django.urls import clear_url_caches

    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    settings.ROOT_URLCONF = "bench_urls"
    clear_url_caches()


def trivial_view_ms(runs: int = 200) -> float:
    """Median milliseconds of the trivial view through the whole middleware stack, with
    Django's test client in this process (the in-process benchmarks' yardstick)."""
    from django.test import Client

    use_bench_urls()
    client = Client()
    client.get(TRIVIAL_PATH)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = client.get(TRIVIAL_PATH)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            raise BenchError(f"the trivial view answered {response.status_code}")
    return statistics.median(times)


# --------------------------------------------------------------------------- HTTP runs

BENCH_SETTINGS = """\
from clinic.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench_urls"
"""

# wrk calls done() once, after every thread has finished: print the summary as one
# JSON line, so nothing depends on parsing wrk's human-readable units.
WRK_REPORT_LUA = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"latency_mean_us": %f, "latency_stdev_us": %f, "latency_max_us": %.0f, ' ..
    '"latency_p50_us": %.0f, "latency_p90_us": %.0f, "latency_p99_us": %.0f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_site_modules(tmp: Path) -> None:
    """``bench_settings`` (the site's settings with the trivial view's URLs) in ``tmp``."""
    (tmp / "bench_settings.py").write_text(BENCH_SETTINGS)


def bench_env(tmp: Path, *, database_url: str | None = None, redis_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("GUNICORN_CMD_ARGS", "DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY", "REDIS_URL"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=os.pathsep.join([str(tmp), str(BENCH_DIR), str(PROJECT)]),
        DATABASE_URL=database_url or f"sqlite:///{tmp / 'bench.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_SALT=secrets.token_urlsafe(16),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        LOG_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    command = [sys.executable, str(PROJECT / "manage.py"), *args]
    print(f"  manage.py {' '.join(args)}", flush=True)
    try:
        done = subprocess.run(
            command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"manage.py {' '.join(args)} took longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise BenchError(
            f"manage.py {' '.join(args)} failed (exit {done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-4000:]}"
        )
    return done.stdout


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is reported as an HTTPError, never followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "clinic.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--error-logfile", str(log),
        "--log-level", "warning",
    ]  # fmt: skip
    # Its own session: a Ctrl-C in the terminal reaches this script only, which then
    # stops gunicorn in order (SIGTERM to the master, which stops its workers).
    return subprocess.Popen(
        command, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def wait_until_up(proc: subprocess.Popen, base: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited with {proc.returncode}:\n{tail(log)}")
        try:
            status, _ = fetch(base + TRIVIAL_PATH, timeout=2)
            if status == 200:
                return
            last_error = f"HTTP {status}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer within {timeout:.0f}s ({last_error}):\n{tail(log)}")


def stop_gunicorn(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers and exits
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"gunicorn (pid {proc.pid}) did not stop within {timeout:.0f}s; killing it", file=sys.stderr)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the session we created for it, and only that
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_wrk(url: str, seconds: int, *, threads: int, connections: int, lua: Path) -> dict:
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s",
        "--timeout", "10s", "-s", str(lua), url,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish within {seconds + 60}s for {url}") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk failed for {url} (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise BenchError(f"no summary from wrk for {url}:\n{done.stdout}{done.stderr}")
    seconds_run = data["duration_us"] / 1e6
    data["requests_per_s"] = data["requests"] / seconds_run if seconds_run else 0.0
    data["error_count"] = sum(data["errors"].values())
    return data


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=PROJECT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


class InProcessRun:
    """For benchmarks that time pages with Django's test client in this process: wrap the
    measuring in it, and it prints the machine's line and the trivial view's median
    milliseconds (timed in the same run, same process, same middleware) at the end."""

    def __init__(self, label: str, trivial_runs: int = 200) -> None:
        self.watch = MachineWatch(label)
        self.trivial_runs = trivial_runs
        self.trivial_ms: float | None = None

    def __enter__(self) -> InProcessRun:
        self.watch.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.trivial_ms = trivial_view_ms(self.trivial_runs)
        self.watch.__exit__(*exc)
        if exc[0] is None:
            print(f"\ntrivial view, same run (test client, all middleware): {self.trivial_ms:.2f} ms median")
        print(self.watch.line())
