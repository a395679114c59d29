#!/usr/bin/env python3
"""bench/tables-api.py: how long a top-N page over a large flow table holds
floe's loop. Starts `floe run`, fills it with N distinct flows sent as
NetFlow v5 over loopback, then asks for top-100 pages under each sort and
reports the scan's slices, the longest slice (the longest the loop was
held), and the request's wall time.

usage: bench/tables-api.py FLOE_BIN [FLOWS]      (default 1,000,000)
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from floetest import free_port  # noqa: E402


def datagram(first, count, seq):
    hdr = struct.pack("!HHIIIIBBH", 5, count, 3600000, 1700000000, 0, seq, 0, 0, 0)
    recs = []
    for i in range(first, first + count):
        src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        dst = bytes([192, 168, (i >> 8) & 15, i & 255])
        recs.append(struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", src, dst, b"\0" * 4, 1, 2, 1 + i % 9,
                                100 + i % 5000, 3599000, 3599900, 1024 + i % 60000, 443, 0, 0x18,
                                6, 0, 0, 0, 0, 0, 0))
    return hdr + b"".join(recs)


def main():
    floe, flows = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    udp, web = free_port(), free_port(socket.SOCK_STREAM)
    tmp = tempfile.mkdtemp(prefix="floe-bench-")
    conf = os.path.join(tmp, "floe.conf.lua")
    with open(conf, "w") as f:
        f.write("flows = { max = %d, idle_timeout = 3600 }\nhosts = { max = %d }\n" % (flows + 1000, 2 * flows))
    proc = subprocess.Popen([floe, "run", "-c", conf, "--listen", "127.0.0.1:%d" % udp, "--web",
                             "127.0.0.1:%d" % web, "--data", tmp], stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:%d" % web

    def get(path):
        with urllib.request.urlopen(base + path, timeout=120) as r:
            return json.loads(r.read())
    for _ in range(100):
        try:
            get("/api/v1/status")
            break
        except OSError:
            time.sleep(0.05)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, t0 = 0, time.time()
    while sent < flows:
        n = min(30, flows - sent)
        s.sendto(datagram(sent, n, sent), ("127.0.0.1", udp))
        sent += n
        if sent % 30000 == 0:  # stay within the socket buffer
            while get("/api/v1/status")["protocols"]["v5"]["records"] < sent - 60000:
                time.sleep(0.01)
    while get("/api/v1/status")["protocols"]["v5"]["records"] < sent:
        time.sleep(0.05)
    st = get("/api/v1/status")
    print("filled %d flows (%d records, %d lost by the socket) in %.1f s; tables %.0f MiB"
          % (st["flows"], st["protocols"]["v5"]["records"], st["socket_drops"], time.time() - t0,
             st["tables"]["memory_bytes"] / 1048576))
    print("\n| request | slices | longest slice ms | wall ms |\n|---|---|---|---|")
    for q in ("sort=bytes", "sort=packets", "sort=last_seen", "sort=bytes&host=10.0.0.0/16",
              "sort=bytes&offset=9900&limit=100"):
        path = "/api/v1/flows?limit=100&" + q
        t1 = time.time()
        page = get(path)
        wall = (time.time() - t1) * 1000
        print("| `%s` | %d | %.2f | %.0f |" % (path, page["scan"]["slices"], page["scan"]["max_slice_ms"], wall))
    t1 = time.time()
    hosts = get("/api/v1/hosts?limit=100&sort=flows")
    print("| `/api/v1/hosts?limit=100&sort=flows` | %d | %.2f | %.0f |"
          % (hosts["scan"]["slices"], hosts["scan"]["max_slice_ms"], (time.time() - t1) * 1000))
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
