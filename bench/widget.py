"""The Jupyter live table under load (a benchmark, not a test).

    python bench/widget.py                        # process server, 50,000 rows, 200 req/s, 30 s
    python bench/widget.py --server embedded      # the server inside the kernel, as in notebooks
    python bench/widget.py --rows 50000 --rate 200 --seconds 30 --json figures.json

A real IPython kernel (jupyter_client) holds a ``LiveTable`` on a bin. The script fills the
table with ``--rows`` requests (sent as fast as a few keep-alive connections go), then sends
``--rate`` requests/s for ``--seconds`` while it measures, from outside, how long a trivial
cell takes on the kernel (execute_request -> execute_reply: the time the kernel thread made
it wait, plus ZMQ), every ``--probe`` seconds. It counts the widget messages (comm_msg) the
kernel publishes on iopub, and finally checks that every request the server acknowledged is
in ``table.df``. Figures: probe latency p50/p95/p99/max (idle kernel, then under load), widget
messages per second and their size, ``table.df`` time at the end, missing rows.

The hookscope server runs in its own process (``--server process``, the widget's own cost) or
in the kernel (``--server embedded``, the quickstart's set-up: the server competes with the
table and the cells for the kernel process's GIL). Everything started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from jupyter_client.manager import KernelManager

ID_HEADER = "x-hookscope-request-id"
# Kernel-side: how long each cyclic garbage collection held the GIL (all threads wait on it),
# in wall time and in CPU time of the thread it ran on (which other load on the machine does
# not inflate).
GC_PROBE = """
import gc, json, time
_gc_pauses = []
def _gc_timer(phase, info, _start=[0.0, 0.0]):
    if phase == "start":
        _start[:] = time.perf_counter(), time.thread_time()
    else:
        _gc_pauses.append((info["generation"], (time.perf_counter() - _start[0]) * 1000,
                           (time.thread_time() - _start[1]) * 1000))
gc.callbacks.append(_gc_timer)
"""


@dataclass
class Figures:
    server: str
    rows: int
    rate: float
    seconds: float
    fill_seconds: float = 0.0
    fill_rate: float = 0.0
    idle_ms: dict[str, float] = field(default_factory=dict)
    load_ms: dict[str, float] = field(default_factory=dict)
    probes_over_100ms: int = 0
    df_cells_over_100ms: int = 0
    df_cell_ms: dict[str, float] = field(default_factory=dict)
    sent_rate: float = 0.0
    widget_msgs_per_s: float = 0.0
    widget_msgs_max_per_s: int = 0
    widget_msg_kb_mean: float = 0.0
    widget_msg_kb_max: float = 0.0
    df_ms: float = 0.0
    expand_json_ms: float = 0.0
    df_rows: int = 0
    acknowledged: int = 0
    missing: int = 0
    table_state: str = ""
    gc_full_collections: int = 0
    gc_full_max_ms: float = 0.0
    gc_full_max_cpu_ms: float = 0.0
    gc_full_during_load: int = 0
    gc_full_during_load_max_ms: float = 0.0
    gc_tracked_start: int = 0
    gc_tracked_end: int = 0
    gc_collect_ms_start: float = 0.0
    gc_collect_ms_end: float = 0.0
    gc_collect_cpu_ms_start: float = 0.0
    gc_collect_cpu_ms_end: float = 0.0
    table_error: str = ""


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50": round(pct(0.5), 1),
        "p95": round(pct(0.95), 1),
        "p99": round(pct(0.99), 1),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


class Kernel:
    """A python3 kernel with an iopub reader thread that counts widget messages."""

    def __init__(self, cwd: Path) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.outputs: dict[str, list[str]] = {}
        self.comm_msgs: list[tuple[float, int]] = []  # (monotonic time, bytes)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_iopub, daemon=True)
        self._reader.start()

    def _read_iopub(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            kind = msg["msg_type"]
            if kind == "comm_msg":
                size = len(json.dumps(msg["content"]))
                self.comm_msgs.append((time.monotonic(), size))
            elif kind in ("stream", "error"):
                parent = msg["parent_header"].get("msg_id", "")
                text = msg["content"].get("text") or "\n".join(msg["content"].get("traceback", []))
                self.outputs.setdefault(parent, []).append(text)

    def run(self, code: str, timeout: float = 120) -> tuple[float, str]:
        """Execute ``code``; (seconds until the reply, its stdout). Raises if it failed."""
        started = time.perf_counter()
        msg_id = self.client.execute(code, store_history=False)
        while True:
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.perf_counter() - started
        if reply["content"]["status"] != "ok":
            time.sleep(0.2)  # let the reader collect the traceback (diagnostics only)
            raise RuntimeError("".join(self.outputs.get(msg_id, [])) or str(reply["content"]))
        deadline = time.monotonic() + 2
        while "__done__" in code and "__done__" not in "".join(self.outputs.get(msg_id, [])):
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        return elapsed, "".join(self.outputs.get(msg_id, [])).replace("__done__", "")

    def stop(self) -> None:
        self._stop.set()
        self._reader.join(5)
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


def start_server(max_requests: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "hookscope", "serve", "--port", "0",
               "--max-requests", str(max_requests)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:
        match = re.search(r"listening on (\S+)", line)
        if match:
            threading.Thread(
                target=lambda: [None for _ in process.stdout or ()], daemon=True
            ).start()
            return process, match[1]
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("hookscope serve did not start")


def send_batch(url: str, start: int, count: int) -> list[str]:
    with httpx.Client(timeout=30) as http:
        return [
            http.post(f"{url}/fill/{n}", json={"n": n, "kind": "fill"}).headers[ID_HEADER]
            for n in range(start, start + count)
        ]


def paced_sender(
    url: str, rate: float, seconds: float, ids: list[str], done: threading.Event
) -> None:
    """``rate`` requests/s for ``seconds``, on absolute deadlines (no drift)."""
    payload = {"event": "invoice.paid", "data": {"amount": 4200, "currency": "eur"}}
    with httpx.Client(timeout=30) as http:
        started = time.monotonic()
        total = int(rate * seconds)
        for n in range(total):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            ids.append(http.post(f"{url}/load/{n}", json={**payload, "n": n}).headers[ID_HEADER])
    done.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["process", "embedded"], default="process")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--probe", type=float, default=0.1, help="seconds between probes")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    figures = Figures(server=args.server, rows=args.rows, rate=args.rate, seconds=args.seconds)
    max_requests = args.rows + int(args.rate * args.seconds) + 1000

    server: subprocess.Popen[str] | None = None
    with tempfile.TemporaryDirectory(prefix="hookscope-bench-") as tmp:
        kernel = Kernel(Path(tmp))
        try:
            if args.server == "process":
                server, base = start_server(max_requests)
                setup = f"server_url = {base!r}\n"
            else:
                setup = (f"server = hookscope.serve_in_background(max_requests={max_requests})\n"
                         "server_url = server.url\n")  # fmt: skip
            kernel.run(GC_PROBE)
            kernel.run(
                "import hookscope\nfrom hookscope.widget import LiveTable\n" + setup
                + "client = hookscope.Client(server_url)\n"
                + "bin = client.create_bin()\n"
                + "table = LiveTable(bin, tail=0, display=False)\n"
                + "print(bin.url, end='__done__')\n"
            )  # fmt: skip
            url = kernel.run("print(bin.url, end='__done__')")[1].strip()
            tracked = (  # the best of 3 full collections, with nothing else running
                "gc.collect(); _ts = []; _cs = []\n"
                "for _ in range(3):\n"
                "    _t, _c = time.perf_counter(), time.thread_time(); gc.collect()\n"
                "    _ts.append(time.perf_counter() - _t); _cs.append(time.thread_time() - _c)\n"
                "print(len(gc.get_objects()), min(_ts) * 1000, min(_cs) * 1000, end='__done__')\n"
            )
            count, pause, cpu = kernel.run(tracked)[1].split()
            figures.gc_tracked_start = int(count)
            figures.gc_collect_ms_start = round(float(pause), 1)
            figures.gc_collect_cpu_ms_start = round(float(cpu), 1)

            idle = [kernel.run("pass")[0] * 1000 for _ in range(50)]
            figures.idle_ms = summary(idle)

            # Fill: --rows requests as fast as 4 keep-alive connections go.
            started = time.monotonic()
            chunks = [(start, min(500, args.rows - start)) for start in range(0, args.rows, 500)]
            with ThreadPoolExecutor(4) as pool:
                acked = [i for ids in pool.map(lambda c: send_batch(url, *c), chunks) for i in ids]
            kernel.run(f"table.wait_for_rows({args.rows}, timeout=300)")
            figures.fill_seconds = round(time.monotonic() - started, 2)
            figures.fill_rate = round(args.rows / figures.fill_seconds)

            # Load: --rate requests/s while a trivial cell is timed every --probe seconds.
            load_ids: list[str] = []
            done = threading.Event()
            comm_start = len(kernel.comm_msgs)
            kernel.run("_gc_load_start = len(_gc_pauses)")
            sender = threading.Thread(
                target=paced_sender, args=(url, args.rate, args.seconds, load_ids, done)
            )
            load_started = time.monotonic()
            sender.start()
            probes: list[float] = []
            df_probes: list[float] = []
            next_probe = time.monotonic()
            while not done.is_set():
                probes.append(kernel.run("pass")[0] * 1000)
                if len(probes) % 5 == 0:  # reading the DataFrame while rows pour in
                    df_probes.append(kernel.run("len(table.df)")[0] * 1000)
                next_probe += args.probe
                done.wait(max(0.0, next_probe - time.monotonic()))
            sender.join()
            load_seconds = time.monotonic() - load_started
            _, out = kernel.run(
                "print(json.dumps([p for g, p, c in _gc_pauses[_gc_load_start:] if g == 2]),"
                " end='__done__')"
            )
            during_load = json.loads(out)
            figures.gc_full_during_load = len(during_load)
            figures.gc_full_during_load_max_ms = round(max(during_load, default=0.0), 1)
            figures.load_ms = summary(probes)
            figures.df_cell_ms = summary(df_probes)
            figures.probes_over_100ms = sum(1 for p in probes if p > 100)
            figures.df_cells_over_100ms = sum(1 for p in df_probes if p > 100)
            figures.sent_rate = round(len(load_ids) / load_seconds, 1)
            acked += load_ids

            # Every acknowledged request must be in table.df.
            total = len(acked)
            kernel.run(f"table.wait_for_rows({total}, timeout=120)")
            ids_file = Path(tmp) / "ids.json"
            ids_file.write_text(json.dumps(acked))
            _, out = kernel.run(
                "import json, time\n"
                "t0 = time.perf_counter(); frame = table.df; df_s = time.perf_counter() - t0\n"
                "t0 = time.perf_counter(); table.dataframe(expand_json=True)\n"
                "full_s = time.perf_counter() - t0\n"
                f"wanted = json.loads(open({str(ids_file)!r}).read())\n"
                "have = set(frame.id)\n"
                "print(json.dumps({'df_ms': df_s * 1000, 'full_ms': full_s * 1000, 'rows': len(frame),"
                " 'missing': sum(1 for i in wanted if i not in have),"
                " 'gc': sorted(p for g, p, c in _gc_pauses if g == 2)[-3:],"
                " 'gc_cpu': max((c for g, p, c in _gc_pauses if g == 2), default=0.0),"
                " 'gc2': sum(1 for g, p, c in _gc_pauses if g == 2),"
                " 'state': table.state.value, 'error': repr(table.error) if table.error else ''}),"
                " end='__done__')\n"
            )  # fmt: skip
            result = json.loads(out)
            figures.df_ms = round(result["df_ms"], 1)
            figures.expand_json_ms = round(result["full_ms"], 1)
            figures.df_rows = result["rows"]
            figures.acknowledged = total
            figures.missing = result["missing"]
            figures.table_state = result["state"]
            figures.table_error = result["error"]
            figures.gc_full_collections = result["gc2"]
            figures.gc_full_max_ms = round(max(result["gc"], default=0.0), 1)
            figures.gc_full_max_cpu_ms = round(result["gc_cpu"], 1)

            window = [
                (t, size) for t, size in kernel.comm_msgs[comm_start:]
                if load_started <= t <= load_started + load_seconds
            ]  # fmt: skip
            per_second: dict[int, int] = {}
            for t, _ in window:
                per_second[int(t - load_started)] = per_second.get(int(t - load_started), 0) + 1
            figures.widget_msgs_per_s = round(len(window) / load_seconds, 1)
            figures.widget_msgs_max_per_s = max(per_second.values(), default=0)
            sizes = [size for _, size in window] or [0]
            figures.widget_msg_kb_mean = round(statistics.fmean(sizes) / 1024, 1)
            figures.widget_msg_kb_max = round(max(sizes) / 1024, 1)
            count, pause, cpu = kernel.run(tracked)[1].split()
            figures.gc_tracked_end = int(count)
            figures.gc_collect_ms_end = round(float(pause), 1)
            figures.gc_collect_cpu_ms_end = round(float(cpu), 1)
            kernel.run("table.stop()\nclient.close()\n")
        finally:
            kernel.stop()
            if server is not None:
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(10)

    report(figures)
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2))


def report(f: Figures) -> None:
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"live table bench: server={f.server}, {cpus} CPUs, python {sys.version.split()[0]}, "
        f"load average {load}"
    )
    print(f"  fill      {f.rows:,} rows in {f.fill_seconds} s ({f.fill_rate:,}/s into the table)")
    print(f"  load      {f.rate:g} req/s asked, {f.sent_rate} req/s sent, {f.seconds:g} s")
    print(f"  cell      idle kernel: {fmt(f.idle_ms)}")
    print(f"  cell      under load:  {fmt(f.load_ms)}; over 100 ms: {f.probes_over_100ms}")
    print(
        f"  cell      len(table.df) under load: {fmt(f.df_cell_ms)}; "
        f"over 100 ms: {f.df_cells_over_100ms}"
    )
    print(
        f"  widget    {f.widget_msgs_per_s} msg/s (max {f.widget_msgs_max_per_s} in any second), "
        f"mean {f.widget_msg_kb_mean} KiB, max {f.widget_msg_kb_max} KiB"
    )
    print(
        f"  df        {f.df_rows:,} rows: table.df {f.df_ms} ms (incremental), "
        f"table.dataframe(expand_json=True) {f.expand_json_ms} ms (built from scratch)"
    )
    print(
        f"  gc        {f.gc_full_during_load} full collections during the load, longest "
        f"{f.gc_full_during_load_max_ms} ms"
    )
    per_row = (f.gc_tracked_end - f.gc_tracked_start) / max(1, f.acknowledged)
    print(
        f"  gc        {f.gc_full_collections} full collections in the kernel, longest "
        f"{f.gc_full_max_ms} ms (CPU {f.gc_full_max_cpu_ms} ms); GC-tracked objects "
        f"{f.gc_tracked_start:,} with an empty table, {f.gc_tracked_end:,} at the end "
        f"({per_row:.2f} per row)"
    )
    print(
        f"  gc        gc.collect() with no load (best of 3): {f.gc_collect_ms_start} ms "
        f"(CPU {f.gc_collect_cpu_ms_start} ms), empty table, {f.gc_collect_ms_end} ms "
        f"(CPU {f.gc_collect_cpu_ms_end} ms) at the end"
    )
    print(f"  missing   {f.missing} of {f.acknowledged:,} acknowledged requests"
          f" (state {f.table_state}{', ' + f.table_error if f.table_error else ''})")  # fmt: skip


def fmt(s: dict[str, float]) -> str:
    return (
        f"p50 {s['p50']} ms, p95 {s['p95']} ms, p99 {s['p99']} ms, max {s['max']} ms (n={s['n']:g})"
    )


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
