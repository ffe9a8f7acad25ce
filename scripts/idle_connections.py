"""Idle and slow clients against a running `zhsearch serve`, over loopback.

    python3 scripts/idle_connections.py --addr 127.0.0.1:7700 --pid PID [--count 2000]

Opens COUNT connections that send nothing and prints the server's threads and resident memory
(from /proc/PID/status) before and after, how many of them the server refused at once (closed
within 1 s), and how long a client sending one header line every 500 ms stays connected (at
most 30 s: "still open" past that).
"""

import argparse
import socket
import time


def proc(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Threads", "VmRSS"):
                fields[key] = value.strip()
    return fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--pid", required=True)
    ap.add_argument("--count", type=int, default=2000)
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    addr = (host, int(port))
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback only")
    print("before:", proc(args.pid))
    idle = [socket.create_connection(addr) for _ in range(args.count)]
    time.sleep(1)
    print(f"{args.count} idle:", proc(args.pid))
    refused = 0
    for s in idle:
        s.setblocking(False)
        try:
            if s.recv(4096) is not None:
                refused += 1
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
    print("refused at once:", refused)
    for s in idle:
        s.close()
    slow = socket.create_connection(addr)
    slow.sendall(b"GET /api/status HTTP/1.1\r\n")
    slow.settimeout(0.5)
    started, cut = time.time(), None
    while time.time() - started < 30:
        try:
            slow.sendall(b"X-Slow: 1\r\n")
            if slow.recv(4096) == b"":
                cut = time.time() - started
                break
        except socket.timeout:
            pass
        except OSError:
            cut = time.time() - started
            break
    print("slow client:", f"cut off after {cut:.1f} s" if cut else "still open after 30 s")


if __name__ == "__main__":
    main()
