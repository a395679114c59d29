#!/usr/bin/env python3
"""Checks that no folder depends on a folder above it.

Each module folder has a rank; a file may include headers from its own
folder and from folders of a lower rank, never from its own rank's peers or
above. This is how floe keeps its layering (docs/design.md, "Layers"):
util at the bottom, then decoders, then the tables, the leaf stores and the
service probes, the plugin runtime, the engine that owns them all, the web
server on the engine, and the command line and daemon at the top. tests/,
bench/ and tools/ may include anything.
"""
import os
import re
import sys

RANKS = {
    "util": 0,
    "decoders": 1,
    "tables": 2, "alerts": 2, "rrd": 2, "probes": 2, "history": 2,
    "plugins": 3,
    "engine": 4,
    "www": 5,
    "collector": 6,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^/"]+)/[^"]+"', re.M)


def main():
    top = os.environ.get("FLOE_SRCDIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    errors, checked = [], 0
    for folder, rank in sorted(RANKS.items()):
        d = os.path.join(top, folder)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h", ".def")):
                continue
            text = open(os.path.join(d, name), encoding="utf-8", errors="replace").read()
            for dep in INCLUDE.findall(text):
                checked += 1
                if dep == folder:
                    continue
                if dep not in RANKS:
                    errors.append("%s/%s includes from %s/, which has no rank" % (folder, name, dep))
                elif RANKS[dep] >= rank:
                    errors.append("%s/%s (rank %d) includes from %s/ (rank %d)"
                                  % (folder, name, rank, dep, RANKS[dep]))
    for e in errors:
        print("FAIL " + e)
    print("%d includes checked, %d against the layering" % (checked, len(errors)))
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
