"""Throughput of the article pages compared with a trivial view, under gunicorn.

Run from the project root:

    .venv/bin/python benchmarks/articles.py [--duration 10]

It builds a throwaway site in a temp dir (SQLite database, MEDIA_ROOT, demo data),
adds a trivial view (``/__bench/trivial/`` returning "ok") through a tiny settings and
urlconf module, so that view runs through the same middleware in the same gunicorn,
then loads each URL with wrk and prints requests/s, latency, and each article page's
rate as a percentage of the trivial view's (the aim is at least 80%, issue 13). The same
figures go to benchmarks/results/ as JSON. Nothing is asserted about time: the exit
status is 0 when the benchmark ran, non-zero when it could not.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (the machine's load, shared by every benchmark)

PROJECT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT / "benchmarks" / "results"
AIM_PERCENT = 80.0  # issue 13 (it was 40% before the page cache)

TRIVIAL_PATH = "/__bench/trivial/"
PAGES = [
    ("trivial view", TRIVIAL_PATH),
    ("article list", "/articles/"),
    ("article detail", "/articles/massage-and-sleep/"),
]

BENCH_SETTINGS = """\
from clinic.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench_urls"
"""

BENCH_URLS = """\
from django.http import HttpResponse
from django.urls import include, path


def trivial(request):
    return HttpResponse("ok")


urlpatterns = [
    path("__bench/trivial/", trivial, name="bench-trivial"),
    path("", include("clinic.urls")),
]
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


class BenchError(Exception):
    """Something stopped the benchmark from running; the message says what."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per URL (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per URL (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (database, logs)")
    args = parser.parse_args()
    if args.duration < 1 or args.warmup < 0 or args.threads < 1 or args.workers < 1:
        parser.error("--duration, --threads and --workers must be at least 1, --warmup at least 0")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk needs one per thread)")
    return args


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("GUNICORN_CMD_ARGS", "DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="bench_settings",
        PYTHONPATH=os.pathsep.join([str(tmp), str(PROJECT)]),
        DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}",
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
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> None:
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


def run_wrk(url: str, seconds: int, args: argparse.Namespace, lua: Path) -> dict:
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
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


def format_latency(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def print_table(rows: list[dict]) -> None:
    aim = f"≥ {AIM_PERCENT:.0f}%"
    headers = ["page", "URL", "req/s", "avg latency", "p99 latency", "errors", "% of trivial", aim]
    table = [
        [
            row["name"],
            row["path"],
            f"{row['requests_per_s']:.1f}",
            format_latency(row["latency_mean_us"]),
            format_latency(row["latency_p99_us"]),
            str(row["error_count"]),
            "-" if row["percent_of_trivial"] is None else f"{row['percent_of_trivial']:.1f}%",
            "-" if row["meets_aim"] is None else ("yes" if row["meets_aim"] else "NO"),
        ]
        for row in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    right = {2, 3, 4, 5, 6}

    def line(cells):
        padded = (
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for cells in table:
        print(line(cells))


def benchmark(args: argparse.Namespace, tmp: Path) -> dict:
    (tmp / "bench_settings.py").write_text(BENCH_SETTINGS)
    (tmp / "bench_urls.py").write_text(BENCH_URLS)
    lua = tmp / "report.lua"
    lua.write_text(WRK_REPORT_LUA)
    (tmp / "media").mkdir()
    env = bench_env(tmp)

    print(f"Preparing a throwaway site in {tmp}", flush=True)
    manage(env, "migrate", "--noinput")
    manage(env, "demo_data", "--force")
    manage(env, "collectstatic", "--noinput")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "gunicorn.log"
    print(f"Starting gunicorn clinic.wsgi on {base} with {args.workers} workers", flush=True)
    proc = start_gunicorn(env, port, args.workers, log)
    try:
        wait_until_up(proc, base, log)
        sizes = {}
        for _name, path in PAGES:
            status, body = fetch(base + path)
            if status != 200:
                raise BenchError(f"{path} answered HTTP {status}, not 200; not benchmarking an error page")
            sizes[path] = len(body)
            print(f"  {path}: 200, {len(body)} bytes", flush=True)

        rows = []
        for name, path in PAGES:
            if args.warmup:
                print(f"Warming up {path} for {args.warmup}s", flush=True)
                run_wrk(base + path, args.warmup, args, lua)
            print(f"Measuring {path} for {args.duration}s", flush=True)
            with common.MachineWatch(name) as watch:
                result = run_wrk(base + path, args.duration, args, lua)
            print("  " + watch.line(), flush=True)
            rows.append(
                {"name": name, "path": path, "response_bytes": sizes[path], "machine": watch.result, **result}
            )
            if proc.poll() is not None:
                raise BenchError(f"gunicorn exited during the run:\n{tail(log)}")
    finally:
        stop_gunicorn(proc)

    trivial_rate = rows[0]["requests_per_s"]
    for row in rows:
        if row["path"] == TRIVIAL_PATH or not trivial_rate:
            row["percent_of_trivial"] = None
            row["meets_aim"] = None
        else:
            row["percent_of_trivial"] = 100.0 * row["requests_per_s"] / trivial_rate
            row["meets_aim"] = row["percent_of_trivial"] >= AIM_PERCENT

    import django  # the venv's; only for the record

    return {
        "benchmark": "articles",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "aim_percent_of_trivial": AIM_PERCENT,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "wrk_threads": args.threads,
            "wrk_connections": args.connections,
            "gunicorn_workers": args.workers,
            "database": "sqlite (throwaway, demo data)",
            "debug": False,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "django": django.get_version(),
        },
        "results": rows,
    }


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed; this benchmark needs it as its load generator.\n"
            "Install it with:  apt-get install wrk   (as root; `sudo apt-get install wrk` otherwise)",
            file=sys.stderr,
        )
        return 2

    # SIGTERM ends the run the way Ctrl-C does: through the finally blocks below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    tmp = Path(tempfile.mkdtemp(prefix="clinic-bench-"))
    try:
        report = benchmark(args, tmp)
    except BenchError as exc:
        print(f"\nBenchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted; gunicorn stopped.", file=sys.stderr)
        return 130
    finally:
        if args.keep_tmp:
            print(f"Kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s against gunicorn "
        f"({args.workers} workers), DEBUG off, SQLite; {os.cpu_count()} CPUs"
    )
    print_table(report["results"])
    for row in report["results"]:
        if row["error_count"]:
            print(f"warning: {row['path']} had errors during the run: {row['errors']}")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS_DIR / f"articles-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
