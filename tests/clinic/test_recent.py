"""The per-process store in front of the shared cache (clinic/recent.py)."""

from clinic import recent


def test_only_the_most_recently_used_values_are_kept():
    values = recent.RecentValues(size=2)
    values.put("a", "A")
    values.put("b", "B")
    assert values.get("a") == "A"  # now the most recent
    values.put("c", "C")
    assert values.get("b") is None
    assert values.get("a") == "A" and values.get("c") == "C"


def test_clear_all_empties_every_store():
    first, second = recent.RecentValues(size=4), recent.RecentValues(size=4)
    first.put("a", 1)
    second.put("b", 2)
    recent.clear_all()
    assert first.get("a") is None and second.get("b") is None
