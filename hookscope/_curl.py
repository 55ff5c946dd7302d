"""The ``curl`` command that sends a captured request again (``CapturedRequest.to_curl``).

Captured values are hostile: anyone who knows a bin URL chooses the method, path, query,
headers and body. So every argument is one quoted POSIX ``sh`` word that expands to exactly
the captured bytes, and the command is written in printable characters only (and newlines
inside a quoted body): what is shown is what runs, and pasting it into a terminal cannot
send control characters (Ctrl-U, Escape...) to the line editor.

- A word whose bytes are printable UTF-8 text is single-quoted as it is.
- Any other word is ``"$(printf 'FORMAT')"``: printable characters as they are (printable
  ASCII only, when the bytes are not UTF-8), every other byte a three-digit octal escape,
  which POSIX ``printf`` reads in every shell (``$'...'`` and hex escapes are not POSIX).
  ``$(...)`` drops trailing newlines, so those follow the substitution as a quoted part of
  the same word.
- A body goes inline with ``--data-raw`` (no ``@file`` reading) when it is printable text
  (newlines allowed) of at most 64 KiB; any other body is piped in:
  ``printf 'FORMAT' | curl ... --data-binary @-``.
- NUL bytes cannot be in a command line at all: one in the method, URL or a header raises
  ``ValueError``. A body may hold any byte.

    >>> print(shell_word(b"it's"), shell_word("José".encode()))
    'it'"'"'s' 'José'
    >>> print(shell_word(b"\\x1b]0;title\\x07"))
    "$(printf '\\033]0;title\\007')"
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

__all__ = ["curl_command", "printf_format", "shell_word"]

INLINE_BODY_LIMIT = 64 * 1024
"""Bytes of a text body written inline; longer ones are piped (Linux caps one argument at
128 KiB)."""

_SKIPPED_HEADERS = frozenset({"host", "content-length"})  # curl sets both for the new hop
_GLOB = re.compile(rb"[\[\]{}]")  # curl expands these in URLs unless --globoff
_DOT_SEGMENT = re.compile(rb"/\.\.?(?:/|$)")  # curl squashes these unless --path-as-is
# printf formats: what is not printable ASCII, and printf's own % and \.
_SPECIAL = re.compile(r"[^\x20-\x24\x26-\x5b\x5d-\x7e]")
_BYTE_FORMATS = [
    char * 2 if char in "%\\" else char if " " <= char <= "~" else f"\\{byte:03o}"
    for byte, char in ((byte, chr(byte)) for byte in range(256))
]


def _visible(data: bytes, *, newlines: bool = False) -> str | None:
    """``data`` as text when it is UTF-8 and every character is printable, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    checked = text.replace("\n", "") if newlines else text
    return text if checked.isprintable() else None


def printf_format(data: bytes) -> str:
    """A ``printf`` format, in printable characters, that prints exactly ``data``."""
    try:
        text = _SPECIAL.sub(_escape, data.decode("utf-8"))
    except UnicodeDecodeError:  # binary: byte by byte
        text = "".join(map(_BYTE_FORMATS.__getitem__, data))
    # A leading "-" could read as an option (bash's ``printf -v``).
    return "\\055" + text[1:] if text.startswith("-") else text


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in "%\\":
        return char * 2
    if char.isprintable():
        return char
    return "".join(f"\\{byte:03o}" for byte in char.encode("utf-8"))


def shell_word(data: bytes) -> str:
    """One ``sh`` word that expands to exactly ``data``; ValueError if it holds a NUL byte."""
    if b"\0" in data:
        raise ValueError("a NUL byte cannot be passed on a command line")
    text = _visible(data)
    if text is not None:
        return shlex.quote(text)
    core = data.rstrip(b"\n")
    word = f'"$(printf {shlex.quote(printf_format(core))})"' if core else ""
    newlines = len(data) - len(core)
    return word + (shlex.quote("\n" * newlines) if newlines else "")


def _bytes(text: str) -> bytes:
    # Captured method, path, query and headers are latin-1 strings standing for the bytes
    # received; a string that is not latin-1 did not come from a server, and means its UTF-8.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _word(data: bytes, what: str) -> str:
    try:
        return shell_word(data)
    except ValueError:
        raise ValueError(f"no curl command: the {what} holds a NUL byte") from None


def curl_command(
    method: str,
    url: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> str:
    """The command: ``url`` is the base (a user's string), ``path`` and ``query`` as captured."""
    target = _bytes(path) + (b"?" + _bytes(query) if query else b"")
    options = ["-X", _word(_bytes(method), "method")]
    if _GLOB.search(target):
        options.append("--globoff")
    if _DOT_SEGMENT.search(_bytes(path)):
        options.append("--path-as-is")
    options.append(_word(url.rstrip("/").encode("utf-8") + target, "URL"))
    for name, value in headers:
        if name.lower() in _SKIPPED_HEADERS:
            continue
        # "Name:" would remove a header in curl; "Name;" sends it empty.
        line = f"{name}: {value}" if value else f"{name};"
        options += ["-H", _word(_bytes(line), f"header {name!r}")]
    pipe = ""
    if body:
        text = _visible(body, newlines=True) if len(body) <= INLINE_BODY_LIMIT else None
        if text is not None:
            options += ["--data-raw", shlex.quote(text)]
        else:
            pipe = f"printf {shlex.quote(printf_format(body))} | "
            options += ["--data-binary", "@-"]
    return pipe + " ".join(["curl", *options])
