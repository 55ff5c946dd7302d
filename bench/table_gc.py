"""What a live table's rows cost CPython's full garbage collection (a benchmark, not a test).

    python bench/table_gc.py                 # 56,000 rows, as bench/widget.py ends with
    python bench/table_gc.py --rows 100000

No kernel, no server: a ``TableModel`` (the live table's state) ingests ``--rows`` requests
like the ones bench/widget.py sends under load (a nested JSON body, seven headers) and builds
its DataFrame, as ``table.df`` does. Figures: GC-tracked objects per row, and the CPU time of
``gc.collect()`` (best of 5, CPU time of this thread: other load on the machine does not
inflate it) with the empty table and with the rows.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

import pandas  # noqa: F401  (imported before counting: its objects are not the table's)

from hookscope._models import CapturedRequest
from hookscope.widget._table import TableModel


def wire(n: int) -> dict[str, object]:
    body = json.dumps(
        {"event": "invoice.paid", "data": {"amount": 4200, "currency": "eur"}, "n": n}
    )
    headers = [("host", "127.0.0.1:8080"), ("accept", "*/*"), ("accept-encoding", "gzip, deflate"),
               ("connection", "keep-alive"), ("user-agent", "python-httpx/0.28.1"),
               ("content-length", str(len(body))), ("content-type", "application/json")]  # fmt: skip
    return {"id": f"{1_764_366_000_000 + n}-0", "bin": "b_bench",
            "received_at": "2026-11-28T21:43:44.123456Z", "method": "POST", "path": f"/load/{n}",
            "query": "", "headers": headers, "body": body, "body_encoding": "utf-8",
            "size": len(body), "remote_addr": "127.0.0.1", "http_version": "1.1"}  # fmt: skip


def collect_cpu_ms() -> float:
    times = []
    for _ in range(5):
        started = time.thread_time()
        gc.collect()
        times.append(time.thread_time() - started)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=56_000)
    args = parser.parse_args()
    model = TableModel(window=50, max_rows=None)
    model.dataframe()
    empty_ms, empty = collect_cpu_ms(), len(gc.get_objects())
    for start in range(0, args.rows, 100):  # in bursts, reading df now and then, like a notebook
        count = min(100, args.rows - start)
        model.ingest(CapturedRequest.from_wire(wire(n)) for n in range(start, start + count))
        if start % 1000 == 0:
            model.dataframe()
    model.dataframe()
    full_ms, full = collect_cpu_ms(), len(gc.get_objects())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"table gc: {args.rows:,} rows, python {sys.version.split()[0]}, load average {load}")
    print(f"  tracked objects  {empty:,} -> {full:,} ({(full - empty) / args.rows:.2f} per row)")
    print(f"  gc.collect() CPU {empty_ms:.1f} ms -> {full_ms:.1f} ms (best of 5)")


if __name__ == "__main__":
    main()
