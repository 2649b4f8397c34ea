#!/usr/bin/env python3
"""Memory per idle open request ("idle stream"): opens N connections to a proxy and sends one
request on each that the bench upstream holds (`x-bench-hold-ms`), waits until the upstream
holds all N (`GET /_bench/held` on the upstream), reads each proxy process's VmRSS, then
closes the connections and waits for the upstream to see them cancelled.

Through a remote connector every held request is one open HTTP/2 stream on the tunnel, so
(RSS after - RSS before) / N of gateway + connector is the memory of an idle tunnelled
request; the same on the embedded row is the cost without the tunnel.

usage: idle_streams.py HOST:PORT PATH TOKEN|- N UPSTREAM_HOST:PORT PID...
prints {"streams", "held", "kib_per_stream", "per_process": [{"pid", "before_kib",
"after_kib", "kib_per_stream"}], "drained_s"}
"""
import json
import socket
import sys
import time

HOLD_MS = 30000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def held(upstream):
    host, port = upstream.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET /_bench/held HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b"\r\n\r\n", 1)[1].strip() or b"0")


def wait_held(upstream, want, deadline_s):
    deadline = time.monotonic() + deadline_s
    n = held(upstream)
    while n != want and time.monotonic() < deadline:
        time.sleep(0.05)
        n = held(upstream)
    return n


def main():
    addr, path, token, n, upstream = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    pids = [int(p) for p in sys.argv[6:]]
    host, port = addr.rsplit(":", 1)
    auth = "" if token == "-" else f"Authorization: Bearer {token}\r\n"
    request = f"GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}x-bench-hold-ms: {HOLD_MS}\r\n\r\n".encode()
    wait_held(upstream, 0, 30)
    before = {p: rss_kib(p) for p in pids}
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)))
        s.sendall(request)
        socks.append(s)
    got = wait_held(upstream, n, 20)
    time.sleep(0.3)  # let the last requests' buffers settle
    after = {p: rss_kib(p) for p in pids}
    start = time.monotonic()
    for s in socks:
        s.close()
    drained = wait_held(upstream, 0, 20) == 0
    per_process = [
        {"pid": p, "before_kib": before[p], "after_kib": after[p],
         "kib_per_stream": round((after[p] - before[p]) / n, 2)}
        for p in pids
    ]
    total = sum(after.values()) - sum(before.values())
    print(json.dumps({
        "streams": n,
        "held": got,
        "kib_per_stream": round(total / n, 2) if got == n else None,
        "per_process": per_process,
        # Seconds until the upstream saw every held request cancelled after the agent left
        # (null: not within 20 s, so cancellation did not reach it).
        "drained_s": round(time.monotonic() - start, 2) if drained else None,
    }))


if __name__ == "__main__":
    main()
