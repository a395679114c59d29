#!/usr/bin/env python3
"""Integration tests: the real `floe run` on loopback ports, fed NetFlow v5
over UDP, checked through /api/v1/status, /api/v1/exporters and /metrics."""
import os
import random
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import Daemon, FLOE_BIN, SLOW, free_port, v5_datagram, v5_sums  # noqa: E402


class CountsAndRejects(unittest.TestCase):
    def test_records_equal_sent(self):
        with Daemon() as d:
            sent_records = sent_bytes = sent_packets = 0
            seq = 0
            for n in (1, 5, 30, 17, 30):
                d.send(v5_datagram(n, seq))
                seq += n
                b, p = v5_sums(n)
                sent_records += n
                sent_bytes += b
                sent_packets += p
            st = d.wait_for(lambda s: s["protocols"]["v5"]["datagrams"] >= 5)
            v5 = st["protocols"]["v5"]
            self.assertEqual(v5["datagrams"], 5)
            self.assertEqual(v5["records"], sent_records)
            self.assertEqual(v5["bytes"], sent_bytes)
            self.assertEqual(v5["packets"], sent_packets)
            self.assertEqual(v5["malformed"], 0)
            self.assertEqual(v5["seq_gaps"], 0)
            self.assertEqual(st["exporters"], 1)
            rc, took = d.stop()
            self.assertEqual(rc, 0, d.logtext())

    def test_a_gso_train_is_cut_back_into_its_datagrams(self):
        # One send of six datagrams with UDP_SEGMENT: on loopback the train
        # reaches floe's socket whole (it asks for UDP GRO), with the size
        # in a control message; the last datagram is shorter.
        counts = (30, 30, 30, 30, 30, 7)
        seg = len(v5_datagram(30, 0))
        with Daemon() as d:
            self.assertIn("UDP GRO on", d.logtext())
            train, seq = b"", 0
            for n in counts:
                train += v5_datagram(n, seq)
                seq += n
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_UDP, 103, seg)  # UDP_SEGMENT
            s.sendto(train, ("127.0.0.1", d.udp_port))
            s.close()
            st = d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= sum(counts))
            v5 = st["protocols"]["v5"]
            self.assertEqual(v5["datagrams"], len(counts))
            self.assertEqual(v5["records"], sum(counts))
            self.assertEqual(v5["bytes"], sum(v5_sums(n)[0] for n in counts))
            self.assertEqual(v5["malformed"], 0)
            self.assertEqual(v5["seq_gaps"], 0)

    def test_truncated_random_and_empty_are_malformed(self):
        with Daemon() as d:
            good = v5_datagram(3, 0)
            d.send(good[:-10])                       # truncated
            rnd = random.Random(7)
            d.send(bytes(rnd.getrandbits(8) | 0x80 for _ in range(200)))  # random bytes
            d.send(b"")                              # empty
            d.send(good)                             # and a good one after them
            st = d.wait_for(lambda s: s["totals"]["datagrams"] >= 4)
            self.assertEqual(st["protocols"]["v5"]["malformed"], 1)
            self.assertEqual(st["protocols"]["v5"]["malformed_reasons"], {"truncated": 1})
            self.assertEqual(st["protocols"]["unknown"]["malformed"], 2)
            self.assertEqual(st["protocols"]["unknown"]["malformed_reasons"],
                             {"empty": 1, "unknown_version": 1})
            self.assertEqual(st["protocols"]["v5"]["records"], 3)
            self.assertEqual(d.proc.poll(), None)
            rc, _ = d.stop()
            self.assertEqual(rc, 0, d.logtext())

    def test_sequence_gap_counted(self):
        with Daemon() as d:
            d.send(v5_datagram(10, 1000))
            d.wait_for(lambda s: s["protocols"]["v5"]["datagrams"] >= 1)
            d.send(v5_datagram(10, 1010))   # in order
            d.wait_for(lambda s: s["protocols"]["v5"]["datagrams"] >= 2)
            d.send(v5_datagram(10, 1027))   # 7 records lost
            st = d.wait_for(lambda s: s["protocols"]["v5"]["datagrams"] >= 3)
            self.assertEqual(st["protocols"]["v5"]["seq_gaps"], 1)
            self.assertEqual(st["protocols"]["v5"]["lost"], 7)
            ex = d.get("/api/v1/exporters")["exporters"]
            self.assertEqual(len(ex), 1)
            self.assertEqual(ex[0]["address"], "127.0.0.1")
            self.assertEqual(ex[0]["sequence"]["gaps"], 1)
            self.assertEqual(ex[0]["sequence"]["lost"], 7)
            self.assertEqual(ex[0]["sequence"]["lost_unit"], "records")
            self.assertEqual(ex[0]["counters"]["records"], 30)
            rc, _ = d.stop()
            self.assertEqual(rc, 0, d.logtext())

    def test_ipv6_listener_and_sampling(self):
        with Daemon(ipv6=True) as d:
            d.send(v5_datagram(2, 0, sampling=(1 << 14) | 512), port=d.udp6_port,
                   family=socket.AF_INET6)
            st = d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= 2)
            self.assertEqual(st["protocols"]["v5"]["records"], 2)
            ex = d.get("/api/v1/exporters")["exporters"]
            self.assertEqual(ex[0]["address"], "::1")
            self.assertEqual(ex[0]["sampling"], 512)
            rc, _ = d.stop()
            self.assertEqual(rc, 0)

    def test_metrics_text(self):
        with Daemon() as d:
            d.send(v5_datagram(4, 0))
            d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= 4)
            status, headers, body = d.get_raw("/metrics")
            text = body.decode()
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("text/plain"))
            self.assertIn('floe_records_total{proto="v5"} 4\n', text)
            self.assertIn('floe_exporter_records_total{exporter="127.0.0.1",domain="0",proto="v5"} 4\n', text)
            self.assertRegex(text, r"\nfloe_loop_turns_total [1-9][0-9]*\n")
            self.assertRegex(text, r"\nfloe_loop_busy_seconds_total [0-9.]+\n")
            self.assertRegex(text, r"\nfloe_loop_longest_turn_seconds [0-9.]+\n")
            d.stop()

    def test_loop_turns_account_for_its_time(self):
        # Every turn of the loop is counted, and its busy and idle time
        # together make up the time between the first turn and the last.
        with Daemon() as d:
            first = d.get("/api/v1/status")["loop"]
            t0 = time.monotonic()
            for seq in range(0, 300, 30):
                d.send(v5_datagram(30, seq))
            d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= 300)
            time.sleep(1.0)
            last = d.get("/api/v1/status")["loop"]
            elapsed_ms = (time.monotonic() - t0) * 1000
            self.assertGreater(last["turns"], first["turns"])
            grew = (last["busy_ms"] + last["idle_ms"]) - (first["busy_ms"] + first["idle_ms"])
            self.assertGreater(grew, elapsed_ms - 150)
            self.assertLess(grew, elapsed_ms + 150)
            self.assertLess(last["busy_ms"], last["idle_ms"])  # a light load waits most of the time
            self.assertLessEqual(last["busy_pct"], 100)
            self.assertGreater(last["longest_turn_ever_us"], 0)
            self.assertGreaterEqual(last["longest_turn_ever_us"], last["longest_turn_us"])
            self.assertGreater(last["longest_turn_at_ms"], 0)
            d.stop()


class Lifecycle(unittest.TestCase):
    def test_sigterm_and_sigint_stop_within_5s(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with Daemon() as d:
                d.send(v5_datagram(1, 0))
                rc, took = d.stop(sig)
                self.assertEqual(rc, 0, d.logtext())
                self.assertLess(took, 5.0 * SLOW)
                self.assertIn("shutdown", d.logtext())

    def test_sighup_reloads_and_keeps_running_on_bad_config(self):
        port2 = free_port()
        with Daemon(config="log = { level = 'info' }\n") as d:
            # A good config that moves the listener to another port.
            with open(d.config_path, "w") as f:
                f.write("listen = { '127.0.0.1:%d' }\n" % port2)
            d.proc.send_signal(signal.SIGHUP)
            st = d.wait_for(lambda s: s["reloads"] >= 1)
            self.assertEqual(st["reloads"], 1)
            # --listen on the command line still wins over the file.
            self.assertEqual([l["address"] for l in st["listeners"]], ["127.0.0.1:%d" % d.udp_port])
            # A broken config is refused and the old one kept.
            with open(d.config_path, "w") as f:
                f.write("templates = { timout = 5 }\n")
            d.proc.send_signal(signal.SIGHUP)
            st = d.wait_for(lambda s: s["reload_errors"] >= 1)
            self.assertEqual(st["reload_errors"], 1)
            self.assertIn("unknown key 'templates.timout'", d.logtext())
            d.send(v5_datagram(2, 0))
            st = d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= 2)
            self.assertEqual(st["protocols"]["v5"]["records"], 2)
            rc, _ = d.stop()
            self.assertEqual(rc, 0)

    def test_reload_moves_listener_from_config(self):
        port2 = free_port()
        with Daemon(config="listen = { '127.0.0.1:%d' }\n" % free_port(), listen=[]) as d:
            with open(d.config_path, "w") as f:
                f.write("listen = { '127.0.0.1:%d' }\n" % port2)
            d.proc.send_signal(signal.SIGHUP)
            st = d.wait_for(lambda s: s["reloads"] >= 1)
            self.assertEqual([l["address"] for l in st["listeners"]], ["127.0.0.1:%d" % port2])
            d.send(v5_datagram(3, 0), port=port2)
            st = d.wait_for(lambda s: s["protocols"]["v5"]["records"] >= 3)
            self.assertEqual(st["protocols"]["v5"]["records"], 3)
            d.stop()


class CommandLine(unittest.TestCase):
    def run_floe(self, *args):
        return subprocess.run([FLOE_BIN] + list(args), capture_output=True, text=True, timeout=30)

    def test_help_and_version(self):
        r = self.run_floe("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^floe \d+\.\d+\.\d+\n$")
        r = self.run_floe("run", "--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--listen", "--web", "--data", "--plugins", "-c"):
            self.assertIn(flag, r.stdout)

    def test_bad_input_gives_one_line_errors(self):
        cases = [
            (("run", "--bogus"), "bogus"),
            (("run", "--listen", "::1:2055"), "brackets"),
            (("run", "--web", "nowhere"), "web"),
            (("run", "-c", "/nonexistent/floe.conf"), "/nonexistent/floe.conf"),
            (("frobnicate",), "frobnicate"),
            (("decode", "/nonexistent.pcap"), "/nonexistent.pcap"),
            (("decode", "--format", "xml", "x.pcap"), "xml"),
        ]
        for args, needle in cases:
            r = self.run_floe(*args)
            self.assertNotEqual(r.returncode, 0, args)
            first = r.stderr.strip().splitlines()[0]
            self.assertIn(needle, first, (args, r.stderr))

    def test_bad_config_value_named(self):
        with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "floe-bad.conf.lua"), "w") as f:
            f.write("exporters = { max = 'many' }\n")
            path = f.name
        r = self.run_floe("run", "-c", path, "--web", "", "--listen", "127.0.0.1:%d" % free_port())
        os.unlink(path)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertIn("exporters.max", r.stderr)

    def test_table_memory_backed_at_start_unless_told(self):
        # floe run backs the flow and host pools to their bound before any
        # traffic (tables.prefault, default on), so the first fill does not
        # stall ingest; with it off, they are backed as they fill.
        sizes = "flows = { max = 40000 }\nhosts = { max = 20000 }\n"
        with Daemon(config=sizes) as d:
            t = d.get("/api/v1/status")["tables"]
            self.assertEqual(t["flows_created"], 0)
            self.assertGreaterEqual(t["memory_bytes"], 40000 * 256 + 20000 * 192)
            backed = t["memory_bytes"]
            self.assertIn("tables: ", d.logtext())
            self.assertIn("backed for 40000 flows and 20000 hosts (and 65536 nDPI states)", d.logtext())
        with Daemon(config=sizes + "tables = { prefault = false }\n") as d:
            t = d.get("/api/v1/status")["tables"]
            # Only a step of each pool ahead of need.
            self.assertLess(t["memory_bytes"], backed - (40000 * 256 + 20000 * 192) // 2)
            self.assertNotIn("backed for", d.logtext())

    def test_port_in_use_is_an_error(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        try:
            r = subprocess.run([FLOE_BIN, "run", "--web", "", "--data", "/tmp/floe-test-inuse",
                                "--listen", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("address already in use", r.stderr)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
