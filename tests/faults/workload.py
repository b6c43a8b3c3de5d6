"""A tracked process for the fault tests: tracks events at a pace, then reports as JSON.

    python -m tests.faults.workload --endpoint URL --key KEY --events N [--rate R] ...

The last line of stdout is ``{"stats": {...}, "peak_rss_mb": ...}``.  With
``--hang-when-spooled`` it prints ``SPOOLED <n>`` once every event is in the
spool and then waits to be killed.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time

import attrs

from agentsight import ConversationTracker


def _high_water_mb() -> float:
    """This process's peak RSS (VmHWM).

    Not ``getrusage().ru_maxrss``: on Linux that keeps the peak of the forked
    copy of the parent from before ``exec``, so a child of a big pytest process
    would report the parent's size.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--rate", type=float, default=0.0, help="events per second, 0: flat out")
    parser.add_argument("--spool")
    parser.add_argument("--fsync", default="interval")
    parser.add_argument("--spool-after", type=float, default=10.0)
    parser.add_argument("--max-buffer", type=int, default=50_000)
    parser.add_argument("--prefix", default="w")
    parser.add_argument("--hang-when-spooled", action="store_true")
    args = parser.parse_args()
    tracker = ConversationTracker(
        api_key=args.key,
        endpoint=args.endpoint,
        spool_dir=args.spool,
        spool_fsync=args.fsync,
        spool_after=args.spool_after,
        max_buffer=args.max_buffer,
        flush_interval=0.05,
        retry_initial_delay=0.05,
        retry_max_delay=1.0,
        shutdown_timeout=5.0,
    )
    peak: dict[str, object] = {"rss_mb": 0.0}
    stop = threading.Event()

    def sample() -> None:  # where the memory went, if a bound is ever broken
        page = resource.getpagesize()
        while not stop.wait(0.2):
            with open("/proc/self/statm") as statm:
                rss = int(statm.read().split()[1]) * page / 2**20
            if rss > float(peak["rss_mb"]):  # type: ignore[arg-type]
                s = tracker.stats()
                at = round(time.monotonic() - started, 1)
                peak.update(rss_mb=round(rss, 1), queued=s.queued, spooled=s.spooled, at_s=at)
                peak["replayed"] = s.replayed

    started = time.monotonic()
    threading.Thread(target=sample, daemon=True).start()
    for n in range(args.events):
        cid = f"{args.prefix}-{n % args.conversations}"
        tracker.track_human_message(f"{args.prefix}:{n}", conversation_id=cid)
        if args.rate and n % 100 == 99:
            ahead = (n + 1) / args.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    if args.hang_when_spooled:
        while tracker.stats().spooled < args.events:
            time.sleep(0.01)
        print(f"SPOOLED {tracker.stats().spooled}", flush=True)
        threading.Event().wait()
    tracker.close()
    stop.set()
    report = {"stats": attrs.asdict(tracker.stats()), "peak_rss_mb": _high_water_mb(), "peak": peak}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
