#!/usr/bin/env python3
"""Alerts through the real daemon: a plugin's flow alert reaches the SQLite
store and GET /api/v1/alerts (filters, totals), is acknowledged and deleted
over the API; an exclusion rule added over the API keeps the next matching
alert out of the store and counts it; an engaged alert survives a restart
and is released by the restarted daemon; a webhook endpoint receives the
versioned JSON body; `floe replay --data` keeps a capture's alerts, with the
capture's time, in a store the daemon then serves."""
import http.server
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import (FLOE_BIN, SLOW, Daemon, free_port, ipfix_data_set,  # noqa: E402
                      ipfix_message, ipfix_template_set, ipv4, pcap_write, udp_frame)

NTOP = 35632
FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 8), (2, 8), (118, 2, NTOP)]
HTTP, TLS = 7, 91
SUSPICIOUS = "suspicious_port.http_nonstandard_port"


def record(src, sport, dst, dport, l7, octets=1000, packets=10):
    return (ipv4(src) + ipv4(dst) +
            struct.pack("!HHBBQQH", sport, dport, 6, 0x1b, octets, packets, l7))


def message(recs, seq):
    return ipfix_message([ipfix_template_set(300, FIELDS), ipfix_data_set(300, recs)], seq=seq)


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def latch_plugin(root):
    """A plugin whose host alert is engaged by a flow to port 9001 and
    released by a flow to port 9002, from the same client."""
    write(root, "latch/manifest.lua", "return { version = '1' }\n")
    write(root, "latch/alert_definitions/held.lua",
          "return { title = 'Held', severity = 'error', entity = 'host', score = 70 }\n")
    write(root, "latch/checks/flow/latch.lua", """
return {
  filter = function() return { server_ports = { 9001, 9002 } } end,
  hooks = {
    protocolDetected = function(flow)
      local who = { entity = "host", value = flow:client() }
      if flow:server_port() == 9001 then
        alerts.trigger(who, "held", { info = { port = 9001 } })
      else
        alerts.release(who, "held")
      end
    end,
  },
}
""")


class Store(unittest.TestCase):
    def alerts(self, d, query=""):
        return d.get("/api/v1/alerts" + query)

    def wait_alerts(self, d, query, n):
        return d.wait_for(lambda s: len(self.alerts(d, query)["alerts"]) >= n, 10)

    def test_alerts_are_stored_queried_acknowledged_excluded_and_deleted(self):
        with Daemon() as d:
            d.send(message([record("10.1.0.1", 40001, "192.0.2.80", 8081, HTTP),
                            record("10.1.0.2", 40002, "192.0.2.80", 80, HTTP)], 0))
            self.wait_alerts(d, "?type=" + SUSPICIOUS, 1)
            body = self.alerts(d, "?type=%s&totals=1" % SUSPICIOUS)
            self.assertEqual(len(body["alerts"]), 1)
            a = body["alerts"][0]
            self.assertEqual(a["entity"]["type"], "flow")
            self.assertEqual(a["severity"], "warning")
            self.assertEqual(a["plugin"], "suspicious_port")
            self.assertEqual(a["flow"]["client"], "10.1.0.1")
            self.assertEqual(a["flow"]["server_port"], 8081)
            self.assertEqual(a["flow"]["app"], "HTTP")
            self.assertIsNone(a["ack"])
            self.assertEqual(body["totals"]["total"], 1)
            self.assertEqual(body["totals"]["by_severity"]["warning"], 1)
            # filters: another client's address, another severity
            self.assertEqual(self.alerts(d, "?value=10.1.0.2")["alerts"], [])
            self.assertEqual(len(self.alerts(d, "?value=10.1.0.0/24")["alerts"]), 1)
            self.assertEqual(self.alerts(d, "?severity=error")["alerts"], [])
            code, err = d.request("GET", "/api/v1/alerts?severity=loud")
            self.assertEqual(code, 400)
            self.assertIn("severity", err["error"])

            code, _ = d.request("POST", "/api/v1/alerts/%d/ack" % a["id"])
            self.assertEqual(code, 200)
            acked = self.alerts(d, "?id=%d" % a["id"])["alerts"][0]
            self.assertIsNotNone(acked["ack"])
            self.assertEqual(self.alerts(d, "?ack=no&type=" + SUSPICIOUS)["alerts"], [])
            code, _ = d.request("POST", "/api/v1/alerts/999999/ack")
            self.assertEqual(code, 404)

            # An exclusion for the client keeps its next alert out.
            code, rule = d.request("POST", "/api/v1/alerts/exclusions",
                                   {"type": SUSPICIOUS, "hosts": ["10.1.9.0/24"]})
            self.assertEqual(code, 200, rule)
            listed = d.get("/api/v1/alerts/exclusions")["exclusions"]
            self.assertEqual(len(listed), 1)
            code, err = d.request("POST", "/api/v1/alerts/exclusions", {"colour": "red"})
            self.assertEqual(code, 400)
            d.send(message([record("10.1.9.7", 40003, "192.0.2.80", 8081, HTTP),
                            record("10.1.8.7", 40004, "192.0.2.80", 8081, HTTP)], 1))
            self.wait_alerts(d, "?value=10.1.8.7", 1)
            st = d.wait_for(lambda s: s["alert_store"]["excluded"] >= 1, 5)
            self.assertEqual(st["alert_store"]["excluded"], 1)
            self.assertEqual(self.alerts(d, "?value=10.1.9.7")["alerts"], [])

            code, _ = d.request("DELETE", "/api/v1/alerts/%d" % a["id"])
            self.assertEqual(code, 200)
            self.assertEqual(self.alerts(d, "?id=%d" % a["id"])["alerts"], [])
            code, body = d.request("DELETE", "/api/v1/alerts?type=" + SUSPICIOUS)
            self.assertEqual(code, 200)
            self.assertEqual(body["deleted"], 1)
            self.assertEqual(self.alerts(d, "?type=" + SUSPICIOUS)["alerts"], [])
            code, _ = d.request("DELETE", "/api/v1/alerts/exclusions/%d" % listed[0]["id"])
            self.assertEqual(code, 200)
            self.assertEqual(d.get("/api/v1/alerts/exclusions")["exclusions"], [])

    def test_an_engaged_alert_survives_a_restart_and_is_released_after_it(self):
        with tempfile.TemporaryDirectory(prefix="floe-alert-plugins-") as root:
            latch_plugin(root)
            with Daemon(extra_args=["--plugins", root]) as d:
                d.send(message([record("10.4.0.1", 40001, "192.0.2.9", 9001, TLS)], 0))
                self.wait_alerts(d, "?state=engaged&type=latch.held", 1)
                d.restart()
                engaged = self.alerts(d, "?state=engaged&type=latch.held")["alerts"]
                self.assertEqual(len(engaged), 1)
                self.assertEqual(engaged[0]["entity"], {"type": "host", "value": "10.4.0.1"})
                self.assertEqual(engaged[0]["severity"], "error")
                d.send(message([record("10.4.0.1", 40002, "192.0.2.9", 9002, TLS)], 0))
                self.wait_alerts(d, "?state=past&type=latch.held", 1)
                past = self.alerts(d, "?state=past&type=latch.held")["alerts"][0]
                self.assertEqual(past["id"], engaged[0]["id"])
                self.assertIsNotNone(past["released_ms"])
                self.assertEqual(self.alerts(d, "?state=engaged&type=latch.held")["alerts"], [])

    def test_the_store_can_be_turned_off(self):
        with Daemon(config="alerts = { enabled = false }\n") as d:
            code, body = d.request("GET", "/api/v1/alerts")
            self.assertEqual(code, 503)
            self.assertIn("alerts.enabled", body["error"])


class ReplayStore(unittest.TestCase):
    def test_replay_keeps_the_alerts_for_the_daemon(self):
        with tempfile.TemporaryDirectory(prefix="floe-replay-alerts-") as tmp:
            pcap = os.path.join(tmp, "http.pcap")
            when = 1600000000  # years before the default max_age
            msg = message([record("10.6.0.1", 40001, "192.0.2.80", 8081, HTTP)], 0)
            pcap_write(pcap, [(when, udp_frame([192, 0, 2, 1], [192, 0, 2, 2], 50000, 4739,
                                               msg))])
            data = os.path.join(tmp, "data")
            out = subprocess.run([FLOE_BIN, "replay", "--data", data, pcap],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(os.path.exists(os.path.join(data, "alerts.db")))
            with Daemon(data=data) as d:
                alerts = d.get("/api/v1/alerts?type=" + SUSPICIOUS)["alerts"]
                self.assertEqual(len(alerts), 1)
                self.assertEqual(alerts[0]["flow"]["client"], "10.6.0.1")
                self.assertEqual(alerts[0]["raised_ms"] // 1000, when)
            bad = subprocess.run([FLOE_BIN, "replay", "--data", "/proc/floe/x", pcap],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("--data", bad.stderr)


class Receiver(http.server.BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Receiver.bodies.append((self.headers.get("Content-Type"), self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Webhook(unittest.TestCase):
    def test_a_webhook_receives_the_alert(self):
        server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            config = ('alerts = { endpoints = { { type = "webhook", name = "hook", '
                      'url = "http://127.0.0.1:%d/in", min_severity = "info" } } }\n'
                      % server.server_address[1])
            with Daemon(config=config) as d:
                d.send(message([record("10.5.0.1", 40001, "192.0.2.80", 8081, HTTP)], 0))
                d.wait_for(lambda s: len(Receiver.bodies) >= 1, 10 * SLOW)
                ctype, raw = Receiver.bodies[0]
                self.assertTrue(ctype.startswith("application/json"), ctype)
                body = json.loads(raw)
                self.assertEqual(body["version"], 1)
                self.assertEqual(body["endpoint"], "hook")
                types = [a["type"] for a in body["alerts"]]
                self.assertIn(SUSPICIOUS, types)
                sent = d.wait_for(lambda s: s["alert_store"]["endpoints"][0]["sent"] >= 1, 5)
                self.assertEqual(sent["alert_store"]["endpoints"][0]["failed"], 0)
        finally:
            server.shutdown()
            server.server_close()


class WebhookRetry(unittest.TestCase):
    def test_a_webhook_that_is_down_gets_the_alert_once_it_is_back(self):
        import socket
        port = free_port(socket.SOCK_STREAM)
        config = ('alerts = { endpoints = { { type = "webhook", url = "http://127.0.0.1:%d/in", '
                  'min_severity = "info", retries = 20, backoff_ms = 200, timeout_ms = 1000 } } }\n'
                  % port)
        Receiver.bodies = []
        with Daemon(config=config) as d:
            d.send(message([record("10.5.1.1", 40001, "192.0.2.80", 8081, HTTP)], 0))
            st = d.wait_for(lambda s: s["alert_store"]["endpoints"][0]["retried"] >= 2, 10)
            ep = st["alert_store"]["endpoints"][0]
            self.assertGreaterEqual(ep["retried"], 2)
            self.assertEqual(ep["sent"], 0)
            self.assertTrue(ep["last_error"])
            server = http.server.HTTPServer(("127.0.0.1", port), Receiver)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                st = d.wait_for(lambda s: s["alert_store"]["endpoints"][0]["sent"] >= 1, 20)
                self.assertEqual(st["alert_store"]["endpoints"][0]["sent"], 1)
                time.sleep(1)  # a second delivery would come within this
                bodies = [json.loads(b) for _, b in Receiver.bodies]
                got = [a for b in bodies for a in b["alerts"] if a["type"] == SUSPICIOUS]
                self.assertEqual(len(got), 1, bodies)
                self.assertEqual(got[0]["flow"]["client"], "10.5.1.1")
            finally:
                server.shutdown()
                server.server_close()


if __name__ == "__main__":
    unittest.main()
