#!/usr/bin/env python3
"""IPFIX over TCP (RFC 7011 §10.4) into the running daemon: floe-gen streams
from 50 connections at once while one more connection sends garbage and
another stops in the middle of a message; every record floe-gen sent is
counted exactly, and the two bad connections are closed and counted. Also:
each connection's templates are its own and go when it closes, the
connection bound refuses and counts, an idle connection is closed, and a
message split across many small writes decodes whole."""
import json
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, SLOW, Daemon, free_port  # noqa: E402

GEN_BIN = os.environ.get("FLOE_GEN_BIN", os.path.join(os.path.dirname(FLOE_BIN), "floe-gen"))


def ipfix(domain, sets, seq=0):
    body = b"".join(struct.pack("!HH", sid, 4 + len(b)) + b for sid, b in sets)
    return struct.pack("!HHIII", 10, 16 + len(body), 1700000000, seq, domain) + body


def template(tid, fields):
    return struct.pack("!HH", tid, len(fields)) + b"".join(struct.pack("!HH", i, n) for i, n in fields)


# Template 256: source and destination IPv4 address, octets (4 bytes).
T256 = (2, template(256, [(8, 4), (12, 4), (1, 4)]))


def data256(*octets):
    return (256, b"".join(bytes([10, 0, 0, 1, 10, 0, 0, 2]) + struct.pack("!I", o) for o in octets))


class Stream:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, b):
        self.s.sendall(b)

    def closed_by_peer(self, timeout=5.0):
        """Waits for floe to close the connection."""
        self.s.settimeout(timeout * SLOW)
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def tcp_listener(st):
    return next(l for l in st["listeners"] if l["transport"] == "tcp")


class TcpDaemon(Daemon):
    def __init__(self, config=""):
        self.tcp_port = free_port(socket.SOCK_STREAM)
        super().__init__(extra_args=["--listen-tcp", "127.0.0.1:%d" % self.tcp_port],
                         config=config)

    def tcp(self):
        return tcp_listener(self.status())


class Streams(unittest.TestCase):
    def test_fifty_connections_one_garbage_one_stalled(self):
        with TcpDaemon("tcp = { stall_timeout = 2 }\n") as d:
            garbage, stalled = Stream(d.tcp_port), Stream(d.tcp_port)
            # A whole message, then 40 bytes of a 1000-byte one, then nothing.
            stalled.send(ipfix(7, [T256, data256(5)]) + ipfix(7, [data256(*range(123))])[:40])
            gen = subprocess.Popen([GEN_BIN, "--proto", "ipfix", "--target", "127.0.0.1:%d" % d.tcp_port,
                                    "--tcp", "--exporters", "50", "--records", "200000", "--quiet"],
                                   stdout=subprocess.PIPE, text=True)
            garbage.send(b"\x00\x0a\x00\x05" + b"not IPFIX at all" * 10)
            out, _ = gen.communicate(timeout=60 * SLOW)
            self.assertEqual(gen.returncode, 0)
            sent = json.loads(out)
            self.assertEqual(sent["send_errors"], 0)
            self.assertTrue(garbage.closed_by_peer())
            self.assertTrue(stalled.closed_by_peer(10))
            st = d.wait_for(lambda s: tcp_listener(s)["closed"]["eof"] == 50, 20)
            ipf = st["protocols"]["ipfix"]
            # Every good record, exactly: floe-gen's and the stalled
            # connection's one complete message.
            self.assertEqual(ipf["records"], sent["records"] + 1)
            self.assertEqual(ipf["bytes"], sent["bytes"] + 5)
            self.assertEqual(ipf["packets"], sent["packets"])
            # A message is a datagram; so is the garbage's impossible header,
            # counted malformed as a UDP datagram with it would be.
            self.assertEqual(ipf["datagrams"], sent["datagrams"] + 2)
            self.assertEqual(ipf["malformed"], 1)  # the garbage's length of 5
            self.assertEqual(ipf["malformed_reasons"], {"bad_length": 1})
            tcp = tcp_listener(st)
            self.assertEqual(tcp["accepted"], 52)
            self.assertEqual(tcp["closed"]["garbage"], 1)
            self.assertEqual(tcp["closed"]["stalled"], 1)
            self.assertEqual(tcp["connections"], 0)
            self.assertEqual(tcp["datagrams"], sent["datagrams"] + 1)
            # Closed sessions take their exporters and templates with them.
            self.assertEqual(st["exporters"], 0)
            self.assertEqual(st["templates"], 0)
            self.assertGreater(st["flows"], 0)
            garbage.close()
            stalled.close()

    def test_each_connection_has_its_own_templates(self):
        with TcpDaemon() as d:
            a, b = Stream(d.tcp_port), Stream(d.tcp_port)
            a.send(ipfix(1, [T256, data256(100)]))
            d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] == 1)
            # Same address, same domain, same template id: not a's template.
            b.send(ipfix(1, [data256(7)]))
            st = d.wait_for(lambda s: s["protocols"]["ipfix"]["missing_template"] == 1)
            self.assertEqual(st["protocols"]["ipfix"]["records"], 1)
            ex = d.get("/api/v1/exporters")["exporters"]
            self.assertEqual(sorted((e["transport"], e["template_count"]) for e in ex),
                             [("tcp", 0), ("tcp", 1)])
            self.assertEqual(len({e["session"] for e in ex}), 2)
            a.close()
            st = d.wait_for(lambda s: tcp_listener(s)["closed"]["eof"] == 1)
            self.assertEqual(st["templates"], 0)  # withdrawn with a's session
            self.assertEqual(st["exporters"], 1)
            # A message split into 3-byte writes is one message.
            msg = ipfix(2, [T256, data256(1, 2, 3)])
            for i in range(0, len(msg), 3):
                b.send(msg[i:i + 3])
                time.sleep(0.001)
            st = d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] == 4)
            self.assertEqual(st["protocols"]["ipfix"]["bytes"], 106)
            b.close()

    def test_connection_bound_and_idle_timeout(self):
        with TcpDaemon("tcp = { max_connections = 2, idle_timeout = 2 }\n") as d:
            a, b = Stream(d.tcp_port), Stream(d.tcp_port)
            d.wait_for(lambda s: tcp_listener(s)["connections"] == 2)
            c = Stream(d.tcp_port)
            self.assertTrue(c.closed_by_peer())
            c.close()
            st = d.wait_for(lambda s: tcp_listener(s)["refused"] == 1)
            self.assertEqual(tcp_listener(st)["refused"], 1)
            # Two seconds of silence each: both closed as idle.
            self.assertTrue(a.closed_by_peer(10))
            self.assertTrue(b.closed_by_peer(10))
            st = d.wait_for(lambda s: tcp_listener(s)["closed"]["idle"] == 2)
            self.assertEqual(tcp_listener(st)["closed"]["idle"], 2)
            self.assertEqual(tcp_listener(st)["connections"], 0)
            # Room again once they are gone.
            e = Stream(d.tcp_port)
            e.send(ipfix(3, [T256, data256(9)]))
            st = d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] == 1)
            self.assertEqual(st["protocols"]["ipfix"]["records"], 1)
            for s in (a, b, e):
                s.close()

    def test_cut_connection_is_counted(self):
        with TcpDaemon() as d:
            a = Stream(d.tcp_port)
            a.send(ipfix(4, [T256, data256(1)]) + ipfix(4, [data256(2)])[:20])
            d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] == 1)
            a.close()
            st = d.wait_for(lambda s: tcp_listener(s)["closed"]["cut"] == 1)
            self.assertEqual(tcp_listener(st)["closed"]["cut"], 1)
            self.assertEqual(st["protocols"]["ipfix"]["records"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
