"""A whole online booking, ours against the peer's (django-appointment), in one run.

Run from the project root:

    .venv/bin/python benchmarks/peer_booking.py [--runs 30] [--therapists 20] [--keep-tmp]

Issue 13 compares the two POSTs of our booking (details sent, confirm) with the peer's
new-visitor booking. This script measures both in the same launch, one after the other:

1. Creates a throwaway virtualenv in a temp dir (this interpreter's ``-m venv``, so both
   sides run the same Python) and installs the pinned django-appointment and Django there,
   never in the project's virtualenv. The wheels are downloaded once into a wheelhouse
   (``--wheels``, by default ``~/.cache/clinic-benchmarks/django-appointment-<version>``)
   and installed from it with ``--no-index``, so later runs work offline.
2. Runs ``peer_site.py`` under that virtualenv: a minimal site using the peer's app
   (SQLite, DEBUG off, locmem email), seeded with the same busy clinic as ours (N staff
   members, 60-minute service, the same appointments, about 60% of the working time for a
   month), walking a new visitor's booking the way the peer's pages do: appointment
   request POST, then client information POST (creates the user, emails a code), then the
   code POST (creates the appointment), each followed by the page it redirects to.
3. Builds our throwaway site and walks ``booking_flow.py``'s booking (each run a new email
   address, so a new client each time) in this process.
4. Prints a side-by-side table (median and minimum milliseconds, queries per POST, the
   two POSTs, every POST, with the pages they redirect to, ours/peer ratios), each side's
   trivial view, the machine's line, and writes ``benchmarks/results/peer_booking-*.json``.

Timings are server time in process (Django's test client, no HTTP), queries are counted
with ``CaptureQueriesContext``. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import availability  # noqa: E402
import booking_flow  # noqa: E402
import common  # noqa: E402

PEER_VERSION = "3.12.0"  # the latest release on PyPI; it supports Django 4.2 to 6.1
PEER_DJANGO = "5.2.19"  # the Django we run
# Everything the peer installs, pinned, so every run (and the offline ones) is the same.
PEER_PINS = [
    f"django-appointment=={PEER_VERSION}",
    f"Django=={PEER_DJANGO}",
    "asgiref==3.13.0",
    "babel==2.19.0",
    "colorama==0.4.6",
    "django-phonenumber-field==8.5.0",
    "icalendar==7.3.2",
    "phonenumbers==9.0.43",
    "pillow==12.3.0",
    "python-dateutil==4.0.0",
    "sqlparse==0.6.1",
    "typing_extensions==4.16.0",
    "tzdata==2026.6",
]

# (label, our step, the peer's step); None where a side has no such step.
POSTS = [
    ("1st POST: details / request", "details (sent)", "request (sent)"),
    ("2nd POST: confirm / client info", "confirm (books)", "client info (sent)"),
    ("3rd POST: - / code (books)", None, "code (sent, books)"),
]
# The page each POST redirects to, which the visitor's browser asks for next.
FOLLOWED = {
    "ours": ["review", "confirmation page"],
    "peer": ["client info (shown)", "code page (shown)", "thank-you page"],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="bookings on each side (default 30)")
    parser.add_argument("--therapists", type=int, default=20, help="staff members on each side (default 20)")
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the temp dir (venv, databases, peer.log)"
    )
    parser.add_argument(
        "--wheels",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "clinic-benchmarks"
        / f"django-appointment-{PEER_VERSION}",
        help="where the peer's wheels are kept between runs",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.therapists < 1:
        parser.error("--runs and --therapists must be at least 1")
    return args


# --------------------------------------------------------------------------- the peer's venv


def _run(command: list[str], what: str, timeout: float = 600) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise common.BenchError(f"{what} took longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise common.BenchError(
            f"{what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )


def peer_venv(tmp: Path, wheels: Path) -> Path:
    """A new virtualenv in ``tmp`` with the pinned peer installed; its python."""
    venv = tmp / "venv"
    print(f"  virtualenv for django-appointment {PEER_VERSION} in {venv}", flush=True)
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    python = venv / "bin" / "python"
    marker = wheels / "PINS.txt"
    pins_text = "\n".join(PEER_PINS) + "\n"
    if not (marker.exists() and marker.read_text() == pins_text):
        print(f"  downloading the peer's wheels into {wheels} (once)", flush=True)
        wheels.mkdir(parents=True, exist_ok=True)
        _run(
            [str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(wheels), *PEER_PINS],
            "pip download (needs PyPI the first time)",
        )
        marker.write_text(pins_text)
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheels),
            *PEER_PINS,
        ],
        f"pip install from {wheels}",
    )
    return python


def run_peer(python: Path, tmp: Path, args: argparse.Namespace, time_zone: str) -> dict:
    workdir = tmp / "peer"
    workdir.mkdir()
    out = workdir / "result.json"
    log = tmp / "peer.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [
        str(python), str(common.BENCH_DIR / "peer_site.py"), "--workdir", str(workdir), "--out", str(out),
        "--therapists", str(args.therapists), "--runs", str(args.runs), "--time-zone", time_zone,
    ]  # fmt: skip
    print("  the peer's booking (seed, then walk)", flush=True)
    with log.open("w") as log_file:
        try:
            done = subprocess.run(
                command,
                cwd=workdir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=1800,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise common.BenchError("the peer's run took longer than 30 minutes") from exc
    if done.returncode != 0:
        raise common.BenchError(f"the peer's run failed (exit {done.returncode}):\n{common.tail(log)}")
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- figures


def _sums(side: dict, steps: list[str]) -> tuple[list[float], list[int]]:
    """Per run: the milliseconds and the queries of ``steps`` together."""
    runs = len(side["timings"][steps[0]])
    ms = [sum(side["timings"][step][r] for step in steps) for r in range(runs)]
    queries = [sum(side["query_counts"][step][r] for step in steps) for r in range(runs)]
    return ms, queries


def _figure(side: dict, steps: list[str]) -> dict | None:
    if not steps:
        return None
    ms, queries = _sums(side, steps)
    return {
        "steps": steps,
        "median_ms": round(statistics.median(ms), 2),
        "min_ms": round(min(ms), 2),
        "queries_min": min(queries),
        "queries_max": max(queries),
    }


def summarise(ours: dict, peer: dict) -> list[dict]:
    rows = []
    for label, our_step, peer_step in POSTS:
        rows.append(
            {
                "label": label,
                "ours": _figure(ours, [our_step] if our_step else []),
                "peer": _figure(peer, [peer_step]),
            }
        )
    our_posts = [step for _, step, _ in POSTS if step]
    peer_posts = [step for _, _, step in POSTS]
    totals = [
        ("the two POSTs", our_posts[:2], peer_posts[:2]),
        ("every POST of the booking", our_posts, peer_posts),
        (
            "every POST + the pages they redirect to",
            our_posts + FOLLOWED["ours"],
            peer_posts + FOLLOWED["peer"],
        ),
    ]
    for label, our_steps, peer_steps in totals:
        rows.append({"label": label, "ours": _figure(ours, our_steps), "peer": _figure(peer, peer_steps)})
    for row in rows:
        if row["ours"] and row["peer"]:
            row["ratio"] = round(row["ours"]["median_ms"] / row["peer"]["median_ms"], 2)
    return rows


def _cells(figure: dict | None) -> str:
    if figure is None:
        return f"{'-':>9}{'-':>8}{'-':>9}"
    low, high = figure["queries_min"], figure["queries_max"]
    queries = str(high) if low == high else f"{low}-{high}"
    return f"{figure['median_ms']:>9.1f}{figure['min_ms']:>8.1f}{queries:>9}"


def print_report(rows: list[dict], ours: dict, peer: dict, args: argparse.Namespace) -> None:
    print(
        f"\n{args.runs} new-visitor bookings on each side, {args.therapists} staff members about 60% booked; "
        f"peer: django-appointment {peer['version']} on Django {peer['django']}"
    )
    head = f"{'median ms':>9}{'min ms':>8}{'queries':>9}"
    print(f"\n{'':<42}{'ours':^26}  {'peer':^26}")
    print(f"{'':<42}{head}  {head}{'ours/peer':>11}")
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if "ratio" in row else "-"
        print(f"{row['label']:<42}{_cells(row['ours'])}  {_cells(row['peer'])}{ratio:>11}")
    trivial = "trivial view (test client, all middleware)"
    print(f"{trivial:<42}{ours['trivial_ms']:>9.2f}{'':>17}  {peer['trivial_ms']:>9.2f}")

    two, every = rows[len(POSTS)]["ours"], rows[len(POSTS) + 1]["peer"]
    met = "met" if two["median_ms"] < every["median_ms"] else "not met"
    print(
        f"\naim (issue 13), our two POSTs under the peer's new-visitor total (every POST): "
        f"{two['median_ms']:.1f} ms against {every['median_ms']:.1f} ms, {met}"
    )
    for name, side in (("ours", ours), ("peer", peer)):
        print(f"\n{name}, every request of a booking:")
        for step, values in side["timings"].items():
            counts = side["query_counts"][step]
            queries = str(max(counts)) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"
            print(f"  {step:<22}{statistics.median(values):>9.1f}{min(values):>8.1f}{queries:>9}")


def main() -> int:
    args = parse_args()
    # Our site's whitenoise looks for collected static files, which page timings never need.
    warnings.filterwarnings("ignore", message="No directory at")
    tmp = Path(tempfile.mkdtemp(prefix="peer-booking-"))
    try:
        python = peer_venv(tmp, args.wheels)
        (tmp / "ours").mkdir()
        availability.setup_pages_site(tmp / "ours")
        from django.conf import settings

        # One watch over both sides, and one over each: the sides run one after the other,
        # so a machine that got busier in between shows up as a difference in their lines.
        with common.MachineWatch("peer_booking") as watch:
            with common.MachineWatch("peer's side") as peer_watch:
                peer = run_peer(python, tmp, args, settings.CLINIC_TIME_ZONE)
            print("  our booking (seed, then walk)", flush=True)
            with common.MachineWatch("our side") as our_watch:
                ours = booking_flow.walk(therapists=args.therapists, runs=args.runs, new_visitors=True)
                ours["trivial_ms"] = common.trivial_view_ms()
        rows = summarise(ours, peer)
        print_report(rows, ours, peer, args)
        for line in (peer_watch.line(), our_watch.line(), watch.line()):
            print(line)
        common.RESULTS_DIR.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = common.RESULTS_DIR / f"peer_booking-{stamp}.json"
        ours.pop("confirm_sql", None)
        path.write_text(
            json.dumps(
                {
                    "benchmark": "peer_booking",
                    "commit": common.git_commit(),
                    "runs": args.runs,
                    "therapists": args.therapists,
                    "rows": rows,
                    "machine": watch.result,
                    "machine_by_side": {"peer": peer_watch.result, "ours": our_watch.result},
                    "ours": ours,
                    "peer": peer,
                },
                indent=2,
            )
        )
        print(f"results: {path.relative_to(common.PROJECT)}")
    except common.BenchError as exc:
        print(f"peer_booking: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep_tmp:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
