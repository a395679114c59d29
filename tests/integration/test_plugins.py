#!/usr/bin/env python3
"""The Lua plugin engine through `floe replay` and the real daemon: the
built-in suspicious_port sets its status on HTTP to a non-standard port
(and raises its flow alert) both in a replay and live over UDP; a check's
settings change through the API, are validated, apply at once and survive a
restart; user plugins with an endless loop, a memory bomb, a runtime error
and a syntax error are disabled or kept out with their reasons while floe
goes on ingesting; editing a check reloads it without a restart and without
losing a datagram."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import (FLOE_BIN, SLOW, Daemon, ipfix_data_set, ipfix_message,  # noqa: E402
                      ipfix_template_set, ipv4, pcap_write, udp_frame)

GEN_BIN = os.environ.get("FLOE_GEN_BIN", os.path.join(os.path.dirname(FLOE_BIN), "floe-gen"))
NTOP = 35632
# addresses, ports, protocol, flags, octets, packets, and nProbe's L7_PROTO
FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (6, 1), (1, 8), (2, 8), (118, 2, NTOP)]
HTTP, TLS = 7, 91  # nDPI protocol ids


def record(src, sport, dst, dport, l7, octets=1000, packets=10):
    return (ipv4(src) + ipv4(dst) +
            struct.pack("!HHBBQQH", sport, dport, 6, 0x1b, octets, packets, l7))


def http_messages():
    """HTTP to 8081 (suspicious), HTTP to 80 and TLS to 8081 (not)."""
    recs = [record("10.1.0.1", 40001, "192.0.2.80", 8081, HTTP),
            record("10.1.0.2", 40002, "192.0.2.80", 80, HTTP),
            record("10.1.0.3", 40003, "192.0.2.80", 8081, TLS)]
    return [ipfix_message([ipfix_template_set(300, FIELDS), ipfix_data_set(300, recs)], seq=0)]


def flow_with_client(flows, client):
    return [f for f in flows if f["client"] == client][0]


STATUS = "suspicious_port.http_nonstandard_port"


class Replay(unittest.TestCase):
    def test_replay_sets_the_status_and_raises_the_alert(self):
        with tempfile.TemporaryDirectory(prefix="floe-plugins-") as tmp:
            pcap = os.path.join(tmp, "http.pcap")
            pcap_write(pcap, [(1700000000 + i, udp_frame([192, 0, 2, 1], [192, 0, 2, 2], 50000,
                                                         4739, m))
                              for i, m in enumerate(http_messages())])
            out = subprocess.run([FLOE_BIN, "replay", "--dump", "flows", pcap],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            rep = json.loads(out.stdout)
            self.assertEqual(rep["statuses"], {STATUS: 1})
            f = flow_with_client(rep["flows"], "10.1.0.1")
            self.assertEqual(f["status"], STATUS)
            self.assertEqual(f["statuses"][0]["info"], {"port": 8081, "app": "HTTP"})
            self.assertEqual(f["score"], 50)
            for other in ("10.1.0.2", "10.1.0.3"):
                self.assertEqual(flow_with_client(rep["flows"], other)["statuses"], [])
            alerts = [a for a in rep["alerts"] if a["type"] == STATUS]
            self.assertEqual(len(alerts), 1)
            self.assertEqual(alerts[0]["flow"]["server_port"], 8081)
            self.assertEqual(alerts[0]["severity"], "warning")


class Live(unittest.TestCase):
    def test_daemon_sets_the_status_over_udp(self):
        with Daemon() as d:
            for m in http_messages():
                d.send(m)
            d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] >= 3)
            flows = d.get("/api/v1/flows")["flows"]
            f = flow_with_client(flows, "10.1.0.1")
            self.assertEqual(f["status"], STATUS)
            self.assertEqual(flow_with_client(flows, "10.1.0.2")["status"], None)
            plugins = {p["name"]: p for p in d.get("/api/v1/plugins")["plugins"]}
            self.assertEqual(plugins["suspicious_port"]["state"], "loaded")
            check = plugins["suspicious_port"]["checks"][0]
            self.assertEqual(check["calls"], 1)  # the filter kept the others out of Lua

    def test_check_settings_are_validated_applied_and_kept(self):
        path = "/api/v1/plugins/suspicious_port/checks/http_port"
        with Daemon() as d:
            code, body = d.request("PUT", path, {"ports": [80, "eighty"]})
            self.assertEqual(code, 400)
            self.assertIn("ports", body["error"])
            code, body = d.request("PUT", path, {"colour": 1})
            self.assertEqual(code, 400)
            self.assertIn("'colour'", body["error"])
            code, body = d.request("PUT", path, {"ports": [80, 8080, 8081]})
            self.assertEqual(code, 200, body)
            self.assertEqual(body["config"]["ports"], [80, 8080, 8081])
            for m in http_messages():
                d.send(m)
            d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] >= 3)
            flows = d.get("/api/v1/flows")["flows"]
            self.assertEqual(flow_with_client(flows, "10.1.0.1")["status"], None)
            # Kept across a restart: the same data dir, a new process.
            d.restart()
            _, body = d.request("GET", path)
            self.assertEqual(body["config"]["ports"], [80, 8080, 8081])
            code, _ = d.request("PUT", "/api/v1/plugins/suspicious_port/checks/nope", {})
            self.assertEqual(code, 404)


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


CHECK = "return { hooks = { protocolDetected = function(flow, conf) %s end } }\n"
STATUS_DEF = "return { key = 'seen', title = 'Seen', score = %d }\n"


def user_plugins(root):
    bodies = {
        "looper": "while true do end",
        "bomb": "local s, t = string.rep('x', 1 << 20), {} for i = 1, 1e9 do t[i] = s .. i end",
        "crasher": "local x = nil; x.boom()",
        "marker": "flow:setStatus('seen')",
    }
    for name, body in bodies.items():
        write(root, name + "/manifest.lua", "return { title = '%s' }\n" % name)
        write(root, name + "/status_definitions/seen.lua", STATUS_DEF % 5)
        write(root, name + "/checks/flow/c.lua", CHECK % body)
    write(root, "syntax/manifest.lua", "return {}\n")
    write(root, "syntax/checks/flow/c.lua", "return { hooks = { protocolDetected = function( }\n")


CONFIG = "lua = { memory = 16, instructions = 200000, failures = 3 }\n"


class Hostile(unittest.TestCase):
    def test_bad_plugins_are_disabled_and_ingest_goes_on(self):
        with tempfile.TemporaryDirectory(prefix="floe-user-plugins-") as root:
            user_plugins(root)
            with Daemon(extra_args=["--plugins", root], config=CONFIG) as d:
                def plugins():
                    return {p["name"]: p for p in d.get("/api/v1/plugins")["plugins"]}

                def all_failed():
                    got = plugins()
                    return all(got[n]["checks"][0]["state"] == "failed"
                               for n in ("looper", "bomb", "crasher"))

                # One flow a datagram until the three have failed 3 times
                # each: on a busy machine the Lua time share may skip calls.
                sent, deadline = 0, time.time() + 20 * SLOW
                while sent < 6 or (not all_failed() and time.time() < deadline):
                    recs = [record("10.2.%d.%d" % (sent // 200, sent % 200 + 1), 40000 + sent,
                                   "192.0.2.9", 443, TLS)]
                    d.send(ipfix_message([ipfix_template_set(300, FIELDS),
                                          ipfix_data_set(300, recs)], seq=sent))
                    sent += 1
                    d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] >= sent, 10)
                st = d.status()
                self.assertEqual(st["protocols"]["ipfix"]["records"], sent)
                got = plugins()
                for name, why in (("looper", "instruction budget"), ("bomb", "out of memory"),
                                  ("crasher", "c.lua:1:")):
                    check = got[name]["checks"][0]
                    self.assertEqual(check["state"], "failed", name)
                    self.assertEqual(check["calls"], 3, name)
                    self.assertIn(why, check["last_error"]["message"], name)
                self.assertEqual(got["syntax"]["state"], "failed")
                self.assertIn("checks/flow/c.lua:1:", got["syntax"]["error"])
                marker = got["marker"]["checks"][0]
                self.assertEqual(marker["calls"] + marker["skipped"], sent)
                self.assertEqual(got["suspicious_port"]["state"], "loaded")
                flows = d.get("/api/v1/flows?limit=1000")["flows"]
                self.assertEqual(len(flows), sent)
                seen = [f for f in flows if f["status"] == "marker.seen"]
                self.assertEqual(len(seen), marker["calls"])


class Blacklist(unittest.TestCase):
    def test_the_list_file_is_reread_when_it_changes(self):
        with tempfile.TemporaryDirectory(prefix="floe-blacklist-") as tmp:
            listed = os.path.join(tmp, "blacklist.txt")
            with open(listed, "w") as f:
                f.write("# nothing yet\n")
            config = 'checks = { ["blacklisted_host.blacklist"] = { file = "%s" } }\n' % listed
            with Daemon(config=config) as d:
                def send(n, client):
                    rec = record(client, 40000 + n, "203.0.113.66", 443, TLS)
                    d.send(ipfix_message([ipfix_template_set(300, FIELDS),
                                          ipfix_data_set(300, [rec])], seq=n))
                    d.wait_for(lambda s: s["protocols"]["ipfix"]["records"] >= n + 1)
                    return flow_with_client(d.get("/api/v1/flows")["flows"], client)

                self.assertEqual(send(0, "10.3.0.1")["status"], None)
                with open(listed, "w") as f:
                    f.write("203.0.113.0/24\n")
                deadline = time.time() + 10 * SLOW
                n, flagged = 1, None
                while time.time() < deadline and flagged != "blacklisted_host.blacklisted":
                    time.sleep(0.5)
                    flagged = send(n, "10.3.0.%d" % (n + 1))["status"]
                    n += 1
                self.assertEqual(flagged, "blacklisted_host.blacklisted")


@unittest.skipUnless(os.access(GEN_BIN, os.X_OK), "floe-gen is not built")
class Reload(unittest.TestCase):
    def test_an_edited_check_reloads_without_losing_a_datagram(self):
        with tempfile.TemporaryDirectory(prefix="floe-user-plugins-") as root:
            write(root, "edit/manifest.lua", "return { version = '1' }\n")
            write(root, "edit/status_definitions/seen.lua", STATUS_DEF % 5)
            write(root, "edit/checks/flow/c.lua", CHECK % "flow:setStatus('seen')")
            with Daemon(extra_args=["--plugins", root]) as d:
                gen = subprocess.Popen(
                    [GEN_BIN, "--proto", "ipfix", "--target", "127.0.0.1:%d" % d.udp_port,
                     "--rate", "20000", "--duration", "4", "--exporters", "2", "--quiet"],
                    stdout=subprocess.PIPE, text=True)
                time.sleep(1.0)
                edited = time.time()
                write(root, "edit/manifest.lua", "return { version = '2' }\n")
                write(root, "edit/checks/flow/c.lua",
                      CHECK % "flow:setStatus('seen', { score = 7 })")
                version = None
                while time.time() - edited < 5 * SLOW:
                    p = [p for p in d.get("/api/v1/plugins")["plugins"] if p["name"] == "edit"][0]
                    version = p["version"]
                    if version == "2":
                        break
                    time.sleep(0.05)
                took = time.time() - edited
                self.assertEqual(version, "2")
                self.assertLess(took, 2.0 * SLOW)
                sent = json.loads(gen.communicate(timeout=30)[0])
                st = d.wait_for(lambda s: s["totals"]["records"] >= sent["records"], 10)
                self.assertEqual(st["totals"]["records"], sent["records"])
                self.assertEqual(st["totals"]["bytes"], sent["bytes"])
                self.assertEqual(st["totals"]["packets"], sent["packets"])
                self.assertEqual(st["socket_drops"], 0)


if __name__ == "__main__":
    unittest.main()
