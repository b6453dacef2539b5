"""The AOF rewrites Redis started during a run, for scripts/bench_fanout.sh. Each one forks
Redis, which answers no client until the fork returns (INFO stats latest_fork_usec): an urgent
event accepted then waits that long, so the script prints when each rewrite began next to
the span of the urgent events.
usage: aof_forks.py REDIS_LOG START END URGENT_END LATEST_FORK_USEC
(START, END, URGENT_END: Unix times with fractions; the log's times are the machine's UTC)
"""
import datetime
import re
import sys

# 7984:M 05 Dec 2026 07:42:37.198 * Background append only file rewriting started by pid 8032
LINE = re.compile(r"^\d+:M (\d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3}) .*rewriting started")


def main():
    log, start, end, urgent_end, fork_usec = sys.argv[1], *map(float, sys.argv[2:6])
    at = []
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%d %b %Y %H:%M:%S.%f")
            epoch = t.replace(tzinfo=datetime.timezone.utc).timestamp()
            if start <= epoch <= end:
                at.append(epoch - start)
    # latest_fork_usec may be a fork from before the fan-out: named only when one began during it.
    forks = (f" ({', '.join(f'+{a:.1f} s' for a in at)}); the latest fork held Redis"
             f" {fork_usec / 1000:.1f} ms") if at else ""
    print(f"   AOF rewrites started during the fan-out: {len(at)}{forks}; the urgent events ran"
          f" until +{urgent_end - start:.1f} s")


if __name__ == "__main__":
    main()
