"""``hookscope forward BIN --to URL``: relay each captured request to a local service.

Delivery policy (docs/cli.md, "forward"):

- In order, one at a time: request N+1 is sent once request N is settled.
- Any HTTP response from the target settles a request, whatever its status (printed).
- When the target cannot be reached (refused, reset, timed out) the same request is retried
  with backoff (0.5 s doubling to 10 s), forever by default: nothing is skipped and the order
  holds. ``--max-attempts N`` bounds it; then forward stops (exit 1) and prints the
  ``--since`` that resends that request, or with ``--skip-failed`` reports it and goes on.
- A request that cannot be forwarded at all (the HTTP client refuses to build or send it as
  HTTP/1.1: a ``#`` or control character in its path, a method or header that is not a valid
  HTTP/1.1 token or value) is reported on one line and skipped at once, never retried:
  retrying cannot change the answer. The run goes on.
- When the run stops, the ids skipped (either way) are listed, and the exit status is 1.
- Disconnects from hookscope are resumed by the SDK's stream (``since=<last id>``).
- Every stop prints the last settled id: ``--since ID`` resumes after it. A request that was
  in flight at Ctrl-C is named too; it is sent again on resume (at least once, not exactly
  once: ``--id-header`` lets a target drop the duplicates).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import click
import httpx

from .._backoff import Backoff
from .._display import clock_time, printable
from .._ids import BEGINNING
from .._models import CapturedRequest
from ..client import AsyncClient
from ._common import BinTarget, bin_options, request_id, run
from ._relay import CannotForward, relay_request

__all__ = ["forward"]


class GaveUp(Exception):
    """A request could not be delivered within ``--max-attempts``."""


@dataclass
class Tally:
    """What a forward run did; read after it stops, however it stops."""

    since: str | None = None  # where the run started (exclusive)
    started: bool = False  # the bin was opened and relaying began
    settled_id: str | None = None  # the last request delivered or skipped
    delivered: int = 0
    unsettled: CapturedRequest | None = None  # being sent, or waiting for a retry
    maybe_delivered: bool = False  # could ``unsettled`` have reached the target already?
    skipped: list[str] = field(default_factory=list)  # not delivered within --max-attempts
    unforwardable: list[str] = field(default_factory=list)  # cannot be sent at all

    @property
    def exit_status(self) -> int:
        """1 when a request was skipped, whatever the reason; else 0."""
        return 1 if self.skipped or self.unforwardable else 0

    @property
    def resume_id(self) -> str | None:
        return self.settled_id or self.since


@dataclass(frozen=True)
class Policy:
    """How hard to try: ``max_attempts`` 0 retries an unreachable target forever."""

    max_attempts: int = 0
    skip_failed: bool = False
    id_header: str | None = None


class Forwarder:
    """Sends captured requests to ``target``, one at a time, retrying unreachable targets."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        target: str,
        tally: Tally,
        policy: Policy,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.http = http
        self.target = target
        self.tally = tally
        self.policy = policy
        self.backoff = backoff or Backoff(initial=0.5, maximum=10.0)

    async def forward(self, request: CapturedRequest) -> None:
        label = _label(request)
        try:
            outgoing = relay_request(request, self.target, id_header=self.policy.id_header)
        except CannotForward as error:
            self._cannot_forward(request, label, str(error))
            return
        self.tally.unsettled = request
        attempt = 0
        while True:
            started = time.monotonic()
            self.tally.maybe_delivered = True
            try:
                response = await self.http.send(outgoing)
            except httpx.LocalProtocolError as error:
                # h11 refused to write it (method, header name or value): nothing was sent.
                self._cannot_forward(request, label, f"HTTP/1.1 refuses it ({error})")
                return
            except httpx.TransportError as error:
                self.tally.maybe_delivered = not isinstance(error, _NOT_SENT)
                attempt += 1
                why = _why(error)
                if self.policy.max_attempts and attempt >= self.policy.max_attempts:
                    self._give_up(request, label, attempt, why)
                    return
                delay = self.backoff.delay(attempt - 1)
                click.echo(
                    click.style(
                        f"{label}: {why}; attempt {attempt}, retrying in {delay:.1f} s", fg="yellow"
                    ),
                    err=True,
                )
                await asyncio.sleep(delay)
                continue
            elapsed = (time.monotonic() - started) * 1000
            self._settled(request)
            self.tally.delivered += 1
            status = printable(f"{response.status_code} {response.reason_phrase}".strip())
            colour = "green" if response.status_code < 400 else "red"
            click.echo(f"{label} → {click.style(status, fg=colour)} ({elapsed:.0f} ms)")
            return

    def _settled(self, request: CapturedRequest) -> None:
        self.tally.unsettled = None
        self.tally.settled_id = request.id

    def _cannot_forward(self, request: CapturedRequest, label: str, why: str) -> None:
        message = f"{label}: CANNOT BE FORWARDED, {printable(why)}; skipped"
        click.echo(click.style(message, fg="red", bold=True), err=True)
        self._settled(request)
        self.tally.unforwardable.append(request.id)

    def _give_up(self, request: CapturedRequest, label: str, attempts: int, why: str) -> None:
        message = f"{label}: NOT DELIVERED after {attempts} attempts ({why})"
        if not self.policy.skip_failed:
            self.tally.unsettled = None  # the message names it
            raise GaveUp(message)
        click.echo(click.style(message + "; skipped", fg="red", bold=True), err=True)
        self._settled(request)
        self.tally.skipped.append(request.id)


def _label(request: CapturedRequest) -> str:
    what = printable(f"{request.id} {request.method} {request.target}")
    return f"{clock_time(request.received_at)} {what}"


# Failures before any byte of the request left: retrying cannot deliver twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _why(error: httpx.TransportError) -> str:
    text = printable(str(error)) or type(error).__name__
    if isinstance(error, _NOT_SENT):
        return f"target unreachable ({text})"
    # The request may have reached the target before this failed: a retry may repeat it.
    return f"no response from the target ({type(error).__name__}: {text}; it may have arrived)"


_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")  # an HTTP header name (RFC 9110 5.6.2)


def _header_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _TOKEN.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an HTTP header name")
    return value


def _target_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


_DEFAULT_TIMEOUT = 30.0


@click.command(short_help="Relay each request to a local service, byte-exact.")
@bin_options
@click.option(
    "--to",
    "to",
    required=True,
    callback=_target_url,
    metavar="URL",
    help="Where to send each request; the captured path is appended to its path.",
)
@click.option(
    "--since",
    callback=request_id,
    default=None,
    metavar="ID",
    help="Forward the stored requests after this id first (0-0: all), then live ones.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    metavar="N",
    help="Tries per request while the target is unreachable (0: keep trying).",
)
@click.option(
    "--skip-failed",
    is_flag=True,
    help="After --max-attempts, report the request and go on instead of stopping.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=_DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Seconds to wait for the target's answer.",
)
@click.option(
    "--id-header",
    callback=_header_name,
    default=None,
    metavar="NAME",
    help="Also send the request id in this header (e.g. X-Hookscope-Request-Id).",
)
@click.option("--insecure", "-k", is_flag=True, help="Do not verify the target's TLS certificate.")
def forward(
    target: BinTarget,
    to: str,
    since: str | None,
    max_attempts: int,
    skip_failed: bool,
    timeout: float,
    id_header: str | None,
    insecure: bool,
) -> None:
    """Relay every request captured by BIN to a local service, byte-exact, until Ctrl-C.

    Same method, path appended to the URL's path, raw query, headers (minus hop-by-hop)
    and body. In order; resumes after disconnects without losing or repeating a request.
    An unreachable target is retried (see --max-attempts). On stop, prints the --since
    that resumes where this run ended.

    \b
      hookscope forward b_Zx8... --to http://localhost:3000/webhooks
    """
    if skip_failed and not max_attempts:
        raise click.UsageError("--skip-failed needs --max-attempts (else requests are retried)")
    tally = Tally(since=since)
    policy = Policy(max_attempts, skip_failed, id_header)
    # The resume command repeats what changes the delivery, not only the bin and target.
    again = ["--id-header", id_header] if id_header else []
    again += ["--max-attempts", str(max_attempts)] if max_attempts else []
    again += ["--skip-failed"] if skip_failed else []
    again += ["--timeout", f"{timeout:g}"] if timeout != _DEFAULT_TIMEOUT else []
    again += ["--insecure"] if insecure else []
    main = _relay(target, to, tally, policy, answer_within=timeout, verify=not insecure)
    try:
        run(main, url=target.url, bin_id=target.bin_id)
    except KeyboardInterrupt:
        _summary(target, to, tally, again)
        raise SystemExit(tally.exit_status) from None
    except GaveUp as error:
        click.echo(click.style(str(error), fg="red", bold=True), err=True)
        _summary(target, to, tally, again)
        raise SystemExit(1) from None
    except click.ClickException:
        if tally.started:  # an error before the start needs no summary: nothing happened
            _summary(target, to, tally, again)
        raise


async def _relay(
    target: BinTarget,
    to: str,
    tally: Tally,
    policy: Policy,
    *,
    answer_within: float,
    verify: bool,
) -> None:
    async with (
        AsyncClient(target.url) as client,
        httpx.AsyncClient(timeout=answer_within, verify=verify) as http,
    ):
        bin = client.bin(target.bin_id, target.token)
        if tally.since is None:
            newest = await bin.tail(1)  # a wrong token or bin fails now, with one line
            tally.since = newest[-1].id if newest else BEGINNING
        async with bin.open_stream(since=tally.since) as cursor:
            forwarder = Forwarder(http, to, tally, policy)
            tally.started = True
            start = f"forwarding {target.bin_id} → {to}, after request {tally.since}"
            click.echo(printable(start) + " (Ctrl-C to stop)", err=True)
            async for request in cursor:
                await forwarder.forward(request)


def _summary(target: BinTarget, to: str, tally: Tally, again: list[str]) -> None:
    lines = [f"forwarded {tally.delivered} request{'s' if tally.delivered != 1 else ''}"]
    if tally.skipped:
        lines.append(f"NOT delivered (skipped): {', '.join(tally.skipped)}")
    if tally.unforwardable:
        lines.append(f"cannot be forwarded (skipped): {', '.join(tally.unforwardable)}")
    if tally.unsettled is not None:
        if tally.maybe_delivered:
            lines.append(
                f"in flight when stopped: {tally.unsettled.id} (it may have reached the "
                "target; resuming sends it again)"
            )
        else:
            lines.append(f"not delivered yet: {tally.unsettled.id} (resuming sends it)")
    resume = tally.resume_id
    if resume is not None:
        words = ["hookscope", "forward", target.bin_id, "--to", to, *again, "--since", resume]
        command = shlex.join(words)
        lines.append(f"last settled id: {tally.settled_id or 'none'}; resume with: {command}")
    for line in lines:
        click.echo(printable(line), err=True)
