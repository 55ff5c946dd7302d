"""``CapturedRequest.to_curl()`` is safe to run, whatever was captured.

The property test runs each command with POSIX ``sh`` (dash here) and a stub ``curl`` first
on PATH that records its argv and stdin byte for byte: the stub must receive exactly the
request's method, URL, headers and body, and nothing else may run (a ``PWNED`` canary, and
no other file, appears). Then real curl replays hostile requests to a real server.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import hookscope
from hookscope import CapturedRequest
from hookscope._curl import INLINE_BODY_LIMIT, printf_format, shell_word

SH = "/bin/sh"
BASE = "http://127.0.0.1:9"

# Records argv (NUL-separated) and stdin exactly; counts its calls.
STUB = """#!/bin/sh
for arg do printf '%s\\000' "$arg"; done > {out}/argv
cat > {out}/stdin
echo called >> {out}/calls
"""

# What attackers put in methods, paths, headers and bodies, mixed with arbitrary characters.
FRAGMENTS = [
    "'", '"', "$", "`", ";", "\\", "%", "-", "@", "!", "*", "~", "&", "|", "<", ">", "#",
    " ", "\t", "\n", "\r", "\n\n", "\x1b", "\x7f", "\x85", "\x9b", "\xff",
    "$(touch PWNED)", "`touch PWNED`", ";touch${IFS}PWNED;#", "'; touch PWNED; '",
    "\"; touch PWNED; \"", "\n touch PWNED\n", "\x15touch PWNED\n", "$IFS", "${PATH}",
    "\x1b]0;title\x07", "\x1b[2J", "\x1bc", "{a,b}", "[1-3]", "/../", "/./", "%s%n", "\\n",
    "\\000", "-v x",
]  # fmt: skip
LATIN_1 = st.characters(min_codepoint=1, max_codepoint=255)


def _hostile(
    min_size: int = 0, alphabet: st.SearchStrategy[str] = LATIN_1
) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet, max_size=4))
    return st.lists(piece, max_size=5).map("".join).filter(lambda text: len(text) >= min_size)


HEADER_NAMES = st.one_of(
    st.sampled_from(["Content-Type", "X-Sig", "Host", "content-length", "x;", "-H"]),
    _hostile(1, LATIN_1.filter(lambda c: c != ":")).filter(lambda name: ":" not in name),
)
BODIES = st.one_of(
    st.binary(max_size=80),
    _hostile().map(lambda text: text.encode("utf-8")),
    st.sampled_from([b"@/etc/passwd", b"-d @x", b'{"a": "b"}\n', b"\x00", b"a\nb\n\n"]),
)


def _request(
    method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
) -> CapturedRequest:
    return CapturedRequest(
        id="1-0",
        bin="b_x",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        method=method,
        path=path,
        query=query,
        headers=httpx.Headers(headers, encoding="latin-1"),
        body=body,
    )


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``bin/curl`` (the stub), ``out/`` (what it saw), ``work/`` (cwd)."""
    root = tmp_path_factory.mktemp("curl-stub")
    for name in ("bin", "out", "work"):
        (root / name).mkdir()
    curl = root / "bin" / "curl"
    curl.write_text(STUB.format(out=root / "out"))
    curl.chmod(curl.stat().st_mode | stat.S_IXUSR)
    return root


def _run(command: str, stub: Path) -> dict[str, object]:
    """Run ``command`` with sh in an empty directory; what the stub got, parsed as curl would."""
    for leftover in [*(stub / "out").iterdir(), *(stub / "work").iterdir()]:
        leftover.unlink()
    env = {"PATH": f"{stub / 'bin'}:/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(stub)}
    done = subprocess.run(
        [SH, "-c", command],
        cwd=stub / "work",
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (0, b""), command
    assert list((stub / "work").iterdir()) == [], f"something else ran: {command}"
    assert (stub / "out" / "calls").read_text() == "called\n", command
    argv = (stub / "out" / "argv").read_bytes().split(b"\0")[:-1]
    return _as_curl(argv, (stub / "out" / "stdin").read_bytes())


def _as_curl(argv: list[bytes], stdin: bytes) -> dict[str, object]:
    """What curl would send, from its argv: the options to_curl uses, and only those."""
    sent: dict[str, object] = {"headers": [], "body": b"", "flags": set()}
    args = iter(argv)
    for arg in args:
        if arg == b"-X":
            sent["method"] = next(args)
        elif arg == b"-H":
            line = next(args)
            if b":" not in line and line.endswith(b";"):  # curl: "Name;" sends it empty
                sent["headers"].append((line[:-1], b""))  # type: ignore[attr-defined]
            else:
                name, _, value = line.partition(b":")
                assert value.startswith(b" ") and len(value) > 1, line  # "Name:" would remove
                sent["headers"].append((name, value[1:]))  # type: ignore[attr-defined]
        elif arg == b"--data-raw":
            sent["body"] = next(args)
        elif arg == b"--data-binary":
            assert next(args) == b"@-"
            sent["body"] = stdin
        elif arg in (b"--globoff", b"--path-as-is"):
            sent["flags"].add(arg.decode())  # type: ignore[attr-defined]
        else:
            assert "url" not in sent, f"a second URL: {arg!r}"
            sent["url"] = arg
    return sent


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=_hostile(1),
    path=_hostile().map(lambda text: "/" + text),
    query=_hostile(),
    headers=st.lists(st.tuples(HEADER_NAMES, _hostile()), max_size=4),
    body=BODIES,
)
@example(method="X'", path="/;touch${IFS}PWNED;#", query="", headers=[], body=b"")  # issue 9
@example(method="GET", path="/a", query="", headers=[("X-A", "\x1b")], body=b"\x00\xff\n")
def test_sh_gives_curl_exactly_the_request(
    stub: Path, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    command = _request(method, path, query, headers, body).to_curl(BASE)
    assert command.replace("\n", "").isprintable()  # what is shown is what runs
    sent = _run(command, stub)

    target = path.encode("latin-1") + (b"?" + query.encode("latin-1") if query else b"")
    assert sent["method"] == method.encode("latin-1")
    assert sent["url"] == BASE.encode() + target
    expected_headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
        if name.lower() not in ("host", "content-length")
    ]
    assert sent["headers"] == expected_headers
    assert sent["body"] == body
    assert ("--globoff" in sent["flags"]) == any(c in target for c in b"[]{}")


@pytest.mark.parametrize(
    ("method", "path", "query", "headers"),
    [
        ("P\0ST", "/", "", []),
        ("POST", "/a\0b", "", []),
        ("POST", "/", "a=\0", []),
        ("POST", "/", "", [("x-a", "1\0")]),
    ],
)
def test_a_nul_outside_the_body_cannot_be_on_a_command_line(
    method: str, path: str, query: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValueError, match="NUL byte"):
        _request(method, path, query, headers, b"").to_curl()


def test_readable_for_ordinary_requests() -> None:
    request = _request(
        "POST",
        "/github/push",
        "a=1",
        [("Host", "x"), ("Content-Type", "application/json"), ("X-Empty", "")],
        b'{"zen": "it\'s"}',
    )
    assert request.to_curl("http://localhost:8080/") == (
        "curl -X POST 'http://localhost:8080/github/push?a=1' "
        "-H 'Content-Type: application/json' -H 'X-Empty;' "
        """--data-raw '{"zen": "it'"'"'s"}'"""
    )


def test_binary_bodies_and_long_text_are_piped() -> None:
    binary = _request("PUT", "/", "", [], b"\x89PNG%\\-\r\n").to_curl()
    assert (
        binary
        == "printf '\\211PNG%%\\\\-\\015\\012' | curl -X PUT http://localhost:8080/ --data-binary @-"
    )
    long_text = _request("POST", "/", "", [], b"a" * (INLINE_BODY_LIMIT + 1)).to_curl()
    assert long_text.startswith("printf aaa") and long_text.endswith("--data-binary @-")


def test_words_that_need_escapes() -> None:
    assert shell_word(b"") == "''"
    assert shell_word(b"\n\n") == "'\n\n'"
    assert shell_word(b"\x1b[2J\n") == "\"$(printf '\\033[2J')\"'\n'"
    assert printf_format(b"-v x") == "\\055v x"  # never an option of printf
    assert shell_word("\u202eevil".encode()) == "\"$(printf '\\342\\200\\256evil')\""


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("X'", "/;touch${IFS}PWNED;#", b""),
        ("POST", "/$(touch%20PWNED)/{a,b}/[1-3]", b"@/etc/passwd"),
        ("PATCH", "/a/../b", b"'; touch PWNED; '\x00\xff"),
    ],
)
def test_real_curl_replays_hostile_requests(
    embedded_server: hookscope.BackgroundServer, tmp_path: Path, method: str, path: str, body: bytes
) -> None:
    curl = shutil.which("curl")
    assert curl is not None, "curl is needed (apt-get install curl)"
    with hookscope.Client(embedded_server.url) as client:
        bin = client.create_bin()
        sent = httpx.request(method, bin.url + path, content=body, headers={"x-q": "it's $HOME"})
        original = bin.get(sent.headers["x-hookscope-request-id"])
        command = original.to_curl(base_url=bin.url)
        env = {"PATH": os.environ["PATH"], "LC_ALL": "C.UTF-8"}
        subprocess.run(
            [SH, "-c", command + " --silent --show-error --output /dev/null"],
            cwd=tmp_path, env=env, check=True, timeout=30,
        )  # fmt: skip
        assert list(tmp_path.iterdir()) == []
        replayed = bin.tail(1)[0]
    assert replayed.id != original.id
    assert (replayed.method, replayed.path, replayed.body) == (method, original.path, body)
    assert replayed.headers["x-q"] == "it's $HOME"
