"""Waits until a revision is planned, for scripts/bench_fanout.sh, and samples heraldd's RSS.

Polls GET KEY every 50 ms over one connection (a redis-cli started per poll cost about 4 % of
the two cores, taken from the system being measured) and reads VmRSS of PID at each poll.
Prints the largest RSS seen, in kB, once KEY is "done"; exits 1 after TIMEOUT_S seconds.
usage: await_plan.py REDIS_PORT KEY PID TIMEOUT_S
"""
import sys
import time

from resp_client import Redis


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    port, key, pid, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    r = Redis(port)
    top = 0
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        top = max(top, rss_kb(pid))
        if r("GET", key) == b"done":
            print(top)
            return 0
        time.sleep(0.05)
    print(f"{key} not done after {timeout:.0f} s", file=sys.stderr)
    return 1


sys.exit(main())
