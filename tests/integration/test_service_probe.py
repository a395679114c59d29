#!/usr/bin/env python3
"""The service_probe built-in against real services on loopback, through
the daemon: a plain TCP listener, TLS servers with a self-signed and with
an expired certificate (both made with the openssl command here), a tiny
MySQL-greeting speaker, and a port nobody listens on. The probes run on
floe's work queue; their results show in the plugin's API and page, and
after the next minute tick the service that is down and the expired
certificate have their alerts engaged and every result is a point of the
service_probe:probe timeseries, while floe keeps answering.

The plugin runs on minute ticks, so this test takes one to two minutes:
the first tick starts the probes, the second judges them.
"""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import SLOW, Daemon, free_port  # noqa: E402

MYSQL_VERSION = "8.0.36-floe-test"
CA_CONFIG = """[ca]
default_ca = self
[self]
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = any
copy_extensions = copy
[any]
commonName = supplied
"""


def openssl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d):
    """A self-signed certificate for localhost valid 30 days, and one that
    expired on 1 February 2020 (openssl ca, which takes start and end dates)."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl(["req", "-x509"] + key + ["-keyout", "self.key", "-out", "self.pem", "-days", "30",
                                      "-subj", "/CN=localhost",
                                      "-addext", "subjectAltName=DNS:localhost"], d)
    openssl(["req", "-new"] + key + ["-keyout", "old.key", "-out", "old.csr",
                                     "-subj", "/CN=localhost"], d)
    os.makedirs(os.path.join(d, "db"))
    open(os.path.join(d, "db", "index.txt"), "w").close()
    with open(os.path.join(d, "db", "serial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CONFIG)
    openssl(["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "old.key",
             "-in", "old.csr", "-out", "old.pem",
             "-startdate", "20200101000000Z", "-enddate", "20200201000000Z"], d)


def mysql_greeting():
    """A MySQL 10 initial handshake packet, as a server sends it first."""
    body = (bytes([10]) + MYSQL_VERSION.encode() + b"\0" + struct.pack("<I", 7) +
            b"abcdefgh\0" + struct.pack("<H", 0xf7ff) + bytes([33]) +
            struct.pack("<H", 2) + b"\0" * 13)
    return struct.pack("<I", len(body))[:3] + b"\0" + body


class Listener:
    """A loopback service on a thread of its own: answer(conn) for each
    connection, until closed."""

    def __init__(self, answer):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.settimeout(5)
            try:
                self.answer(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def close(self):
        self.sock.close()


def tls_answer(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def answer(conn):
        with ctx.wrap_socket(conn, server_side=True) as t:
            t.recv(16)  # the probe's close_notify, or its end
    return answer


def probe_results(d):
    p = d.get("/api/v1/plugins/service_probe")
    return {x["key"]: x for x in p["probes"]}, p


@unittest.skipUnless(shutil.which("openssl"), "no openssl command")
class ServiceProbe(unittest.TestCase):
    def test_probes_of_real_services_their_results_and_alerts(self):
        with tempfile.TemporaryDirectory(prefix="floe-probe-") as tmp:
            make_certs(tmp)
            listeners = {
                "plain": Listener(lambda c: None),
                "selfsigned": Listener(tls_answer(os.path.join(tmp, "self.pem"),
                                                  os.path.join(tmp, "self.key"))),
                "expired": Listener(tls_answer(os.path.join(tmp, "old.pem"),
                                               os.path.join(tmp, "old.key"))),
                "db": Listener(lambda c: c.sendall(mysql_greeting())),
            }
            down = free_port(socket.SOCK_STREAM)  # nobody listens there
            kinds = {"plain": "tcp", "selfsigned": "tls", "expired": "tls", "db": "mysql"}
            services = ["{ name = %r, kind = %r, host = '127.0.0.1', port = %d, "
                        "server_name = 'localhost' }" % (n, kinds[n], lst.port)
                        for n, lst in listeners.items()]
            services.append("{ name = 'down', kind = 'tcp', host = '127.0.0.1', port = %d }" % down)
            config = ("checks = { ['service_probe.probe'] = { timeout_ms = 2000, "
                      "services = { %s } } }\n" % ", ".join(services))
            try:
                with Daemon(config=config) as d:
                    self.check_results(d)
                    self.check_alerts_and_page(d, down)
            finally:
                for lst in listeners.values():
                    lst.close()

    def check_results(self, d):
        # The first minute tick starts the probes; they end within seconds.
        deadline = time.time() + 75 * SLOW
        while time.time() < deadline:
            probes, _ = probe_results(d)
            if len(probes) == 5 and all(p["result"] for p in probes.values()):
                break
            time.sleep(1)
        probes, _ = probe_results(d)
        self.assertEqual(sorted(probes), ["db", "down", "expired", "plain", "selfsigned"])
        r = {k: p["result"] for k, p in probes.items()}
        self.assertTrue(all(r.values()), probes)
        self.assertTrue(r["plain"]["ok"], r["plain"])
        self.assertGreaterEqual(r["plain"]["rtt_ms"], 0)
        self.assertEqual(r["plain"]["address"], "127.0.0.1")
        self.assertTrue(r["selfsigned"]["ok"], r["selfsigned"])
        self.assertEqual(r["selfsigned"]["cert"]["status"], "self-signed")
        self.assertIn(r["selfsigned"]["cert"]["days_left"], (29, 30))
        self.assertEqual(r["selfsigned"]["cert"]["subject"], "CN=localhost")
        self.assertTrue(r["expired"]["ok"], r["expired"])  # it answers: the certificate is the problem
        self.assertEqual(r["expired"]["cert"]["status"], "expired")
        self.assertLess(r["expired"]["cert"]["days_left"], -365)
        self.assertTrue(r["db"]["ok"], r["db"])
        self.assertEqual(r["db"]["server_version"], MYSQL_VERSION)
        self.assertFalse(r["down"]["ok"])
        self.assertIn("Connection refused", r["down"]["error"])

    def check_alerts_and_page(self, d, down):
        # The next tick judges those results.
        deadline = time.time() + 75 * SLOW
        engaged = []
        while time.time() < deadline:
            _, p = probe_results(d)
            engaged = sorted((a["type"], a["value"]) for a in p["engaged"])
            if len(engaged) >= 2:
                break
            time.sleep(1)
        self.assertEqual(engaged, [("service_probe.cert_expiring", "service:expired"),
                                   ("service_probe.service_down", "service:down")])
        severities = {a["value"]: a["severity"] for a in p["engaged"]}
        self.assertEqual(severities, {"service:expired": "error", "service:down": "error"})
        self.assertEqual(p["checks"][0]["errors"], 0, p["checks"][0]["last_error"])
        page = d.get_raw("/plugins/service_probe/probes")[2].decode()
        for text in ("Service probes", "self-signed, ", "expired, expired", "MySQL " + MYSQL_VERSION,
                     "127.0.0.1:%d" % down, "Connection refused", 'data-schema="service_probe:probe"',
                     'data-tags="db"', "5 services: 4 up, 1 down"):
            self.assertIn(text, page)
        self.assertIn(">\u25ce Services<", d.get_raw("/")[2].decode())  # its nav entry
        self.check_timeseries(d)

    def check_timeseries(self, d):
        """The judged results are points of service_probe:probe: up 0 for the
        service that is down, up 1 and a connect time for the others."""
        def points(service):
            now = int(time.time())
            body = d.get("/api/v1/timeseries?schema=service_probe:probe&tags=%s&from=%d&to=%d"
                         % (service, now - 600, now + 60))
            self.assertEqual(body["metrics"], ["rtt_ms", "up"])
            return [p for p in body["points"] if p[2] is not None]
        deadline = time.time() + 30 * SLOW
        while time.time() < deadline and not (points("down") and points("db")):
            time.sleep(1)
        self.assertEqual({p[2] for p in points("down")}, {0})
        db = points("db")
        self.assertEqual({p[2] for p in db}, {1})
        self.assertTrue(all(p[1] is not None and p[1] >= 0 for p in db), db)


if __name__ == "__main__":
    unittest.main()
