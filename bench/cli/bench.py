#!/usr/bin/env python3
"""`event-ingest send` against the running local stack, and a plain baseline in the same run.

Sends the same 100,000 distinct events (pre-generated; one fresh client id per side, so
both sides make the server process new events) once with `event-ingest send` (the release
build, `make cli`) and once with `xargs -P 8 curl` over pre-cut 500-event batch files;
prints events/s of each, the ratio, and the client CPU per event (user + system time of
each side's process tree, from wait4). Then the peak RSS of `send` on a 1 GB NDJSON,
sending to the stack for `--max-time 60`. Needs the stack's `BASE_URL` and `API_KEY`
(`scripts/stack.py with`, as `make bench-cli` runs it), else `.local/api.env`/`dev.key`.

Usage: bench/cli/bench.py [--events N] [--rss-gb G] [--keep DIR]
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = ROOT / ".local/bin/event-ingest"
BATCH = 500
CONCURRENCY = 8
BASE_EPOCH = 1_795_161_600


def stack():
    url = os.environ.get("BASE_URL")
    if not url:
        for line in (ROOT / ".local/api.env").read_text().splitlines():
            if line.startswith("BASE_URL="):
                url = line.split("=", 1)[1]
    key = os.environ.get("API_KEY") or (ROOT / ".local/dev.key").read_text()
    return url.strip().rstrip("/"), key.strip()


def event(client_id, i):
    """The i-th event of a run: distinct by timestamp and amount; ~200 bytes as NDJSON."""
    return {
        "client_id": client_id,
        "source": "bench",
        "event_id": f"e{i}",
        "payload": {
            "metric": ("purchase", "refund", "view")[i % 3],
            "amount": f"{i % 100_000}.{i % 100:02d}",
            "timestamp": BASE_EPOCH + i,
        },
    }


def run_measured(argv, **kwargs):
    """Runs argv to its end: (exit status, wall seconds, user+system CPU seconds of its
    process tree, peak RSS in KiB of its largest process)."""
    started = time.monotonic()
    child = subprocess.Popen(argv, **kwargs)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def aggregate_count(url, key, client_id):
    request = urllib.request.Request(f"{url}/aggregates?client_id={client_id}", headers={"x-api-key": key})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)["count"]


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def throughput(url, key, work, events, run):
    cli_client, curl_client = f"bench-cli-{run}", f"bench-curl-{run}"
    ndjson = work / "events.ndjson"
    batches = work / "batches"
    batches.mkdir()
    with ndjson.open("w") as out:
        for i in range(events):
            out.write(json.dumps(event(cli_client, i), separators=(",", ":")) + "\n")
    for start in range(0, events, BATCH):
        body = {"events": [event(curl_client, i) for i in range(start, min(start + BATCH, events))]}
        (batches / f"{start // BATCH:05d}.json").write_text(json.dumps(body, separators=(",", ":")))
    files = sorted(str(p) for p in batches.iterdir())
    (work / "files").write_text("\n".join(files) + "\n")

    report = work / "report.json"
    status, cli_wall, cli_cpu, cli_rss = run_measured(
        [str(BINARY), "send", "--quiet", "--report", str(report), "--concurrency", str(CONCURRENCY),
         "--batch-size", str(BATCH), str(ndjson)],
        env={**os.environ, "EVENT_INGEST_URL": url, "EVENT_INGEST_KEY": key})
    summary = json.loads(report.read_text())
    if status != 0 or summary["processed"] != events:
        sys.exit(f"event-ingest send: status {status}, report {summary}")

    codes = work / "codes"
    with codes.open("w") as out, (work / "files").open() as names:
        status, curl_wall, curl_cpu, _ = run_measured(
            ["xargs", "-P", str(CONCURRENCY), "-I", "{}", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\n",
             "-H", f"x-api-key: {key}", "-H", "content-type: application/json", "--data-binary", "@{}",
             f"{url}/events"],
            stdin=names, stdout=out)
    answered = codes.read_text().split()
    if status != 0 or answered.count("200") != len(files):
        sys.exit(f"baseline: status {status}, answers {sorted(set(answered))}")

    counted = (aggregate_count(url, key, cli_client), aggregate_count(url, key, curl_client))
    if counted != (events, events):
        sys.exit(f"counted {counted}, sent {events} each")
    return {
        "cli": (cli_wall, cli_cpu, cli_rss, summary),
        "baseline": (curl_wall, curl_cpu),
    }


def rss_on_big_input(url, key, work, gigabytes, run):
    big = work / "big.ndjson"
    client_id = f"bench-rss-{run}"
    line_count = 0
    with big.open("w") as out:
        target = int(gigabytes * 1024**3)
        written = 0
        chunk = []
        i = 0
        while written < target:
            line = json.dumps(event(client_id, i), separators=(",", ":")) + "\n"
            chunk.append(line)
            written += len(line)
            i += 1
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))
        line_count = i
    report = work / "big-report.json"
    status, wall, cpu, rss = run_measured(
        [str(BINARY), "send", "--quiet", "--max-time", "60s", "--report", str(report), str(big)],
        env={**os.environ, "EVENT_INGEST_URL": url, "EVENT_INGEST_KEY": key})
    summary = json.loads(report.read_text())
    size = big.stat().st_size
    big.unlink()
    return size, line_count, status, wall, cpu, rss, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rss-gb", type=float, default=1.0, help="size of the RSS input (0: skip)")
    parser.add_argument("--keep", help="keep the generated files in this directory")
    args = parser.parse_args()
    if not BINARY.exists():
        sys.exit(f"{BINARY} missing: run `make cli`")
    url, key = stack()
    run = f"{random.getrandbits(32):08x}"
    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="bench-cli-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        commit = subprocess.run(["git", "log", "-1", "--format=%h", "--", ".", ":!*.md"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        print(f"code commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"nproc {os.cpu_count()}, load average before: {load()}")
        result = throughput(url, key, work, args.events, run)
        cli_wall, cli_cpu, cli_rss, summary = result["cli"]
        curl_wall, curl_cpu = result["baseline"]
        n = args.events
        print(f"load average after the throughput runs: {load()}")
        print("| sender | events | wall s | events/s | client CPU s | client CPU µs/event | peak RSS |")
        print("|---|---|---|---|---|---|---|")
        print(f"| event-ingest send (batch {BATCH}, concurrency {CONCURRENCY}) | {n} | {cli_wall:.1f} | "
              f"{n / cli_wall:,.0f} | {cli_cpu:.2f} | {cli_cpu / n * 1e6:.1f} | {cli_rss / 1024:.1f} MiB |")
        print(f"| baseline: xargs -P {CONCURRENCY} curl, {BATCH}-event files | {n} | {curl_wall:.1f} | "
              f"{n / curl_wall:,.0f} | {curl_cpu:.2f} | {curl_cpu / n * 1e6:.1f} | - |")
        print(f"ratio (send events/s / baseline events/s): {curl_wall / cli_wall:.2f}; "
              f"send: {summary['requests']} requests, {summary['retries']} retries")
        if args.rss_gb > 0:
            size, lines, status, wall, cpu, rss, big = rss_on_big_input(url, key, work, args.rss_gb, run)
            print(f"1 GB input: {size / 1024**3:.2f} GiB, {lines} lines; send --max-time 60s: exit {status}, "
                  f"{wall:.0f} s, ending {big['ending']}, {big['processed']} processed "
                  f"({big['processed'] / wall:,.0f} events/s), peak RSS {rss / 1024:.1f} MiB")
            print(f"load average at the end: {load()}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
