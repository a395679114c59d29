#!/usr/bin/env python3
"""The flow history in ClickHouse, end to end, against Debian's
clickhouse-server run on loopback with its own config and data directory
(never the system service). `floe replay --data` over the golden captures
leaves rows whose per-host byte and packet sums equal each host's in the
replay's own host table, one final row per flow that ended, and an alert
row per alert raised. A generated stream keeps flowing while ClickHouse is
stopped and started again: blocks go to the spool and are replayed, and the
rows in ClickHouse count exactly the flows floe made and carry exactly the
bytes it decoded. Two floe instances write into a two-shard Distributed
table on two local servers, and /api/v1/history/top on either one sees both
instances' flows. A hostile filter value is refused with a 400.

Exits 77 (skip) when clickhouse-server is not installed or cannot start."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from floetest import (FLOE_BIN, SLOW, SRCDIR, Daemon, free_port,  # noqa: E402
                      ipfix_data_set, ipfix_message, ipfix_template_set, ipv4, pcap_write,
                      udp_frame, v5_datagram)

SERVER = shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"
GEN_BIN = os.environ.get("FLOE_GEN_BIN", os.path.join(os.path.dirname(FLOE_BIN), "floe-gen"))
GOLDEN = os.path.join(SRCDIR, "tests", "golden")

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{dir}/server.log</log>
        <errorlog>{dir}/error.log</errorlog><console>0</console></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>5368709</mark_cache_size>
    <remote_servers>{cluster}</remote_servers>
</yandex>
"""
USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users><default><password></password>
        <networks><ip>127.0.0.1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
"""


class ClickHouse:
    """A private clickhouse-server on loopback ports, in its own folder."""

    def __init__(self, cluster_xml=""):
        self.tmp = tempfile.mkdtemp(prefix="floe-ch-")
        self.http = free_port(socket.SOCK_STREAM)
        self.tcp = free_port(socket.SOCK_STREAM)
        self.cluster_xml = cluster_xml
        self.proc = None

    def write_config(self):
        with open(os.path.join(self.tmp, "config.xml"), "w") as f:
            f.write(CONFIG.format(dir=self.tmp, http=self.http, tcp=self.tcp,
                                  cluster=self.cluster_xml))
        with open(os.path.join(self.tmp, "users.xml"), "w") as f:
            f.write(USERS)

    def start(self, timeout=20.0):
        self.write_config()
        self.log = open(os.path.join(self.tmp, "stdout.log"), "a")
        self.proc = subprocess.Popen([SERVER, "--config-file=" + os.path.join(self.tmp, "config.xml")],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp)
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.query("SELECT 1").strip() == "1":
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise unittest.SkipTest("clickhouse-server cannot start here: " + self.errors())

    def errors(self):
        for name in ("error.log", "stdout.log"):
            path = os.path.join(self.tmp, name)
            if os.path.exists(path) and os.path.getsize(path):
                with open(path) as f:
                    return f.read()[-600:]
        return "no log"

    def url(self):
        return "http://127.0.0.1:%d" % self.http

    def query(self, sql, timeout=10):
        req = urllib.request.Request(self.url() + "/", data=sql.encode())
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read().decode()

    def rows(self, sql):
        return [line.split("\t") for line in self.query(sql + " FORMAT TabSeparated").splitlines()]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def need_server():
    if not os.path.exists(SERVER):
        raise unittest.SkipTest("clickhouse-server is not installed (apt-get install "
                                "clickhouse-server)")


def wait_until(fn, timeout, what):
    deadline = time.time() + timeout * SLOW
    last = None
    while time.time() < deadline:
        try:
            ok, last = fn()
        except urllib.error.HTTPError as e:  # 502: a shard not set up yet
            ok, last = False, "HTTP %d %s" % (e.code, e.read()[:200])
        if ok:
            return last
        time.sleep(0.2)
    raise AssertionError("timed out waiting for %s; last: %r" % (what, last))


def ip_from_hex(h):
    b = bytes.fromhex(h)
    if b[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, b[12:])
    return socket.inet_ntop(socket.AF_INET6, b)


def replayable():
    """Golden captures with flows, by name."""
    out = []
    for name in sorted(os.listdir(GOLDEN)):
        exp = os.path.join(GOLDEN, name, "expected.json")
        if not os.path.exists(exp):
            continue
        with open(exp) as f:
            e = json.load(f)
        if e.get("records", 0) > 0 and "why" not in e:
            out.append(name)
    return out


NTOP = 35632
HTTP = 7


def alert_capture(path):
    """IPFIX flows labelled HTTP by the exporter on a non-standard port,
    which the built-in suspicious_port check raises an alert for."""
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 8), (2, 8), (118, 2, NTOP)]
    frames = []
    for i in range(3):
        rec = (ipv4("10.9.0.%d" % (i + 1)) + ipv4("192.0.2.80") +
               struct.pack("!HHBBQQH", 40000 + i, 8081, 6, 0x1b, 1000 + i, 10, HTTP))
        msg = ipfix_message([ipfix_template_set(300, fields), ipfix_data_set(300, [rec])], seq=i,
                            export_time=1700000000 + i)
        frames.append((1700000000 + i, udp_frame([192, 0, 2, 9], [192, 0, 2, 2], 50000, 4739, msg)))
    pcap_write(path, frames)


class ReplayEqualsHostTotals(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_server()
        cls.ch = ClickHouse().start()

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()

    def replay(self, pcap, instance, tmp, alerts=False):
        conf = os.path.join(tmp, "%s.lua" % instance)
        with open(conf, "w") as f:
            f.write('clickhouse = { url = "%s", database = "golden", instance = "%s", '
                    'batch_interval = 1, alerts = %s }\n'
                    % (self.ch.url(), instance, "true" if alerts else "false"))
        out = subprocess.run([FLOE_BIN, "replay", "-c", conf, "--data", os.path.join(tmp, instance),
                              "--dump", "hosts", pcap], capture_output=True, text=True,
                             timeout=120 * SLOW)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def ch_hosts(self, instance):
        """{host: [bytes sent, rcvd, packets sent, rcvd]} from the rows."""
        sql = ("SELECT hex(h), sum(s), sum(r), sum(ps), sum(pr) FROM ("
               " SELECT client AS h, c2s_bytes AS s, s2c_bytes AS r, c2s_packets AS ps,"
               " s2c_packets AS pr FROM golden.flows WHERE instance = '%s'"
               " UNION ALL SELECT server, s2c_bytes, c2s_bytes, s2c_packets, c2s_packets"
               " FROM golden.flows WHERE instance = '%s') GROUP BY h" % (instance, instance))
        return {ip_from_hex(r[0]): [int(x) for x in r[1:]] for r in self.ch.rows(sql)}

    def test_per_host_sums_equal_replay_host_table(self):
        checked = 0
        with tempfile.TemporaryDirectory() as tmp:
            for i, name in enumerate(replayable()):
                instance = "g%03d" % i
                rep = self.replay(os.path.join(GOLDEN, name, "capture.pcap"), instance, tmp)
                want = {h["ip"]: [h["bytes"]["sent"], h["bytes"]["rcvd"], h["packets"]["sent"],
                                  h["packets"]["rcvd"]] for h in rep["hosts"]}
                got = self.ch_hosts(instance)
                with self.subTest(capture=name):
                    # The host table is as it stood before the flows ended;
                    # the rows include every flow's last one, so all of it.
                    self.assertEqual(got, want)
                    finals = self.ch.rows("SELECT sum(final), count() FROM golden.flows WHERE "
                                          "instance = '%s'" % instance)[0]
                    self.assertEqual(int(finals[0]), rep["flows_ended"])
                    self.assertEqual(sum(v[0] for v in got.values()),
                                     rep["host_totals"]["bytes_sent"])
                    self.assertEqual(sum(v[2] for v in got.values()),
                                     rep["host_totals"]["packets_sent"])
                checked += 1
        print("checked %d captures" % checked)
        self.assertGreater(checked, 10)

    def test_alerts_exported(self):
        with tempfile.TemporaryDirectory() as tmp:
            pcap = os.path.join(tmp, "alerts.pcap")
            alert_capture(pcap)
            rep = self.replay(pcap, "alerts1", tmp, alerts=True)
            self.assertGreater(rep["alerts_raised"], 0)
            rows = self.ch.rows("SELECT count(), any(type), any(entity_type) FROM golden.alerts "
                                "WHERE instance = 'alerts1'")[0]
            self.assertEqual(int(rows[0]), rep["alerts_raised"])
            self.assertEqual(rows[1], rep["alerts"][0]["type"])

    def test_schema_version_recorded(self):
        rows = self.ch.rows("SELECT max(version) FROM golden.floe_schema")
        self.assertEqual(rows, [["1"]])


class OutageLosesNoRow(unittest.TestCase):
    def test_stop_and_start_clickhouse_mid_stream(self):
        need_server()
        if not os.path.exists(GEN_BIN):
            self.skipTest("floe-gen is not built")
        ch = ClickHouse().start()
        self.addCleanup(ch.close)
        conf = ('clickhouse = { url = "%s", database = "outage", instance = "gen", '
                'batch_interval = 1, batch_rows = 2000, interval = 2, timeout = 2 }\n'
                'flows = { idle_timeout = 3 }\n' % ch.url())
        with Daemon(config=conf) as d:
            def gen(seconds, seed):
                return subprocess.Popen([GEN_BIN, "--proto", "v5", "--target",
                                         "127.0.0.1:%d" % d.udp_port, "--rate", "2000",
                                         "--duration", str(seconds), "--hosts", "300",
                                         "--flow-length", "20", "--seed", str(seed), "--quiet"],
                                        stdout=subprocess.PIPE, text=True)
            g = gen(16, 7)
            time.sleep(2)
            # A stopping server finishes the requests under way (up to about 5 s
            # with floe's inserts keeping a connection busy); rows keep coming
            # meanwhile, and go to the spool once it is down.
            ch.stop()
            wait_until(lambda: (d.status()["history"]["spooled"] > 0, d.status()["history"]),
                       10, "rows spooled while ClickHouse is down")
            time.sleep(2)
            ch.start()
            sent = json.loads(g.communicate(timeout=60)[0])
            st = wait_until(lambda: (lambda s: (s["totals"]["records"] >= sent["records"] and
                                                s["history"]["spool_files"] == 0, s))(d.status()),
                            30, "the spool to drain")
            hist = st["history"]
            self.assertGreater(hist["replayed"], 0)
            self.assertEqual(hist["dropped"], 0)
            rc, _ = d.stop()  # ends every flow: their last rows go out before exit
            self.assertEqual(rc, 0, d.logtext())
            created = st["tables"]["flows_created"]
            decoded = st["totals"]["bytes"]
            self.assertIn("spooling", d.logtext())
        got = ch.rows("SELECT sum(final), sum(c2s_bytes + s2c_bytes), count() FROM outage.flows")[0]
        self.assertEqual(int(got[0]), created)  # every flow that floe made ended in a row
        self.assertEqual(int(got[1]), decoded)  # no block lost, none sent twice
        # Flows that lasted past clickhouse.interval also had rows before their
        # last, each with the traffic since the previous one (the sums agree).
        self.assertGreater(int(got[2]), created)


class TwoShards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        need_server()
        ports = [free_port(socket.SOCK_STREAM) for _ in range(2)]
        cluster = "<floe_pair>%s</floe_pair>" % "".join(
            "<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>" % p
            for p in ports)
        cls.servers = []
        try:
            for p in ports:
                ch = ClickHouse(cluster)
                ch.tcp = p
                cls.servers.append(ch.start())
        except BaseException:
            for ch in cls.servers:
                ch.close()
            raise

    @classmethod
    def tearDownClass(cls):
        for ch in cls.servers:
            ch.close()

    def daemon(self, ch, name, cluster="floe_pair", database="pair"):
        conf = ('clickhouse = { url = "%s", database = "%s", instance = "%s", '
                'cluster = "%s", batch_interval = 1 }\nflows = { idle_timeout = 1 }\n'
                % (ch.url(), database, name, cluster))
        return Daemon(config=conf)

    def top(self, d, query):
        return d.get("/api/v1/history/top?from=0&" + query)

    def test_top_on_either_instance_sees_both(self):
        with self.daemon(self.servers[0], "east") as a, self.daemon(self.servers[1], "west") as b:
            a.send(v5_datagram(5, 0, base_bytes=1000))    # 10.0.0.0-4 -> 192.0.2.1
            b.send(v5_datagram(3, 0, base_bytes=5000))    # 10.0.0.0-2 -> 192.0.2.1
            want = {"east": 5 * 1000 + 10, "west": 3 * 5000 + 3}
            for d in (a, b):
                def both():
                    top = self.top(d, "group=instance")
                    return ({t["key"]: t["bytes"] for t in top["top"]} == want, top)
                got = wait_until(both, 20, "both instances' rows through the Distributed table")
                self.assertEqual(sum(t["flows"] for t in got["top"]), 8)
            # The rows are in the two local tables (rand() picks each row's
            # shard, so 8 rows can all land on one: 1 run in 128).
            counts = [int(ch.rows("SELECT count() FROM pair.flows_local")[0][0])
                      for ch in self.servers]
            self.assertEqual(sum(counts), 8)
            hosts = self.top(a, "group=host&limit=3")["top"]
            self.assertEqual(hosts[0]["key"], "192.0.2.1")
            self.assertEqual(hosts[0]["bytes"], sum(want.values()))
            flows = a.get("/api/v1/history/flows?from=0&host=10.0.0.4&limit=5")["flows"]
            self.assertEqual(len(flows), 1)
            f = flows[0]
            # A SYN-ACK from 10.0.0.4:1028 makes it the server.
            self.assertEqual((f["client"], f["server"]), ("192.0.2.1", "10.0.0.4"))
            self.assertEqual((f["client_port"], f["server_port"]), (80, 1028))
            self.assertEqual((f["c2s_bytes"], f["s2c_bytes"], f["s2c_packets"]), (0, 1004, 5))
            self.assertEqual((f["instance"], f["proto"], f["final"]), ("east", 6, True))
            net = self.top(b, "group=app&net=10.0.0.0/30&by=flows")
            self.assertEqual(sum(t["flows"] for t in net["top"]), 7)  # .0-.3 from east, .0-.2 west
            self.assertTrue(net["histogram"])
            st = a.status()["history"]
            self.assertEqual((st["dropped"], st["spooled"]), (0, 0))
            self.assertGreater(st["exported"], 0)

    def test_hostile_filters_get_400(self):
        with self.daemon(self.servers[0], "probe", cluster="", database="probe") as d:
            for q in ["host=1.2.3.4'%20OR%201=1", "app=HTTP'%3B%20DROP%20TABLE%20x",
                      "instance=a%20b", "port=80%20OR%201", "status=x')--", "group=k)",
                      "by=bytes%20DESC", "net=10.0.0.0/33", "from=1e9", "nope=1",
                      "app=HTTP&app=DNS", "exporter=::1'"]:
                with self.subTest(query=q):
                    try:
                        d.get_raw("/api/v1/history/top?" + q)
                        self.fail("accepted " + q)
                    except urllib.error.HTTPError as e:
                        self.assertEqual(e.code, 400, q)
            # The server still answers the same request with good values.
            top = wait_until(lambda: (True, self.top(d, "app=HTTP&group=port")), 10, "an answer")
            self.assertEqual(top["top"], [])


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    if result.testsRun and len(result.skipped) == result.testsRun:
        sys.exit(77)
    sys.exit(0 if result.wasSuccessful() else 1)
