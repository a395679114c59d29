#!/usr/bin/env python3
"""`floe replay` of the golden captures: the host table's byte and packet
totals must equal the sums over the records, scaled by the sampling rate,
as computed here independently with tshark (sampling from the v5 header,
from v9/IPFIX options records by selector id, or from the sFlow sample).
Every record's bytes are sent by one host and received by another, so sent
and received totals must both equal that sum; a biflow's reverse direction
counts too, and a packet section's frame size. Skips (77) without tshark."""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, SRCDIR  # noqa: E402

GOLDEN = os.path.join(SRCDIR, "tests", "golden")


def as_list(v):
    return v if isinstance(v, list) else [v]


def num(v):
    return int(str(v), 0)


def tshark_json(pcap):
    ports = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-E", "occurrence=f", "-e", "udp.dstport", "-e",
                            "udp.payload"], capture_output=True, text=True).stdout
    args = ["tshark", "-r", pcap, "-o", "cflow.max_template_fields:1000", "-T", "json",
            "--no-duplicate-keys"]
    seen = set()
    for line in ports.splitlines():
        port, _, payload = line.partition("\t")
        head = payload.replace(":", "")[:8]
        kind = "sflow" if head == "00000005" else "cflow" if head[:4] in ("0005", "0009", "000a") else None
        if kind and port not in seen:
            seen.add(port)
            args += ["-d", "udp.port==%s,%s" % (port, kind)]
    return json.loads(subprocess.run(args, capture_output=True, text=True).stdout or "[]")


def option_rate(rec):
    """The sampling rate an options (or data) record states, or None."""
    if "cflow.sampling_population" in rec and "cflow.sampling_size" in rec:
        return num(rec["cflow.sampling_population"]) // max(1, num(rec["cflow.sampling_size"]))
    if "cflow.sampling_packet_interval" in rec and "cflow.sampling_packet_space" in rec:
        i = num(rec["cflow.sampling_packet_interval"])
        return (i + num(rec["cflow.sampling_packet_space"])) // max(1, i)
    for key in ("cflow.sampling_interval", "cflow.sampler_random_interval"):
        if key in rec and num(rec[key]) > 0:
            return num(rec[key])
    return None


def walk_records(o, out):
    """Collects (dict) flow records under 'Flow N' keys and v5 'pdu' keys."""
    if isinstance(o, dict):
        for k, v in o.items():
            if (k.startswith("Flow ") or k.startswith("pdu ")) and isinstance(v, dict):
                out.append(v)
            else:
                walk_records(v, out)
    elif isinstance(o, list):
        for v in o:
            walk_records(v, out)


def expected_totals(pcap):
    """Sum of bytes and packets times their sampling rate, or None when a
    record lacks addresses (those never reach the host table)."""
    by_selector, default = {}, None
    total_b = total_p = 0
    for pkt in tshark_json(pcap):
        layers = pkt["_source"]["layers"]
        for cf in as_list(layers.get("cflow", [])):
            if not isinstance(cf, dict):
                continue
            v5_rate = num(cf["cflow.samplerate"]) if "cflow.samplerate" in cf else None
            recs = []
            walk_records(cf, recs)
            for r in recs:
                rate = option_rate(r)
                sel = r.get("cflow.selector_id", r.get("cflow.sampler_id"))
                if "cflow.data_link_frame_size" in r:
                    # A packet section (RFC 7133): one sampled packet, whose
                    # addresses are in the embedded frame.
                    rate = rate or default or 1
                    total_b += num(r["cflow.data_link_frame_size"]) * rate
                    total_p += rate
                    continue
                if not any(k in r for k in ("cflow.srcaddr", "cflow.srcaddrv6")):
                    # no addresses: an options record (or one the tables skip)
                    if "cflow.octets" in r or "cflow.packets" in r:
                        return None
                    if rate:
                        if sel is not None:
                            by_selector[num(sel)] = rate
                        else:
                            default = rate
                    continue
                if rate is None:
                    rate = v5_rate or (by_selector.get(num(sel)) if sel is not None else None) or default or 1
                # Delta octets; NSEL records carry initiator and responder
                # octets instead, which the tables count as the two directions.
                # A biflow's reverse octets and packets (RFC 5103) are shown
                # under the same fields, after the forward ones: both count.
                octets = sum(num(x) for x in as_list(r["cflow.octets"])) if "cflow.octets" in r else (
                    num(r.get("cflow.initiator_octets", 0)) + num(r.get("cflow.responder_octets", 0)))
                total_b += octets * rate
                total_p += sum(num(x) for x in as_list(r.get("cflow.packets", 0))) * rate
        for sf in as_list(layers.get("sflow", [])):
            if not isinstance(sf, dict):
                continue
            for v in sf.values():
                for s in as_list(v):
                    if not isinstance(s, dict) or "sflow.flow_sample.sampling_rate" not in s:
                        continue
                    rate = num(s["sflow.flow_sample.sampling_rate"]) or 1
                    lengths = []

                    def find(o):
                        if isinstance(o, dict):
                            for k, x in o.items():
                                if k == "sflow_245.header.frame_length":
                                    lengths.extend(as_list(x))
                                else:
                                    find(x)
                        elif isinstance(o, list):
                            for x in o:
                                find(x)
                    find(s)
                    for n in lengths:
                        total_b += num(n) * rate
                        total_p += rate
    return total_b, total_p


def pending():
    path = os.path.join(GOLDEN, "PENDING")
    return {l.split("#")[0].strip() for l in open(path)} if os.path.exists(path) else set()


@unittest.skipUnless(shutil.which("tshark"), "tshark is needed")
class ReplayTotals(unittest.TestCase):
    def test_host_totals_equal_scaled_record_sums(self):
        checked = 0
        skip = pending()
        for name in sorted(os.listdir(GOLDEN)):
            exp_path = os.path.join(GOLDEN, name, "expected.json")
            if name in skip or not os.path.exists(exp_path):
                continue
            exp = json.load(open(exp_path))
            if exp.get("records", 0) == 0 or "why" in exp:
                continue
            pcap = os.path.join(GOLDEN, name, "capture.pcap")
            want = expected_totals(pcap)
            if want is None:
                continue
            out = subprocess.run([FLOE_BIN, "replay", pcap], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            got = json.loads(out.stdout)["host_totals"]
            with self.subTest(capture=name):
                self.assertEqual(got["bytes_sent"], want[0])
                self.assertEqual(got["bytes_rcvd"], want[0])
                self.assertEqual(got["packets_sent"], want[1])
                self.assertEqual(got["packets_rcvd"], want[1])
            checked += 1
        print("checked %d captures" % checked)
        self.assertGreater(checked, 10)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(77)
    sys.exit(0 if result.wasSuccessful() else 1)
