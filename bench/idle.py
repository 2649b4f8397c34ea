#!/usr/bin/env python3
"""Memory per idle keep-alive connection: opens N connections to a proxy, sends one request
on each (so every connection has been used and sits idle in keep-alive), reads the proxy's
VmRSS, and prints {"connections", "rss_before_kib", "rss_after_kib", "kib_per_connection"}.

usage: idle.py HOST:PORT PATH TOKEN|- N PID...
"""
import json
import socket
import sys


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before the response head")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = None
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if length is None:  # chunked: read to the terminating chunk
        while not body.endswith(b"0\r\n\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed inside a chunked body")
            body += chunk
    else:
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed inside the body")
            body += chunk
    if status // 100 != 2:
        raise RuntimeError(f"status {status}")


def main():
    addr, path, token, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    pids = [int(p) for p in sys.argv[5:]]
    host, port = addr.rsplit(":", 1)
    auth = "" if token == "-" else f"Authorization: Bearer {token}\r\n"
    request = f"GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n".encode()
    before = rss_kib(pids)
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)))
        s.sendall(request)
        read_response(s)
        socks.append(s)
    after = rss_kib(pids)
    for s in socks:
        s.close()
    print(json.dumps({"connections": n, "rss_before_kib": before, "rss_after_kib": after,
                      "kib_per_connection": round((after - before) / n, 2)}))


if __name__ == "__main__":
    main()
