#!/usr/bin/env python3
"""bench/history.py: the flow history in ClickHouse, measured on this box.

export: starts a private clickhouse-server on loopback and `floe run`
with the history on, sends NetFlow v5 with floe-gen at a fixed rate for a
while (flows of a few records that end after a short idle timeout, so rows
come at about the rate flows end), and reports per second the records
floe received and the rows it exported, then whether ingest was lossless
(records received = records sent, no socket drops) and the history too
(rows in ClickHouse = flows floe ended, none dropped or left spooled).

query: fills <db>.flows with ROWS rows spread over one day (made by
ClickHouse itself from numbers(), in floe's schema, the table created by
floe), then times GET /api/v1/history/top for the day, grouped by host,
application and port, five times each through floe's API (median, max).

usage: bench/history.py FLOE_BIN [--rate N] [--seconds S] [--rows N] [--clients N]
                        [--only export|query]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("FLOE_SRCDIR", os.path.join(HERE, ".."))


def export(args, th, ch):
    conf = ('clickhouse = { url = "%s", database = "bench_export", instance = "bench" }\n'
            'flows = { idle_timeout = 3 }\n' % ch.url())
    with th.Daemon(config=conf) as d:
        gen = subprocess.Popen([th.GEN_BIN, "--proto", "v5", "--target",
                                "127.0.0.1:%d" % d.udp_port, "--rate", str(args.rate),
                                "--duration", str(args.seconds), "--hosts", "20000",
                                "--flow-length", "4", "--quiet"],
                               stdout=subprocess.PIPE, text=True)
        prev, t0, samples = d.status(), time.time(), []
        while gen.poll() is None:
            time.sleep(1)
            st = d.status()
            dt = time.time() - t0
            t0 = time.time()
            rec = (st["totals"]["records"] - prev["totals"]["records"]) / dt
            rows = (st["history"]["exported"] - prev["history"]["exported"]) / dt
            samples.append((rec, rows))
            print("records/s %8.0f  rows exported/s %8.0f  queued %7d" %
                  (rec, rows, st["history"]["queued"]), flush=True)
            prev = st
        sent = json.loads(gen.communicate()[0])
        time.sleep(2)
        st = d.status()
        d.stop()
    steady = samples[3:-1] or samples
    # Rows go out in blocks every batch_interval seconds: the rate is the
    # mean over the steady part, not a per-second median.
    finals = int(ch.rows("SELECT sum(final), count() FROM bench_export.flows")[0][0])
    print(json.dumps({
        "rate_target": args.rate, "seconds": args.seconds,
        "records_sent": sent["records"], "records_received": st["totals"]["records"],
        "socket_drops": st["socket_drops"],
        "rows_per_s_mean": round(statistics.mean(r for _, r in steady)),
        "records_per_s_median": round(statistics.median(r for r, _ in steady)),
        "flows_created": st["tables"]["flows_created"], "final_rows_in_clickhouse": finals,
        "history": {k: st["history"][k] for k in ("exported", "spooled", "dropped", "batches",
                                                  "bytes_sent")},
    }, indent=1))


FILL = """INSERT INTO bench_query.flows
SELECT toDateTime({day} + intDiv(number * 86399, {rows})) AS time, time AS first,
  concat('edge-', toString(number % 3)) AS instance,
  IPv6StringToNum(concat('::ffff:192.0.2.', toString(number % 8))) AS exporter,
  toUInt32(rand(1) % 48) AS in_if, toUInt32(rand(2) % 48) AS out_if, toUInt16(0) AS vlan,
  toUInt8(if(rand(3) % 4 = 0, 17, 6)) AS proto,
  IPv6StringToNum(concat('::ffff:10.', toString(intDiv(rand(4) % {clients}, 65536)), '.',
                         toString(intDiv(rand(4) % {clients}, 256) % 256), '.',
                         toString(rand(4) % {clients} % 256))) AS client,
  IPv6StringToNum(concat('::ffff:203.0.113.', toString(rand(7) % 200))) AS server,
  toUInt16(1024 + rand(8) % 60000) AS client_port,
  toUInt16(arrayElement([443, 80, 53, 22, 993, 8080], 1 + rand(9) % 6)) AS server_port,
  arrayElement(['TLS', 'HTTP', 'DNS', 'SSH', 'IMAPS', 'TLS.Google', 'QUIC'], 1 + rand(10) % 7) AS app,
  'Web' AS category,
  toUInt64(rand(11) % 100000) AS c2s_bytes, toUInt64(rand(12) % 1000000) AS s2c_bytes,
  toUInt64(rand(13) % 100) AS c2s_packets, toUInt64(rand(14) % 1000) AS s2c_packets,
  toUInt16(27) AS c2s_flags, toUInt16(27) AS s2c_flags,
  toUInt32(64500 + rand(15) % 20) AS client_as, toUInt32(15169) AS server_as,
  emptyArrayString() AS statuses, toUInt16(0) AS score, toUInt8(1) AS final
FROM numbers({rows})"""


def query(args, th, ch):
    conf = ('clickhouse = { url = "%s", database = "bench_query", instance = "bench", '
            'timeout = 60, retention = 0 }\n' % ch.url())
    day = 1700006400  # a midnight, UTC
    with th.Daemon(config=conf) as d:
        th.wait_until(lambda: (d.status()["history"]["connected"], None), 20, "the tables")
        t = time.time()
        ch.query(FILL.format(day=day, rows=args.rows, clients=args.clients), timeout=1800)
        fill_s = time.time() - t
        n = int(ch.rows("SELECT count() FROM bench_query.flows")[0][0])
        out = {"rows": n, "clients": args.clients, "fill_s": round(fill_s, 1)}
        for group in ("host", "app", "port"):
            times = []
            for _ in range(5):
                t = time.time()
                req = urllib.request.Request(
                    d.url("/api/v1/history/top?from=%d&to=%d&group=%s&limit=10"
                          % (day, day + 86400, group)),
                    headers={"Authorization": "Bearer " + d.token})
                with urllib.request.urlopen(req, timeout=120) as r:
                    top = json.loads(r.read())
                times.append(time.time() - t)
            assert len(top["top"]) == min(10, {"host": 10, "app": 7, "port": 6}[group]), top
            out["top10_" + group + "_ms"] = {"median": round(statistics.median(times) * 1000),
                                             "max": round(max(times) * 1000)}
        print(json.dumps(out, indent=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("floe_bin")
    ap.add_argument("--rate", type=int, default=50000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--rows", type=int, default=10000000)
    ap.add_argument("--clients", type=int, default=65536,
                    help="distinct client addresses in the filled day (10.0.0.0 upwards)")
    ap.add_argument("--only", choices=("export", "query"))
    args = ap.parse_args()
    os.environ["FLOE_BIN"] = os.path.abspath(args.floe_bin)
    import test_history as th  # after FLOE_BIN is set
    th.need_server()
    ch = th.ClickHouse().start()
    try:
        if args.only != "query":
            export(args, th, ch)
        if args.only != "export":
            query(args, th, ch)
    finally:
        ch.close()


if __name__ == "__main__":
    main()
