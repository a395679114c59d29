#!/usr/bin/env python3
"""Capture files beyond pcap: `floe decode` and `floe replay` read an IPFIX
file (RFC 5655, messages one after another) told apart from pcap by its
content, and decode it as the same messages in UDP datagrams; a damaged
tail is counted, not fatal; a file of neither kind is a one-line error.
(Fragment reassembly is judged by the golden folders with a twin.pcap.)"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN  # noqa: E402

GEN_BIN = os.environ.get("FLOE_GEN_BIN", os.path.join(os.path.dirname(FLOE_BIN), "floe-gen"))


def floe(*args):
    r = subprocess.run([FLOE_BIN] + list(args), capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def records(path):
    rc, out, err = floe("decode", path)
    assert rc == 0, err
    return [json.loads(l) for l in out.splitlines()]


class IpfixFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-captures-")
        cls.ipfix = os.path.join(cls.tmp.name, "flows.ipfix")
        cls.pcap = os.path.join(cls.tmp.name, "flows.pcap")
        subprocess.run([GEN_BIN, "--proto", "ipfix6", "--target", "[::1]:4739", "--no-send",
                        "--pcap", cls.pcap, "--ipfix-file", cls.ipfix, "--records", "20000",
                        "--exporters", "3", "--biflow", "--sampling", "10", "--quiet"],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_records_as_the_datagrams(self):
        a, b = records(self.ipfix), records(self.pcap)
        self.assertEqual(len(a), 20000)
        # The file names no exporter address: 0.0.0.0 stands for it.
        self.assertEqual({r.pop("exporter") for r in a}, {"0.0.0.0"})
        for r in b:
            r.pop("exporter")
        self.assertEqual(a, b)
        rc, out, _ = floe("decode", "--format", "summary", self.ipfix)
        s = json.loads(out)
        self.assertEqual(s["ipfix_messages"], s["datagrams"])
        self.assertEqual(s["frames"], 0)
        self.assertEqual(s["ipfix_junk_bytes"], 0)
        self.assertGreater(s["reverse_bytes"], 0)

    def test_replay_of_the_file_equals_the_pcap(self):
        rc, a, err = floe("replay", self.ipfix)
        self.assertEqual(rc, 0, err)
        rc, b, err = floe("replay", self.pcap)
        self.assertEqual(rc, 0, err)
        ha, hb = json.loads(a)["host_totals"], json.loads(b)["host_totals"]
        self.assertEqual(ha, hb)
        self.assertEqual(ha["bytes_sent"], ha["bytes_rcvd"])

    def test_a_cut_tail_is_counted(self):
        data = open(self.ipfix, "rb").read()
        cut = os.path.join(self.tmp.name, "cut.ipfix")
        with open(cut, "wb") as f:
            f.write(data[:len(data) - 700])
        rc, out, err = floe("decode", "--format", "summary", cut)
        self.assertEqual(rc, 0, err)
        s = json.loads(out)
        whole = json.loads(floe("decode", "--format", "summary", self.ipfix)[1])
        self.assertEqual(s["datagrams"], whole["datagrams"] - 1)
        self.assertGreater(s["ipfix_junk_bytes"], 0)
        self.assertLess(s["ipfix_junk_bytes"], 1500)
        # Garbage after three good messages: they decode, the rest is
        # counted.
        end = 0
        for _ in range(3):
            end += int.from_bytes(data[end + 2:end + 4], "big")
        bad = os.path.join(self.tmp.name, "bad.ipfix")
        with open(bad, "wb") as f:
            f.write(data[:end] + b"\x00\x09" + b"x" * 998 + data[end:])
        s = json.loads(floe("decode", "--format", "summary", bad)[1])
        self.assertEqual(s["datagrams"], 3)
        self.assertGreater(s["records"], 0)
        self.assertEqual(s["ipfix_junk_bytes"], len(data) - end + 1000)
        self.assertEqual(s["malformed"], 0)

    def test_neither_pcap_nor_ipfix_is_an_error(self):
        junk = os.path.join(self.tmp.name, "junk.bin")
        with open(junk, "wb") as f:
            f.write(b"hello, this is not a capture\n")
        rc, out, err = floe("decode", junk)
        self.assertEqual(rc, 1)
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertIn(junk, err)


class RealBiflows(unittest.TestCase):
    def test_yaf_totals_count_both_directions(self):
        """logstash's YAF capture (golden 217) carries RFC 5103 reverse
        totals; the captures manifest notes tshark's sums over both
        directions: permanent_octets=596, permanent_packets=10."""
        cap = os.path.join(os.environ.get("FLOE_SRCDIR", "."), "tests", "golden",
                           "217-ipfix-logstash-yaf-basic-with-applabel", "capture.pcap")
        rc, out, err = floe("decode", "--format", "summary", cap)
        self.assertEqual(rc, 0, err)
        s = json.loads(out)
        self.assertEqual(s["bytes_total"], 596)
        self.assertEqual(s["packets_total"], 10)
        self.assertGreater(s["reverse_bytes_total"], 0)
        recs = records(cap)
        self.assertTrue(all("reverse_bytes_total" in r for r in recs))


if __name__ == "__main__":
    unittest.main(verbosity=2)
