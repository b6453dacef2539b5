"""Where heraldd's planner lanes spend their time, sampled from /proc every 2 ms: per lane
thread ("plan-<n>"), the share of samples runnable (the kernel's R: on a core or waiting for
one) and, per state, system call number (0: read) and first argument (the socket), the share
blocked.
usage: lane_states.py HERALDD_PID SECONDS [REDIS_PORT EVENT MIN_AUDIENCE]
With the last three it first waits (at most 10 minutes) until the event's funnel counts
MIN_AUDIENCE customers, so the sample falls inside the fan-out (bench_fanout.sh LANE_STATES=1).
"""
import collections
import os
import sys
import time

from resp_client import Redis


def lane_threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        except OSError:
            continue
        if name.startswith("plan"):
            out[tid] = name
    return out


def main():
    pid, secs = int(sys.argv[1]), float(sys.argv[2])
    if len(sys.argv) >= 6:
        redis, key, least = Redis(sys.argv[3]), "fn:{%s}" % sys.argv[4], int(sys.argv[5])
        deadline = time.time() + 600
        while int(redis("HGET", key, "audience") or 0) < least and time.time() < deadline:
            time.sleep(0.2)
    counts = collections.defaultdict(collections.Counter)
    lanes = lane_threads(pid)
    end = time.time() + secs
    while time.time() < end:
        for tid, name in lanes.items():
            try:
                stat = open(f"/proc/{pid}/task/{tid}/stat").read()
                call = open(f"/proc/{pid}/task/{tid}/syscall").read().split()
            except OSError:
                continue
            state = stat[stat.rindex(")") + 2]
            if state == "R":
                counts[name]["runnable"] += 1
            elif call and call[0] != "running":
                # read, recvfrom, poll, epoll_wait: the first argument is the socket's fd
                on = f" on fd {int(call[1], 16)}" if call[0] in ("0", "45", "7", "232") else ""
                counts[name][f"{state} in syscall {call[0]}{on}"] += 1
        time.sleep(0.002)
    for name, c in sorted(counts.items()):
        total = sum(c.values())
        top = ", ".join(f"{k} {v * 100 / total:.0f} %" for k, v in c.most_common(4))
        print(f"   {name} ({total} samples): {top}")


main()
