#!/usr/bin/env python3
"""The docs must match the code: the example config is what `floe config
--example` prints, and every option and config key is in the man page and
the README."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from floetest import FLOE_BIN, SRCDIR  # noqa: E402


def floe(*args):
    return subprocess.run([FLOE_BIN] + list(args), capture_output=True, text=True, check=True).stdout


def config_keys(example):
    keys, group = [], None
    for line in example.splitlines():
        m = re.match(r"^(\w+) = \{$", line)
        if m:
            group = m.group(1)
            continue
        if line == "}":
            group = None
            continue
        m = re.match(r"^\s*(\w+) = ", line)
        if m:
            keys.append("%s.%s" % (group, m.group(1)) if group else m.group(1))
    return keys


class Docs(unittest.TestCase):
    def setUp(self):
        self.man = open(os.path.join(SRCDIR, "docs", "floe.1")).read().replace("\\-", "-")
        self.readme = open(os.path.join(SRCDIR, "README.md")).read()

    def test_example_config_is_generated(self):
        with open(os.path.join(SRCDIR, "etc", "floe.conf.lua")) as f:
            self.assertEqual(f.read(), floe("config", "--example"),
                             "etc/floe.conf.lua is stale: regenerate it with floe config --example")

    def test_every_option_is_documented(self):
        for cmd in (("run", "--help"), ("decode", "--help"), ("replay", "--help")):
            for opt in set(re.findall(r"(--[a-z][a-z-]+)", floe(*cmd))):
                self.assertIn(opt, self.man, "man page lacks %s" % opt)
                self.assertIn(opt, self.readme, "README lacks %s" % opt)

    def test_every_command_is_documented(self):
        for cmd in re.findall(r"^  (\w+)\s{2,}", floe("--help"), re.M):
            self.assertIn("floe " + cmd, self.man, "man page lacks floe %s" % cmd)
            self.assertIn("floe " + cmd, self.readme, "README lacks floe %s" % cmd)

    def test_every_config_key_is_documented(self):
        keys = config_keys(floe("config", "--example"))
        self.assertGreater(len(keys), 8)
        for key in keys:
            self.assertIn(key, self.man, "man page lacks config key %s" % key)
            self.assertIn("`%s`" % key, self.readme, "README lacks config key %s" % key)


if __name__ == "__main__":
    unittest.main(verbosity=2)
