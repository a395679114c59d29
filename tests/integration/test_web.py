#!/usr/bin/env python3
"""Authentication and security of the web server, through the real daemon:
every route in the live route table refuses a request without credentials
(so a route added later cannot forget it), sessions and their cookie, CSRF,
bearer tokens, login rate limits, the admin password (configured,
generated, changed, kept across restarts), HTTPS, static assets that cannot
reach the data directory, security headers, escaping and size limits."""
import http.client
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, SLOW, Daemon, free_port  # noqa: E402

PUBLIC = {("GET", "/static/"), ("GET", "/favicon.ico"), ("GET", "/login"), ("POST", "/login")}


def request(d, method, path, headers=None, body=None, tls=False):
    """One request without following redirects: (status, headers, body)."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", d.web_port, timeout=10 * SLOW,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", d.web_port, timeout=10 * SLOW)
    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
        headers = dict(headers or {}, **{"Content-Type": "application/x-www-form-urlencoded"})
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
    out[1]["set-cookie-all"] = cookies
    conn.close()
    return out


def login(d, password, tls=False, client_headers=None):
    """Logs in; returns (status, session cookie or None, headers)."""
    st, h, _ = request(d, "POST", "/login", client_headers,
                       {"username": "admin", "password": password, "next": "/hosts"}, tls=tls)
    m = re.search(r"floe_session=([0-9a-f]{64})", h.get("set-cookie", ""))
    return st, (m.group(1) if m else None), h


def csrf_of(d, cookie):
    st, _, body = request(d, "GET", "/", {"Cookie": "floe_session=" + cookie})
    assert st == 200, st
    return re.search(rb'name="csrf-token" content="([0-9a-f]{64})"', body).group(1).decode()


def concrete(path, prefix):
    """A path a route answers: prefixes get an argument."""
    if not prefix:
        return path
    return path + {"/hosts/": "192.0.2.1", "/api/v1/hosts/": "192.0.2.1",
                   "/plugins/": "p/page"}.get(path, "x")


class Routes(unittest.TestCase):
    def test_every_route_needs_credentials(self):
        with Daemon() as d:
            routes = d.get("/api/v1/routes")["routes"]
            seen = {(r["method"], r["path"]) for r in routes}
            for must in [("GET", "/api/v1/status"), ("GET", "/"), ("GET", "/hosts/"),
                         ("POST", "/logout"), ("GET", "/metrics"), ("GET", "/api/v1/routes")]:
                self.assertIn(must, seen)
            public = {(r["method"], r["path"]) for r in routes if r["public"]}
            self.assertEqual(public, PUBLIC, "the public routes")
            checked = 0
            for r in routes:
                if r["public"]:
                    continue
                path = concrete(r["path"], r["prefix"])
                for creds in ({}, {"Cookie": "floe_session=" + "0" * 64},
                              {"Authorization": "Bearer not-the-token-at-all"}):
                    st, h, body = request(d, r["method"], path, creds, b"" if r["method"] != "GET" else None)
                    api = path.startswith(("/api/", "/chart/")) or path == "/metrics"
                    if r["method"] == "GET" and not api and "Authorization" not in creds:
                        self.assertEqual(st, 303, "%s %s %s" % (r["method"], path, creds))
                        self.assertTrue(h["location"].startswith("/login?next="), h["location"])
                    else:
                        self.assertEqual(st, 401, "%s %s %s: %s" % (r["method"], path, creds, body))
                        self.assertIn(b"error", body)
                    checked += 1
                # With the token, the same route does not say 401.
                st, _, _ = request(d, r["method"], path, {"Authorization": "Bearer " + d.token},
                                   b"" if r["method"] != "GET" else None)
                self.assertNotEqual(st, 401, "%s %s with the token" % (r["method"], path))
            self.assertGreater(checked, 3 * 15)

    def test_public_routes_and_unknown_paths(self):
        with Daemon() as d:
            self.assertEqual(request(d, "GET", "/login")[0], 200)
            self.assertEqual(request(d, "GET", "/static/app.js")[0], 200)
            self.assertEqual(request(d, "GET", "/favicon.ico")[0], 200)
            # Unknown paths look like any other without credentials.
            self.assertEqual(request(d, "GET", "/no/such/page")[0], 303)
            self.assertEqual(request(d, "GET", "/api/v1/nothing")[0], 401)
            auth = {"Authorization": "Bearer " + d.token}
            self.assertEqual(request(d, "GET", "/api/v1/nothing", auth)[0], 404)
            self.assertEqual(request(d, "DELETE", "/api/v1/status", auth)[0], 405)


class Sessions(unittest.TestCase):
    def test_login_cookie_csrf_logout(self):
        with Daemon() as d:
            st, cookie, h = login(d, "wrong password")
            self.assertEqual((st, cookie), (401, None))
            st, cookie, h = login(d, d.password)
            self.assertEqual(st, 303)
            self.assertEqual(h["location"], "/hosts")
            attrs = [a.strip() for a in h["set-cookie"].split(";")]
            for a in ("Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"):
                self.assertIn(a, attrs)
            self.assertNotIn("Secure", attrs)  # plain HTTP
            c = {"Cookie": "floe_session=" + cookie}
            self.assertEqual(request(d, "GET", "/api/v1/status", c)[0], 200)
            token = csrf_of(d, cookie)
            # A state change with the cookie needs the token, and an Origin
            # (when sent) of this server.
            self.assertEqual(request(d, "POST", "/logout", c, b"")[0], 403)
            self.assertEqual(request(d, "POST", "/logout", dict(c, **{"X-CSRF-Token": "0" * 64}), b"")[0], 403)
            bad_origin = dict(c, **{"X-CSRF-Token": token, "Origin": "http://evil.example"})
            self.assertEqual(request(d, "POST", "/logout", bad_origin, b"")[0], 403)
            st, h, _ = request(d, "POST", "/logout", c, {"csrf": token})
            self.assertEqual((st, h["location"]), (303, "/login"))
            self.assertIn("Max-Age=0", h["set-cookie"])
            self.assertEqual(request(d, "GET", "/api/v1/status", c)[0], 401)

    def test_bearer_token(self):
        with Daemon() as d:
            self.assertEqual(request(d, "GET", "/api/v1/status", {"Authorization": "Bearer " + d.token})[0], 200)
            st, h, _ = request(d, "GET", "/api/v1/status", {"Authorization": "Bearer " + d.token + "x"})
            self.assertEqual(st, 401)
            self.assertIn("invalid_token", h["www-authenticate"])
            # Bearer requests need no CSRF token: the request reaches the handler.
            st, _, body = request(d, "POST", "/account/password", {"Authorization": "Bearer " + d.token},
                                  {"old": "wrong password", "new": "newpassword1", "confirm": "newpassword1"})
            self.assertEqual(st, 403)
            self.assertIn(b"current password is wrong", body)
        with Daemon(token=None) as d:  # no token configured: no bearer access
            self.assertEqual(request(d, "GET", "/api/v1/status", {"Authorization": "Bearer " + "x" * 32})[0], 401)

    def test_login_rate_limit(self):
        with Daemon() as d:
            codes = [login(d, "wrong password %d" % i)[0] for i in range(5)]
            self.assertEqual(codes, [401] * 5)
            st, cookie, h = login(d, d.password)
            self.assertEqual((st, cookie), (429, None))
            self.assertIn("retry-after", h)

    def test_session_lifetime_is_configurable(self):
        with Daemon(config="web_session_ttl = 60\n") as d:
            st, cookie, h = login(d, d.password)
            self.assertIn("Max-Age=60", h["set-cookie"])


class Password(unittest.TestCase):
    def change(self, d, old, new):
        st, cookie, _ = login(d, old)
        self.assertEqual(st, 303)
        c = {"Cookie": "floe_session=" + cookie}
        st, _, body = request(d, "POST", "/account/password", c,
                              {"csrf": csrf_of(d, cookie), "old": old, "new": new, "confirm": new})
        self.assertEqual(st, 200, body)
        self.assertIn(b"Password changed", body)
        return cookie

    def test_change_survives_restart_until_the_configured_one_changes(self):
        with tempfile.TemporaryDirectory() as data:
            with Daemon(data=data) as d:
                cookie = self.change(d, d.password, "changed on the page")
                # The session that changed it stays; the others end.
                self.assertEqual(request(d, "GET", "/api/v1/status", {"Cookie": "floe_session=" + cookie})[0], 200)
                mode = stat.S_IMODE(os.stat(os.path.join(data, "web-password")).st_mode)
                self.assertEqual(mode, 0o600)
                old_password = d.password
            with Daemon(data=data, password=old_password) as d:
                self.assertEqual(login(d, "changed on the page")[0], 303)
                self.assertEqual(login(d, old_password)[0], 401)
            with Daemon(data=data, password="a different configured one") as d:
                self.assertEqual(login(d, "a different configured one")[0], 303)
                self.assertEqual(login(d, "changed on the page")[0], 401)

    def test_generated_password(self):
        with Daemon(password=None) as d:
            path = os.path.join(d.data, "initial-admin-password")
            deadline = time.time() + 10 * SLOW
            while not os.path.exists(path) and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            password = open(path).read().strip()
            self.assertGreaterEqual(len(password), 16)
            # The file is written on a worker thread, the log line after it.
            while password not in d.logtext() and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn(password, d.logtext())
            self.assertNotIn(password, open(os.path.join(d.data, "web-password")).read())
            self.change(d, password, "my own password")
            self.assertFalse(os.path.exists(path), "the initial password file is removed once changed")

    def test_reload_applies_a_new_configured_password(self):
        with Daemon(config='web_password = "first password"\n', password=None) as d:
            self.assertEqual(login(d, "first password")[0], 303)
            with open(d.config_path, "w") as f:
                f.write('web_password = "second password"\n')
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10 * SLOW
            while login(d, "second password")[0] != 303 and time.time() < deadline:
                time.sleep(0.2)
            self.assertEqual(login(d, "second password")[0], 303)

    def test_change_checks_its_input(self):
        with Daemon() as d:
            st, cookie, _ = login(d, d.password)
            c = {"Cookie": "floe_session=" + cookie}
            token = csrf_of(d, cookie)
            for form, why in (({"old": d.password, "new": "short", "confirm": "short"}, b"too short"),
                              ({"old": d.password, "new": "longenough1", "confirm": "longenough2"}, b"differ"),
                              ({"new": "longenough1", "confirm": "longenough1"}, b"current password")):
                st, _, body = request(d, "POST", "/account/password", c, dict(form, csrf=token))
                self.assertEqual(st, 400)
                self.assertIn(why, body)


class Settings(unittest.TestCase):
    def run_floe(self, env, *args):
        with tempfile.TemporaryDirectory() as tmp:
            e = dict(os.environ, **env)
            p = subprocess.run([FLOE_BIN, "run", "--data", tmp, "--web", "127.0.0.1:%d" % free_port(socket.SOCK_STREAM),
                                "--listen", "127.0.0.1:%d" % free_port()] + list(args), env=e,
                               capture_output=True, text=True, timeout=20 * SLOW)
            return p.returncode, p.stderr

    def test_short_token_is_refused(self):
        rc, err = self.run_floe({"FLOE_API_TOKEN": "short"})
        self.assertNotEqual(rc, 0)
        self.assertIn("FLOE_API_TOKEN must be 16 characters", err)
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as f:
            f.write('web_token = "short"\n')
            f.flush()
            p = subprocess.run([FLOE_BIN, "config", "--check", f.name], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("web_token", p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1)

    def test_tls(self):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"], check=True,
                           capture_output=True)
            conf = 'web_tls_cert = "%s"\nweb_tls_key = "%s"\n' % (cert, key)
            with Daemon(config=conf, scheme="https", context=ssl._create_unverified_context()) as d:
                self.assertEqual(d.status()["version"], "0.1.0")
                st, cookie, h = login(d, d.password, tls=True)
                self.assertEqual(st, 303)
                self.assertIn("Secure", [a.strip() for a in h["set-cookie"].split(";")])
                self.assertIn("https://", d.logtext())
            bad = os.path.join(tmp, "floe.conf.lua")
            with open(bad, "w") as f:
                f.write('web_tls_cert = "%s/missing.pem"\nweb_tls_key = "%s"\n' % (tmp, key))
            rc, err = self.run_floe({}, "-c", bad)
            self.assertNotEqual(rc, 0)
            self.assertRegex(err, r"web_tls_cert .*missing\.pem")
            with open(bad, "w") as f:  # a key that is not the certificate's
                f.write('web_tls_cert = "%s"\nweb_tls_key = "%s"\n' % (cert, cert))
            rc, err = self.run_floe({}, "-c", bad)
            self.assertNotEqual(rc, 0)
            self.assertIn("web_tls", err)


class Hardening(unittest.TestCase):
    def test_static_assets_cannot_reach_the_data_directory(self):
        with Daemon() as d:
            st, h, body = request(d, "GET", "/static/app.js")
            self.assertEqual(st, 200)
            self.assertTrue(h["content-type"].startswith("text/javascript"))
            self.assertEqual(h["cache-control"], "no-cache")
            page = request(d, "GET", "/login")[2].decode()
            versioned = re.search(r'src="(/static/app\.js\?v=[0-9a-f]+)"', page).group(1)
            self.assertIn("immutable", request(d, "GET", versioned)[1]["cache-control"])
            open(os.path.join(d.data, "secret.txt"), "w").write("secret")
            for p in ("/static/../web-password", "/static/%2e%2e/web-password", "/static/..%2fweb-password",
                      "/static/web-password", "/static/secret.txt", "/static//etc/passwd",
                      "/static/" + d.data + "/secret.txt", "/web-password", "/secret.txt"):
                for creds in ({}, {"Authorization": "Bearer " + d.token}):
                    st, _, body = request(d, "GET", p, creds)
                    self.assertIn(st, (303, 401, 404), p)
                    self.assertNotIn(b"secret", body)
                    self.assertNotIn(b"$y$", body)

    def test_security_headers_on_every_answer(self):
        with Daemon() as d:
            auth = {"Authorization": "Bearer " + d.token}
            for method, path, h in (("GET", "/login", {}), ("GET", "/", {}), ("GET", "/", auth),
                                    ("GET", "/api/v1/status", auth), ("GET", "/api/v1/status", {}),
                                    ("GET", "/api/v1/nothing", auth), ("GET", "/static/app.css", {})):
                st, headers, _ = request(d, method, path, h)
                csp = headers["content-security-policy"]
                self.assertIn("script-src 'self'", csp)
                self.assertIn("frame-ancestors 'none'", csp)
                self.assertNotIn("unsafe", csp)
                self.assertEqual(headers["x-frame-options"], "DENY")
                self.assertEqual(headers["x-content-type-options"], "nosniff")

    def test_pages_escape_what_they_show(self):
        with Daemon() as d:
            evil = '/x"><img src=x onerror=alert(1)>'
            st, _, body = request(d, "GET", "/login?next=" + urllib.parse.quote(evil))
            self.assertEqual(st, 200)
            self.assertNotIn(b"<img", body)
            auth = {"Authorization": "Bearer " + d.token}
            st, _, body = request(d, "GET", "/hosts/" + urllib.parse.quote("<script>alert(1)</script>"), auth)
            self.assertEqual(st, 404)
            self.assertNotIn(b"<script>alert", body)
            st, _, body = request(d, "GET", "/plugins/" + urllib.parse.quote("<b>/x"), auth)
            self.assertEqual(st, 404)
            self.assertNotIn(b"<b>", body)
            # A host page shows the address in canonical form, escaped.
            st, _, body = request(d, "GET", "/hosts/2001:DB8::1", auth)
            self.assertEqual(st, 200)
            self.assertIn(b'data-arg="2001:db8::1"', body)

    def test_login_redirects_only_to_this_server(self):
        with Daemon() as d:
            for nxt, want in (("/flows?host=10.0.0.1", "/flows?host=10.0.0.1"), ("//evil.example/", "/"),
                              ("https://evil.example/", "/"), ("/\\evil.example", "/")):
                st, h, _ = request(d, "POST", "/login", None,
                                   {"username": "admin", "password": d.password, "next": nxt})
                self.assertEqual((st, h["location"]), (303, want), nxt)

    def test_request_size_limit(self):
        with Daemon() as d:
            st, _, _ = request(d, "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"},
                               b"password=" + b"x" * (2 << 20))
            self.assertEqual(st, 413)


if __name__ == "__main__":
    unittest.main(verbosity=2)
