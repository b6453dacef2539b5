"""Waits until an event's funnel counts WANT messages settled, for scripts/bench_fanout.sh.

Polls HGETALL fn:{EVENT} every 50 ms over one connection and sums the fields ending in ":sent"
and ":stale" (a message a newer revision overtook, dropped unsent: after UPDATE=1, most of
revision 1's).
Returns once the sum reaches WANT, printing the seconds it waited; exits 1 after TIMEOUT_S seconds.
usage: await_sent.py REDIS_PORT EVENT WANT TIMEOUT_S
"""
import sys
import time

from resp_client import Redis


def main():
    port, event, want, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    r = Redis(port)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < timeout:
        fields = r("HGETALL", "fn:{%s}" % event)
        sent = sum(int(v) for k, v in zip(fields[::2], fields[1::2]) if k.endswith((b":sent", b":stale")))
        if sent >= want:
            print(f"{time.monotonic() - start:.2f}")
            return 0
        time.sleep(0.05)
    print(f"{sent} of {want} settled after {timeout:.0f} s", file=sys.stderr)
    return 1


sys.exit(main())
