"""``printable``: the one rule for captured values on their way to a terminal."""

from __future__ import annotations

import json

import pytest

from hookscope._display import printable

C0 = [chr(code) for code in range(0x20)]
C1 = [chr(code) for code in range(0x80, 0xA0)]
BIDI = [chr(code) for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
PAYLOADS = [
    "\x1b]0;pwned\x07",  # window title
    "\x1b[2J",  # clear the screen
    "\x1bc",  # reset the terminal
    "\x1b[?1049h",  # alternate screen
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x9b2J",  # CSI as one C1 character
    "invoice\u202etxt.exe",  # right-to-left override
]


@pytest.mark.parametrize("char", [*C0, "\x7f", *C1])
def test_controls_show_as_x_escapes(char: str) -> None:
    assert printable(f"a{char}b") == f"a\\x{ord(char):02x}b"


@pytest.mark.parametrize("char", BIDI)
def test_bidi_overrides_and_isolates_show_as_u_escapes(char: str) -> None:
    assert printable(f"a{char}b") == f"a\\u{ord(char):04x}b"


def test_other_invisible_characters_and_astral_ones() -> None:
    assert printable("\u200b\u2028\ufeff\xa0\udc80") == "\\u200b\\u2028\\ufeff\\xa0\\udc80"
    assert printable("\U000e0001") == "\\U000e0001"


def test_printable_text_is_left_alone() -> None:
    text = "POST /github/push?a=1 café 中文 🎉 ¡¿ ÿ \\x1b"
    assert printable(text) is text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_terminal_attacks_lose_every_control_character(payload: str) -> None:
    shown = printable(payload)
    assert shown.isprintable()
    assert "\\x1b" in shown or "\\x9b" in shown or "\\u202e" in shown


def test_json_form_is_the_same_json_and_printable() -> None:
    value = {"path": "".join([*C0, "\x7f", *C1, *BIDI, *PAYLOADS, "\U000e0001", "é"])}
    for text in (json.dumps(value, ensure_ascii=False), json.dumps(value, indent=2)):
        shown = printable(text, json=True)
        assert json.loads(shown) == value
        assert shown.replace("\n", "").isprintable()  # indent's newlines stay
    line = printable(json.dumps(value, ensure_ascii=False), json=True)
    assert "\\u009b" in line and "\\u202e" in line and "\\u007f" in line
    assert "\\udb40\\udc01" in line  # above U+FFFF: a surrogate pair, as JSON writes them
    assert "é" in line  # printable non-ASCII stays readable
