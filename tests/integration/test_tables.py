#!/usr/bin/env python3
"""The live tables through the real daemon: a two-way conversation sent as
IPFIX becomes one flow with the right client, server and counters; nDPI
labels from its IP list, from sFlow sampled payload, and from an exporter's
applicationId; the host, interface and network APIs; bad queries."""
import os
import sys
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(__file__))
from floetest import (Daemon, ipfix_data_set, ipfix_message, ipfix_options_template_set,  # noqa: E402
                      ipfix_template_set, ipv4, sflow_datagram, sflow_flow_sample, tcp_frame)
import struct  # noqa: E402

# sourceIPv4Address, destinationIPv4Address, sourceTransportPort,
# destinationTransportPort, protocolIdentifier, tcpControlBits,
# octetDeltaCount, packetDeltaCount, ingressInterface, egressInterface
FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 8), (2, 8), (10, 4), (14, 4)]


def record(src, sport, dst, dport, octets, packets, flags=0x18, in_if=1, out_if=2):
    return (ipv4(src) + ipv4(dst) + struct.pack("!HHBBQQII", sport, dport, 6, flags, octets,
                                                  packets, in_if, out_if))


class Tables(unittest.TestCase):
    def test_ipfix_conversation_is_one_flow(self):
        with Daemon() as d:
            tmpl = ipfix_template_set(256, FIELDS)
            c2s = record("10.9.0.1", 51515, "198.51.100.7", 443, 1200, 10, 0x1a)
            s2c = record("198.51.100.7", 443, "10.9.0.1", 51515, 64000, 50, 0x1a, 2, 1)
            d.send(ipfix_message([tmpl, ipfix_data_set(256, [s2c])], seq=0))
            d.send(ipfix_message([ipfix_data_set(256, [c2s, c2s])], seq=1))
            st = d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] >= 3)
            self.assertEqual(st["protocols"]["ipfix"]["records"], 3)
            flows = d.get("/api/v1/flows")
            self.assertEqual(flows["total"], 1)
            f = flows["flows"][0]
            self.assertEqual((f["client"], f["client_port"]), ("10.9.0.1", 51515))
            self.assertEqual((f["server"], f["server_port"]), ("198.51.100.7", 443))
            self.assertEqual(f["bytes"], {"c2s": 2400, "s2c": 64000})
            self.assertEqual(f["packets"], {"c2s": 20, "s2c": 50})
            self.assertEqual(f["records"], 3)
            self.assertEqual(f["exporter"], "127.0.0.1")
            self.assertEqual((f["in_if"], f["out_if"]), (1, 2))
            host = d.get("/api/v1/hosts/10.9.0.1")
            self.assertEqual(host["bytes"], {"sent": 2400, "rcvd": 64000})
            self.assertEqual(host["flows"]["as_client"], 1)
            self.assertTrue(host["local"])
            nets = {n["network"]: n for n in d.get("/api/v1/networks")["networks"]}
            self.assertEqual(nets["10.0.0.0/8"]["bytes"], {"in": 64000, "out": 2400, "inner": 0})
            ifs = {i["ifindex"]: i for i in d.get("/api/v1/interfaces")["interfaces"]}
            self.assertEqual(ifs[1]["bytes"], {"in": 2400, "out": 64000})
            self.assertEqual(ifs[2]["bytes"], {"in": 64000, "out": 2400})

    def test_google_ip_list_label(self):
        with Daemon() as d:
            tmpl = ipfix_template_set(256, FIELDS)
            rec = record("10.9.0.2", 40000, "8.8.8.8", 443, 5000, 5)
            d.send(ipfix_message([tmpl, ipfix_data_set(256, [rec])]))
            d.wait_for(lambda s: s["flows"] >= 1)
            f = d.get("/api/v1/flows")["flows"][0]
            self.assertEqual(f["app"], "TLS.Google")
            self.assertEqual(f["app_source"], "guess")

    def test_ie95_wins_over_port_guess(self):
        with Daemon() as d:
            # applicationId as PANA-L7-PEN (20): ntop's PEN 35632, then the
            # nDPI protocol id 126 (Google), on a flow to port 80.
            tmpl = ipfix_template_set(257, FIELDS + [(95, 7)])
            app = struct.pack("!BIH", 20, 35632, 126)
            rec = record("10.9.0.3", 40000, "192.0.2.44", 80, 700, 3) + app
            d.send(ipfix_message([tmpl, ipfix_data_set(257, [rec])]))
            d.wait_for(lambda s: s["flows"] >= 1)
            f = d.get("/api/v1/flows")["flows"][0]
            self.assertEqual(f["app"], "Google")
            self.assertEqual(f["app_source"], "exporter")

    def test_ie95_named_by_exporter_options(self):
        with Daemon() as d:
            # NBAR-style: an options record names application id 13:0x000050
            # "http"; then a record on port 443 carries that id.
            opts = ipfix_options_template_set(300, [(95, 4)], [(96, 24)])
            app = struct.pack("!BBH", 13, 0, 0x50)
            named = app + b"http".ljust(24, b"\0")
            tmpl = ipfix_template_set(301, FIELDS + [(95, 4)])
            rec = record("10.9.0.6", 40000, "192.0.2.45", 443, 900, 3) + app
            d.send(ipfix_message([opts, ipfix_data_set(300, [named]), tmpl,
                                  ipfix_data_set(301, [rec])]))
            st = d.wait_for(lambda s: s["flows"] >= 1)
            self.assertEqual(st["protocols"]["ipfix"]["options_records"], 1)
            f = d.get("/api/v1/flows")["flows"][0]
            self.assertEqual(f["app"], "HTTP")
            self.assertEqual(f["app_source"], "exporter")

    def test_sflow_http_on_8080_labelled_from_payload(self):
        with Daemon() as d:
            payload = (b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
                       b"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
            frame = tcp_frame([10, 9, 0, 4], [192, 0, 2, 80], 40000, 8080, len(payload))
            frame = frame[:len(frame) - len(payload)] + payload
            d.send(sflow_datagram([sflow_flow_sample(frame, len(frame) + 4, 400)]))
            st = d.wait_for(lambda s: s["flows"] >= 1)
            self.assertEqual(st["protocols"]["sflow"]["records"], 1)
            f = d.get("/api/v1/flows")["flows"][0]
            self.assertEqual(f["app"], "HTTP")
            self.assertEqual(f["app_source"], "dpi")
            self.assertEqual(f["server_port"], 8080)
            self.assertEqual(f["bytes"]["c2s"], (len(frame) + 4) * 400)

    def test_list_queries_sort_filter_and_errors(self):
        with Daemon() as d:
            tmpl = ipfix_template_set(256, FIELDS)
            recs = [record("10.9.1.%d" % i, 40000 + i, "192.0.2.%d" % (i % 3 + 1), 443, 1000 * i, i)
                    for i in range(1, 21)]
            d.send(ipfix_message([tmpl, ipfix_data_set(256, recs)]))
            d.wait_for(lambda s: s["flows"] >= 20)
            page = d.get("/api/v1/flows?limit=5&offset=2&sort=bytes")
            self.assertEqual(page["total"], 20)
            self.assertEqual([f["bytes"]["c2s"] for f in page["flows"]],
                             [18000, 17000, 16000, 15000, 14000])
            only = d.get("/api/v1/flows?host=192.0.2.1")
            self.assertEqual(only["total"], 6)  # i % 3 == 0 for i in 1..20: 3, 6, ..., 18
            self.assertTrue(all(f["server"] == "192.0.2.1" for f in only["flows"]))
            net = d.get("/api/v1/hosts?host=10.9.1.0/24&sort=packets&limit=1")
            self.assertEqual(net["total"], 20)
            self.assertEqual(net["hosts"][0]["ip"], "10.9.1.20")
            byexp = d.get("/api/v1/flows?exporter=127.0.0.1&limit=0")
            self.assertEqual(byexp["total"], 20)
            self.assertEqual(d.get("/api/v1/flows?app=TLS&limit=0")["total"], 20)
            for bad in ("limit=x", "limit=20000", "sort=size", "host=nowhere", "app=NoSuchApp"):
                with self.assertRaises(urllib.error.HTTPError) as cm:
                    d.get("/api/v1/flows?" + bad)
                self.assertEqual(cm.exception.code, 400, bad)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                d.get("/api/v1/hosts?exporter=127.0.0.1")
            self.assertEqual(cm.exception.code, 400)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                d.get("/api/v1/hosts/203.0.113.99")
            self.assertEqual(cm.exception.code, 404)

    def test_tables_off(self):
        with Daemon(config="tables = { enabled = false }\n") as d:
            with self.assertRaises(urllib.error.HTTPError) as cm:
                d.get("/api/v1/flows")
            self.assertEqual(cm.exception.code, 503)


if __name__ == "__main__":
    unittest.main(verbosity=2)
