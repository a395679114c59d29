#!/usr/bin/env python3
"""Builds the golden folders whose captures floe-gen writes, for the exports
no shared capture has: RFC 5103 biflows, RFC 7133 packet sections, and IP
fragments. As make_golden.py does for the shared captures, every expected
figure comes from tshark (4.0, here), never from floe:

  NNN-ipfix-floegen-biflow           floe-gen --biflow: records whose reverse
                                     octets, packets and TCP flags are
                                     RFC 5103 reverse elements (PEN 29305).
                                     tshark shows a reverse element under its
                                     forward field, so a record's cflow.octets
                                     are [forward, reverse]; bytes and packets
                                     sum both, reverse_bytes and
                                     reverse_packets the second of each.
  NNN-ipfix-floegen-packet-sections  floe-gen --packet-sections: each record
                                     one sampled packet in dataLinkFrameSection
                                     (IE 315), which tshark dissects as
                                     Ethernet: per record the embedded frame's
                                     addresses, ports and protocol, bytes =
                                     dataLinkFrameSize (IE 312), packets 1.
  NNN-ipfix-floegen-fragmented       a biflow capture whose IPv4 datagrams
                                     are cut into fragments of at most 576
                                     bytes, some sent last piece first, with
                                     one fragment sent twice; tshark
                                     reassembles them. twin.pcap holds the
                                     same datagrams whole.
  NNN-sflow-floegen-fragmented-ipv6  sflow6 datagrams over IPv6 cut at 1280
                                     bytes with fragment headers; twin.pcap
                                     whole.

Run by a developer (never by the tests): make_generated.py FLOE_GEN OUT_DIR
"""
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

MAX_RECORDS = 20


# ---- pcap reading and writing ------------------------------------------------

def read_pcap(path):
    data = open(path, "rb").read()
    assert struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4, "floe-gen writes little-endian pcap"
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, usec, cap, _ = struct.unpack("<IIII", data[off:off + 16])
        frames.append((sec, usec, data[off + 16:off + 16 + cap]))
        off += 16 + cap
    return data[:24], frames


def write_pcap(path, header, frames):
    with open(path, "wb") as f:
        f.write(header)
        for sec, usec, frame in frames:
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


# ---- fragmenting ---------------------------------------------------------------

def fragment_v4(frame, mtu, rng):
    eth, ip = frame[:14], frame[14:]
    ihl = (ip[0] & 15) * 4
    if len(ip) <= mtu:
        return [frame]
    hdr, payload = bytearray(ip[:ihl]), ip[ihl:]
    step = (mtu - ihl) // 8 * 8
    out = []
    for off in range(0, len(payload), step):
        part = payload[off:off + step]
        h = bytearray(hdr)
        more = off + step < len(payload)
        struct.pack_into("!H", h, 2, ihl + len(part))
        struct.pack_into("!H", h, 6, (0x2000 if more else 0) | off // 8)
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, csum(bytes(h)))
        out.append(eth + bytes(h) + part)
    if rng.random() < 0.4:
        out.reverse()  # the last piece first, as reordering paths deliver them
    if rng.random() < 0.1:
        out.insert(1, out[0])  # a duplicate
    return out


def fragment_v6(frame, mtu, ident):
    eth, ip = frame[:14], frame[14:]
    if len(ip) <= mtu:
        return [frame]
    nh, payload = ip[6], ip[40:]
    step = (mtu - 48) // 8 * 8
    out = []
    for off in range(0, len(payload), step):
        part = payload[off:off + step]
        more = off + step < len(payload)
        h = bytearray(ip[:40])
        h[6] = 44
        struct.pack_into("!H", h, 4, 8 + len(part))
        fh = struct.pack("!BBHI", nh, 0, off | (1 if more else 0), ident)
        out.append(eth + bytes(h) + fh + part)
    return out


def fragmented(src, dst, v6, mtu):
    header, frames = read_pcap(src)
    rng = random.Random(5103)
    out = []
    for i, (sec, usec, frame) in enumerate(frames):
        pieces = fragment_v6(frame, mtu, 0x10000 + i) if v6 else fragment_v4(frame, mtu, rng)
        out += [(sec, usec, p) for p in pieces]
    write_pcap(dst, header, out)
    return len(out) - len(frames)


# ---- tshark -----------------------------------------------------------------------

def tshark_json(pcap, port, kind="cflow"):
    out = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==%d,%s" % (port, kind), "-T", "json",
                          "--no-duplicate-keys"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def as_list(v):
    return v if isinstance(v, list) else [v]


def cflow_flows(pkts):
    """Every data record tshark dissected, options records too (templates
    are in sets 2 and 3)."""
    for pk in pkts:
        for cf in as_list(pk["_source"]["layers"].get("cflow", [])):
            for key, sets in cf.items():
                if not key.startswith("Set "):
                    continue
                for fs in as_list(sets):
                    if int(fs.get("cflow.flowset_id", "0")) < 256:
                        continue
                    for fk, fv in fs.items():
                        if fk.startswith("Flow "):
                            yield from as_list(fv)


def template_count(pkts, opt):
    n = 0
    for pk in pkts:
        for cf in as_list(pk["_source"]["layers"].get("cflow", [])):
            for key, sets in cf.items():
                for fs in as_list(sets) if key.startswith("Set ") else []:
                    for tk, tv in fs.items():
                        if tk.startswith("Options Template" if opt else "Template (Id"):
                            n += len(as_list(tv))
    return n


def ipfix_datagrams(pkts):
    return sum(1 for pk in pkts if "cflow" in pk["_source"]["layers"])


def biflow_expected(pkts):
    exp = dict.fromkeys(("records", "bytes", "packets", "reverse_bytes", "reverse_packets"), 0)
    recs = []
    for fl in (f for f in cflow_flows(pkts) if "cflow.octets" in f):
        octets, packets = as_list(fl["cflow.octets"]), as_list(fl["cflow.packets"])
        assert len(octets) == 2 and len(packets) == 2, "a forward and a reverse counter each"
        exp["records"] += 1
        exp["bytes"] += int(octets[0]) + int(octets[1])
        exp["packets"] += int(packets[0]) + int(packets[1])
        exp["reverse_bytes"] += int(octets[1])
        exp["reverse_packets"] += int(packets[1])
        if len(recs) < MAX_RECORDS:
            recs.append({"src": fl["cflow.srcaddr"], "dst": fl["cflow.dstaddr"],
                         "sport": int(fl["cflow.srcport"]), "dport": int(fl["cflow.dstport"]),
                         "ipproto": int(fl["cflow.protocol"]), "bytes": int(octets[0]),
                         "packets": int(packets[0]), "reverse_bytes": int(octets[1]),
                         "reverse_packets": int(packets[1])})
    return exp, recs


def section_record(fl):
    """The embedded frame as tshark dissects it."""
    tree = fl["cflow.data_link_frame_section_tree"]
    ip = tree.get("ip") or tree.get("ipv6")
    rec = {"src": ip.get("ip.src", ip.get("ipv6.src")), "dst": ip.get("ip.dst", ip.get("ipv6.dst")),
           "ipproto": int(ip.get("ip.proto", ip.get("ipv6.nxt"))),
           "bytes": int(fl["cflow.data_link_frame_size"]), "packets": 1}
    for l4 in ("tcp", "udp"):
        if l4 in tree:
            rec["sport"] = int(tree[l4][l4 + ".srcport"])
            rec["dport"] = int(tree[l4][l4 + ".dstport"])
    return rec


def sections_expected(pkts):
    recs = [section_record(fl) for fl in cflow_flows(pkts) if "cflow.data_link_frame_size" in fl]
    exp = {"records": len(recs), "bytes": sum(r["bytes"] for r in recs), "packets": len(recs)}
    return exp, recs[:MAX_RECORDS]


def sflow_expected(pkts):
    exp = dict.fromkeys(("records", "bytes", "packets"), 0)
    for pk in pkts:
        for sf in as_list(pk["_source"]["layers"].get("sflow", [])):
            for v in sf.values():
                for sample in as_list(v):
                    if isinstance(sample, dict) and "Raw packet header" in sample:
                        exp["records"] += 1
                        exp["bytes"] += int(sample["Raw packet header"]["sflow_245.header.frame_length"])
                        exp["packets"] += 1
    return exp, []


# ---- the folders ------------------------------------------------------------------

def gen(floe_gen, path, proto, port, *extra):
    target = "[::1]:%d" % port if proto.endswith("6") and proto.startswith("sflow") else \
        "127.0.0.1:%d" % port
    subprocess.run([floe_gen, "--proto", proto, "--target", target, "--no-send", "--pcap", path,
                    "--quiet", "--exporters", "2", "--template-refresh", "10", *extra],
                   check=True, capture_output=True)


def write_folder(d, exp, recs, source, fam, pkts, extra_files=()):
    os.makedirs(d, exist_ok=True)
    exp.update({"malformed": 0, "missing_template": 0,
                "datagrams_by_proto": {fam: ipfix_datagrams(pkts) if fam == "ipfix" else
                                       sum(1 for pk in pkts if "sflow" in pk["_source"]["layers"])},
                "source": source})
    if fam == "ipfix":
        exp["templates"] = template_count(pkts, False)
        exp["options_templates"] = template_count(pkts, True)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "tshark-records.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(r, sort_keys=True) for r in recs) + "\n]\n")
    with open(os.path.join(d, "SOURCE"), "w") as f:
        f.write("written by: floe-gen (this repository), %s\n"
                "expected: tshark 4.0, by tests/golden/make_generated.py\n"
                "license: the project's own\n" % source)


def main():
    floe_gen, out = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp()
    base = {"ipfix": 226, "sflow": 317}

    d = os.path.join(out, "%03d-ipfix-floegen-biflow" % base["ipfix"])
    os.makedirs(d, exist_ok=True)
    cap = os.path.join(d, "capture.pcap")
    gen(floe_gen, cap, "ipfix", 4739, "--records", "1200", "--biflow", "--seed", "7")
    pkts = tshark_json(cap, 4739)
    exp, recs = biflow_expected(pkts)
    write_folder(d, exp, recs, "floe-gen --proto ipfix --biflow --records 1200 --seed 7", "ipfix",
                 pkts)

    d = os.path.join(out, "%03d-ipfix-floegen-packet-sections" % (base["ipfix"] + 1))
    os.makedirs(d, exist_ok=True)
    cap = os.path.join(d, "capture.pcap")
    gen(floe_gen, cap, "ipfix", 4739, "--records", "900", "--packet-sections", "--sampling", "1000",
        "--seed", "8")
    pkts = tshark_json(cap, 4739)
    exp, recs = sections_expected(pkts)
    write_folder(d, exp, recs, "floe-gen --proto ipfix --packet-sections --sampling 1000 "
                 "--records 900 --seed 8", "ipfix", pkts)

    d = os.path.join(out, "%03d-ipfix-floegen-fragmented" % (base["ipfix"] + 2))
    os.makedirs(d, exist_ok=True)
    twin = os.path.join(d, "twin.pcap")
    gen(floe_gen, twin, "ipfix", 4739, "--records", "1500", "--biflow", "--seed", "9")
    cap = os.path.join(d, "capture.pcap")
    n = fragmented(twin, cap, False, 576)
    pkts = tshark_json(cap, 4739)
    exp, recs = biflow_expected(pkts)
    write_folder(d, exp, recs, "floe-gen --proto ipfix --biflow --records 1500 --seed 9, IPv4 "
                 "fragments of at most 576 bytes (%d more frames)" % n, "ipfix", pkts)

    d = os.path.join(out, "%03d-sflow-floegen-fragmented-ipv6" % base["sflow"])
    os.makedirs(d, exist_ok=True)
    twin = os.path.join(d, "twin.pcap")
    gen(floe_gen, twin, "sflow6", 6343, "--records", "600", "--seed", "10")
    cap = os.path.join(d, "capture.pcap")
    n = fragmented(twin, cap, True, 1280)
    pkts = tshark_json(cap, 6343, "sflow")
    exp, recs = sflow_expected(pkts)
    exp["counter_samples"] = 0
    write_folder(d, exp, recs, "floe-gen --proto sflow6 --records 600 --seed 10, IPv6 fragments "
                 "of at most 1280 bytes (%d more frames)" % n, "sflow", pkts)
    print("written under", out)


if __name__ == "__main__":
    main()
