#!/usr/bin/env python3
"""bench/tables-api.py: how long a top-N page over a large flow table holds
floe's loop. Starts `floe run`, fills it with N distinct flows sent as
NetFlow v5 over loopback, then asks for top-100 pages under each sort and
reports the scan's slices, the longest slice (the longest the loop was
held), and the request's wall time.

With --hosts H the flows run between H hosts (H - 4000 clients and 4000
servers) instead of a client per flow, and the web UI's requests are timed
too: each page (the server-rendered HTML) and the API requests its script
makes, five times each (median and maximum), logged in with a session
cookie as a browser is.

With --browser as well, bench/web-page.mjs loads the pages in Debian's
chromium (playwright-core from tests/browser, after npm ci there) and
times each from navigation to its first table row drawn.

usage: bench/tables-api.py FLOE_BIN [FLOWS] [--hosts H [--browser]]   (default 1,000,000 flows)
"""
import argparse
import json
import os
import re
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from floetest import free_port  # noqa: E402


SERVERS = 4000


def endpoints(i, hosts):
    """Flow i's client, server and client port: one client per flow, or with
    hosts, client i % (hosts - SERVERS) and a port that keeps the flow apart."""
    if not hosts:
        return (bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
                bytes([192, 168, (i >> 8) & 15, i & 255]), 1024 + i % 60000)
    clients = hosts - SERVERS
    c, k = i % clients, i // clients
    srv = (c + k) % SERVERS
    return (bytes([10, (c >> 16) & 255, (c >> 8) & 255, c & 255]),
            bytes([192, 168, (srv >> 8) & 255, srv & 255]), 1024 + k)


def datagram(first, count, seq, hosts=0):
    hdr = struct.pack("!HHIIIIBBH", 5, count, 3600000, 1700000000, 0, seq, 0, 0, 0)
    recs = []
    for i in range(first, first + count):
        src, dst, sport = endpoints(i, hosts)
        recs.append(struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", src, dst, b"\0" * 4, 1, 2, 1 + i % 9,
                                100 + i % 5000, 3599000, 3599900, sport, 443, 0, 0x18,
                                6, 0, 0, 0, 0, 0, 0))
    return hdr + b"".join(recs)


def login(base, password):
    """A session cookie, as the browser gets one."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    body = ("username=admin&password=" + password).encode()
    try:
        opener.open(base + "/login", body, timeout=30)
    except urllib.error.HTTPError as e:
        m = re.search(r"floe_session=([0-9a-f]+)", e.headers.get("Set-Cookie", ""))
        if e.code == 303 and m:
            return "floe_session=" + m.group(1)
        raise
    raise RuntimeError("login did not redirect")


def web_ui(base, cookie):
    """Times each page and the API requests its script makes."""
    print("\n| request (logged in, as the browser) | median ms | max ms | bytes |\n|---|---|---|---|")
    for path in ("/hosts", "/api/v1/hosts?limit=50&sort=bytes", "/api/v1/hosts?limit=50&offset=0&sort=packets",
                 "/", "/api/v1/status", "/api/v1/hosts?limit=10&sort=bytes", "/api/v1/applications?limit=10",
                 "/api/v1/interfaces?limit=10&sort=bytes", "/api/v1/exporters",
                 "/flows", "/api/v1/flows?limit=50&sort=bytes"):
        times, size = [], 0
        for _ in range(5):
            req = urllib.request.Request(base + path, headers={"Cookie": cookie})
            t0 = time.time()
            with urllib.request.urlopen(req, timeout=120) as r:
                size = len(r.read())
            times.append((time.time() - t0) * 1000)
        print("| `%s` | %.1f | %.1f | %d |" % (path, statistics.median(times), max(times), size))


def main():
    ap = argparse.ArgumentParser(description="top-N pages and the web UI over large tables")
    ap.add_argument("floe")
    ap.add_argument("flows", nargs="?", type=int, default=1000000)
    ap.add_argument("--hosts", type=int, default=0, help="hosts the flows run between")
    ap.add_argument("--browser", action="store_true",
                    help="with --hosts, also time the pages in chromium (bench/web-page.mjs)")
    a = ap.parse_args()
    floe, flows, hosts = a.floe, a.flows, a.hosts
    udp, web = free_port(), free_port(socket.SOCK_STREAM)
    tmp = tempfile.mkdtemp(prefix="floe-bench-")
    conf = os.path.join(tmp, "floe.conf.lua")
    token, password = secrets.token_hex(16), secrets.token_hex(8)
    with open(conf, "w") as f:
        f.write("flows = { max = %d, idle_timeout = 3600 }\nhosts = { max = %d }\n" % (flows + 1000, 2 * flows))
        f.write('web_token = "%s"\nweb_password = "%s"\n' % (token, password))
    proc = subprocess.Popen([floe, "run", "-c", conf, "--listen", "127.0.0.1:%d" % udp, "--web",
                             "127.0.0.1:%d" % web, "--data", tmp], stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:%d" % web

    def get(path):
        req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=120) as r:
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
        s.sendto(datagram(sent, n, sent, hosts), ("127.0.0.1", udp))
        sent += n
        if sent % 30000 == 0:  # stay within the socket buffer
            while get("/api/v1/status")["protocols"]["v5"]["records"] < sent - 60000:
                time.sleep(0.01)
    while get("/api/v1/status")["protocols"]["v5"]["records"] < sent:
        time.sleep(0.05)
    st = get("/api/v1/status")
    print("filled %d flows, %d hosts (%d records, %d lost by the socket) in %.1f s; tables %.0f MiB"
          % (st["flows"], st["hosts"], st["protocols"]["v5"]["records"], st["socket_drops"], time.time() - t0,
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
    page = get("/api/v1/hosts?limit=100&sort=flows")
    print("| `/api/v1/hosts?limit=100&sort=flows` | %d | %.2f | %.0f |"
          % (page["scan"]["slices"], page["scan"]["max_slice_ms"], (time.time() - t1) * 1000))
    if hosts:
        time.sleep(2)  # hosts catch up with their flows once a second
        cookie = login(base, password)
        web_ui(base, cookie)
        if a.browser:
            subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "web-page.mjs"),
                            base, cookie], check=True)
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
