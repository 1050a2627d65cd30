#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  body OUT JSON              encode a protobuf message given as JSON (keys are
                             field numbers; str -> length-delimited UTF-8,
                             int -> varint, object -> nested message,
                             list -> repeated) and frame it as one
                             uncompressed gRPC message
  bodies DIR NAME JSON [NAME JSON]...
                             the same, several at once: DIR/NAME.bin
  field FILE PATH            read a gRPC-framed response and print the field
                             at PATH ("1.3": field 3 of the message in field 1)
  pct KIND FILE...           latency percentiles of h2load --log-file or
                             pgbench -l logs: prints "count p50_ms p99_ms bad"
  metrics BEFORE AFTER TRANSPORT OPERATION
                             statusgate_requests_total delta: "ok not_ok"
  run CPUFILE CMD...         run CMD, write its (and its children's) user+sys
                             CPU seconds to CPUFILE, exit with its status
  h2sum FILE...              sum h2load outputs: "rps total ok failed errored
                             timeout non2xx"
  render TSV OUT_MD TITLE     the results table, goals and notes as Markdown
"""

import json
import os
import re
import resource
import signal
import subprocess
import sys

# ---- protobuf ---------------------------------------------------------------


def varint(value):
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode(message):
    out = bytearray()
    for key in sorted(message, key=int):
        values = message[key]
        if not isinstance(values, list):
            values = [values]
        number = int(key)
        for value in values:
            if isinstance(value, bool) or isinstance(value, int):
                out += varint(number << 3 | 0) + varint(int(value))
            else:
                if isinstance(value, dict):
                    payload = encode(value)
                else:
                    payload = str(value).encode()
                out += varint(number << 3 | 2) + varint(len(payload)) + payload
    return bytes(out)


def read_varint(data, pos):
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def decode(data):
    """field number -> list of raw values (int or bytes)."""
    fields = {}
    pos = 0
    while pos < len(data):
        tag, pos = read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 2:
            length, pos = read_varint(data, pos)
            value = data[pos:pos + length]
            pos += length
        elif wire == 1:
            value = data[pos:pos + 8]
            pos += 8
        elif wire == 5:
            value = data[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def grpc_unframe(data):
    if len(data) < 5:
        raise ValueError("no gRPC message in the response")
    if data[0] != 0:
        raise ValueError("compressed gRPC message")
    length = int.from_bytes(data[1:5], "big")
    return data[5:5 + length]


def cmd_body(out, spec):
    payload = encode(json.loads(spec))
    with open(out, "wb") as handle:
        handle.write(b"\x00" + len(payload).to_bytes(4, "big") + payload)


def cmd_field(path_file, path):
    with open(path_file, "rb") as handle:
        message = grpc_unframe(handle.read())
    value = message
    for part in path.split("."):
        fields = decode(value)
        values = fields.get(int(part))
        if not values:
            sys.exit(f"field {path} absent from the response")
        value = values[0]
    if isinstance(value, int):
        print(value)
    else:
        print(value.decode())


# ---- measurements -------------------------------------------------------------


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


def cmd_pct(kind, files):
    latencies = []
    bad = 0
    for name in files:
        with open(name) as handle:
            for line in handle:
                parts = line.split()
                if kind == "h2load":
                    # start_us status elapsed_us
                    if len(parts) < 3:
                        continue
                    if parts[1] != "200":
                        bad += 1
                        continue
                    latencies.append(int(parts[2]))
                else:
                    # client_id transaction_no time_us script_no epoch epoch_us
                    if len(parts) < 3:
                        continue
                    if parts[2] in ("failed", "skipped"):
                        bad += 1
                        continue
                    latencies.append(int(parts[2]))
    latencies.sort()
    p50 = percentile(latencies, 0.50) / 1000.0
    p99 = percentile(latencies, 0.99) / 1000.0
    print(f"{len(latencies)} {p50:.3f} {p99:.3f} {bad}")


METRIC = re.compile(r"^statusgate_requests_total\{([^}]*)\}\s+(\S+)")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def read_counts(name, transport, operation):
    counts = {}
    try:
        with open(name) as handle:
            for line in handle:
                match = METRIC.match(line)
                if not match:
                    continue
                labels = dict(LABEL.findall(match.group(1)))
                if labels.get("transport") != transport or labels.get("operation") != operation:
                    continue
                outcome = labels.get("outcome", "?")
                counts[outcome] = counts.get(outcome, 0) + float(match.group(2))
    except FileNotFoundError:
        pass
    return counts


def cmd_metrics(before, after, transport, operation):
    first = read_counts(before, transport, operation)
    second = read_counts(after, transport, operation)
    delta = {key: second.get(key, 0) - first.get(key, 0) for key in set(first) | set(second)}
    ok = int(delta.get("ok", 0))
    not_ok = int(sum(value for key, value in delta.items() if key != "ok"))
    print(f"{ok} {not_ok}")


def cmd_run(cpu_file, command):
    child = subprocess.Popen(command)

    def forward(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = child.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(cpu_file, "w") as handle:
        handle.write(f"{usage.ru_utime + usage.ru_stime:.3f}\n")
    sys.exit(status)


def cmd_h2sum(files):
    rps = 0.0
    totals = dict(total=0, ok=0, failed=0, errored=0, timeout=0, non2xx=0)
    for name in files:
        with open(name) as handle:
            text = handle.read()
        match = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text)
        if not match:
            sys.exit(f"{name}: no 'finished in' line: is this h2load output?")
        rps += float(match.group(1))
        match = re.search(
            r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, "
            r"(\d+) errored, (\d+) timeout", text)
        totals["total"] += int(match.group(1))
        totals["ok"] += int(match.group(2))
        totals["failed"] += int(match.group(3))
        totals["errored"] += int(match.group(4))
        totals["timeout"] += int(match.group(5))
        match = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
        totals["non2xx"] += int(match.group(2)) + int(match.group(3)) + int(match.group(4))
    print(f"{rps:.1f} {totals['total']} {totals['ok']} {totals['failed']} {totals['errored']} "
          f"{totals['timeout']} {totals['non2xx']}")


# ---- the report -----------------------------------------------------------------

COLUMNS = ["id", "operation", "transport", "backend", "concurrency", "rps", "p50", "p99",
           "cpu", "ok", "errors", "note"]


def load(tsv):
    rows = []
    with open(tsv) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                continue
            values = line.split("\t")
            values += [""] * (len(COLUMNS) - len(values))
            row = dict(zip(COLUMNS, values))
            for key in ("rps", "p50", "p99"):
                try:
                    row[key] = float(row[key])
                except ValueError:
                    row[key] = None
            rows.append(row)
    return rows


# (id, anchor ids (best throughput of them is the anchor), kind, goal, label)
# kind "rps": ratio = rps / anchor rps, goal is a minimum.
# kind "p50": ratio = p50 / anchor p50, goal is a maximum.
GOALS = [
    ("grpc_cts", ["pg_sel_c1", "pg_sel_c8"], "rps", 1.0,
     "GetChangeTokenStatus (gRPC) >= 1.0x best pgbench -S"),
    ("grpc_rrs", ["pg_sel_c1", "pg_sel_c8"], "rps", 1.0,
     "GetResourceRequestStatus (gRPC) >= 1.0x best pgbench -S"),
    ("grpc_gct", ["pg_upsert"], "rps", 1.0, "GetChangeToken (gRPC) >= 1.0x pgbench upsert"),
    ("http_gct", ["pg_upsert"], "rps", 1.0, "GetChangeToken (facade) >= 1.0x pgbench upsert"),
    ("grpc_crr", ["pg_insert"], "rps", 1.0,
     "CreateResourceRequest (gRPC) >= 1.0x pgbench insert"),
    ("http_cr", ["pg_insert"], "rps", 1.0, "CreateResource (facade) >= 1.0x pgbench insert"),
    ("http_cts", ["grpc_cts"], "rps", 0.8, "facade GetChangeTokenStatus >= 0.8x gRPC"),
    ("http_rrs", ["grpc_rrs"], "rps", 0.8, "facade GetResourceRequestStatus >= 0.8x gRPC"),
    ("http_gct", ["grpc_gct"], "rps", 0.8, "facade GetChangeToken >= 0.8x gRPC"),
    ("http_cr", ["grpc_crr"], "rps", 0.8, "facade CreateResource >= 0.8x gRPC CreateResourceRequest"),
    ("grpc_rrs_c1", ["pg_sel_c1"], "p50", 2.0,
     "unloaded status read p50 <= 2.0x pgbench -S 1-client p50"),
    ("large_grpc_rrs", ["grpc_rrs"], "rps", 1 / 1.2,
     "GetResourceRequestStatus (gRPC, PENDING keys) at large >= small / 1.2"),
    ("large_http_rrs_rand", ["http_rrs_rand"], "rps", 1 / 1.2,
     "GetResourceRequestStatus (facade, random keys) at large >= small / 1.2"),
    ("large_grpc_list", ["grpc_list"], "rps", 1 / 1.2,
     "ListResourceRequests page (gRPC) at large >= small / 1.2"),
]

# The anchor shown in the table's own row: the first goal naming the row,
# except that a facade row shows its gRPC counterpart.
TABLE_ANCHOR = {}
for goal in GOALS:
    TABLE_ANCHOR.setdefault(goal[0], goal)
for goal in GOALS:
    if goal[0].startswith("http_") and all(a.startswith("grpc_") for a in goal[1]):
        TABLE_ANCHOR[goal[0]] = goal


def fmt(value, digits=0):
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def anchor_of(by_id, anchor_ids, kind):
    candidates = [by_id[a] for a in anchor_ids if a in by_id and by_id[a][kind] is not None]
    if not candidates:
        return None
    if kind == "rps":
        return max(candidates, key=lambda row: row["rps"])
    return min(candidates, key=lambda row: row["p50"])


def evaluate(by_id, goal):
    row_id, anchor_ids, kind, target, label = goal
    row = by_id.get(row_id)
    anchor = anchor_of(by_id, anchor_ids, kind)
    if row is None or anchor is None or row[kind] is None or not anchor[kind]:
        return None, anchor, None
    ratio = row[kind] / anchor[kind]
    met = ratio >= target if kind == "rps" else ratio <= target
    return ratio, anchor, met


def cmd_render(tsv, out, title, extra_file=None):
    rows = load(tsv)
    by_id = {row["id"]: row for row in rows}
    lines = [f"# {title}", ""]
    lines.append("| operation | transport | backend | concurrency | req/s | p50 ms | p99 ms "
                 "| anchor | ratio | goal | cpu % gen/srv/pg/other | errors | note |")
    lines.append("|---|---|---|---|---:|---:|---:|---|---:|---|---|---:|---|")
    for row in rows:
        anchor_text = ratio_text = goal_text = "-"
        goal = TABLE_ANCHOR.get(row["id"])
        if goal is not None:
            ratio, anchor, met = evaluate(by_id, goal)
            if anchor is not None:
                if goal[2] == "rps":
                    anchor_text = (f"{anchor['operation']}, {anchor['transport']}, "
                                   f"{anchor['backend']}, {anchor['concurrency']}: "
                                   f"{fmt(anchor['rps'])}/s")
                    goal_text = f">= {goal[3]:.2f}x req/s"
                else:
                    anchor_text = (f"{anchor['operation']}, {anchor['concurrency']}: "
                                   f"p50 {fmt(anchor['p50'], 3)} ms")
                    goal_text = f"<= {goal[3]:.1f}x p50"
            if ratio is not None:
                ratio_text = f"{ratio:.2f}" + ("" if met else " (miss)")
        note = re.sub(r";(?! )", "; ", row["note"].replace("|", "/"))
        lines.append(
            f"| {row['operation']} | {row['transport']} | {row['backend']} | "
            f"{row['concurrency']} | {fmt(row['rps'])} | {fmt(row['p50'], 3)} | "
            f"{fmt(row['p99'], 3)} | {anchor_text} | {ratio_text} | {goal_text} | "
            f"{row['cpu']} | {row['errors']} | {note} |")
    lines.append("")
    lines.append("Concurrency: `Nc` connections (pgbench clients, wrk connections); "
                 "`Nc x Ms` h2load connections x concurrent streams each; `K x (...)` K h2load "
                 "processes, one per body. cpu: CPU used over the run (warm-up included) in % "
                 "of one core (the machine has 2, so 200 is everything): the load generator, "
                 "statusgate, the Postgres cluster, and everything else on the machine. A "
                 "run whose gen is near 100 is held back by the load generator's single "
                 "thread; a large 'other' means something outside the benchmark competed "
                 "for the cores.")
    lines.append("")
    lines.append("## Goals")
    lines.append("")
    lines.append("| goal | measured | ratio | verdict |")
    lines.append("|---|---|---:|---|")
    for goal in GOALS:
        ratio, anchor, met = evaluate(by_id, goal)
        row = by_id.get(goal[0])
        if ratio is None:
            lines.append(f"| {goal[4]} | not measured | - | - |")
            continue
        if goal[2] == "rps":
            measured = f"{fmt(row['rps'])}/s vs {fmt(anchor['rps'])}/s"
        else:
            measured = f"p50 {fmt(row['p50'], 3)} ms vs {fmt(anchor['p50'], 3)} ms"
        lines.append(f"| {goal[4]} | {measured} | {ratio:.2f} | {'met' if met else 'MISSED'} |")
    if extra_file and os.path.exists(extra_file):
        with open(extra_file) as handle:
            for line in handle:
                lines.append(line.rstrip("\n"))
    text = "\n".join(lines) + "\n"
    with open(out, "w") as handle:
        handle.write(text)
    sys.stdout.write(text)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "body":
        cmd_body(*args)
    elif command == "bodies":
        for name, spec in zip(args[1::2], args[2::2]):
            cmd_body(os.path.join(args[0], name + ".bin"), spec)
    elif command == "field":
        cmd_field(*args)
    elif command == "pct":
        cmd_pct(args[0], args[1:])
    elif command == "metrics":
        cmd_metrics(*args)
    elif command == "run":
        cmd_run(args[0], args[1:])
    elif command == "h2sum":
        cmd_h2sum(args)
    elif command == "render":
        cmd_render(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
