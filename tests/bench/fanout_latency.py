"""Accept-to-first-queued latency of small events, for scripts/bench_fanout.sh.

Posts N events one after another, each an EMERGENCY outage on one premise of a customer
opted in to SMS, and measures, on Redis's clock, from the event's intake entry (written by
the same script that accepts it) to the first entry of its touchpoint stream te:{event}
(written in the planner's transaction that queues the message). Resolution: 1 ms.
usage: fanout_latency.py URL KEY REDIS_PORT PREFIX COUNT [SPACING_MS]
SPACING_MS: the least time from one event's post to the next one's (default 0, back to back),
so that events measured during a fan-out sample the whole of it, not its first second.
"""
import json
import sys
import time
import urllib.request

from resp_client import Redis


def main():
    url, key, port, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    spacing = float(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0.0
    r = Redis(port)
    lat = []
    next_post = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, next_post - time.monotonic()))
        next_post = time.monotonic() + spacing
        eid = f"{prefix}-{i}"
        body = json.dumps({"id": eid, "kind": "OUTAGE", "stage": "DETECTED", "severity": "EMERGENCY",
                           "area": {"premises": [f"P-LAT-{i % 200}"]}}).encode()
        req = urllib.request.Request(url + "/v1/events", data=body, method="POST", headers={
            "Authorization": "Bearer " + key, "Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        accepted = None
        for entry in r("XREVRANGE", "intake", "+", "-", "COUNT", "50"):
            fields = entry[1]
            if eid.encode() in fields:
                accepted = int(entry[0].split(b"-")[0])
                break
        # Blocks in Redis until the stream's first entry is written (at most 10 s): no polling
        # client competes with heraldd and Redis for the cores meanwhile.
        first = None
        got = r("XREAD", "COUNT", "1", "BLOCK", "10000", "STREAMS", "te:{%s}" % eid, "0-0")
        if got:
            first = int(got[0][1][0][0].split(b"-")[0])
        if accepted is not None and first is not None:
            lat.append(first - accepted)
    lat.sort()
    if not lat:
        print("no latencies measured")
        return
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"{len(lat)} events: p50 {pick(0.5)} ms, p90 {pick(0.9)} ms, p99 {pick(0.99)} ms, max {lat[-1]} ms")


main()
