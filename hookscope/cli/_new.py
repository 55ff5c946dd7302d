"""``hookscope new``: create a bin and print its capture URL and token."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .. import _signatures
from .._contract import smee_url
from .._display import printable
from ..client import AsyncClient
from ._common import DEFAULT_URL, duration, run, server_options

__all__ = ["new"]


def _header(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, content = value.partition(":")
        if not colon or not name.strip():
            raise click.BadParameter(f"{value!r} is not 'Name: value'")
        headers[name.strip()] = content.strip()
    return headers


def _ask(scheme: str) -> str:
    """The secret of ``scheme``: typed without echo at a terminal, else a line of stdin."""
    if sys.stdin.isatty():
        return str(click.prompt(f"{scheme} secret", hide_input=True, err=True))
    return sys.stdin.readline().rstrip("\r\n")  # one line per scheme asked for


def _secrets(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    # A secret never appears in an error: only the scheme, which names the --secret at fault.
    secrets: dict[str, str] = {}
    for value in values:
        name, equals, secret = value.partition("=")
        try:
            scheme = _signatures.canonical(name.strip())
        except ValueError:  # not echoed: what was meant as a scheme may be the secret itself
            known = ", ".join([*_signatures.SCHEMES, *_signatures.ALIASES])
            raise click.BadParameter(f"SCHEME=SECRET needs a known scheme: {known}") from None
        if not equals:
            secret = _ask(scheme)
        if scheme in secrets:
            raise click.BadParameter(f"{scheme} is given twice")
        try:
            _signatures.read_secret(scheme, secret)
        except ValueError as error:
            raise click.BadParameter(f"the {scheme} secret: {error}") from None
        secrets[scheme] = secret
    return secrets


@click.command(short_help="Create a bin; print its capture URL and token.")
@server_options
@click.option(
    "--api-key",
    envvar="HOOKSCOPE_API_KEY",
    default=None,
    metavar="KEY",
    help="Needed when the server runs with --api-key (env HOOKSCOPE_API_KEY).",
)
@click.option("--name", default=None, help="A label for the bin.")
@click.option(
    "--status", type=click.IntRange(100, 599), default=None, help="Status the bin answers."
)
@click.option("--body", default=None, help="Body the bin answers (sent as UTF-8).")
@click.option(
    "--header",
    "-H",
    "headers",
    multiple=True,
    callback=_header,
    metavar="'NAME: VALUE'",
    help="Header the bin answers with (repeatable).",
)
@click.option(
    "--delay-ms",
    type=click.IntRange(0),
    default=None,
    help="Wait this long before answering (to test senders' timeouts).",
)
@click.option(
    "--max-requests", type=click.IntRange(1), default=None, help="Requests kept (oldest go first)."
)
@click.option(
    "--ttl", callback=duration, default=None, help="Expire after this long idle (90s, 12h, 7d)."
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    callback=_secrets,
    metavar="SCHEME=SECRET",
    help="A signing secret (repeatable): the server verifies each capture with it, and tail "
    "shows the verdict. Schemes: "
    + ", ".join([*_signatures.SCHEMES, *_signatures.ALIASES])
    + ". SCHEME alone asks for the secret (kept out of shell history). Never shown again.",
)
@click.option(
    "--smee",
    is_flag=True,
    help="Also print the bin's smee channel URL, for smee-client and Probot's "
    "WEBHOOK_PROXY_URL (docs/smee.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
def new(
    url: str,
    api_key: str | None,
    name: str | None,
    status: int | None,
    body: str | None,
    headers: dict[str, str],
    delay_ms: int | None,
    max_requests: int | None,
    ttl: float | None,
    secrets: dict[str, str],
    smee: bool,
    as_json: bool,
) -> None:
    """Create a bin; print its capture URL and its token.

    \b
      hookscope new --name stripe
      hookscope new --status 503 --body 'try later' -H 'Retry-After: 5'
      hookscope new --secret stripe        # asks for the whsec_... secret
    """
    response: dict[str, Any] | None = None
    if status is not None or body is not None or headers or delay_ms is not None:
        response = {"status": status or 200, "headers": headers, "body": body}
        response["delay_ms"] = delay_ms or 0
    created = run(_create(url, api_key, name, response, max_requests, ttl, secrets), url=url)
    if as_json:
        click.echo(printable(json.dumps(created, indent=2), json=True))
        return
    # What the server answered, escaped: the name may hold anything.
    bin_id, token = printable(str(created["id"])), printable(str(created["token"]))
    label = f" {printable(repr(created['name']))}" if created.get("name") else ""
    click.echo(f"Created bin {bin_id}{label}")
    click.echo(f"  capture URL  {click.style(printable(str(created['url'])), bold=True)}")
    click.echo(f"  token        {token}")
    if created.get("signing"):  # the schemes only: the server never shows a secret again
        click.echo(f"  signing      {printable(', '.join(map(str, created['signing'])))}")
    if smee:
        channel = smee_url(str(created["url"]), str(token), cursor="smee")
        click.echo(f"  smee URL     {printable(channel)}")
    click.echo()
    click.echo("Send webhooks to the capture URL. The token reads the bin: keep it secret.")
    exported_url = url.rstrip("/") != DEFAULT_URL
    if exported_url:
        click.echo(f"  export HOOKSCOPE_URL={url.rstrip('/')}")
    click.echo(f"  export HOOKSCOPE_TOKEN={token}")
    click.echo(f"  hookscope tail {bin_id}")
    if exported_url:  # as shell comments: the block above stays safe to paste whole
        click.echo("  # the pytest plugin reads HOOKSCOPE_URL too: tests run from this shell put")
        click.echo("  # their bins on this server (unset HOOKSCOPE_URL for their own server)")


async def _create(
    url: str,
    api_key: str | None,
    name: str | None,
    response: dict[str, Any] | None,
    max_requests: int | None,
    ttl: float | None,
    secrets: dict[str, str],
) -> dict[str, Any]:
    async with AsyncClient(url, api_key=api_key) as client:
        bin = await client.create_bin(
            name=name, response=response, max_requests=max_requests, ttl_s=ttl, secrets=secrets
        )
        # create_bin keeps only what a bin object needs; the API's full answer is one GET away.
        data = await bin.info()
        data.setdefault("token", bin.token)
        return data
