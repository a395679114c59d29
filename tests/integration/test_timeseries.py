#!/usr/bin/env python3
"""Timeseries end to end. `floe replay --data` over a capture of sampled
NetFlow v5 spread over four minutes writes exporter, interface, network,
host and system RRD files; rrdtool (librrd's rrd_fetch) reads back per-minute
byte totals equal to the records' bytes times the sampling rate, minute by
minute. The daemon then serves the same points over /api/v1/timeseries, lists
the schemas and their series, and draws PNG and SVG charts that `file`
recognises. A plugin schema with six metrics goes from ts.append to a chart.
A changed retention is applied to existing files by `floe rrd migrate`,
which keeps their data. A bad retention in the config is refused with a
line naming the key."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, Daemon, pcap_write, udp_frame, v5_datagram  # noqa: E402

B0 = 1700000040  # a minute boundary
SAMPLING = 10
EXPORTER = [192, 0, 2, 7]
# (seconds after B0, records, base bytes): record i of a datagram goes from
# 10.0.0.i, in on ifIndex 1, and carries base + i bytes.
DATAGRAMS = [(5, 3, 1000), (30, 2, 2000), (70, 4, 500), (190, 1, 300)]


def minute_bytes():
    """Sampled-scaled bytes per minute, by the minute's end."""
    out = {B0 + 60 * k: 0 for k in range(1, 5)}
    for at, count, base in DATAGRAMS:
        end = B0 + 60 * (at // 60 + 1)
        out[end] += sum(base + i for i in range(count)) * SAMPLING
    return out


def host0_bytes():
    out = {B0 + 60 * k: 0 for k in range(1, 5)}
    for at, count, base in DATAGRAMS:
        out[B0 + 60 * (at // 60 + 1)] += base * SAMPLING  # record 0 is 10.0.0.0's
    return out


def write_capture(path):
    frames = []
    for seq, (at, count, base) in enumerate(DATAGRAMS):
        msg = v5_datagram(count, seq * 10, unix_secs=B0 + at, sampling=0x4000 | SAMPLING,
                          base_bytes=base)
        frames.append((B0 + at, udp_frame(EXPORTER, [192, 0, 2, 2], 50000, 2055, msg)))
    pcap_write(path, frames)


def rrd_fetch(path, metric_index=0):
    """{minute end: value * 60} over the test's minutes, from rrdtool fetch."""
    out = subprocess.run(["rrdtool", "fetch", path, "AVERAGE", "-r", "60", "-s", str(B0),
                          "-e", str(B0 + 240)], capture_output=True, text=True, check=True)
    rows = {}
    for line in out.stdout.splitlines():
        if ":" not in line:
            continue
        t, vals = line.split(":", 1)
        v = vals.split()[metric_index]
        rows[int(t)] = None if v.lower().endswith("nan") else round(float(v) * 60)
    return rows


SIX = """return {
  title = "Six gauges",
  tags = { "site" },
  metrics = {
    { name = "m1", type = "gauge" }, { name = "m2", type = "gauge" },
    { name = "m3", type = "gauge" }, { name = "m4", type = "gauge" },
    { name = "m5", type = "gauge" }, { name = "m6", type = "delta", unit = "count" },
  },
}
"""
SIX_CHECK = """return {
  hooks = {
    min = function(sys)
      ts.append("six", { site = "lab" }, { m1 = 1, m2 = 2, m3 = 3, m4 = 4, m5 = 5, m6 = 600 })
    end,
  },
}
"""


@unittest.skipUnless(shutil.which("rrdtool"), "rrdtool is not installed")
class Timeseries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-ts-")
        root = cls.tmp.name
        cls.pcap = os.path.join(root, "v5.pcap")
        write_capture(cls.pcap)
        plugins = os.path.join(root, "plugins")
        for rel, text in (("sixer/manifest.lua", "return { version = '1' }\n"),
                          ("sixer/ts_schemas/six.lua", SIX),
                          ("sixer/checks/system/six.lua", SIX_CHECK)):
            os.makedirs(os.path.dirname(os.path.join(plugins, rel)), exist_ok=True)
            with open(os.path.join(plugins, rel), "w") as f:
                f.write(text)
        cls.config = os.path.join(root, "floe.conf.lua")
        with open(cls.config, "w") as f:
            f.write('plugins = { "%s" }\n' % plugins)
        cls.data = os.path.join(root, "data")
        cls.replay = subprocess.run([FLOE_BIN, "replay", "-c", cls.config, "--data", cls.data,
                                     cls.pcap], capture_output=True, text=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def rrd(self, *parts):
        return os.path.join(self.data, "timeseries", *parts)

    def test_replay_writes_the_entities_files(self):
        self.assertEqual(self.replay.returncode, 0, self.replay.stderr)
        for rel in (("system", "traffic", "_.rrd"), ("exporter", "stats", "192.0.2.7+0.rrd"),
                    ("iface", "traffic", "192.0.2.7+1.rrd"), ("host", "traffic", "10.0.0.0.rrd"),
                    ("host", "activity", "10.0.0.3.rrd"),
                    ("network", "traffic", "10.0.0.0%2f8.rrd")):
            self.assertTrue(os.path.exists(self.rrd(*rel)), "/".join(rel))

    def test_per_minute_bytes_match_the_records_scaled(self):
        want = minute_bytes()
        self.assertEqual({t: v for t, v in rrd_fetch(self.rrd("system", "traffic", "_.rrd")).items()
                          if t in want}, want)
        got = rrd_fetch(self.rrd("iface", "traffic", "192.0.2.7+1.rrd"))  # bytes_in
        self.assertEqual({t: got[t] for t in want}, want)
        out = rrd_fetch(self.rrd("network", "traffic", "10.0.0.0%2f8.rrd"), 1)  # bytes_out
        self.assertEqual({t: out[t] for t in want}, want)
        host = rrd_fetch(self.rrd("host", "traffic", "10.0.0.0.rrd"))  # bytes_sent
        self.assertEqual({t: host[t] for t in want}, host0_bytes())
        exp = rrd_fetch(self.rrd("exporter", "stats", "192.0.2.7+0.rrd"), 1)  # records
        self.assertEqual({t: exp[t] for t in want},
                         {B0 + 60: 5, B0 + 120: 4, B0 + 180: 0, B0 + 240: 1})

    def test_a_six_metric_plugin_schema_is_written(self):
        path = self.rrd("sixer", "six", "lab.rrd")
        self.assertTrue(os.path.exists(path))
        info = subprocess.run(["rrdtool", "info", path], capture_output=True, text=True,
                              check=True).stdout
        self.assertEqual(sorted(set(l.split("]")[0].split("[")[1] for l in info.splitlines()
                                    if l.startswith("ds["))),
                         ["m1", "m2", "m3", "m4", "m5", "m6"])
        got = rrd_fetch(path, 4)
        self.assertIn(5 * 60, [v for v in got.values() if v is not None])

    def test_the_daemon_serves_points_schemas_and_charts(self):
        with Daemon(data=self.data, extra_args=["-c", self.config]) as d:
            body = d.get("/api/v1/timeseries?schema=system:traffic&from=%d&to=%d"
                         % (B0, B0 + 240))
            self.assertEqual(body["metrics"], ["bytes"])
            pts = {p[0]: p[1] for p in body["points"]}
            for t, v in minute_bytes().items():
                self.assertEqual(round(pts[t] * 60), v, t)
            body = d.get("/api/v1/timeseries?schema=host:traffic&tags=10.0.0.0&from=%d&to=%d"
                         % (B0, B0 + 240))
            self.assertEqual(body["tags"], {"host": "10.0.0.0"})
            # Groups: a host's applications, every application.
            for query, want in (("schema=host:ndpi&tags=10.0.0.0", host0_bytes()),
                                ("schema=app:traffic", minute_bytes())):
                body = d.get("/api/v1/timeseries?%s&from=%d&to=%d" % (query, B0, B0 + 240))
                self.assertEqual(body["group"], "app", body)
                self.assertGreaterEqual(len(body["metrics"]), 1)
                sums = {p[0]: round(sum(v for v in p[1:] if v is not None) * 60)
                        for p in body["points"]}
                self.assertEqual({t: sums.get(t, 0) for t in want},
                                 {t: v for t, v in want.items()}, query)
            schemas = d.get("/api/v1/timeseries/schemas")
            text = json.dumps(schemas)
            for name in ("host:traffic", "iface:traffic", "sixer:six", "syn_received:syn"):
                self.assertIn('"%s"' % name, text)
            self.assertIn("10.0.0.0", text)
            one = d.get("/api/v1/timeseries/schemas?series=1")["schemas"]
            hosts = [x for x in one if x["name"] == "host:traffic"][0]
            self.assertEqual(len(hosts["series"]), 1)
            self.assertTrue(hosts["more"])
            code, _ = d.request("GET", "/api/v1/timeseries/schemas?series=0")
            self.assertEqual(code, 400)
            code, err = d.request("GET", "/api/v1/timeseries?schema=host:traffic&tags=10.9.9.9")
            self.assertEqual(code, 404, err)
            code, err = d.request("GET", "/api/v1/timeseries?schema=nope:nope")
            self.assertEqual(code, 404, err)
            code, err = d.request("GET", "/api/v1/timeseries?schema=system:traffic&range=7q")
            self.assertEqual(code, 400, err)
            self.assertIn("range", err["error"])
            code, err = d.request("GET", "/api/v1/timeseries")
            self.assertEqual(code, 400)
            for ext, magic in (("png", "PNG image data"), ("svg", "SVG")):
                for schema, tags in (("host:traffic", "10.0.0.0"), ("sixer:six", "lab")):
                    status, headers, raw = d.get_raw(
                        "/chart/%s.%s?tags=%s&from=%d&to=%d&theme=dark"
                        % (schema, ext, tags, B0 - 3600, B0 + 3600))
                    self.assertEqual(status, 200)
                    path = os.path.join(self.tmp.name, "chart." + ext)
                    with open(path, "wb") as f:
                        f.write(raw)
                    kind = subprocess.run(["file", "-b", path], capture_output=True,
                                          text=True).stdout
                    self.assertIn(magic, kind, schema)
            code, _ = d.request("GET", "/chart/host:traffic.gif")
            self.assertEqual(code, 404)
            st = d.status()["timeseries"]
            self.assertEqual(st["store"]["write_errors"], 0)



@unittest.skipUnless(shutil.which("rrdtool"), "rrdtool is not installed")
class Journal(unittest.TestCase):
    def test_points_a_shutdown_journaled_are_written_after_the_next_start(self):
        """What a shutdown had no time to write waits in pending.journal (its
        format is in docs/timeseries.md); the next start queues it, and the
        points reach the file, exact. A line whose schema is gone is counted."""
        tmp = tempfile.TemporaryDirectory(prefix="floe-journal-")
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "data")
        os.makedirs(os.path.join(data, "timeseries"))
        journal = os.path.join(data, "timeseries", "pending.journal")
        sent = {B0 + 60 * k: (6000 * k, 120 * k) for k in range(1, 4)}
        with open(journal, "w") as f:
            f.write("floe-ts-journal 1\n")
            for t, (a, b) in sent.items():
                f.write("host:traffic\t%d\t%d,%d\thost/traffic/192.0.2.77.rrd\n" % (t, a, b))
            f.write("gone:schema\t%d\t1\tgone/schema/x.rrd\n" % B0)
        with Daemon(data=data) as d:
            store = d.status()["timeseries"]["store"]
            self.assertEqual(store["points_restored"], 3)
            self.assertEqual(store["points_rejected"], 1)
            self.assertFalse(os.path.exists(journal))
            self.assertIn("3 points the last shutdown saved", d.logtext())
        path = os.path.join(data, "timeseries", "host", "traffic", "192.0.2.77.rrd")
        for metric in (0, 1):
            got = rrd_fetch(path, metric)
            for t, values in sent.items():
                self.assertEqual(got.get(t), values[metric], "metric %d at %d" % (metric, t))


@unittest.skipUnless(shutil.which("rrdtool"), "rrdtool is not installed")
class Migrate(unittest.TestCase):
    def test_migrate_applies_a_new_retention_keeping_the_data(self):
        with tempfile.TemporaryDirectory(prefix="floe-ts-migrate-") as tmp:
            pcap, data = os.path.join(tmp, "v5.pcap"), os.path.join(tmp, "data")
            write_capture(pcap)
            out = subprocess.run([FLOE_BIN, "replay", "--data", data, pcap],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            path = os.path.join(data, "timeseries", "system", "traffic", "_.rrd")
            config = os.path.join(tmp, "floe.conf.lua")
            with open(config, "w") as f:
                f.write('timeseries = { retentions = { ["system:traffic"] = "1m:2d,1h:1y" } }\n')
            out = subprocess.run([FLOE_BIN, "rrd", "migrate", "-c", config, "--data", data,
                                  "--keep-old", "system:traffic"],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("system:traffic: 1 files, 1 migrated", out.stdout)
            info = subprocess.run(["rrdtool", "info", path], capture_output=True, text=True,
                                  check=True).stdout
            self.assertIn("rra[0].rows = 2880", info)
            self.assertNotIn("rra[4]", info)  # 2 resolutions x AVERAGE, MAX
            self.assertTrue(os.path.exists(path + ".old"))
            want = minute_bytes()
            got = rrd_fetch(path)
            self.assertEqual({t: got[t] for t in want}, want)
            again = subprocess.run([FLOE_BIN, "rrd", "migrate", "-c", config, "--data", data],
                                   capture_output=True, text=True, timeout=120)
            self.assertIn("system:traffic: 1 files, 0 migrated, 1 already", again.stdout)
            bad = subprocess.run([FLOE_BIN, "rrd", "migrate", "--data", data, "nope:nope"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(bad.returncode, 2)
            self.assertIn("nope:nope", bad.stderr)


class Config(unittest.TestCase):
    def test_a_bad_retention_is_refused_naming_the_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "floe.conf.lua")
            for text, key in (('timeseries = { retention = "1m:1x" }\n', "timeseries.retention"),
                              ('timeseries = { retentions = { ["host:traffic"] = "5m:1m,1m:1d" } }\n',
                               "timeseries.retentions")):
                with open(path, "w") as f:
                    f.write(text)
                out = subprocess.run([FLOE_BIN, "config", "--check", path], capture_output=True,
                                     text=True)
                self.assertEqual(out.returncode, 2)
                self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
                self.assertIn(key, out.stderr)


if __name__ == "__main__":
    unittest.main()
