"""Round-trip time of PING to Redis, for scripts/bench_fanout.sh: how long any small command
waits while a large fan-out keeps Redis and the cores busy.
usage: redis_ping.py REDIS_PORT COUNT [GAP_MS]   (a PING, then GAP_MS of sleep, default 3,
so COUNT and GAP_MS bound the run)
"""
import socket
import sys
import time


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    gap = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.003
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    for _ in range(count):
        t = time.perf_counter()
        s.sendall(b"PING\r\n")
        if s.recv(64) != b"+PONG\r\n":
            print("unexpected reply to PING")
            return
        lat.append((time.perf_counter() - t) * 1000)
        time.sleep(gap)
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"{len(lat)} PINGs: p50 {pick(0.5):.2f} ms, p90 {pick(0.9):.2f} ms, "
          f"p99 {pick(0.99):.2f} ms, max {lat[-1]:.2f} ms")


main()
