"""Helpers for floe's integration tests: start the real daemon on loopback
ports with a temporary data dir, send it datagrams, read its HTTP API.

The daemon gets an API token (FLOE_API_TOKEN) and an admin password
(FLOE_ADMIN_PASSWORD) in its environment, and Daemon.get sends the token,
since every API path needs authentication.

Set FLOE_VALGRIND=1 to run the daemon under valgrind; the daemon's exit
status then carries valgrind's verdict (--error-exitcode=99).
"""
import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

FLOE_BIN = os.environ.get("FLOE_BIN", os.path.join(os.getcwd(), "floe"))
SRCDIR = os.environ.get("FLOE_SRCDIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
VALGRIND = os.environ.get("FLOE_VALGRIND") == "1"
# Valgrind slows start-up and everything after it.
SLOW = 20 if VALGRIND else 1
# What the test daemons accept: a bearer token and the admin password.
API_TOKEN = "floe-test-" + secrets.token_hex(16)
ADMIN_PASSWORD = "floe-test-" + secrets.token_hex(6)


def free_port(kind=socket.SOCK_DGRAM, family=socket.AF_INET):
    s = socket.socket(family, kind)
    s.bind(("127.0.0.1" if family == socket.AF_INET else "::1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """One `floe run` process. Use as a context manager."""

    def __init__(self, extra_args=(), config=None, listen=None, ipv6=False, env=None,
                 data=None, token=API_TOKEN, password=ADMIN_PASSWORD, scheme="http",
                 context=None):
        """env adds to (or, with None values, removes from) the daemon's
        environment; data reuses a data directory (a restart)."""
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-test-")
        self.token = token
        self.password = password
        self.scheme = scheme
        self.context = context  # an ssl.SSLContext for https
        self.data = data or os.path.join(self.tmp.name, "data")
        self.udp_port = free_port()
        self.udp6_port = free_port(family=socket.AF_INET6) if ipv6 else None
        self.web_port = free_port(socket.SOCK_STREAM)
        self.config_path = None
        args = [FLOE_BIN, "run", "--data", self.data, "--web", "127.0.0.1:%d" % self.web_port]
        if config is None and "-c" not in extra_args and "--config" not in extra_args:
            # Backing the tables' memory and nDPI's heap at start costs about
            # 1.5 s a start on a VM; a test that passes its own config gets
            # the default, and test_daemon checks it.
            config = "tables = { prefault = false }\n"
        if config is not None:
            self.config_path = os.path.join(self.tmp.name, "floe.conf.lua")
            with open(self.config_path, "w") as f:
                f.write(config)
            args += ["-c", self.config_path]
        if listen is None:
            args += ["--listen", "127.0.0.1:%d" % self.udp_port]
            if ipv6:
                args += ["--listen", "[::1]:%d" % self.udp6_port]
        else:
            for item in listen:
                args += ["--listen", item]
        args += list(extra_args)
        if VALGRIND:
            args = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                    "--errors-for-leak-kinds=definite", "--quiet"] + args
        environ = dict(os.environ)
        for k, v in (("FLOE_API_TOKEN", token), ("FLOE_ADMIN_PASSWORD", password)):
            environ.pop(k, None)
            if v:
                environ[k] = v
        for k, v in (env or {}).items():
            environ.pop(k, None)
            if v is not None:
                environ[k] = v
        self.log_path = os.path.join(self.tmp.name, "floe.log")
        self.log = open(self.log_path, "w")
        self.args, self.environ = args, environ
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=environ)
        self.wait_ready()

    def restart(self):
        """Stops the daemon and starts it again on the same data dir and ports."""
        self.stop()
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.environ)
        self.wait_ready()

    def url(self, path):
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.web_port, path)

    def wait_ready(self, timeout=5.0):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("floe exited early (%s): %s" % (self.proc.returncode, self.logtext()))
            try:
                self.get_raw("/static/app.js", token=None)
                return
            except urllib.error.HTTPError:
                return  # it answers
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise AssertionError("floe did not answer on HTTP: " + self.logtext())

    def get_raw(self, path, token="", headers=None, method=None, data=None, context=None):
        """One request; token "" means the daemon's own, None none."""
        h = dict(headers or {})
        token = self.token if token == "" else token
        if token:
            h["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.url(path), headers=h, method=method, data=data)
        with urllib.request.urlopen(req, timeout=5 * SLOW, context=context or self.context) as r:
            return r.status, r.headers, r.read()

    def get(self, path):
        status, headers, body = self.get_raw(path)
        return json.loads(body)

    def status(self):
        return self.get("/api/v1/status")

    def request(self, method, path, body=None):
        """(HTTP status, parsed JSON) of a request with a JSON body, errors included."""
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        try:
            status, _, raw = self.get_raw(path, method=method, data=data)
            return status, json.loads(raw)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def send(self, payload, port=None, family=socket.AF_INET):
        s = socket.socket(family, socket.SOCK_DGRAM)
        host = "127.0.0.1" if family == socket.AF_INET else "::1"
        s.sendto(payload, (host, port or self.udp_port))
        s.close()

    def wait_for(self, predicate, timeout=5.0):
        """Polls the status until predicate(status) holds; returns the status."""
        deadline = time.time() + timeout * SLOW
        st = self.status()
        while not predicate(st) and time.time() < deadline:
            time.sleep(0.05)
            st = self.status()
        return st

    def logtext(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the daemon and returns (exit code, seconds it took)."""
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        if VALGRIND and rc == 99:
            raise AssertionError("valgrind found errors:\n" + self.logtext())
        return rc, time.time() - t0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()
        self.log.close()
        self.tmp.cleanup()


# ---- NetFlow v5 datagrams, built from the v5 layout -------------------------

def v5_datagram(count, seq, engine_id=0, uptime=3600000, unix_secs=1700000000,
                sampling=0, base_bytes=100):
    """A v5 datagram of `count` records; record i carries base_bytes + i octets
    and i + 1 packets."""
    hdr = struct.pack("!HHIIIIBBH", 5, count, uptime, unix_secs, 0, seq, 0, engine_id, sampling)
    recs = b""
    for i in range(count):
        recs += struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH",
                            bytes([10, 0, i // 256, i % 256]), bytes([192, 0, 2, 1]),
                            bytes([0, 0, 0, 0]), 1, 2, i + 1, base_bytes + i,
                            uptime - 1000, uptime - 10, 1024 + i, 80, 0, 0x12, 6, 0, 0, 0, 0, 0, 0)
    return hdr + recs


def v5_sums(count, base_bytes=100):
    return sum(base_bytes + i for i in range(count)), sum(i + 1 for i in range(count))


# ---- pcap files -------------------------------------------------------------

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return (~s) & 0xffff


def ipv4_frame(src, dst, proto, l4):
    """An Ethernet frame carrying an IPv4 packet with payload l4."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0,
                     bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + l4


def udp_frame(src, dst, sport, dport, payload):
    return ipv4_frame(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def tcp_frame(src, dst, sport, dport, payload_len, flags=0x18):
    l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + bytes(payload_len)
    return ipv4_frame(src, dst, 6, l4)


def pcap_write(path, frames):
    """frames: (timestamp seconds, bytes) pairs; writes classic pcap, Ethernet."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for ts, data in frames:
            f.write(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)) % 1000000,
                                len(data), len(data)))
            f.write(data)


# ---- IPFIX and sFlow datagrams, built from RFC 7011 and sFlow v5 ------------

def ipfix_template_set(tid, fields):
    """fields: (element id, length) or (element id, length, enterprise)."""
    body = struct.pack("!HH", tid, len(fields))
    for f in fields:
        if len(f) == 3:
            body += struct.pack("!HHI", f[0] | 0x8000, f[1], f[2])
        else:
            body += struct.pack("!HH", f[0], f[1])
    return struct.pack("!HH", 2, 4 + len(body)) + body


def ipfix_options_template_set(tid, scope_fields, fields):
    """An IPFIX options template (set id 3); fields as (element id, length)."""
    allf = scope_fields + fields
    body = struct.pack("!HHH", tid, len(allf), len(scope_fields))
    body += b"".join(struct.pack("!HH", f[0], f[1]) for f in allf)
    body += b"\0" * ((4 - len(body) % 4) % 4)
    return struct.pack("!HH", 3, 4 + len(body)) + body


def ipfix_data_set(tid, records):
    body = b"".join(records)
    return struct.pack("!HH", tid, 4 + len(body)) + body


def ipfix_message(sets, domain=1, seq=0, export_time=1700000000):
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), export_time, seq, domain) + body


def ipv4(text):
    return socket.inet_aton(text)


def sflow_flow_sample(header, frame_length, sampling_rate, seq=1, source=3, inp=3, out=4):
    """One compact flow sample holding one raw packet header record (Ethernet)."""
    pad = (4 - len(header) % 4) % 4
    rec = struct.pack("!IIII", 1, frame_length, 4, len(header)) + header + b"\0" * pad
    rec = struct.pack("!II", 1, len(rec)) + rec
    body = struct.pack("!IIIIIIII", seq, source, sampling_rate, seq * sampling_rate, 0, inp, out, 1) + rec
    return struct.pack("!II", 1, len(body)) + body


def sflow_datagram(samples, agent="192.0.2.200", sub_agent=0, seq=1, uptime=100000):
    hdr = struct.pack("!II4sIIII", 5, 1, socket.inet_aton(agent), sub_agent, seq, uptime, len(samples))
    return hdr + b"".join(samples)


def pcap_udp_payloads(path):
    """UDP payloads of an Ethernet or Linux-cooked classic pcap, in order."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    l2 = {1: 14, 113: 16}.get(link)
    off, out = 24, []
    while l2 and off + 16 <= len(data):
        caplen = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        l3 = l2
        etype = struct.unpack("!H", pkt[l3 - 2:l3])[0]
        while etype == 0x8100:
            l3 += 4
            etype = struct.unpack("!H", pkt[l3 - 2:l3])[0]
        if etype == 0x0800:
            udp = l3 + (pkt[l3] & 15) * 4
        elif etype == 0x86dd:
            udp = l3 + 40
        else:
            continue
        ulen = struct.unpack("!H", pkt[udp + 4:udp + 6])[0]
        out.append(pkt[udp + 8:udp + ulen])
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
