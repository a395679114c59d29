#!/usr/bin/env python3
"""floe-gen against tshark: every protocol floe-gen speaks is written to a
pcap, which tshark must decode with no malformed packet and no expert
warning, and with the record count, octet and packet sums floe-gen printed.
Also: same options give the same bytes, each exporter has its own source,
domain and sequence numbering, a paced run sends what it says at the rate
asked, the man page lists every option, and floe counts what floe-gen sent.
Exits 77 (skip) where tshark is not installed."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, SLOW, SRCDIR, Daemon  # noqa: E402

GEN_BIN = os.environ.get("FLOE_GEN_BIN", os.path.join(os.path.dirname(FLOE_BIN), "floe-gen"))
PROTOS = {"v5": ("cflow", 2055), "v9": ("cflow", 2055), "ipfix": ("cflow", 4739),
          "ipfix6": ("cflow", 4739), "sflow": ("sflow", 6343), "sflow6": ("sflow", 6343)}
EXPERT_WARNING = 0x00600000  # tshark's PI_WARN; PI_ERROR is 0x00800000


def gen(*args):
    out = subprocess.run([GEN_BIN] + list(args), capture_output=True, text=True, timeout=60 * SLOW)
    if out.returncode != 0:
        raise AssertionError("floe-gen %s failed (%d): %s" % (" ".join(args), out.returncode, out.stderr))
    return json.loads(out.stdout)


def gen_pcap(path, proto, *extra):
    return gen("--proto", proto, "--target", "127.0.0.1:%d" % PROTOS[proto][1], "--no-send",
               "--pcap", path, "--exporters", "3", "--batch", "4", "--sampling", "100",
               "--template-refresh", "7", "--records", "3000", *extra)


def as_list(v):
    return v if isinstance(v, list) else [v]


def walk(node, visit):
    """Calls visit(key, value) on every key of a tshark JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            for item in as_list(v):
                visit(k, item)
                walk(item, visit)
    elif isinstance(node, list):
        for item in node:
            walk(item, visit)


class Tally:
    """What tshark decoded from a capture, summed over every packet."""

    def __init__(self):
        self.frames = self.records = self.options = self.bytes = self.packets = 0
        self.problems = []
        self.headers = []  # (source address, domain, sequence, records in the datagram)

    def check_expert(self, frame, key, value):
        if key == "_ws.malformed":
            self.problems.append("frame %d: malformed" % frame)
        if key == "_ws.expert" and isinstance(value, dict):
            if int(value.get("_ws.expert.severity", "0")) >= EXPERT_WARNING:
                self.problems.append("frame %d: %s" % (frame, value.get("_ws.expert.message")))

    def cflow(self, layers):
        cf, n = layers["cflow"], 0
        for key, value in cf.items():
            for item in as_list(value):
                if key.startswith("pdu "):  # v5
                    n += 1
                    self.add(item)
                elif key.startswith(("FlowSet", "Set ")):
                    n += self.flowset(item)
        domain = cf.get("cflow.source_id", cf.get("cflow.od_id", cf.get("cflow.engine_id")))
        self.headers.append((layers["ip"]["ip.src"], domain, int(cf["cflow.sequence"]), n))

    def flowset(self, fs):
        """Counts a data set's records; floe-gen's options records are the
        ones with a sampling interval."""
        flows = [v for k, v in fs.items() if k.startswith("Flow ")]
        for f in flows:
            if "cflow.sampling_interval" in f:
                self.options += 1
            else:
                self.add(f)
        return len(flows)

    def add(self, rec):
        self.records += 1
        self.bytes += int(rec.get("cflow.octets", "0"))
        self.packets += int(rec.get("cflow.packets", "0"))

    def sflow(self, layers):
        sf = layers["sflow"]
        samples = [v for k, v in sf.items() if k.startswith("Flow sample")]
        for s in samples:
            self.records += 1
            self.packets += 1
            self.bytes += int(s["Raw packet header"]["sflow_245.header.frame_length"])
        self.headers.append((sf["sflow_245.agent"], sf["sflow_245.sub_agent_id"],
                             int(sf["sflow_245.sequence_number"]), len(samples)))


def tshark(path, proto):
    kind, port = PROTOS[proto]
    out = subprocess.run(["tshark", "-r", path, "-d", "udp.port==%d,%s" % (port, kind), "-T", "json",
                          "--no-duplicate-keys"], capture_output=True, text=True, timeout=300)
    t = Tally()
    for pkt in json.loads(out.stdout):
        layers = pkt["_source"]["layers"]
        t.frames += 1
        walk(layers, lambda k, v, f=t.frames: t.check_expert(f, k, v))
        if kind not in layers:
            t.problems.append("frame %d: not decoded as %s" % (t.frames, kind))
            continue
        (t.cflow if kind == "cflow" else t.sflow)(layers)
    return t


@unittest.skipUnless(os.access(GEN_BIN, os.X_OK), "floe-gen is not built")
class GenVersusTshark(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-gen-test-")

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def check_proto(self, proto):
        pcap = self.path(proto + ".pcap")
        sent = gen_pcap(pcap, proto)
        t = tshark(pcap, proto)
        self.assertEqual(t.problems, [], "%s: tshark found problems" % proto)
        self.assertEqual(t.frames, sent["datagrams"])
        self.assertEqual(t.records, sent["records"])
        self.assertEqual(t.records, 3000)
        self.assertEqual(t.options, sent["options_records"])
        self.assertEqual(t.bytes, sent["bytes"])
        self.assertEqual(t.packets, sent["packets"])
        self.check_sequences(proto, t.headers)

    def check_sequences(self, proto, headers):
        """Each exporter has its own source and domain, and its own sequence
        counting records (v5, IPFIX) or datagrams (v9, sFlow)."""
        by_exporter = {}
        for src, domain, seq, n in headers:
            by_exporter.setdefault((src, domain), []).append((seq, n))
        self.assertEqual(len(by_exporter), 3, "%s: exporters %s" % (proto, sorted(by_exporter)))
        self.assertEqual(len({src for src, _ in by_exporter}), 3)
        for key, seqs in by_exporter.items():
            expect = 0
            for seq, n in seqs:
                self.assertEqual(seq, expect, "%s exporter %s" % (proto, key))
                expect += n if proto in ("v5", "ipfix", "ipfix6") else 1

    def test_v5(self):
        self.check_proto("v5")

    def test_v9(self):
        self.check_proto("v9")

    def test_ipfix(self):
        self.check_proto("ipfix")

    def test_ipfix6(self):
        self.check_proto("ipfix6")

    def test_sflow(self):
        self.check_proto("sflow")

    def test_sflow6(self):
        self.check_proto("sflow6")

    def test_same_seed_same_bytes(self):
        a, b, c = self.path("a.pcap"), self.path("b.pcap"), self.path("c.pcap")
        gen_pcap(a, "ipfix")
        gen_pcap(b, "ipfix")
        gen_pcap(c, "ipfix", "--seed", "2")
        with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
            da, db, dc = fa.read(), fb.read(), fc.read()
        self.assertEqual(da, db)
        self.assertNotEqual(da, dc)

    def distinct_share(self, mean):
        """The share of records whose 5-tuple no earlier record had."""
        pcap = self.path("flows.pcap")
        gen("--proto", "v5", "--target", "127.0.0.1:2055", "--no-send", "--pcap", pcap,
            "--records", "20000", "--flow-length", str(mean), "--hosts", "100000")
        out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==2055,cflow", "-T", "fields",
                              "-E", "occurrence=a", "-E", "aggregator=;", "-e", "cflow.srcaddr",
                              "-e", "cflow.dstaddr", "-e", "cflow.srcport", "-e", "cflow.dstport"],
                             capture_output=True, text=True).stdout
        keys = []
        for line in out.splitlines():
            keys += list(zip(*[c.split(";") for c in line.split("\t")]))
        self.assertEqual(len(keys), 20000)
        return len(set(keys)) / len(keys)

    def test_flows_repeat(self):
        # 1024 live conversations of 8 records on average: about
        # (1024 + 20000 / 8) / 20000 of the records start a new one.
        self.assertLess(self.distinct_share(8), 0.25)
        self.assertGreater(self.distinct_share(1), 0.95)


@unittest.skipUnless(os.access(GEN_BIN, os.X_OK), "floe-gen is not built")
class GenSends(unittest.TestCase):
    def test_paced_send_arrives_from_each_exporter(self):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.5 * SLOW)
        port = rx.getsockname()[1]
        t0 = time.time()
        proc = subprocess.Popen([GEN_BIN, "--proto", "v5", "--target", "127.0.0.1:%d" % port,
                                 "--rate", "40000", "--records", "20000", "--exporters", "2",
                                 "--batch", "8", "--quiet"], stdout=subprocess.PIPE, text=True)
        got, sources = 0, set()
        try:
            while True:
                data, addr = rx.recvfrom(65535)
                got += 1
                sources.add(addr[0])
                self.assertEqual(data[:2], b"\x00\x05")
        except socket.timeout:
            pass
        sent = json.loads(proc.communicate(timeout=30)[0])
        elapsed = time.time() - t0
        rx.close()
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(sent["records"], 20000)
        self.assertEqual(got, sent["datagrams"])
        self.assertEqual(sources, {"127.0.0.1", "127.0.0.2"})
        # 20000 records at 40000/s: about half a second, not a burst.
        self.assertGreater(sent["elapsed"], 0.45)
        self.assertLess(sent["elapsed"], 0.5 + 0.5 * SLOW)
        self.assertLess(elapsed, 5 * SLOW)

    def test_floe_counts_what_floe_gen_sent(self):
        for proto in ("v5", "v9", "ipfix", "sflow"):
            with self.subTest(proto=proto), Daemon() as d:
                sent = gen("--proto", proto, "--target", "127.0.0.1:%d" % d.udp_port,
                           "--records", "5000", "--exporters", "2", "--batch", "4",
                           "--rate", "100000", "--quiet")
                key = {"ipfix6": "ipfix"}.get(proto, proto)
                st = d.wait_for(lambda s: s["protocols"][key]["records"] >= sent["records"])
                self.assertEqual(st["protocols"][key]["records"], sent["records"])
                self.assertEqual(st["protocols"][key]["datagrams"], sent["datagrams"])
                self.assertEqual(st["protocols"][key]["bytes"], sent["bytes"])
                self.assertEqual(st["protocols"][key]["packets"], sent["packets"])

    def test_bad_command_lines(self):
        for args in ([], ["--proto", "v7", "--target", "127.0.0.1:2055"],
                     ["--proto", "v5"], ["--proto", "v5", "--target", "nowhere"],
                     ["--proto", "v5", "--target", "127.0.0.1:2055", "--rate", "-1"],
                     ["--proto", "v5", "--target", "127.0.0.1:2055", "--sampling", "20000"],
                     ["--proto", "v5", "--target", "127.0.0.1:2055", "--no-send"],
                     ["--proto", "v9", "--target", "127.0.0.1:2055", "--tcp"],
                     ["--proto", "sflow", "--target", "127.0.0.1:6343", "--biflow"],
                     ["--proto", "ipfix", "--target", "127.0.0.1:4739", "--biflow",
                      "--packet-sections"],
                     ["--proto", "ipfix", "--target", "127.0.0.1:4739", "--tcp", "--no-send",
                      "--pcap", "/dev/null"]):
            out = subprocess.run([GEN_BIN] + args, capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, args)
            self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)


class GenDocs(unittest.TestCase):
    @unittest.skipUnless(os.access(GEN_BIN, os.X_OK), "floe-gen is not built")
    def test_man_page_matches_help(self):
        helptext = subprocess.run([GEN_BIN, "--help"], capture_output=True, text=True).stdout
        with open(os.path.join(SRCDIR, "docs", "floe-gen.1")) as f:
            man = f.read().replace("\\-", "-")
        in_help = set(re.findall(r"(--[a-z][a-z-]+)", helptext))
        in_man = set(re.findall(r"(--[a-z][a-z-]+)", man))
        self.assertGreater(len(in_help), 15)
        self.assertEqual(in_help, in_man)
        with open(os.path.join(SRCDIR, "README.md")) as f:
            self.assertTrue("## Load generator and benchmarks" in f.read(),
                            "README.md lacks its floe-gen section")


if __name__ == "__main__":
    if not shutil.which("tshark"):
        print("tshark is not installed: skipping")
        sys.exit(77)
    unittest.main(verbosity=2)
