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
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402  (the machine's load, shared by every benchmark)

PROJECT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT / "benchmarks" / "results"
AIM_PERCENT = 80.0  # issue 13 (it was 40% before the page cache)

TRIVIAL_PATH = common.TRIVIAL_PATH
PAGES = [
    ("trivial view", TRIVIAL_PATH),
    ("article list", "/articles/"),
    ("article detail", "/articles/massage-and-sleep/"),
]


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
    common.write_site_modules(tmp)
    lua = tmp / "report.lua"
    lua.write_text(common.WRK_REPORT_LUA)
    (tmp / "media").mkdir()
    env = common.bench_env(tmp)

    print(f"Preparing a throwaway site in {tmp}", flush=True)
    common.manage(env, "migrate", "--noinput")
    common.manage(env, "demo_data", "--force")
    common.manage(env, "collectstatic", "--noinput")

    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "gunicorn.log"
    print(f"Starting gunicorn clinic.wsgi on {base} with {args.workers} workers", flush=True)
    proc = common.start_gunicorn(env, port, args.workers, log)
    try:
        common.wait_until_up(proc, base, log)
        sizes = {}
        for _name, path in PAGES:
            status, body = common.fetch(base + path)
            if status != 200:
                raise common.BenchError(
                    f"{path} answered HTTP {status}, not 200; not benchmarking an error page"
                )
            sizes[path] = len(body)
            print(f"  {path}: 200, {len(body)} bytes", flush=True)

        rows = []
        for name, path in PAGES:
            if args.warmup:
                print(f"Warming up {path} for {args.warmup}s", flush=True)
                common.run_wrk(
                    base + path, args.warmup, threads=args.threads, connections=args.connections, lua=lua
                )
            print(f"Measuring {path} for {args.duration}s", flush=True)
            with common.MachineWatch(name) as watch:
                result = common.run_wrk(
                    base + path, args.duration, threads=args.threads, connections=args.connections, lua=lua
                )
            print("  " + watch.line(), flush=True)
            rows.append(
                {"name": name, "path": path, "response_bytes": sizes[path], "machine": watch.result, **result}
            )
            if proc.poll() is not None:
                raise common.BenchError(f"gunicorn exited during the run:\n{common.tail(log)}")
    finally:
        common.stop_gunicorn(proc)

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
        "git_commit": common.git_commit(),
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
    except common.BenchError as exc:
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
