#!/usr/bin/env python3
"""Builds tests/golden/ from ../shared/captures: one folder per distinct
capture, NNN-<proto>-<source>-<feature>/, holding

  capture.pcap          the capture, copied (licenses in tests/golden/LICENSES)
  SOURCE                where it comes from, its license and vendor
  expected.json         the summary floe must print, from manifest.tsv, i.e.
                        from tshark; OVERRIDES below name the few cases where
                        tshark is wrong and the upstream project's expectation
                        is used instead, each with its reason
  tshark-records.json   the first records as tshark decodes them (fields that
                        floe's NDJSON also has), for a field-by-field check

This is run by a developer when the capture set changes, never by the tests,
and never from floe's own output.

Besides records, options_records, bytes, packets, missing_template,
malformed and counter_samples, expected.json carries these manifest figures,
each only where it means what floe's summary key means:

  datagrams_by_proto  from export_packets ("NFv9:10", "IPFIX:3,NFv9:2", ...):
                      tshark's export datagrams of each protocol, compared
                      with by_proto.<proto>.datagrams (floe counts a datagram
                      it rejects at the header there too, as tshark counts
                      the frame it calls malformed). Never the summary's top
                      level `datagrams`: that also counts UDP datagrams no
                      decoder recognised, and a pcap may hold other frames.
  templates,          v9 and IPFIX only. The manifest's notes say
  options_templates   "templates=N options_templates=M": every template
                      (options template) record tshark dissected in a
                      template (options template) set, over all datagrams,
                      refreshes included, not distinct ids and not sets
                      (tools/analyze.py). build_manifest.py writes the note
                      whenever N + M > 0, so a v9 or IPFIX row without it
                      means 0 and 0. floe's `templates` counts template
                      records accepted, refreshes included (nf9ipfix.c
                      nf_template_set: dec__tmpl_define returned 0), which
                      is the same count except for records of field count
                      0: tshark lists them as templates ("Template (Id = N,
                      Count = 0)", "Options Template (Id = N)"), while floe
                      counts an IPFIX one as a withdrawal and rejects a v9
                      one as malformed, never as a template. So the figure
                      compared is the manifest's minus the field-count-0
                      records tshark shows (none in the current set).
                      Before using it, tshark is run again and its recount
                      must equal the manifest's N and M, or this script
                      stops.
  discard_samples     sFlow only. The manifest tallies every sample tshark
                      walks by its type, and names each type other than flow
                      and counter samples in notes ("other_samples=
                      other_samples_type5 x1"); type 5 is sflow_drops.txt's
                      discarded packet, which tshark 4.0 walks over but does
                      not dissect, and which telegraf (sflow_issue_15375)
                      and Cistern (event_discarded_packet) name. A row
                      without type 5 means 0, provided tshark walked every
                      sample: its samples must add up to the headers'
                      sample counts and its type-5 tally must equal the
                      manifest's, or this script stops.

A figure the manifest has but that does not mean what floe counts for one
capture goes in NOT_COMPARED with its reason (kept in expected.json under
"not_compared"); none is left out silently.

usage: make_golden.py CAPTURES_DIR OUT_DIR
"""
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

# Where tshark is not the last word (see the captures README). Each value
# replaces manifest figures; "why" is kept in expected.json.
OVERRIDES = {
    "derived_pcaps/logstash_sequences/Netflow_5_invalid_01.pcap": {
        "records": 0, "bytes": 0, "packets": 0, "malformed": 1,
        "why": "deliberately invalid (v5 count 55582 > 30); tshark decodes garbage, "
               "a collector must reject it (captures README)"},
    "derived_pcaps/logstash_sequences/Netflow_5_invalid_02.pcap": {
        "records": 0, "bytes": 0, "packets": 0, "malformed": 1,
        "why": "deliberately invalid (v5 count 163 > 30); tshark decodes garbage, "
               "a collector must reject it (captures README)"},
    "derived_pcaps/logstash_sequences/Netflow_9_invalid_01.pcap": {
        "records": 0, "bytes": 0, "packets": 0, "malformed": 1,
        "why": "deliberately invalid (header count 2, six flowsets); a collector must "
               "reject it (captures README)"},
    "derived_pcaps/logstash_sequences/Netflow_9_H3C.pcap": {
        "records": 16, "bytes": 8729687, "packets": 6113,
        "why": "tshark stops after record 1 of 16 (IE 43 with length 2); the logstash spec "
               "expects 16 records and the beats golden sums 8729687 octets and 6113 "
               "packets (manifest notes)"},
}

# Manifest figures that are not comparable for one capture: the key is left
# out of expected.json and the reason kept under "not_compared". Empty: every
# figure above is comparable on every capture of the set.
NOT_COMPARED = {}

PROTO_SLUG = {"NetFlow v5": "v5", "NetFlow v9": "v9", "IPFIX": "ipfix", "sFlow v5": "sflow"}
PROTO_BASE = {"v5": 0, "v9": 100, "ipfix": 200, "sflow": 300}
MAX_RECORDS = 20


def slug(text):
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return re.sub(r"-+", "-", s)


def feature_name(path, proto):
    stem = os.path.splitext(os.path.basename(path))[0]
    parent = os.path.basename(os.path.dirname(path))
    if stem.startswith("traffic-"):
        stem = parent + "-" + stem
    s = slug(stem)
    for prefix in ("netflow-9-", "netflow9-", "netflow-5-", "netflow5-", "ipfix-", "sflow-",
                   "cistern-sflow-dumps-", "logstash-codec-sflow-dat-"):
        if s.startswith(prefix) and len(s) > len(prefix):
            s = s[len(prefix):]
    source = {"logstash_sequences": "logstash", "telegraf_sequences": "telegraf",
              "sflow_raw_singles": "cistern" if "cistern" in stem else "logstash"}.get(parent)
    if source is None:
        source = path.split("/")[0].replace("_tests", "").replace("_", "")
    return "%s-%s" % (slug(source), s[:48].strip("-"))


def note_value(notes, key):
    m = re.search(r"\b%s=(\d+)" % re.escape(key), notes)
    return int(m.group(1)) if m else 0


def expected_from_row(row, proto):
    if proto == "sflow":
        exp = {"records": int(row["sflow_flow_samples"] or 0),
               "counter_samples": int(row["sflow_counter_samples"] or 0)}
    else:
        exp = {"records": int(row["flow_records"] or 0),
               "options_records": int(row["options_records"] or 0),
               "missing_template": note_value(row["notes"], "data_sets_without_template")}
    exp["bytes"] = int(row["octets_sum"] or 0)
    exp["packets"] = int(row["packets_sum"] or 0)
    exp["malformed"] = 0
    exp["datagrams_by_proto"] = export_datagrams(row)
    if proto in ("v9", "ipfix"):
        exp["templates"], exp["options_templates"] = manifest_templates(row)
    if proto == "sflow":
        exp["discard_samples"] = manifest_discards(row)
    return exp


EXPORT_PROTO = {"NFv5": "v5", "NFv9": "v9", "IPFIX": "ipfix", "sFlow-v5": "sflow"}


def export_datagrams(row):
    """export_packets as floe's by_proto names: "NFv9:10" -> {"v9": 10}."""
    out = {}
    for part in row["export_packets"].split(","):
        label, _, n = part.rpartition(":")
        if label not in EXPORT_PROTO:
            sys.exit("%s: export_packets %r: no floe protocol for %r" % (row["file"], row["export_packets"],
                                                                         label))
        out[EXPORT_PROTO[label]] = int(n)
    return out


def manifest_templates(row):
    m = re.search(r"\btemplates=(\d+) options_templates=(\d+)", row["notes"])
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def manifest_discards(row):
    m = re.search(r"\bother_samples_type5 x(\d+)", row["notes"])
    return int(m.group(1)) if m else 0


# ---- tshark records ----------------------------------------------------------

def as_list(v):
    return v if isinstance(v, list) else [v]


def detect_ports(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-E", "occurrence=f", "-e",
                          "udp.dstport", "-e", "udp.payload"], capture_output=True, text=True).stdout
    ports = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[1]:
            continue
        h = parts[1].replace(":", "")[:8]
        kind = "sflow" if h in ("00000005",) else ("cflow" if h[:4] in ("0005", "0009", "000a") else None)
        if kind:
            ports.setdefault(int(parts[0]), kind)
    return ports


CFLOW_MAP = [("src", ("cflow.srcaddr", "cflow.srcaddrv6")), ("dst", ("cflow.dstaddr", "cflow.dstaddrv6")),
             ("sport", ("cflow.srcport",)), ("dport", ("cflow.dstport",)), ("ipproto", ("cflow.protocol",)),
             ("bytes", ("cflow.octets",)), ("packets", ("cflow.packets",))]


def cflow_record(fl):
    """A record's compared fields. Where a record carries both an IPv4 and
    an IPv6 address and one of them is all zeros, the other is the address
    (floe keeps the non-zero one)."""
    rec = {}
    for key, names in CFLOW_MAP:
        for n in names:
            if n in fl and not isinstance(fl[n], list):
                v = fl[n]
                if key in ("src", "dst") and v in ("0.0.0.0", "::") and any(
                        m in fl and fl[m] not in ("0.0.0.0", "::") for m in names if m != n):
                    continue
                rec[key] = v if key in ("src", "dst") else int(v, 0)
                break
    return rec


def sflow_sample_record(sample):
    """The compared fields of one sFlow flow sample as tshark dissects it:
    sampling rate, frame length, and the sampled header's addresses, IP
    protocol and TCP/UDP ports."""
    rec = {"sampling": int(sample["sflow.flow_sample.sampling_rate"]) or 1}
    raw = sample.get("Raw packet header")
    if not isinstance(raw, dict):
        return rec
    rec["bytes"] = int(raw["sflow_245.header.frame_length"])
    rec["packets"] = 1
    tree = raw.get("sflow_245.header_tree", {})
    ip = tree.get("ip") if isinstance(tree.get("ip"), dict) else tree.get("ipv6")
    if isinstance(ip, dict):
        rec["src"] = ip.get("ip.src", ip.get("ipv6.src"))
        rec["dst"] = ip.get("ip.dst", ip.get("ipv6.dst"))
        proto = ip.get("ip.proto")
        if proto is None:  # IPv6: the last next-header, past any extension headers
            nxt = []

            def walk(o):
                if isinstance(o, dict):
                    for k, v in o.items():
                        if k.endswith(".nxt") and not isinstance(v, (dict, list)):
                            nxt.append(v)
                        else:
                            walk(v)
            walk(ip)
            proto = nxt[-1] if nxt else None
        if proto is not None:
            rec["ipproto"] = int(proto)
    for l4 in ("tcp", "udp"):
        if isinstance(tree.get(l4), dict):
            rec["sport"] = int(tree[l4][l4 + ".srcport"])
            rec["dport"] = int(tree[l4][l4 + ".dstport"])
    return {k: v for k, v in rec.items() if v is not None}


def sflow_records(pkts):
    out = []
    for pk in pkts:
        for sf in as_list(pk["_source"]["layers"].get("sflow", [])):
            if not isinstance(sf, dict):
                continue
            for v in sf.values():
                for sample in as_list(v):
                    if isinstance(sample, dict) and "sflow.flow_sample.sampling_rate" in sample:
                        out.append(sflow_sample_record(sample))
    return out[:MAX_RECORDS]


def tshark_packets(pcap):
    ports = detect_ports(pcap)
    args = ["tshark", "-r", pcap, "-o", "cflow.max_template_fields:1000", "-T", "json", "--no-duplicate-keys"]
    for p, k in sorted(ports.items()):
        args += ["-d", "udp.port==%d,%s" % (p, k)]
    return json.loads(subprocess.run(args, capture_output=True, text=True).stdout or "[]")


def field_count(t):
    """A template record's field count as tshark shows it (v9 options
    templates give scope and option lengths in bytes instead)."""
    for k in ("cflow.template_field_count", "cflow.template_ipfix_total_field_count"):
        if k in t:
            return int(t[k])
    return int(t.get("cflow.option_scope_length", "0")) + int(t.get("cflow.option_length", "0"))


def tshark_tallies(pkts):
    """What tshark shows, tallied the way tools/analyze.py does: template and
    options template records (withdrawals included, and counted apart), and
    sFlow samples walked, the headers' sample counts and type-5 samples."""
    n = dict.fromkeys(("templates", "options_templates", "withdrawals", "options_withdrawals",
                       "samples", "numsamples", "type5"), 0)
    for pk in pkts:
        layers = pk["_source"]["layers"]
        for cf in as_list(layers.get("cflow", [])):
            if not isinstance(cf, dict):
                continue
            for k, fs in cf.items():
                if not (k.startswith("FlowSet") or k.startswith("Set ")):
                    continue
                for fsd in as_list(fs):
                    if not isinstance(fsd, dict):
                        continue
                    for tk, tv in fsd.items():
                        kind = ("templates" if tk.startswith("Template (Id") else
                                "options_templates" if tk.startswith("Options Template") else None)
                        for t in (as_list(tv) if kind and isinstance(tv, (dict, list)) else []):
                            n[kind] += 1
                            if field_count(t) == 0:
                                n["withdrawals" if kind == "templates" else "options_withdrawals"] += 1
        for sf in as_list(layers.get("sflow", [])):
            if not isinstance(sf, dict):
                continue
            n["numsamples"] += int(sf.get("sflow_245.numsamples", "0"))
            for v in sf.values():
                for sample in as_list(v):
                    if isinstance(sample, dict) and "sflow_245.sampletype" in sample:
                        n["samples"] += 1
                        if sample["sflow_245.sampletype"] == "5" and sample.get("sflow.enterprise", "0") == "0":
                            n["type5"] += 1
    return n


def comparable_figures(path, exp, tallies):
    """Moves NOT_COMPARED figures out of exp, checks the manifest's template
    and discard figures against tshark's recount, and turns the template
    figures into floe's meaning (withdrawals out); see the docstring."""
    for key, why in NOT_COMPARED.get(path, {}).items():
        exp.pop(key, None)
        exp.setdefault("not_compared", {})[key] = why
    for key, out in (("templates", "withdrawals"), ("options_templates", "options_withdrawals")):
        if key not in exp:
            continue
        if exp[key] != tallies[key]:
            sys.exit("%s: manifest %s=%d, tshark now %d" % (path, key, exp[key], tallies[key]))
        exp[key] -= tallies[out]
    if "discard_samples" in exp and (tallies["samples"] != tallies["numsamples"] or
                                     tallies["type5"] != exp["discard_samples"]):
        sys.exit("%s: tshark walked %d of %d sFlow samples, %d of type 5 (manifest %d): put "
                 "discard_samples in NOT_COMPARED with a reason" % (
                     path, tallies["samples"], tallies["numsamples"], tallies["type5"],
                     exp["discard_samples"]))


def tshark_records(pkts):
    if any("sflow" in pk["_source"]["layers"] for pk in pkts):
        return sflow_records(pkts)
    out = []
    options = set()
    for pk in pkts:
        for cf in as_list(pk["_source"]["layers"].get("cflow", [])):
            if not isinstance(cf, dict):
                continue
            for k, v in cf.items():
                if k.startswith("pdu ") and isinstance(v, dict):
                    out.append(cflow_record(v))
                if not (k.startswith("FlowSet") or k.startswith("Set ")):
                    continue
                for fs in as_list(v):
                    if not isinstance(fs, dict):
                        continue
                    fid = int(fs.get("cflow.flowset_id", "-1"))
                    if fid in (1, 3):
                        for tk, tv in fs.items():
                            if tk.startswith("Options Template"):
                                for t in as_list(tv):
                                    options.add(int(t.get("cflow.template_id", "-1")))
                    if fid < 256 or fid in options:
                        continue
                    for fk, fv in fs.items():
                        if fk.startswith("Flow ") and isinstance(fv, dict):
                            out.append(cflow_record(fv))
            if len(out) >= MAX_RECORDS:
                return out[:MAX_RECORDS]
    return out[:MAX_RECORDS]


def main():
    cap_dir, out_dir = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(os.path.join(cap_dir, "manifest.tsv")), delimiter="\t"))
    seen = {}
    counters = dict(PROTO_BASE)
    os.makedirs(out_dir, exist_ok=True)
    lic_out = os.path.join(out_dir, "LICENSES")
    if os.path.isdir(lic_out):
        shutil.rmtree(lic_out)
    shutil.copytree(os.path.join(cap_dir, "LICENSES"), lic_out)
    for row in rows:
        path = row["file"]
        src = os.path.join(cap_dir, path)
        digest = hashlib.sha256(open(src, "rb").read()).hexdigest()
        if digest in seen:
            continue
        proto = PROTO_SLUG[row["protocols"]]
        counters[proto] += 1
        name = "%03d-%s-%s" % (counters[proto], proto, feature_name(path, proto))
        seen[digest] = name
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(src, os.path.join(d, "capture.pcap"))
        exp = expected_from_row(row, proto)
        exp["source"] = "manifest.tsv (tshark 4.0.17): " + path
        if path in OVERRIDES:
            exp.update(OVERRIDES[path])
        pkts = tshark_packets(src)
        comparable_figures(path, exp, tshark_tallies(pkts))
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(exp, f, indent=1, sort_keys=True)
            f.write("\n")
        dups = [r["file"] for r in rows if r["file"] != path and
                hashlib.sha256(open(os.path.join(cap_dir, r["file"]), "rb").read()).hexdigest() == digest]
        with open(os.path.join(d, "SOURCE"), "w") as f:
            f.write("file: %s\nrepository: %s\npath: %s\nlicense: %s (see ../LICENSES)\n"
                    "vendor: %s\nprotocol: %s\n" % (path, row["source_repo@commit"], row["source_path"],
                                                    row["license"], row["vendor_or_device"], row["protocols"]))
            if dups:
                f.write("identical to: %s\n" % ", ".join(dups))
        if True:
            recs = tshark_records(pkts)
            if OVERRIDES.get(path, {}).get("malformed"):
                recs = []  # tshark's records of a rejected datagram are garbage
            with open(os.path.join(d, "tshark-records.json"), "w") as f:
                f.write("[\n" + ",\n".join(json.dumps(r, sort_keys=True) for r in recs) + "\n]\n")
        print(name)


if __name__ == "__main__":
    main()
