"""What a round trip to the embedded server's thread costs, after the caller has been busy.

    python bench/thread_hops.py                  # 500 round trips per gap
    python bench/thread_hops.py --gaps 0,500,2000 --calls 1000

The pytest plugin's bins live on the embedded server's loop, in a thread of the test
process. Each blocking call from the test's thread (``LoopThread.call``) wakes that thread
and waits for its answer. Back to back that costs little; after the test's thread has run
Python for a while (pytest's own work between two tests), the server's thread has gone idle
and takes longer to wake (on a VM, much longer). For each ``--gaps`` value (microseconds of
busy work before each call), the mean wall time of a call that does nothing on the loop, and
of ``LoopThread.post`` (started, not waited for). Everything started here is stopped here.
"""

from __future__ import annotations

import argparse
import time

from hookscope._embedded import serve_in_background


async def _nothing() -> None:
    return None


def _busy(microseconds: int) -> None:
    end = time.perf_counter() + microseconds / 1e6
    while time.perf_counter() < end:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gaps", default="0,100,500,1000,2000", help="busy µs before each call")
    parser.add_argument("--calls", type=int, default=500, help="round trips per gap")
    args = parser.parse_args()
    server = serve_in_background()
    loop = server._thread
    try:
        for _ in range(100):
            loop.call(_nothing)
        print(f"{'busy before (µs)':>17}  {'call (µs)':>9}  {'post (µs)':>9}")
        for gap in (int(value) for value in args.gaps.split(",")):
            called = posted = 0.0
            for _ in range(args.calls):
                _busy(gap)
                start = time.perf_counter()
                loop.call(_nothing)
                called += time.perf_counter() - start
                _busy(gap)
                start = time.perf_counter()
                loop.post(_nothing)
                posted += time.perf_counter() - start
            print(
                f"{gap:>17}  {called / args.calls * 1e6:>9.0f}  {posted / args.calls * 1e6:>9.0f}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
