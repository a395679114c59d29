#!/usr/bin/env python3
"""The web UI in a real browser: starts `floe run` with service_probe
probing services on loopback (TLS with a self-signed certificate, a MySQL
greeting, a plain listener, a closed port), replays NetFlow v5 captures into
it over UDP, then runs ui.mjs, which drives Debian's chromium through
playwright-core (login, dashboard, host, hosts, flows, exporters, charts,
plugins, the service_probe page, theme, phone layout, password change,
logout) and saves screenshots.

The expected top host is computed here from the captures themselves (a v5
decoder of a few lines, with the header's sampling interval applied as
floe does), not from floe. The IPFIX capture that ui.mjs replays later,
for the exporters page, carries fewer bytes in all than the margin between
that host and the next, so it cannot change the answer.

Skips (exit 77) when chromium, node or tests/browser/node_modules (npm ci)
is missing. Screenshots go to $FLOE_SCREENSHOTS, default
tests/browser/screenshots under the build directory; point it at
docs/screenshots to refresh the README's.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from floetest import SRCDIR, Daemon, free_port, pcap_udp_payloads  # noqa: E402
from test_alerts import HTTP, SUSPICIOUS, message, record  # noqa: E402
from test_service_probe import Listener, make_certs, mysql_greeting, tls_answer  # noqa: E402

CHROMIUM = os.environ.get("FLOE_CHROMIUM", "/usr/bin/chromium")
V5_CAPTURES = ["001-v5-logstash-juniper-mx80", "002-v5-logstash-mikrotik", "005-v5-logstash-valid-01"]
IPFIX_CAPTURE = "214-ipfix-logstash-openbsd-pflow"
NEW_PASSWORD = "a new password, long enough"
ALERT_BYTES = 100


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def v5_host_bytes(payloads):
    """Bytes per address (sent plus received), scaled by the sampling interval."""
    hosts = {}
    for p in payloads:
        version, count = struct.unpack("!HH", p[:4])
        if version != 5:
            continue
        interval = struct.unpack("!H", p[22:24])[0] & 0x3fff or 1
        for i in range(count):
            rec = p[24 + 48 * i:72 + 48 * i]
            if len(rec) < 48:
                break
            src, dst = ".".join(map(str, rec[0:4])), ".".join(map(str, rec[4:8]))
            octets = struct.unpack("!I", rec[20:24])[0] * interval
            for a in (src, dst):
                hosts[a] = hosts.get(a, 0) + octets
    return hosts


def expected_bytes(capture):
    with open(os.path.join(SRCDIR, "tests", "golden", capture, "expected.json")) as f:
        return json.load(f)["bytes"]


def services(tmp):
    """Loopback services for service_probe to probe, and its config."""
    make_certs(tmp)
    listeners = [
        ("web", "tls", Listener(tls_answer(os.path.join(tmp, "self.pem"), os.path.join(tmp, "self.key")))),
        ("db", "mysql", Listener(lambda c: c.sendall(mysql_greeting()))),
        ("api", "tcp", Listener(lambda c: None)),
    ]
    svc = [{"name": n, "kind": k, "host": "127.0.0.1", "port": lst.port} for n, k, lst in listeners]
    svc.append({"name": "backup", "kind": "tcp", "host": "127.0.0.1", "port": free_port(socket.SOCK_STREAM)})
    lua = ", ".join("{ name = %r, kind = %r, host = %r, port = %d, server_name = 'localhost' }"
                    % (s["name"], s["kind"], s["host"], s["port"]) for s in svc)
    config = "checks = { ['service_probe.probe'] = { timeout_ms = 2000, services = { %s } } }\n" % lua
    return [lst for _, _, lst in listeners], svc, config


def main():
    node = shutil.which("node")
    modules = os.path.join(SRCDIR, "tests", "browser", "node_modules", "playwright-core")
    if not os.access(CHROMIUM, os.X_OK):
        skip("no chromium at %s (apt-get install chromium)" % CHROMIUM)
    if not node:
        skip("no node (apt-get install nodejs)")
    if not os.path.isdir(modules):
        skip("playwright-core is not installed: (cd tests/browser && npm ci)")
    if not shutil.which("openssl"):
        skip("no openssl command (apt-get install openssl)")

    # Each capture from a loopback address of its own: three exporters.
    payloads = []
    for i, cap in enumerate(V5_CAPTURES):
        source = "127.0.0.%d" % (i + 2)
        payloads += [(source, p) for p in
                     pcap_udp_payloads(os.path.join(SRCDIR, "tests", "golden", cap, "capture.pcap"))]
    hosts = sorted(v5_host_bytes([p for _, p in payloads]).items(), key=lambda kv: -kv[1])
    top, runner_up = hosts[0], hosts[1]
    ipfix = pcap_udp_payloads(os.path.join(SRCDIR, "tests", "golden", IPFIX_CAPTURE, "capture.pcap"))
    assert top[1] - runner_up[1] > expected_bytes(IPFIX_CAPTURE) + ALERT_BYTES, (top, runner_up)

    shots = os.environ.get("FLOE_SCREENSHOTS") or os.path.join(os.getcwd(), "tests", "browser", "screenshots")
    os.makedirs(shots, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="floe-browser-") as tmp:
        listeners, svc, config = services(tmp)
        try:
            with Daemon(config=config) as d:
                return run(d, tmp, payloads, top, ipfix, shots, svc, node)
        finally:
            for lst in listeners:
                lst.close()


def run(d, tmp, payloads, top, ipfix, shots, svc, node):
    """Replays the captures into d, then runs ui.mjs against it."""
    for source, p in payloads:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.sendto(p, ("127.0.0.1", d.udp_port))
        s.close()
    records = sum(struct.unpack("!H", p[2:4])[0] for _, p in payloads)
    st = d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= records)
    assert st["protocols"]["v5"]["records"] == records, st["protocols"]["v5"]
    # HTTP to port 8081 (100 bytes): suspicious_port's flow alert, for the
    # alerts page to acknowledge.
    d.send(message([record("10.77.0.1", 40001, "192.0.2.80", 8081, HTTP, octets=ALERT_BYTES)], 0))
    d.wait_for(lambda s: len(d.get("/api/v1/alerts?type=" + SUSPICIOUS)["alerts"]) >= 1, 10)
    ipfix_file = os.path.join(tmp, "ipfix.json")
    with open(ipfix_file, "w") as f:
        json.dump([p.hex() for p in ipfix], f)
    env = dict(os.environ, FLOE_URL=d.url(""), FLOE_PASSWORD=d.password,
               FLOE_NEW_PASSWORD=NEW_PASSWORD, FLOE_TOP_HOST=top[0], FLOE_UDP_PORT=str(d.udp_port),
               FLOE_IPFIX=ipfix_file, FLOE_SCREENSHOTS=shots, FLOE_CHROMIUM=CHROMIUM,
               FLOE_SERVICES=json.dumps(svc),
               FLOE_PROFILE=os.path.join(tmp, "profile"),
               NODE_PATH=os.path.join(SRCDIR, "tests", "browser", "node_modules"))
    t0 = time.time()
    rc = subprocess.call([node, os.path.join(SRCDIR, "tests", "browser", "ui.mjs")], env=env,
                         cwd=os.path.join(SRCDIR, "tests", "browser"))
    print("ui.mjs: exit %d after %.1f s; screenshots in %s" % (rc, time.time() - t0, shots))
    if rc != 0:
        print(d.logtext()[-3000:])
        return 1
    # The changed password is the one on disk now: the old one fails.
    with open(os.path.join(d.data, "web-password")) as f:
        assert "hash $y$" in f.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
