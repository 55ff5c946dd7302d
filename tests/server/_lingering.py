"""What tests of "closed WebSockets do not linger" look at: sockets, ping tasks, hypercorn's version.

Linux only (``/proc``), as is CI.
"""

from __future__ import annotations

import asyncio
import os
from importlib import metadata

from hookscope.server._hypercorn_fix import CHECKED

# Socket states in /proc/net/tcp. TIME_WAIT is the closing side's, and harmless.
ESTABLISHED, TIME_WAIT = "01", "06"


def require_checked_hypercorn() -> None:
    """Fail, saying what to do, when the installed hypercorn is not one the fix was checked on."""
    version = metadata.version("hypercorn")
    assert version in CHECKED, (
        f"hypercorn {version} is installed, but hookscope/server/_hypercorn_fix.py was checked "
        f"against {', '.join(sorted(CHECKED))} only, so hookscope leaves it as it is and closed "
        f"WebSockets linger until their next ping. Re-read hypercorn {version}'s "
        "hypercorn/protocol/ws_stream.py (WSStream.handle sets `closed`, WSStream._send_pings "
        "loops `while not self.closed`), adapt _hypercorn_fix.py if needed, then add the "
        "version to CHECKED."
    )


def tcp_sockets(local_port: int, remote_port: int) -> dict[int, str]:
    """Kernel TCP sockets from ``local_port`` to ``remote_port``: inode -> state (hex)."""
    found = {}
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if int(local.split(":")[1], 16) == local_port and (
                int(remote.split(":")[1], 16) == remote_port
            ):
                found[inode] = state
    return found


def tcp_states(local_port: int, remote_port: int) -> set[str]:
    return set(tcp_sockets(local_port, remote_port).values())


def owner_of_socket(inode: int, pids: set[int]) -> int | None:
    """Which of ``pids`` holds the socket with this inode."""
    link = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except (FileNotFoundError, PermissionError):
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == link:
                    return pid
            except OSError:
                continue
    return None


def ping_tasks() -> list[asyncio.Task[object]]:
    """Hypercorn ping loops (``WSStream._send_pings``) alive in the running event loop."""
    return [
        task
        for task in asyncio.all_tasks()
        if "_send_pings" in getattr(task.get_coro(), "__qualname__", "")
    ]
