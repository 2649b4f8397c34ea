#!/usr/bin/env python3
"""Turns bench/run's raw outputs into bench/results.json and a Markdown table (stdout)."""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import time

ROWS = ["direct", "nginx", "portcullis-passthrough", "portcullis-full", "portcullis-full-remote-connector"]
NOTES = {
    "direct": "wrk straight to the upstream; CPU and memory are the upstream's own",
    "nginx": "nginx-light, proxy_pass with upstream keepalive 64, access_log off",
    "portcullis-passthrough": "grant token, rules = [], mask = \"off\", durable recording",
    "portcullis-full": "OIDC token + active grant, azure-arm, azure-default rules, mask = \"azure\", "
    "durable recording, embedded connector injecting a static bearer credential",
    "portcullis-full-remote-connector": "as portcullis-full, but the connection names a remote connector: a "
    "separate `portcullis connector` process, attached over the TLS tunnel on loopback, injects the static "
    "bearer credential; CPU and memory are the gateway's plus the connector's",
}
# Issue 7's targets for the tunnel, against the embedded connector in the same run.
REMOTE_ADDED_P50_TARGET_US = 100
REMOTE_THROUGHPUT_TARGET = 0.90

def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    def version(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except OSError:
            return None
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1048576, 1),
        "kernel": platform.release(),
        "load_average_at_end": list(os.getloadavg()),
        "nginx": version(["nginx", "-v"]),
        "wrk": version(["wrk", "-v"]),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def row(out, name):
    rounds, non_2xx = [], 0
    for fn in sorted(os.listdir(out)):
        if fn.startswith(name + ".wrk."):
            text = open(os.path.join(out, fn)).read()
            m = re.search(r"Requests/sec:\s+([\d.]+)", text)
            if m:
                rounds.append(float(m.group(1)))
            bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
            non_2xx += int(bad.group(1)) if bad else 0
    if not rounds:
        return None
    rate = json.load(open(os.path.join(out, name + ".rate.json")))
    proc = json.load(open(os.path.join(out, name + ".proc.json")))
    cpu_s = proc["cpu_ticks"] / proc["hz"]
    low_path = os.path.join(out, name + ".lowrate.json")
    low = json.load(open(low_path)) if os.path.exists(low_path) else None
    idle_path = os.path.join(out, name + ".idle.json")
    idle = json.load(open(idle_path)) if os.path.exists(idle_path) else None
    streams_path = os.path.join(out, name + ".idle_streams.json")
    streams = json.load(open(streams_path)) if os.path.exists(streams_path) else None
    scaling = []
    for fn in os.listdir(out):
        m = re.fullmatch(re.escape(name) + r"\.scale\.(\d+)\.json", fn)
        if m:
            point = json.load(open(os.path.join(out, fn)))
            text = open(os.path.join(out, f"{name}.scale.{m.group(1)}")).read()
            rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
            errors = re.search(r"Socket errors: (.*)", text)
            scaling.append({"connections": point["connections"], "rps": float(rps.group(1)) if rps else None,
                            "rss_mib": round(point["rss_kib"] / 1024, 1),
                            "socket_errors": errors.group(1).strip() if errors else None})
    scaling.sort(key=lambda p: p["connections"])
    return {
        "name": name,
        "idle_kib_per_connection": idle["kib_per_connection"] if idle else None,
        "idle_connections": idle["connections"] if idle else None,
        "idle_streams": streams,
        "scaling": scaling,
        "rps": round(statistics.median(rounds), 1),
        "rps_rounds": rounds,
        "p50_ms": rate["p50_ms"],
        "p99_ms": rate["p99_ms"],
        "p999_ms": rate["p999_ms"],
        "max_ms": rate["max_ms"],
        "fixed_rate_ok": rate["ok"],
        "fixed_rate_errors": rate["errors"],
        "low_rate": {k: low[k] for k in ["sent", "ok", "errors", "p50_ms", "p99_ms", "p999_ms", "max_ms"]}
        if low else None,
        "cpu_s_per_10k": round(cpu_s / proc["requests"] * 10000, 3) if proc["requests"] else None,
        "peak_rss_mib": round(proc["peak_kib"] / 1024, 1),
        "processes": proc.get("processes", 1),
        "non_2xx": non_2xx,
        "non_2xx_sample": sample_non_2xx(out, name),
        "load_average_1m": [proc.get("load_start"), proc.get("load_end")],
        "note": NOTES.get(name, ""),
    }


def sample_non_2xx(out, name):
    status = os.path.join(out, name + ".non2xx.status")
    if not os.path.exists(status):
        return None
    body = open(os.path.join(out, name + ".non2xx.body"), errors="replace").read()[:300]
    return {"status": open(status).read().strip(), "body": body}


def remote_vs_full(rows, rate, low_rate):
    """Issue 7: what the tunnel and the separate connector process add to the full pipeline.
    Latency is compared at the low rate when there is one (below both rows' capacity)."""
    full, remote = rows.get("portcullis-full"), rows.get("portcullis-full-remote-connector")
    if not full or not remote:
        return None
    at_low = bool(full.get("low_rate") and remote.get("low_rate"))
    lat_full = full["low_rate"] if at_low else full
    lat_remote = remote["low_rate"] if at_low else remote
    added_us = round((lat_remote["p50_ms"] - lat_full["p50_ms"]) * 1000, 1)
    ratio = round(remote["rps"] / full["rps"], 3)
    return {
        "latency_rate": int(low_rate) if at_low else int(rate),
        "added_p50_us": added_us,
        "added_p99_us": round((lat_remote["p99_ms"] - lat_full["p99_ms"]) * 1000, 1),
        "added_p50_us_at_rate": round((remote["p50_ms"] - full["p50_ms"]) * 1000, 1),
        "throughput_ratio": ratio,
        "added_p50_target_us": REMOTE_ADDED_P50_TARGET_US,
        "throughput_ratio_target": REMOTE_THROUGHPUT_TARGET,
        "added_p50_met": added_us < REMOTE_ADDED_P50_TARGET_US,
        "throughput_met": ratio >= REMOTE_THROUGHPUT_TARGET,
        "idle_kib_per_connection": remote["idle_kib_per_connection"],
        "idle_kib_per_connection_embedded": full["idle_kib_per_connection"],
        "idle_stream_kib": idle_stream_kib(remote),
        "idle_stream_kib_embedded": idle_stream_kib(full),
    }


def idle_stream_kib(r):
    return (r.get("idle_streams") or {}).get("kib_per_stream")


def pairs(out):
    """BENCH_PAIRS: interleaved rounds of the embedded and the remote row, both gateways up.
    The comparison is the median of the per-pair differences (ratios for throughput)."""
    path = os.path.join(out, "pairs.jsonl")
    if not os.path.exists(path):
        return None
    by_pair = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            by_pair.setdefault(r["pair"], {})[r["row"]] = r
    rounds = []
    for n, p in sorted(by_pair.items()):
        full, remote = p.get("portcullis-full"), p.get("portcullis-full-remote-connector")
        if not full or not remote:
            continue
        def cpu(r, ticks=None):
            ticks = r["cpu_ticks"] if ticks is None else ticks
            return round(ticks / r["hz"] / r["requests"] * 10000, 3) if r["requests"] else None
        rounds.append({
            "pair": n,
            "full": {"rps": full["rps"], "p50_ms": full["latency"]["p50_ms"], "p99_ms": full["latency"]["p99_ms"],
                     "cpu_s_per_10k": cpu(full), "non_2xx": full["non_2xx"], "load": full["load"]},
            "remote": {"rps": remote["rps"], "p50_ms": remote["latency"]["p50_ms"],
                       "p99_ms": remote["latency"]["p99_ms"], "cpu_s_per_10k": cpu(remote),
                       "cpu_s_per_10k_each": [cpu(remote, t) for t in remote.get("cpu_ticks_each", [])],
                       "non_2xx": remote["non_2xx"], "load": remote["load"]},
            "added_p50_us": round((remote["latency"]["p50_ms"] - full["latency"]["p50_ms"]) * 1000, 1),
            "throughput_ratio": round(remote["rps"] / full["rps"], 3),
        })
    if not rounds:
        return None
    def streams(name):
        path = os.path.join(out, name + ".idle_streams.json")
        return json.load(open(path)) if os.path.exists(path) else None
    med = statistics.median
    def span(key):
        values = [r[key] for r in rounds]
        return [min(values), max(values)]
    added = med(r["added_p50_us"] for r in rounds)
    ratio = med(r["throughput_ratio"] for r in rounds)
    return {
        "pairs": len(rounds),
        "latency_rate": by_pair[rounds[0]["pair"]]["portcullis-full"]["rate"],
        "added_p50_us_median": round(added, 1),
        "throughput_ratio_median": round(ratio, 3),
        # The scatter: a median of 8 pairs hides pairs 30 points apart on a noisy machine.
        "added_p50_us_range": span("added_p50_us"),
        "throughput_ratio_range": span("throughput_ratio"),
        "p50_ms_median": {"full": med(r["full"]["p50_ms"] for r in rounds),
                          "remote": med(r["remote"]["p50_ms"] for r in rounds)},
        "rps_median": {"full": med(r["full"]["rps"] for r in rounds),
                       "remote": med(r["remote"]["rps"] for r in rounds)},
        "cpu_s_per_10k_median": {"full": med(r["full"]["cpu_s_per_10k"] for r in rounds),
                                 "remote": med(r["remote"]["cpu_s_per_10k"] for r in rounds)},
        # The remote row's gateway and connector separately.
        "cpu_s_per_10k_each_median": [med(r["remote"]["cpu_s_per_10k_each"][i] for r in rounds)
                                      for i in range(min(len(r["remote"]["cpu_s_per_10k_each"]) for r in rounds))],
        "added_p50_met": added < REMOTE_ADDED_P50_TARGET_US,
        "throughput_met": ratio >= REMOTE_THROUGHPUT_TARGET,
        "idle_streams": {"full": streams("portcullis-full"),
                         "remote": streams("portcullis-full-remote-connector")},
        "load_range": [min(min(r["full"]["load"], r["remote"]["load"]) for r in rounds),
                       max(max(r["full"]["load"], r["remote"]["load"]) for r in rounds)],
        "rounds": rounds,
    }


def fmt(v, digits=2):
    return "—" if v is None else f"{v:.{digits}f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("results")
    for a in ["connections", "rounds", "seconds", "rate", "low-rate", "load-cpus", "server-cpus"]:
        p.add_argument("--" + a)
    p.add_argument("--split", action="store_true", help="BENCH_SPLIT: server-cpus are the gateways' CPUs")
    a = p.parse_args()
    rows = {n: row(a.out, n) for n in ROWS}
    base_nginx = rows["nginx"]["rps"] if rows.get("nginx") else None
    base_direct = rows["direct"]["rps"] if rows.get("direct") else None
    result_rows = []
    for n in ROWS:
        r = rows[n]
        if r is None:
            reason_file = os.path.join(a.out, n + ".pending")
            reason = open(reason_file).read().strip() if os.path.exists(reason_file) else "not measured"
            result_rows.append({"name": n, "pending": True, "reason": reason,
                                "rps": None, "p50_ms": None, "p99_ms": None, "p999_ms": None,
                                "cpu_s_per_10k": None, "peak_rss_mib": None,
                                "ratio_to_nginx": None, "ratio_to_direct": None})
            continue
        r["ratio_to_nginx"] = round(r["rps"] / base_nginx, 3) if base_nginx else None
        r["ratio_to_direct"] = round(r["rps"] / base_direct, 3) if base_direct else None
        if rows.get("direct"):
            r["added_p50_ms"] = round(r["p50_ms"] - rows["direct"]["p50_ms"], 3)
            r["added_p99_ms"] = round(r["p99_ms"] - rows["direct"]["p99_ms"], 3)
        result_rows.append(r)
    doc = {
        "machine": machine(),
        "method": {
            "throughput": f"wrk -t1 -c{a.connections}, {a.rounds} rounds of {a.seconds} s after a 2 s "
            "warm-up; rps is the median round",
            "latency": f"bench/upstream fixed-rate: {a.rate} req/s (and low_rate: {a.low_rate} req/s) for "
            f"{a.seconds} s over 16 keep-alive connections, latency from each request's scheduled send time "
            "(no coordinated omission)",
            "cpu": "user+system seconds of the proxy process(es) over the throughput rounds, per 10k requests",
            "memory": "VmHWM (peak RSS) of the proxy process(es) at the end of the row",
            "pinning": "unpinned (fewer than 4 CPUs)" if a.load_cpus == "none" else
            f"split (BENCH_SPLIT): gateways on CPUs {a.server_cpus}; upstream, connector and load generators "
            f"on CPUs {a.load_cpus}" if a.split else
            f"load generators on CPU {a.load_cpus}, upstream and proxy on CPUs {a.server_cpus}",
        },
        "rows": result_rows,
        "remote_connector_vs_full": remote_vs_full(rows, a.rate, a.low_rate),
        "remote_connector_pairs": pairs(a.out),
    }
    with open(a.results, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print("| row | req/s (median) | p50 ms | p99 ms | p99.9 ms | CPU s / 10k | peak RSS MiB | × nginx | × direct |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in result_rows:
        if r.get("pending"):
            print(f"| {r['name']} | pending: {r['reason']} | | | | | | | |")
            continue
        flags = (f" ⚠ {r['non_2xx']} non-2xx" if r["non_2xx"] else "") + (
            f" ⚠ {r['fixed_rate_errors']} errors at the fixed rate" if r["fixed_rate_errors"] else "")
        print(f"| {r['name']}{flags} | {r['rps']:.0f} | {fmt(r['p50_ms'], 3)} | {fmt(r['p99_ms'], 3)} | "
              f"{fmt(r['p999_ms'], 3)} | {fmt(r['cpu_s_per_10k'], 3)} | {fmt(r['peak_rss_mib'], 1)} | "
              f"{fmt(r['ratio_to_nginx'])} | {fmt(r['ratio_to_direct'])} |")
    cmp = doc["remote_connector_vs_full"]
    pr = doc["remote_connector_pairs"]
    if cmp:
        # One run of each row, minutes apart: a neighbour's load decides more than the
        # tunnel does. When interleaved pairs were measured, they are the verdict.
        def verdict(ok):
            return "see the pairs" if pr else ("yes" if ok else "no")
        print()
        print("| remote connector vs portcullis-full (the two rows above, one run each) | measured | target | met |")
        print("|---|---|---|---|")
        print(f"| added p50 at {cmp['latency_rate']} req/s | {cmp['added_p50_us']:.0f} µs | < {cmp['added_p50_target_us']} µs | "
              f"{verdict(cmp['added_p50_met'])} |")
        print(f"| throughput (req/s ratio) | {cmp['throughput_ratio'] * 100:.1f} % | "
              f">= {cmp['throughput_ratio_target'] * 100:.0f} % | {verdict(cmp['throughput_met'])} |")
        print(f"| added p99 at {cmp['latency_rate']} req/s | {cmp['added_p99_us']:.0f} µs | — | — |")
        if cmp["idle_stream_kib"] is not None:
            print(f"| memory per held request, gateway + connector (embedded: gateway) | "
                  f"{cmp['idle_stream_kib']:.1f} KiB (embedded {fmt(cmp['idle_stream_kib_embedded'], 1)} KiB) | "
                  "small, reported | — |")
    if pr:
        print()
        print(f"| {pr['pairs']} interleaved pairs (load {pr['load_range'][0]}–{pr['load_range'][1]}) | "
              "embedded | remote | median of per-pair differences (range) | target | met |")
        print("|---|---|---|---|---|---|")
        print(f"| p50 at {pr['latency_rate']} req/s | {pr['p50_ms_median']['full']:.3f} ms | "
              f"{pr['p50_ms_median']['remote']:.3f} ms | {pr['added_p50_us_median']:+.0f} µs "
              f"({pr['added_p50_us_range'][0]:+.0f} to {pr['added_p50_us_range'][1]:+.0f}) | "
              f"< {REMOTE_ADDED_P50_TARGET_US} µs | {'yes' if pr['added_p50_met'] else 'no'} |")
        print(f"| req/s, wrk -c{a.connections} | {pr['rps_median']['full']:.0f} | {pr['rps_median']['remote']:.0f} | "
              f"{pr['throughput_ratio_median'] * 100:.1f} % "
              f"({pr['throughput_ratio_range'][0] * 100:.1f}–{pr['throughput_ratio_range'][1] * 100:.1f} %) | "
              f">= {REMOTE_THROUGHPUT_TARGET * 100:.0f} % | "
              f"{'yes' if pr['throughput_met'] else 'no'} |")
        each = pr["cpu_s_per_10k_each_median"]
        split = f" (gateway {each[0]:.3f} + connector {each[1]:.3f})" if len(each) == 2 else ""
        print(f"| CPU s / 10k requests | {pr['cpu_s_per_10k_median']['full']:.3f} | "
              f"{pr['cpu_s_per_10k_median']['remote']:.3f}{split} | — | — | — |")
        full_s, remote_s = pr["idle_streams"]["full"], pr["idle_streams"]["remote"]
        if full_s and remote_s and full_s["kib_per_stream"] is not None and remote_s["kib_per_stream"] is not None:
            parts = remote_s["per_process"]
            split = (f" (gateway {parts[0]['kib_per_stream']:.1f} + connector {parts[1]['kib_per_stream']:.1f})"
                     if len(parts) == 2 else "")
            print(f"| memory per held request, {remote_s['streams']} held | {full_s['kib_per_stream']:.1f} KiB | "
                  f"{remote_s['kib_per_stream']:.1f} KiB{split} | "
                  f"{remote_s['kib_per_stream'] - full_s['kib_per_stream']:+.1f} KiB per idle tunnel stream | "
                  "small, reported | — |")
    measured = [r for r in result_rows if not r.get("pending")]
    if any(r.get("low_rate") for r in measured):
        print()
        print(f"| row | at {a.low_rate} req/s: p50 ms | p99 ms | p99.9 ms | added p50 ms over direct | errors |")
        print("|---|---|---|---|---|---|")
        direct_low = rows["direct"]["low_rate"] if rows.get("direct") and rows["direct"].get("low_rate") else None
        for r in measured:
            lo = r.get("low_rate")
            if not lo:
                continue
            added = lo["p50_ms"] - direct_low["p50_ms"] if direct_low else None
            print(f"| {r['name']} | {lo['p50_ms']:.3f} | {lo['p99_ms']:.3f} | {lo['p999_ms']:.3f} | "
                  f"{fmt(added, 3)} | {lo['errors']} |")
    counts = sorted({p["connections"] for r in measured for p in r["scaling"]})
    if counts:
        print()
        print("| row | idle KiB / conn | " + " | ".join(f"req/s @ {c} conns (RSS MiB)" for c in counts) + " |")
        print("|---|---|" + "---|" * len(counts))
        for r in measured:
            cells = []
            for c in counts:
                p = next((p for p in r["scaling"] if p["connections"] == c), None)
                cells.append("—" if not p or p["rps"] is None else
                             f"{p['rps']:.0f} ({p['rss_mib']:.0f})" + (" ⚠" if p["socket_errors"] else ""))
            print(f"| {r['name']} | {fmt(r['idle_kib_per_connection'], 1)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
