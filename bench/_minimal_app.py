"""The ceiling of the stack: one Quart route returning a short body, on hookscope's hypercorn.

    python bench/_minimal_app.py [--port 0] [--websocket]

Binds and configures exactly as ``hookscope serve`` does (``bind_socket``,
``hypercorn_config``), prints ``minimal listening on URL`` and serves until SIGTERM/SIGINT.
With ``--websocket`` it serves one WebSocket route instead, ``/ws``, that accepts, sends
``{"type":"live"}`` and then idles: the floor of an idle watcher's memory.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from hypercorn.asyncio import serve
from quart import Quart, websocket

from hookscope._config import Settings
from hookscope._serve import bind_socket, hypercorn_config, url_of

app = Quart("minimal")


async def capture(bin_id: str) -> tuple[str, int, dict[str, str]]:
    return '{"ok":true}', 200, {"content-type": "application/json"}


async def idle_watcher() -> None:
    await websocket.accept()
    await websocket.send('{"type":"live"}')
    await asyncio.Event().wait()


async def main(port: int) -> None:
    settings = Settings(port=port)
    sock = bind_socket(settings.host, settings.port)
    print(f"minimal listening on {url_of(sock)}", flush=True)
    config = hypercorn_config(settings, sock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--websocket", action="store_true", help="serve /ws instead")
    args = parser.parse_args()
    if args.websocket:
        app.websocket("/ws")(idle_watcher)
    else:
        app.post("/h/<bin_id>")(capture)
    asyncio.run(main(args.port))
