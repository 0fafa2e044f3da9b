#!/usr/bin/env python3
"""Latency of the deployed API (LocalStack's API Gateway -> the host executor -> the real
functions) against the watcher (`cargo lambda watch`), in one run: `make bench-deployed`.

1. `scripts/stack.py deploy-local` with RESET=1 (a fresh stack: every function cold), timed:
   that is `make deploy-local` from a warm build; then once more with nothing changed.
2. The first request to each function through API Gateway: a cold environment (process
   start, init, first invocation).
3. Warm: ROUNDS sequential requests per route on one keep-alive connection each, against
   the deployed URL and the watcher's, interleaved route by route; median and p90.

Ratios are against the watcher's warm median of the same route in the same run. Standard
library only; needs a stack with the functions (`scripts/stack.py with`, which exports
.local/api.env and the development key as API_KEY).

Usage: scripts/stack.py with python3 bench/deployed/latency.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ROUTES = [  # (function, method, path, body): one route per function
    ("dashboard", "GET", "/", None),
    ("ingest", "POST", "/events", "event"),
    ("listing", "GET", "/events/processed?client_id=bench-latency&limit=10", None),
    ("aggregates", "GET", "/aggregates?client_id=bench-latency", None),
]


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


class Target:
    """One base URL and key, on one keep-alive connection."""

    def __init__(self, name: str, base_url: str, key: str):
        self.name, self.key = name, key
        url = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.prefix = url.hostname, url.port or 80, url.path.rstrip("/")
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method: str, path: str, body: str | None) -> float:
        """Seconds from send to the whole answer; the answer must be 2xx."""
        payload = None
        if body == "event":
            payload = json.dumps({"client_id": "bench-latency", "event_id": uuid.uuid4().hex,
                                  "payload": {"amount": "1", "timestamp": "2026-11-20T10:00:00Z"}}).encode()
        headers = {"x-api-key": self.key, "content-type": "application/json"}
        t0 = time.perf_counter()
        self.conn.request(method, self.prefix + path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - t0
        if response.status >= 300:
            raise SystemExit(f"{self.name} {method} {path}: {response.status} {data[:300]!r}")
        return elapsed


def deploy(reset: bool) -> float:
    env = dict(os.environ, RESET="1" if reset else "")
    t0 = time.perf_counter()
    subprocess.run([str(ROOT / "scripts" / "stack.py"), "deploy-local"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    watcher_url, watcher_key = os.environ.get("BASE_URL"), os.environ.get("API_KEY")
    if not watcher_url or not watcher_key:
        sys.exit("run under `scripts/stack.py with` (BASE_URL and API_KEY of the watcher)")

    fresh = deploy(reset=True)
    again = deploy(reset=False)
    deployed = read_env(ROOT / ".local" / "deployed.env")
    api = Target("deployed", deployed["BASE_URL"], deployed["API_KEY"])
    watcher = Target("watcher", watcher_url, watcher_key)

    cold = {fn: api.request(method, path, body) for fn, method, path, body in ROUTES}
    warm: dict[tuple[str, str], list[float]] = {}
    for fn, method, path, body in ROUTES:
        for target in (watcher, api):
            target.request(method, path, body)  # warm this route's connection and process
        for _ in range(args.rounds):
            for target in (watcher, api):
                warm.setdefault((fn, target.name), []).append(target.request(method, path, body))

    print(f"make deploy-local from a warm build: fresh stack (RESET=1) {fresh:.1f} s, unchanged {again:.1f} s")
    print(f"{'function':<11} {'cold via API GW':>16} {'warm API GW p50/p90':>20} {'warm watcher p50/p90':>21}"
          f" {'warm ratio':>10} {'cold ratio':>10}")
    for fn, *_ in ROUTES:
        a, w = warm[(fn, "deployed")], warm[(fn, "watcher")]
        p = lambda xs, q: statistics.quantiles(xs, n=10)[q - 1]  # noqa: E731 - deciles
        base = statistics.median(w)
        print(f"{fn:<11} {ms(cold[fn]):>13} ms {ms(statistics.median(a)):>9}/{ms(p(a, 9)):<7} ms "
              f"{ms(base):>10}/{ms(p(w, 9)):<7} ms {statistics.median(a) / base:>9.1f}x {cold[fn] / base:>9.0f}x")
    print(f"({args.rounds} sequential requests per route and target, interleaved; ratios against the watcher's warm median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
