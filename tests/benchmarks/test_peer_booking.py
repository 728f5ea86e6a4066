"""The side-by-side figures of benchmarks/peer_booking.py, from made-up timings."""

import peer_booking


def side(timings: dict[str, list[float]], queries: dict[str, list[int]]) -> dict:
    return {"timings": timings, "query_counts": queries}


OURS = side(
    {"details (sent)": [10.0, 30.0, 20.0], "confirm (books)": [40.0, 10.0, 30.0], "review": [1.0, 1.0, 1.0],
     "confirmation page": [2.0, 2.0, 2.0]},
    {"details (sent)": [15, 15, 15], "confirm (books)": [39, 42, 40], "review": [10, 10, 10],
     "confirmation page": [4, 4, 4]},
)  # fmt: skip
PEER = side(
    {"request (sent)": [5.0, 5.0, 5.0], "client info (sent)": [10.0, 10.0, 10.0],
     "code (sent, books)": [20.0, 25.0, 15.0], "client info (shown)": [1.0, 1.0, 1.0],
     "code page (shown)": [1.0, 1.0, 1.0], "thank-you page": [3.0, 3.0, 3.0]},
    {"request (sent)": [11, 11, 11], "client info (sent)": [11, 11, 11], "code (sent, books)": [20, 20, 20],
     "client info (shown)": [3, 3, 3], "code page (shown)": [1, 1, 1], "thank-you page": [19, 19, 19]},
)  # fmt: skip


def rows() -> dict[str, dict]:
    return {row["label"]: row for row in peer_booking.summarise(OURS, PEER)}


def test_totals_are_per_run_sums_then_their_median_and_minimum():
    two = rows()["the two POSTs"]
    # Ours per run: 50, 40, 50; the peer's: 15, 15, 15.
    assert two["ours"]["median_ms"] == 50.0
    assert two["ours"]["min_ms"] == 40.0
    assert (two["ours"]["queries_min"], two["ours"]["queries_max"]) == (54, 57)
    assert two["peer"]["median_ms"] == 15.0
    assert two["ratio"] == round(50 / 15, 2)


def test_every_post_counts_the_peers_third_post_and_ours_has_none():
    table = rows()
    assert table["3rd POST: - / code (books)"]["ours"] is None
    assert "ratio" not in table["3rd POST: - / code (books)"]
    every = table["every POST of the booking"]
    assert every["peer"]["median_ms"] == 35.0  # 35, 40, 30 per run
    assert every["peer"]["queries_max"] == 42
    assert every["ours"]["median_ms"] == 50.0


def test_the_pages_the_posts_redirect_to_are_added_on_each_side():
    followed = rows()["every POST + the pages they redirect to"]
    assert followed["ours"]["median_ms"] == 53.0  # 53, 43, 53
    assert followed["peer"]["median_ms"] == 40.0  # 40, 45, 35
    assert followed["peer"]["queries_max"] == 65


def test_cells_show_a_query_range_only_when_runs_differ():
    table = rows()
    assert peer_booking._cells(table["2nd POST: confirm / client info"]["ours"]).split()[-1] == "39-42"
    assert peer_booking._cells(table["1st POST: details / request"]["ours"]).split()[-1] == "15"
    assert peer_booking._cells(None).split() == ["-", "-", "-"]
