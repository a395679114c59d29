#!/usr/bin/env python3
"""Writes fuzz seeds from the golden captures: one file per capture, its UDP
payloads framed as the harness reads them (2-byte length, bytes), into
tests/fuzz/corpus/<proto>/. Run by a developer when the captures change.

usage: make_seeds.py GOLDEN_DIR CORPUS_DIR
"""
import os
import struct
import sys


def udp_payloads(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        l3 = {1: 14, 113: 16}.get(link)
        if l3 is None:
            continue
        etype = struct.unpack("!H", pkt[l3 - 2:l3])[0]
        while etype == 0x8100:
            l3 += 4
            etype = struct.unpack("!H", pkt[l3 - 2:l3])[0]
        if etype == 0x0800:
            ihl = (pkt[l3] & 15) * 4
            udp = l3 + ihl
        elif etype == 0x86dd:
            udp = l3 + 40
        else:
            continue
        ulen = struct.unpack("!H", pkt[udp + 4:udp + 6])[0]
        out.append(pkt[udp + 8:udp + ulen])
    return out


def main():
    golden, corpus = sys.argv[1], sys.argv[2]
    proto_dir = {"v5": "v5", "v9": "nf9", "ipfix": "ipfix", "sflow": "sflow"}
    for name in sorted(os.listdir(golden)):
        cap = os.path.join(golden, name, "capture.pcap")
        if not os.path.exists(cap):
            continue
        proto = proto_dir[name.split("-")[1]]
        os.makedirs(os.path.join(corpus, proto), exist_ok=True)
        framed = b"".join(struct.pack("!H", len(p)) + p for p in udp_payloads(cap) if len(p) < 65536)
        with open(os.path.join(corpus, proto, name), "wb") as f:
            f.write(framed)


if __name__ == "__main__":
    main()
