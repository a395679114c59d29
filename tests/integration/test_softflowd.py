#!/usr/bin/env python3
"""A real exporter from Debian: softflowd turns a generated packet capture
into NetFlow v5, a relay copies every datagram to floe and to a pcap, and
floe must count exactly the records tshark decodes from that same stream.
Skips (exit 77) where softflowd or tshark is not installed."""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import Daemon, SLOW, pcap_write, tcp_frame, udp_frame  # noqa: E402


def traffic(path, packets=3000, flows=400, seed=1):
    rnd = random.Random(seed)
    frames, t = [], 1700000000.0
    for _ in range(packets):
        fl = rnd.randrange(flows)
        src, dst = [10, 1, fl // 250, fl % 250 + 1], [192, 0, 2, fl % 7 + 1]
        if fl % 3:
            frames.append((t, tcp_frame(src, dst, 10000 + fl, 443, rnd.randrange(1000))))
        else:
            frames.append((t, udp_frame(src, dst, 10000 + fl, 53, bytes(rnd.randrange(500)))))
        t += 0.002
    pcap_write(path, frames)


class Relay(threading.Thread):
    """Receives on a loopback port, forwards to floe, keeps every datagram."""

    def __init__(self, target_port):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.target = ("127.0.0.1", target_port)
        self.datagrams = []
        self.done = False

    def run(self):
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        while not self.done:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.datagrams.append((time.time(), data))
            out.sendto(data, self.target)


@unittest.skipUnless(shutil.which("softflowd") and shutil.which("tshark"),
                     "softflowd and tshark are needed")
class Softflowd(unittest.TestCase):
    def test_floe_counts_what_tshark_decodes(self):
        tmp = tempfile.mkdtemp(prefix="floe-sfd-")
        try:
            src_pcap = os.path.join(tmp, "traffic.pcap")
            traffic(src_pcap)
            with Daemon() as d:
                relay = Relay(d.udp_port)
                relay.start()
                subprocess.run(["softflowd", "-r", src_pcap, "-n", "127.0.0.1:%d" % relay.port,
                                "-v", "5", "-d"], capture_output=True, timeout=60, check=True)
                deadline = time.time() + 3
                while time.time() < deadline and not relay.datagrams:
                    time.sleep(0.05)
                time.sleep(0.5)  # let the last datagrams through
                relay.done = True
                relay.join()
                self.assertGreater(len(relay.datagrams), 0)
                stream = os.path.join(tmp, "stream.pcap")
                pcap_write(stream, [(ts, udp_frame([127, 0, 0, 1], [127, 0, 0, 1], 50000, 2055, p))
                                    for ts, p in relay.datagrams])
                out = subprocess.run(["tshark", "-r", stream, "-d", "udp.port==2055,cflow", "-T",
                                      "fields", "-E", "occurrence=a", "-E", "aggregator= ",
                                      "-e", "cflow.srcaddr"], capture_output=True, text=True,
                                     check=True).stdout
                tshark_records = len(out.split())
                st = d.wait_for(lambda s: s["protocols"]["v5"]["datagrams"] >= len(relay.datagrams))
                self.assertEqual(st["protocols"]["v5"]["datagrams"], len(relay.datagrams))
                self.assertEqual(st["protocols"]["v5"]["records"], tshark_records)
                self.assertEqual(st["protocols"]["v5"]["malformed"], 0)
                self.assertEqual(st["protocols"]["v5"]["lost"], 0)
                self.assertGreater(tshark_records, 100)
                print("softflowd sent %d datagrams; tshark decodes %d records; floe counted %d"
                      % (len(relay.datagrams), tshark_records, st["protocols"]["v5"]["records"]))
                rc, _ = d.stop()
                self.assertEqual(rc, 0)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    if result.skipped and not result.failures and not result.errors and result.testsRun == len(result.skipped):
        sys.exit(77)
    sys.exit(0 if result.wasSuccessful() else 1)
