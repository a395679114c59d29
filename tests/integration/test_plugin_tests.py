#!/usr/bin/env python3
"""`floe plugin test`: every built-in plugin's own tests pass, and the
runner does fail, saying what was expected and what happened, when a test
expects what the plugin does not do."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, SRCDIR  # noqa: E402

BUILTIN = os.path.join(SRCDIR, "plugins", "builtin")


def plugin_test(path):
    return subprocess.run([FLOE_BIN, "plugin", "test", path], capture_output=True, text=True,
                          timeout=300)


class BuiltinPluginTests(unittest.TestCase):
    def test_every_builtin_plugin_passes_its_tests(self):
        names = sorted(n for n in os.listdir(BUILTIN)
                       if os.path.isfile(os.path.join(BUILTIN, n, "manifest.lua")))
        self.assertTrue(names)
        for name in names:
            with self.subTest(plugin=name):
                self.assertTrue(os.listdir(os.path.join(BUILTIN, name, "tests")),
                                "%s has no tests" % name)
                out = plugin_test(os.path.join(BUILTIN, name))
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertIn("%s: passed" % name, out.stdout)
                self.assertNotIn("FAIL", out.stdout)


class RunnerFails(unittest.TestCase):
    def test_a_wrong_expectation_fails_with_both_sides(self):
        with tempfile.TemporaryDirectory(prefix="floe-plugin-test-") as tmp:
            root = os.path.join(tmp, "p")
            for rel, text in {
                "manifest.lua": "return {}\n",
                "status_definitions/s.lua": "return { score = 10 }\n",
                "checks/flow/c.lua":
                    "return { filter = { server_ports = { 22 } }, hooks = { protocolDetected = "
                    "function(flow, conf) flow:setStatus('s') end } }\n",
                "tests/t.lua":
                    "return { wrong = function()\n"
                    "  local f = test.flow { server_port = 443 }\n"
                    "  test.expect_status(f, 's')\n"
                    "end, right = function()\n"
                    "  test.expect_status(test.flow { server_port = 22 }, 's')\n"
                    "  test.eq(1 + 1, 2, 'sum')\n"
                    "end }\n",
            }.items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w") as f:
                    f.write(text)
            out = plugin_test(root)
            self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
            self.assertIn("FAIL p/tests/t.lua: wrong", out.stdout)
            self.assertIn("expected status p.s on flow 10.0.0.1:40000 -> 192.0.2.1:443/6; "
                          "it has: none", out.stdout)
            self.assertIn("ok   p/tests/t.lua: right (2 expectations)", out.stdout)

    def test_no_tests_is_an_error(self):
        with tempfile.TemporaryDirectory(prefix="floe-plugin-test-") as tmp:
            out = plugin_test(tmp)
            self.assertEqual(out.returncode, 2)
            self.assertIn("no tests", out.stderr)


if __name__ == "__main__":
    unittest.main()
