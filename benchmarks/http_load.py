"""Request rates over HTTP, each as a share of a trivial view's rate in the same run.

Run from the project root (needs wrk: ``apt-get install wrk``):

    .venv/bin/python benchmarks/http_load.py [--therapists 50] [--duration 10]
    .venv/bin/python benchmarks/http_load.py --database-url postgres://postgres@127.0.0.1:5432/clinic_http \\
        --redis-url redis://127.0.0.1:6379/15

It builds a throwaway site (SQLite in a temp dir, or a PostgreSQL database it creates and
drops; the cache in the database, or in Redis with ``--redis-url``), loads the demo data,
replaces the therapists with N busy ones (about 60% of every working day booked for a
month, as ``availability.py`` seeds), starts gunicorn with 2 workers and loads each URL
with wrk: the trivial view, the availability JSON for one therapist and one day, for any
therapist over 7 days, the times page (any therapist, one week), and an article page.
Each URL's run is wrapped in :class:`common.MachineWatch`, whose line says how busy the
machine was. The same URL is asked for again and again, so this measures the steady
state of a busy page (served from the caches; a change to the schedule makes the next
request compute afresh): ``availability.py`` measures the computing itself.

Nothing is asserted about time; figures go to ``benchmarks/results/http_load-*.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

# The aims, as a share of the trivial view's rate.
AIMS = {"availability, 1 therapist, 1 day": 25.0, "availability, any, 7 days": 5.0, "article page": 80.0}

SEED = """
import datetime as dt, json, sys
import django
django.setup()
sys.path.insert(0, {bench!r})
import availability
from booking.selectors import clinic_zone
zone = clinic_zone()
first_day = availability.first_monday_after(dt.datetime.now(zone).date())
stats = availability.seed({n}, first_day, zone)
print(json.dumps({{"first_day": first_day.isoformat(), **stats}}, default=str))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--therapists", type=int, default=50)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per URL (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per URL (default 2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--database-url", help="a PostgreSQL database to create, use and drop")
    parser.add_argument("--redis-url", help="use Redis as the cache (e.g. redis://127.0.0.1:6379/15)")
    parser.add_argument("--keep-tmp", action="store_true")
    return parser.parse_args()


def pages(first_day: str) -> list[tuple[str, str]]:
    api = "/book/api/availability/?technique=swedish&length=60"
    return [
        ("trivial view", common.TRIVIAL_PATH),
        ("availability, 1 therapist, 1 day", f"{api}&therapist=therapist-000&start={first_day}&days=1"),
        ("availability, any, 7 days", f"{api}&therapist=any&start={first_day}&days=7"),
        ("times page, any, 1 week", f"/book/swedish/times/?length=60&therapist=any&week={first_day}"),
        ("article page", "/articles/massage-and-sleep/"),
    ]


def benchmark(args: argparse.Namespace, tmp: Path) -> dict:
    common.write_site_modules(tmp)
    lua = tmp / "report.lua"
    lua.write_text(common.WRK_REPORT_LUA)
    (tmp / "media").mkdir()
    env = common.bench_env(tmp, database_url=args.database_url, redis_url=args.redis_url)
    print(f"Preparing a throwaway site in {tmp}", flush=True)
    common.manage(env, "migrate", "--noinput")
    common.manage(env, "demo_data", "--force")
    common.manage(env, "collectstatic", "--noinput")
    print(f"  seeding {args.therapists} busy therapists", flush=True)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED.format(bench=str(common.BENCH_DIR), n=args.therapists)],
        cwd=common.PROJECT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if seeded.returncode != 0:
        raise common.BenchError(f"seeding failed:\n{seeded.stderr[-3000:]}")
    stats = json.loads(seeded.stdout.strip().splitlines()[-1])

    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "gunicorn.log"
    print(f"Starting gunicorn on {base} with {args.workers} workers", flush=True)
    proc = common.start_gunicorn(env, port, args.workers, log)
    rows = []
    try:
        common.wait_until_up(proc, base, log)
        for name, path in pages(stats["first_day"]):
            status, body = common.fetch(base + path)
            if status != 200:
                raise common.BenchError(f"{path} answered HTTP {status}, not 200:\n{body[:500]!r}")
            if args.warmup:
                common.run_wrk(
                    base + path, args.warmup, threads=args.threads, connections=args.connections, lua=lua
                )
            with common.MachineWatch(name) as watch:
                result = common.run_wrk(
                    base + path, args.duration, threads=args.threads, connections=args.connections, lua=lua
                )
            print(f"  {name}: {result['requests_per_s']:.0f} req/s", flush=True)
            print("  " + watch.line(), flush=True)
            rows.append({"name": name, "path": path, "bytes": len(body), "machine": watch.result, **result})
            if proc.poll() is not None:
                raise common.BenchError(f"gunicorn exited during the run:\n{common.tail(log)}")
    finally:
        common.stop_gunicorn(proc)
    trivial = rows[0]["requests_per_s"]
    for row in rows[1:]:
        row["percent_of_trivial"] = 100.0 * row["requests_per_s"] / trivial if trivial else None
        row["aim_percent"] = AIMS.get(row["name"])
    return {
        "benchmark": "http_load",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": common.git_commit(),
        "settings": {
            "therapists": args.therapists,
            "duration_s": args.duration,
            "wrk": f"-t{args.threads} -c{args.connections}",
            "gunicorn_workers": args.workers,
            "database": "postgresql" if args.database_url else "sqlite",
            "cache": "redis" if args.redis_url else "database",
        },
        "seeded": stats,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "results": rows,
    }


def print_table(report: dict) -> None:
    print(
        f"\n{report['settings']['therapists']} therapists, {report['settings']['database']}, cache in "
        f"{report['settings']['cache']}, gunicorn {report['settings']['gunicorn_workers']} workers, "
        f"wrk {report['settings']['wrk']} {report['settings']['duration_s']}s"
    )
    print(f"{'page':<36}{'req/s':>9}{'p99 ms':>9}{'% trivial':>11}{'aim':>7}{'others':>8}")
    for row in report["results"]:
        share = row.get("percent_of_trivial")
        aim = row.get("aim_percent")
        print(
            f"{row['name']:<36}{row['requests_per_s']:>9.0f}{row['latency_p99_us'] / 1000:>9.1f}"
            f"{'' if share is None else f'{share:.0f}%':>11}{'' if aim is None else f'{aim:.0f}%':>7}"
            f"{100 * (row['machine']['others_share'] or 0):>7.0f}%"
        )
    print("('others': the share of all CPU that processes outside this run took while the row ran)")


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed; install it with:  apt-get install wrk", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    import availability  # the PostgreSQL create/drop helpers

    tmp = Path(tempfile.mkdtemp(prefix="clinic-http-"))
    created = False
    try:
        if args.database_url:
            availability.pg_create(args.database_url)
            created = True
        with common.MachineWatch("whole run") as whole:
            report = benchmark(args, tmp)
        report["machine"]["whole_run"] = whole.result
    except common.BenchError as exc:
        print(f"\nBenchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if created:
            availability.pg_drop(args.database_url)
        if args.keep_tmp:
            print(f"Kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(report)
    print(whole.line())
    common.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = common.RESULTS_DIR / f"http_load-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
