#!/usr/bin/env python3
"""Hostile input through the real daemon: thousands of mutated real
datagrams (bit flips, truncations, corrupt length and count fields), 10,000
exporters, a template bomb, and an exporter restart. floe must keep running,
count each reject by reason, keep its tables within their bounds (and count
evictions), and keep its memory under a bound."""
import os
import random
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import (SRCDIR, VALGRIND, Daemon, ipfix_data_set, ipfix_message,  # noqa: E402
                      ipfix_template_set, ipv4, pcap_udp_payloads, rss_kib, v5_datagram)

GOLDEN = os.path.join(SRCDIR, "tests", "golden")
RSS_BOUND_KIB = 400 * 1024  # nDPI alone takes ~10 MB; tables are bounded small here


def real_datagrams():
    out = []
    for name in sorted(os.listdir(GOLDEN)):
        cap = os.path.join(GOLDEN, name, "capture.pcap")
        if os.path.exists(cap):
            out += [p for p in pcap_udp_payloads(cap) if p]
    return out


def mutate(rnd, p):
    b = bytearray(p)
    kind = rnd.randrange(4)
    if kind == 0:  # bit flips
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
    elif kind == 1:  # truncation
        del b[rnd.randrange(len(b)):]
    elif kind == 2 and len(b) >= 4:  # the version's neighbour: a count or length field
        struct.pack_into("!H", b, 2, rnd.choice([0, 1, 0xffff, rnd.randrange(65536)]))
    elif len(b) >= 20:  # a set or sample length deeper in
        i = rnd.randrange(16, len(b) - 2)
        struct.pack_into("!H", b, i, rnd.choice([0, 3, 4, 0xffff, rnd.randrange(65536)]))
    return bytes(b)


class Hostile(unittest.TestCase):
    def paced_send(self, d, datagrams, port=None):
        for i, p in enumerate(datagrams):
            d.send(p, port)
            if i % 2000 == 1999:
                time.sleep(0.05)

    def test_mutated_real_datagrams(self):
        rnd = random.Random(20261128)
        base = real_datagrams()
        self.assertGreater(len(base), 200)
        cfg = "exporters = { max = 64 }\ntemplates = { max_per_exporter = 64, max = 512 }\n" \
              "flows = { max = 5000 }\nhosts = { max = 5000 }\n"
        with Daemon(config=cfg) as d:
            sent = [mutate(rnd, rnd.choice(base)) for _ in range(6000)]
            sent += base  # the originals too, so templates exist for mutated data
            sent += [mutate(rnd, rnd.choice(base)) for _ in range(6000)]
            self.paced_send(d, sent)
            st = d.wait_for(lambda s: s["totals"]["datagrams"] >= len(sent), timeout=20)
            self.assertEqual(st["totals"]["datagrams"], len(sent))
            self.assertIsNone(d.proc.poll())
            self.assertGreater(st["totals"]["malformed"], 500)
            reasons = st["totals"]["malformed_reasons"]
            for r in ("truncated", "bad_count", "short_header", "bad_set_length"):
                self.assertIn(r, reasons)
            self.assertEqual(st["totals"]["malformed"], sum(reasons.values()))
            print("\n%d datagrams, %d malformed: %s; missing_template %d; rss %d KiB"
                  % (len(sent), st["totals"]["malformed"], reasons,
                     st["totals"]["missing_template"], rss_kib(d.proc.pid)))
            self.assertLessEqual(st["exporters"], 64)
            self.assertLessEqual(st["templates"], 512)
            self.assertLessEqual(st["flows"], 5000)
            # floe still decodes a good datagram exactly afterwards.
            before = st["protocols"]["v5"]["records"]
            d.send(v5_datagram(7, 0))
            st = d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= before + 7)
            self.assertEqual(st["protocols"]["v5"]["records"], before + 7)
            if not VALGRIND:
                self.assertLess(rss_kib(d.proc.pid), RSS_BOUND_KIB)
            rc, _ = d.stop()
            self.assertEqual(rc, 0, d.logtext()[-2000:])

    def test_ten_thousand_exporters(self):
        tmpl = ipfix_template_set(256, [(8, 4), (12, 4), (1, 8), (2, 8)])
        rec = ipv4("10.0.0.1") + ipv4("10.0.0.2") + struct.pack("!QQ", 100, 1)
        with Daemon(config="exporters = { max = 1000 }\ntemplates = { max = 2000, max_per_exporter = 4 }\n"
                    "flows = { max = 5000 }\nhosts = { max = 5000 }\n") as d:
            # 10,000 observation domains, each with its template and one record.
            msgs = [ipfix_message([tmpl, ipfix_data_set(256, [rec])], domain=i + 1)
                    for i in range(10000)]
            msgs += [v5_datagram(1, 0, engine_id=i % 256) for i in range(256)]
            self.paced_send(d, msgs)
            st = d.wait_for(lambda s: s["totals"]["datagrams"] >= len(msgs), timeout=20)
            self.assertEqual(st["totals"]["datagrams"], len(msgs))
            self.assertEqual(st["protocols"]["ipfix"]["records"], 10000)
            self.assertEqual(st["exporters"], 1000)
            self.assertEqual(st["exporter_evictions"], 10256 - 1000)
            self.assertLessEqual(st["templates"], 1000)
            if not VALGRIND:
                self.assertLess(rss_kib(d.proc.pid), RSS_BOUND_KIB)
            self.assertEqual(d.get("/api/v1/exporters")["count"], 1000)

    def test_template_bomb(self):
        fields = [(1000 + i, 4) for i in range(200)]  # 200 unknown elements each
        with Daemon(config="templates = { max_per_exporter = 200, max = 1000 }\n"
                    "flows = { max = 5000 }\nhosts = { max = 5000 }\n") as d:
            msgs = []
            for i in range(0, 5000, 2):
                sets = [ipfix_template_set(256 + i, fields), ipfix_template_set(257 + i, fields)]
                msgs.append(ipfix_message(sets, seq=0))
            self.paced_send(d, msgs)
            st = d.wait_for(lambda s: s["totals"]["datagrams"] >= len(msgs), timeout=20)
            self.assertEqual(st["protocols"]["ipfix"]["templates"], 5000)
            self.assertEqual(st["templates"], 200)
            self.assertEqual(st["template_evictions"], 4800)
            self.assertEqual(st["protocols"]["ipfix"]["malformed"], 0)
            if not VALGRIND:
                self.assertLess(rss_kib(d.proc.pid), RSS_BOUND_KIB)
            # The newest template still decodes its data.
            rec = bytes(800)
            d.send(ipfix_message([ipfix_data_set(256 + 4999, [rec])], seq=0))
            st = d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] >= 1)
            self.assertEqual(st["protocols"]["ipfix"]["records"], 1)
            self.assertEqual(st["protocols"]["ipfix"]["missing_template"], 0)

    def test_exporter_restart_with_new_layouts(self):
        a = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 8), (2, 8)]
        b = [(1, 8), (2, 8), (4, 1), (11, 2), (7, 2), (12, 4), (8, 4)]  # same id, reversed
        def rec_a(src, dst, sp, dp, octets):
            return ipv4(src) + ipv4(dst) + struct.pack("!HHBQQ", sp, dp, 17, octets, 1)
        def rec_b(src, dst, sp, dp, octets):
            return struct.pack("!QQBHH", octets, 1, 17, dp, sp) + ipv4(dst) + ipv4(src)
        with Daemon() as d:
            d.send(ipfix_message([ipfix_template_set(256, a),
                                  ipfix_data_set(256, [rec_a("10.1.0.1", "10.2.0.1", 1000, 53, 111)])]))
            d.wait_for(lambda s: s["flows"] >= 1)
            # The exporter restarts: same template id, another layout; and a new id.
            d.send(ipfix_message([ipfix_template_set(256, b),
                                  ipfix_data_set(256, [rec_b("10.1.0.2", "10.2.0.2", 2000, 53, 222)])]))
            d.send(ipfix_message([ipfix_template_set(300, a),
                                  ipfix_data_set(300, [rec_a("10.1.0.3", "10.2.0.3", 3000, 53, 333)])]))
            st = d.wait_for(lambda s: s["flows"] >= 3)
            self.assertEqual(st["flows"], 3)
            flows = {f["client"]: f for f in d.get("/api/v1/flows")["flows"]}
            self.assertEqual(sorted(flows), ["10.1.0.1", "10.1.0.2", "10.1.0.3"])
            for i, octets in ((1, 111), (2, 222), (3, 333)):
                f = flows["10.1.0.%d" % i]
                self.assertEqual(f["server"], "10.2.0.%d" % i)
                self.assertEqual((f["client_port"], f["server_port"]), (1000 * i, 53))
                self.assertEqual(f["bytes"]["c2s"], octets)
            self.assertEqual(st["protocols"]["ipfix"]["malformed"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
