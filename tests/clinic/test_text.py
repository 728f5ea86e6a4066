import pytest

from clinic.text import single_line


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Olivia   Brown ", "Olivia Brown"),
        ("Olivia\r\nBcc: x@example.com", "Olivia Bcc: x@example.com"),
        ("Olivia\x00Brown", "Olivia Brown"),
        ("Olivia\x1b[31mBrown", "Olivia [31mBrown"),
        ("Olivia\u2028Brown\u2029", "Olivia Brown"),
        ("evil\u202egpj.exe", "evil gpj.exe"),
        ("Olivia\x85Brown", "Olivia Brown"),
        ('O\'Brien, "Liv" <x> \\', 'O\'Brien, "Liv" <x> \\'),
        ("Zoë Ünal 李", "Zoë Ünal 李"),
        ("\r\n\t", ""),
    ],
)
def test_single_line(value, expected):
    assert single_line(value) == expected


def test_invisible_characters_leave_names_and_a_name_of_them_alone_shows_nothing():
    from clinic.text import has_visible_text

    assert single_line("Ada\u200b Love\u00adlace\ufeff") == "Ada Lovelace"
    # Joiners stay: Persian and Indic names need them inside words.
    assert single_line("Mi\u200cna") == "Mi\u200cna"
    assert single_line("\u202e\u200b") == ""
    assert not has_visible_text("\u200c\u200d")
    assert has_visible_text("李")
