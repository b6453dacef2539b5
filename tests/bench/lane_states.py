"""Where heraldd's planner lanes spend their time, sampled from /proc every 2 ms: per lane
thread ("plan-<n>"), the share of samples runnable (the kernel's R: on a core or waiting for
one) and, per state, system call number (0: read) and first argument (the socket), the share
blocked. usage: lane_states.py HERALDD_PID SECONDS
Run it while a fan-out is being planned, e.g. during PLANNING_ONLY=1 bash
scripts/bench_fanout.sh once `fn:{OUT-BENCH}` counts 200,000 in `audience`."""
import os, sys, time, collections
pid, secs = int(sys.argv[1]), float(sys.argv[2])
tids = {}
for t in os.listdir(f"/proc/{pid}/task"):
    try:
        name = open(f"/proc/{pid}/task/{t}/comm").read().strip()
    except OSError:
        continue
    tids[t] = name
counts = collections.defaultdict(collections.Counter)
n = 0
end = time.time() + secs
while time.time() < end:
    for t, name in tids.items():
        if not name.startswith("plan"):
            continue
        try:
            st = open(f"/proc/{pid}/task/{t}/stat").read()
            state = st[st.rindex(")") + 2]
            sc = open(f"/proc/{pid}/task/{t}/syscall").read().split()
        except OSError:
            continue
        if state == "R":
            counts[name]["running"] += 1
        else:
            nr = sc[0]
            fd = int(sc[1], 16) if len(sc) > 1 and sc[0] != "running" else -1
            counts[name][f"{state} sys{nr} fd{fd}"] += 1
    n += 1
    time.sleep(0.002)
for name, c in sorted(counts.items()):  # the most frequent states first
    total = sum(c.values())
    print(name, total, ", ".join(f"{k} {v * 100 / total:.0f}%" for k, v in c.most_common(8)))
