"""How long ``to_dataframe`` takes for many captured requests (a benchmark, not a test).

    python bench/dataframe.py              # 100,000 requests
    python bench/dataframe.py -n 20000 --headers 15 --repeat 5

The requests look like webhook deliveries: a JSON body of ~150 bytes, ``--headers`` headers
each (GitHub sends about a dozen), a query string on some. Prints the best and median
wall-clock time of ``--repeat`` runs and the best CPU time, per mode (plain and
``expand_json=True``). The time grows with the number of headers: each becomes a
``(name, value)`` pair of str.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from hookscope import CapturedRequest, to_dataframe
from hookscope._models import _new_headers


def make_requests(count: int, header_count: int) -> list[CapturedRequest]:
    start = datetime(2026, 11, 28, 21, 43, 44, tzinfo=UTC)
    requests = []
    for index in range(count):
        body = json.dumps(
            {
                "event": ("paid", "failed", "refunded")[index % 3],
                "id": f"evt_{index:08d}",
                "data": {"amount": index * 7 % 10_000, "currency": "eur", "live": index % 2 == 0},
            }
        ).encode()
        headers = [("content-type", "application/json"), ("user-agent", "Bench-Hookshot/1.0")]
        headers += [(f"x-bench-{n}", f"value-{index}-{n}") for n in range(header_count - 2)]
        requests.append(
            CapturedRequest(
                id=f"{1_764_366_000_000 + index // 4}-{index % 4}",
                bin="b_bench",
                received_at=start + timedelta(microseconds=250 * index),
                method="POST",
                path=f"/hooks/{index % 10}",
                query="attempt=1" if index % 5 == 0 else "",
                headers=_new_headers(headers),
                body=body,
                remote_addr="127.0.0.1",
            )
        )
    return requests


def measure(
    requests: list[CapturedRequest], repeat: int, expand_json: bool
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each run (CPU time is steadier on a busy machine)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        frame = to_dataframe(requests, expand_json=expand_json)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        assert len(frame) == len(requests)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=100_000)
    parser.add_argument("--headers", type=int, default=5, help="headers per request (>= 2)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    requests = make_requests(args.count, max(args.headers, 2))
    print(f"{args.count:,} requests, {max(args.headers, 2)} headers each, best of {args.repeat}")
    for expand_json in (False, True):
        walls, cpus = measure(requests, args.repeat, expand_json)
        label = "to_dataframe(expand_json=True)" if expand_json else "to_dataframe()"
        best = min(walls)
        print(
            f"  {label:32} wall best {best * 1000:6.0f} ms, median "
            f"{statistics.median(walls) * 1000:6.0f} ms; CPU best {min(cpus) * 1000:6.0f} ms  "
            f"({args.count / best:,.0f} requests/s)"
        )


if __name__ == "__main__":
    main()
