#!/usr/bin/env python3
"""Golden tests: every folder here holds a real capture and the summary that
tshark (or, where tshark is wrong, the upstream project) expects. For each,
`floe decode --format summary` must match expected.json key by key (the
export datagrams of each protocol, datagrams_by_proto, against by_proto's
datagrams; see make_golden.py for what each figure means), and the
first records of `floe decode --format ndjson` must match
tshark-records.json field by field. Where a folder has a twin.pcap (the same
datagrams whole, where capture.pcap has them in IP fragments), both must
decode to the same records.

Folders listed in golden/PENDING are decoded but not judged: they name captures
whose decoder has not landed yet. An empty PENDING is the goal.

usage: run_golden.py [FILTER]   (FILTER: only folders whose name contains it)
"""
import json
import os
import subprocess
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
FLOE = os.environ.get("FLOE_BIN", os.path.join(os.getcwd(), "floe"))
COMPARED = ("records", "options_records", "bytes", "packets", "missing_template", "malformed",
            "counter_samples", "templates", "options_templates", "discard_samples",
            "reverse_bytes", "reverse_packets")


def pending():
    path = os.path.join(HERE, "PENDING")
    if not os.path.exists(path):
        return set()
    return {l.split("#")[0].strip() for l in open(path) if l.split("#")[0].strip()}


def decode(fmt, capture):
    r = subprocess.run([FLOE, "decode", "--format", fmt, capture], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError("floe decode failed (%d): %s" % (r.returncode, r.stderr.strip()))
    return r.stdout


def check_summary(d, capture):
    exp = json.load(open(os.path.join(d, "expected.json")))
    got = json.loads(decode("summary", capture))
    errors = []
    for k in COMPARED:
        if k in exp and got.get(k) != exp[k]:
            errors.append("%s: floe %s, expected %s" % (k, got.get(k), exp[k]))
    if "datagrams_by_proto" in exp:
        # Export datagrams of each protocol; a protocol floe names that the
        # manifest does not (or the reverse) is a difference too.
        by = {p: c.get("datagrams") for p, c in got.get("by_proto", {}).items()}
        if by != exp["datagrams_by_proto"]:
            errors.append("datagrams by protocol: floe %s, expected %s"
                          % (json.dumps(by, sort_keys=True),
                             json.dumps(exp["datagrams_by_proto"], sort_keys=True)))
    return errors


def check_records(d, capture):
    path = os.path.join(d, "tshark-records.json")
    if not os.path.exists(path):
        return []
    want = json.load(open(path))
    got = [json.loads(l) for l in decode("ndjson", capture).splitlines()[:len(want)]]
    errors = []
    if len(got) < len(want):
        errors.append("floe gave %d records, tshark %d" % (len(got), len(want)))
    for i, (w, g) in enumerate(zip(want, got)):
        for k, v in w.items():
            if g.get(k) != v:
                errors.append("record %d %s: floe %s, tshark %s" % (i + 1, k, g.get(k), v))
    return errors


def check_twin(d, capture):
    """A capture of fragments decodes as its twin of whole datagrams does."""
    twin = os.path.join(d, "twin.pcap")
    if not os.path.exists(twin):
        return []
    a, b = decode("ndjson", capture).splitlines(), decode("ndjson", twin).splitlines()
    if a == b:
        return []
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return ["differs from twin.pcap: %d records against %d, first difference at record %d"
            % (len(a), len(b), first + 1)]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    skip = pending()
    dirs = sorted(e for e in os.listdir(HERE)
                  if os.path.isfile(os.path.join(HERE, e, "expected.json")) and only in e)
    failed = passed = held = 0
    for name in dirs:
        d = os.path.join(HERE, name)
        capture = os.path.join(d, "capture.pcap")
        try:
            errors = check_summary(d, capture) + check_records(d, capture) + check_twin(d, capture)
        except (AssertionError, subprocess.TimeoutExpired, ValueError) as e:
            errors = [str(e)]
        if name in skip:
            held += 1
            print("PEND %s%s" % (name, "" if errors else " (passes: remove it from PENDING)"))
            continue
        if errors:
            failed += 1
            print("FAIL %s" % name)
            for e in errors[:10]:
                print("     " + e)
        else:
            passed += 1
            print("ok   %s" % name)
    print("%d passed, %d failed, %d pending" % (passed, failed, held))
    return 1 if failed or not dirs else 0


if __name__ == "__main__":
    sys.exit(main())
