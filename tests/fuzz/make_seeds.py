#!/usr/bin/env python3
"""Writes fuzz seeds from the golden captures: one file per capture, its UDP
payloads framed as the harness reads them (2-byte length, bytes), into
tests/fuzz/corpus/<proto>/ (from twin.pcap where a capture holds fragments);
for the TCP target, each IPFIX capture's messages one after another, as a
connection (or an IPFIX file) carries them, into tcp/; for the capture
target, the small captures whole and the first frames of the larger ones,
and the smaller TCP seeds as IPFIX files, into capture/. Run by a developer
when the captures change.

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


SEED_MAX = 32768  # bytes of a datagram or stream seed; the rest of a capture adds little


def framed(payloads):
    """The datagrams as the harness reads them, up to SEED_MAX bytes."""
    out = b""
    for p in payloads:
        if len(p) < 65536 and len(out) + 2 + len(p) <= SEED_MAX:
            out += struct.pack("!H", len(p)) + p
    return out


def ipfix_stream(payloads, cap=SEED_MAX):
    """The IPFIX messages of the datagrams, each cut to its own length."""
    out = b""
    for p in payloads:
        if len(p) < 16 or p[:2] != b"\x00\x0a":
            continue
        n = struct.unpack("!H", p[2:4])[0]
        if 16 <= n <= len(p) and len(out) + n <= cap:
            out += p[:n]
    return out


def pcap_head(path, frames):
    """The capture's header and its first frames."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off = 24
    for _ in range(frames):
        if off + 16 > len(data):
            break
        off += 16 + struct.unpack(endian + "IIII", data[off:off + 16])[2]
    return data[:off]


def write(corpus, kind, name, data):
    os.makedirs(os.path.join(corpus, kind), exist_ok=True)
    with open(os.path.join(corpus, kind, name), "wb") as f:
        f.write(data)


def main():
    golden, corpus = sys.argv[1], sys.argv[2]
    proto_dir = {"v5": "v5", "v9": "nf9", "ipfix": "ipfix", "sflow": "sflow"}
    for name in sorted(os.listdir(golden)):
        cap = os.path.join(golden, name, "capture.pcap")
        if not os.path.exists(cap):
            continue
        twin = os.path.join(golden, name, "twin.pcap")
        payloads = udp_payloads(twin if os.path.exists(twin) else cap)
        proto = proto_dir[name.split("-")[1]]
        write(corpus, proto, name, framed(payloads))
        if proto == "ipfix":
            stream = ipfix_stream(payloads)
            write(corpus, "tcp", name, stream)
            if len(stream) <= 16384:
                write(corpus, "capture", name + ".ipfix", stream)
        size = os.path.getsize(cap)
        write(corpus, "capture", name + ".pcap", open(cap, "rb").read() if size <= 16384
              else pcap_head(cap, 12))


if __name__ == "__main__":
    main()
