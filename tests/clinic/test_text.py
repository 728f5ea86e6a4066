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
