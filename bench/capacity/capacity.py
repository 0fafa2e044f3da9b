#!/usr/bin/env python3
"""Capacity on paper: the numbers of docs/capacity.md, reproduced.

    python3 bench/capacity/capacity.py            # every table of the doc (~10-20 s)
    python3 bench/capacity/capacity.py --quick    # shorter simulated time, same shape

Python standard library only, one fixed seed: two runs print the same numbers.

What it does:

1. Takes the measured conflict rates of the hot-client test through the conflict-modelling
   fault proxy (RELIABILITY.md, sections "hot_client (small size, HOT_AGGREGATE_SHARDS=1/4/16)",
   commit 873943f): transactions, TransactionConflict cancellations, distinct events, run time.
   The proxy cancels a TransactWriteItems whose Update targets an item that another transaction
   still in flight through it updates (tests/integration/src/fault_proxy/connection.rs,
   `begin_updates`), i.e. an item is "held" for the whole call.
2. Calibrates that conflict rule on the A=1 run (one aggregate shard: at most one transaction in
   flight on it, so the emulator's own serialisation does not distort it): busy fraction = share
   of attempts cancelled, commit rate = committed transactions / run time, hold = busy / rate.
   Then replays the A=1 run (6 function instances in a closed loop, the store's RetryBudget)
   and checks the replay's conflict share and retries per event against the measurement.
3. Applies the same rule to one hot aggregate item on AWS: Poisson arrivals of commits (many
   Lambda instances), each holding the item for the call's duration on AWS (an assumption: 10 ms
   for a 3-item transaction, 40 ms for a 100-action batch group; 5/20 ms and 20/80 ms as
   sensitivity), a cancelled attempt retried with the store's full-jitter backoff (20 ms base,
   doubling, 1 s cap, 10 attempts, no new attempt after 6 s). It finds the largest commit rate
   per aggregate shard with at most 0.5 conflict retries per commit (half the A=1 run's level,
   at which 0.9 % of single events spent their budget) and the shard's partition under 1,000
   WCU/s counting cancelled attempts; for batches, requests whose groups (up to 98 events each)
   start together on random shards, as `commit_batch` does, fewer than 1 in 1,000 groups
   spending their budget.
4. Combines those per-item ceilings with the AWS quotas and the data model's other hot items
   into the per-client, per-tenant and per-table tables of the doc, and the 10,000 events/s
   customer's sizing and cost (BENCHMARKS.md "Cost per million events").
"""

import argparse
import heapq
import math
import random

SEED = 20261208

# ---------------------------------------------------------------------------------------------
# 1. Measured inputs (RELIABILITY.md, hot_client small size, HOT_AGGREGATE_SHARDS=n, commit
#    873943f, 2026-12-07; `REPORT=1 HOT_AGGREGATE_SHARDS=n cargo test -p integration-tests
#    --test reliability -- --test-threads=1 hot_client`, also `make shards`).
# ---------------------------------------------------------------------------------------------
MEASURED = {
    # shards: TransactWriteItems calls, TransactionConflict cancellations, distinct events,
    #         event sends, single sends, batches, run seconds, retries per distinct event
    1: dict(tx=1387, conflicts=677, distinct=640, sends=800, singles=685, batches=23, secs=12.5, rpe=1.05),
    4: dict(tx=1288, conflicts=572, distinct=640, sends=800, singles=697, batches=20, secs=10.2, rpe=0.89),
    16: dict(tx=980, conflicts=290, distinct=640, sends=800, singles=661, batches=27, secs=9.3, rpe=0.45),
}
TEST_INSTANCES = 6  # tests/integration/tests/reliability.rs: `let instances = 6;`

# The store's retry budget (shared/store/src/config.rs, RetryBudget::default).
MAX_ATTEMPTS = 10
BASE_BACKOFF = 0.020
MAX_BACKOFF = 1.0
MAX_ELAPSED = 6.0

# ---------------------------------------------------------------------------------------------
# AWS quotas and billing rules (sources in docs/capacity.md).
# ---------------------------------------------------------------------------------------------
PARTITION_WCU = 1000.0   # per partition per second (DynamoDB)
PARTITION_RCU = 3000.0
TABLE_WRU = 40000.0      # on-demand table-level quota, default (adjustable)
NEW_TABLE_WRU = 4000.0   # a new on-demand table's instant capacity (2x its 2,000 "previous peak")
API_ACCOUNT_RPS = 10000.0
API_ACCOUNT_BURST = 5000.0
LAMBDA_CONCURRENCY = 1000.0
TX_WRU_PER_KB = 2        # transactional write: 2 WRU per item per KB
GSI_WRU = 1              # the feed index copy of a 444 B processed event

# Template defaults (infra/template.yaml).
DEFAULT = dict(S=4, A=4, stage_rps=200, stage_burst=400)
SENSIBLE = dict(S=32, A=32, stage_rps=10000, stage_burst=5000)

# Per-event write units (BENCHMARKS.md "event-store: grouped batch commits", AWS rules).
WRU_SINGLE = 7.0         # 3 transactional items x 2 + 1 feed copy
WRU_BATCH = 3.08         # (100 puts x 2 + 4 ADDs x 2 + 100 feed copies) / 100
RRU_BATCH = 0.5          # BatchGetItem pre-read, eventually consistent
GROUP_EVENTS = 98        # puts in a full batch group (100 actions: 98 puts + ALL# + one M#)

# Lambda durations per invocation (BENCHMARKS.md "Cost per million events"): the AWS figures
# the cost model uses (estimates, not measured on AWS) and the local medians (measured on the
# local stack, debug build, LocalStack DynamoDB).
DUR_SINGLE_AWS, DUR_SINGLE_LOCAL = 0.012, 0.0163
DUR_B100_AWS, DUR_B100_LOCAL = 0.060, 0.119
# A batch of 500 of one client and hour: one pre-read per 100 keys and ~6 group transactions,
# all in parallel (BATCH_CONCURRENCY 16): taken as 5/3 of a batch of 100 (an estimate).
DUR_B500_AWS, DUR_B500_LOCAL = 5 * DUR_B100_AWS / 3, 5 * DUR_B100_LOCAL / 3

# How long a commit holds its aggregate items on AWS (assumed; the proxy's rule: the whole call).
HOLD_SINGLE, HOLD_GROUP = 0.010, 0.040

# Cost model (BENCHMARKS.md "Cost per million events", us-east-1 list prices 2024-11).
COST_PER_M = {
    ("single", "REST"): 8.91, ("single", "HTTP"): 6.41,
    ("batch100", "REST"): 2.04, ("batch100", "HTTP"): 2.01,
}
PRICE_WRU = 0.625 / 1e6


# ---------------------------------------------------------------------------------------------
# The conflict model: one item, held by a committing transaction for `hold` seconds; an attempt
# that finds it held is cancelled (TransactionConflict) and retried after full-jitter backoff.
# ---------------------------------------------------------------------------------------------
def backoff(rng, retry):
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** (retry - 1)))
    return rng.uniform(0.0, ceiling)


def hold_time(rng, hold):
    # the call's duration varies; uniform in [0.5, 1.5] x its mean
    return hold * (0.5 + rng.random())


class Stats:
    def __init__(self):
        self.chains = self.attempts = self.conflicts = self.committed = self.exhausted = 0
        self.latencies = []

    def row(self, seconds):
        lat = sorted(self.latencies) or [0.0]
        return dict(
            chains=self.chains,
            attempts=self.attempts,
            conflict_share=self.conflicts / max(1, self.attempts),
            retries_per_chain=self.conflicts / max(1, self.chains),
            exhausted=self.exhausted / max(1, self.chains),
            commits_per_s=self.committed / seconds,
            attempts_per_s=self.attempts / seconds,
            p50=lat[len(lat) // 2],
            p99=lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            mean=sum(lat) / len(lat),
        )


def simulate_open(rate, hold, seconds, rng, cancel=0.003):
    """Poisson arrivals of `rate` commit chains per second at one item."""
    stats = Stats()
    busy_until = 0.0
    heap = []  # (time, seq, first_time, attempt)
    seq = 0
    t = rng.expovariate(rate)
    while t < seconds:
        heap.append((t, seq, t, 1))
        seq += 1
        t += rng.expovariate(rate)
    heapq.heapify(heap)
    stats.chains = len(heap)
    while heap:
        now, _, first, attempt = heapq.heappop(heap)
        stats.attempts += 1
        if now < busy_until:
            stats.conflicts += 1
            answered = now + cancel
            pause = backoff(rng, attempt)
            if attempt >= MAX_ATTEMPTS or answered + pause - first > MAX_ELAPSED:
                stats.exhausted += 1
                continue
            seq += 1
            heapq.heappush(heap, (answered + pause, seq, first, attempt + 1))
        else:
            busy_until = now + hold_time(rng, hold)
            stats.committed += 1
            stats.latencies.append(busy_until - first)
    return stats.row(seconds)


def simulate_closed(instances, shards, hold, think, seconds, rng, cancel=0.001):
    """The hot-client test: `instances` function instances, each committing one chain at a time
    on one of `shards` items (by hash: uniform), `think` seconds of other work between chains."""
    stats = Stats()
    busy = [0.0] * shards
    heap = []
    seq = 0
    for i in range(instances):
        start = rng.expovariate(1.0 / think)
        heap.append((start, seq, start, 1, rng.randrange(shards)))
        seq += 1
    heapq.heapify(heap)
    while heap:
        now, _, first, attempt, shard = heapq.heappop(heap)
        if now > seconds:
            break
        if attempt == 1:
            stats.chains += 1
        stats.attempts += 1
        if now < busy[shard]:
            stats.conflicts += 1
            answered = now + cancel
            pause = backoff(rng, attempt)
            if attempt >= MAX_ATTEMPTS or answered + pause - first > MAX_ELAPSED:
                stats.exhausted += 1
                nxt = answered + rng.expovariate(1.0 / think)
                seq += 1
                heapq.heappush(heap, (nxt, seq, nxt, 1, rng.randrange(shards)))
                continue
            seq += 1
            heapq.heappush(heap, (answered + pause, seq, first, attempt + 1, shard))
        else:
            done = now + hold_time(rng, hold)
            busy[shard] = done
            stats.committed += 1
            stats.latencies.append(done - first)
            nxt = done + rng.expovariate(1.0 / think)
            seq += 1
            heapq.heappush(heap, (nxt, seq, nxt, 1, rng.randrange(shards)))
    return stats.row(seconds)


def simulate_batches(requests, groups, shards, hold, seconds, rng, distinct=False, cancel=0.003):
    """Poisson arrivals of `requests` batch requests per second of one client and hour, each
    committing `groups` group transactions at once (BATCH_CONCURRENCY 16 >= groups), each on an
    aggregate shard: random (the store today: the shard of the group's first event) or, with
    `distinct`, consecutive shards from a random start (no two groups of a request collide)."""
    stats = Stats()
    busy = [0.0] * shards
    heap = []
    seq = 0
    t = rng.expovariate(requests)
    while t < seconds:
        start = rng.randrange(shards)
        for g in range(groups):
            shard = (start + g) % shards if distinct else rng.randrange(shards)
            at = t + rng.uniform(0.0, 0.002)
            heap.append((at, seq, at, 1, shard))
            seq += 1
        t += rng.expovariate(requests)
    heapq.heapify(heap)
    stats.chains = len(heap)
    while heap:
        now, _, first, attempt, shard = heapq.heappop(heap)
        stats.attempts += 1
        if now < busy[shard]:
            stats.conflicts += 1
            answered = now + cancel
            pause = backoff(rng, attempt)
            if attempt >= MAX_ATTEMPTS or answered + pause - first > MAX_ELAPSED:
                stats.exhausted += 1
                continue
            seq += 1
            heapq.heappush(heap, (answered + pause, seq, first, attempt + 1, shard))
        else:
            busy[shard] = now + hold_time(rng, hold)
            stats.committed += 1
            stats.latencies.append(busy[shard] - first)
    return stats.row(seconds)


# ---------------------------------------------------------------------------------------------
# 2. Calibration on the measured A=1 run.
# ---------------------------------------------------------------------------------------------
def calibrate(seconds):
    m = MEASURED[1]
    committed = m["tx"] - m["conflicts"]
    commit_rate = committed / m["secs"]
    busy = m["conflicts"] / m["tx"]
    hold = busy / commit_rate
    # think time of the 6 instances, found by bisection so the replay commits at the measured rate
    lo, hi = 0.001, 1.0
    for _ in range(30):
        mid = math.sqrt(lo * hi)
        r = simulate_closed(TEST_INSTANCES, 1, hold, mid, seconds, random.Random(SEED))
        if r["commits_per_s"] > commit_rate:
            lo = mid
        else:
            hi = mid
    think = math.sqrt(lo * hi)
    replay = simulate_closed(TEST_INSTANCES, 1, hold, think, seconds, random.Random(SEED))
    chains = m["tx"] - m["conflicts"]  # one committed transaction per chain in the test
    return dict(commit_rate=commit_rate, busy=busy, hold=hold, think=think, replay=replay,
                measured_share=busy, measured_per_chain=m["conflicts"] / chains,
                measured_rpe=m["rpe"])


# ---------------------------------------------------------------------------------------------
# 3. Per-item ceilings on AWS.
# ---------------------------------------------------------------------------------------------
# The sustainable level: at most half the conflict retries per event the A=1 run measured (1.05,
# where 6 of 685 single events, 0.9 %, spent their whole retry budget and were kept as failed).
# A smooth criterion: the simulated count of exhausted budgets is too rare to bisect on, and the
# replay below under-estimates it (0.05 % against the measured 0.9 %).
RETRY_LIMIT = 0.5
# Batch groups: at most 1 in 1,000 groups spending its whole budget (counted in the simulation).
BATCH_EXHAUST_LIMIT = 1e-3


def item_ceiling(hold, wcu_per_attempt, seconds, lo=1.0, hi=None):
    """Largest commit-chain rate at one aggregate shard with at most RETRY_LIMIT conflict retries
    per commit and the shard's partition at most PARTITION_WCU, attempts (cancelled ones too) billed."""
    if hi is None:
        hi = 2.0 / hold
    def ok(rate):
        r = simulate_open(rate, hold, seconds, random.Random(SEED))
        return (r["retries_per_chain"] <= RETRY_LIMIT and r["attempts_per_s"] * wcu_per_attempt <= PARTITION_WCU), r
    good = None
    for _ in range(14):
        mid = (lo + hi) / 2
        fine, r = ok(mid)
        if fine:
            lo, good = mid, r
        else:
            hi = mid
    return lo, good


def sweep(hold, rates, seconds):
    return [(rate, simulate_open(rate, hold, seconds, random.Random(SEED))) for rate in rates]


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter simulated time (noisier)")
    args = ap.parse_args()
    secs = 60.0 if args.quick else 300.0

    print("# Capacity on paper: the simulation behind docs/capacity.md")
    print(f"seed {SEED}, {secs:.0f} simulated seconds per point\n")

    # ---- 1. measured inputs
    print("## 1. Measured conflict rates (RELIABILITY.md, hot_client, commit 873943f)\n")
    print("| AGGREGATE_SHARDS | transactions | cancelled (conflict) | share | conflict retries per distinct event | retries per attempt chain | commits/s |")
    print("|---|---|---|---|---|---|---|")
    for a, m in MEASURED.items():
        committed = m["tx"] - m["conflicts"]
        print(f"| {a} | {m['tx']} | {m['conflicts']} | {100*m['conflicts']/m['tx']:.1f} % | {m['rpe']:.2f} | "
              f"{m['conflicts']/committed:.2f} | {committed/m['secs']:.1f} |")
    # what the brief's discount gives: WCU-bound ceilings with the measured retries per event
    print("\nWCU-bound ceilings with the measured retries as a discount (every attempt billed):\n")
    print("| AGGREGATE_SHARDS | attempts per event (1 + retries) | per ALL# item: 500 / attempts | per shard partition (ALL# + M#: 4 WCU per attempt) | per client: A x partition |")
    print("|---|---|---|---|---|")
    for a, m in MEASURED.items():
        att = 1 + m["rpe"]
        print(f"| {a} | {att:.2f} | {fmt(500/att)} | {fmt(250/att)} | {fmt(a*250/att)} |")

    # ---- 2. calibration
    cal = calibrate(secs)
    rp = cal["replay"]
    print("\n## 2. The conflict rule calibrated on the A=1 run, and the run replayed\n")
    print(f"measured: {cal['commit_rate']:.1f} commits/s on one item, {100*cal['busy']:.1f} % of attempts cancelled "
          f"-> the item is held {1000*cal['hold']:.1f} ms per commit (busy share / commit rate)")
    print(f"replay: {TEST_INSTANCES} instances, closed loop, {1000*cal['think']:.0f} ms of other work between commits "
          f"(fitted to the commit rate), the store's retry budget\n")
    print("| | commits/s | attempts cancelled | conflict retries per attempt chain | budgets exhausted |")
    print("|---|---|---|---|---|")
    print(f"| measured (A=1) | {cal['commit_rate']:.1f} | {100*cal['measured_share']:.1f} % | {cal['measured_per_chain']:.2f} "
          f"({cal['measured_rpe']:.2f} per distinct event) | 6 single 500s of 685 |")
    print(f"| simulated | {rp['commits_per_s']:.1f} | {100*rp['conflict_share']:.1f} % | {rp['retries_per_chain']:.2f} | {100*rp['exhausted']:.2f} % |")

    # ---- 3. per-item ceilings on AWS
    print("\n## 3. One hot aggregate item on AWS (open loop, the proxy's rule, the store's retry budget)\n")
    print("Single events: each commit holds the shard's items for the call (3-item TransactWriteItems).\n")
    print("| hold (assumed) | commits/s offered | attempts cancelled | retries per event | budgets exhausted | p50 / p99 commit latency ms | shard partition WCU/s (4 per attempt) |")
    print("|---|---|---|---|---|---|---|")
    for hold in (0.010,):
        for rate, r in sweep(hold, (10, 25, 50, 57, 75, 100, 150), secs):
            print(f"| {1000*hold:.0f} ms | {rate} | {100*r['conflict_share']:.1f} % | {r['retries_per_chain']:.2f} | "
                  f"{100*r['exhausted']:.3f} % | {1000*r['p50']:.0f} / {1000*r['p99']:.0f} | {fmt(r['attempts_per_s']*4)} |")

    print(f"\nCeiling per aggregate shard (largest rate with <= {RETRY_LIMIT} conflict retries per commit and <= 1,000 WCU/s on the shard's partition):\n")
    print("| kind | hold (assumed) | commits/s per shard | events/s per shard | attempts cancelled | retries per commit | p99 ms | WCU/s on the shard | extra WRU per event (cancelled attempts) |")
    print("|---|---|---|---|---|---|---|---|---|")
    ceilings = {}
    global ceil_single
    for kind, holds, events, wcu_attempt, wru_attempt in (
        ("single", (0.005, 0.010, 0.020), 1, 4, 6.0),
        ("batch group", (0.020, 0.040, 0.080), GROUP_EVENTS, 4, 2.0 * (GROUP_EVENTS + 2)),
    ):
        for hold in holds:
            rate, r = item_ceiling(hold, wcu_attempt, secs)
            ceilings[(kind, hold)] = (rate, r)
            if kind == "single" and hold == HOLD_SINGLE:
                ceil_single = rate
            extra = r["retries_per_chain"] * wru_attempt / events
            print(f"| {kind} | {1000*hold:.0f} ms | {rate:.0f} | {fmt(rate*events)} | {100*r['conflict_share']:.1f} % | "
                  f"{r['retries_per_chain']:.2f} | {1000*r['p99']:.0f} | {fmt(r['attempts_per_s']*wcu_attempt)} | {extra:.3f} |")

    print("\n(The rest uses 10 ms for single events and 40 ms for batch groups.)")

    # ---- 4. the ceilings
    print("\n## 4. Largest sustained events/s, from the hot items and the quotas\n")
    print("Per client: the rate R at which every item of one client stays within its limits, the")
    print("aggregate shards' conflicts simulated at R / AGGREGATE_SHARDS (every cancelled attempt")
    print("billed on the partitions it touches); per tenant and per table: the shared items and quotas.")
    configs = (("default", DEFAULT), ("largest sensible", SENSIBLE),
               ("template maximum", dict(S=64, A=64, stage_rps=10000, stage_burst=5000)))
    results = {}
    for name, cfg in configs:
        print(f"\n### {name}: EVENT_SHARDS={cfg['S']}, AGGREGATE_SHARDS={cfg['A']}, stage throttle {fmt(cfg['stage_rps'])} rps\n")
        print("| scope | path | items: client's aggregate + event partitions | tenant's feed index (S x 1,000) | API (stage rps x events per request) | Lambda (1,000 x events per request / duration) | table quota (40,000 WRU / WRU per event) | **ceiling** | bound by |")
        print("|---|---|---|---|---|---|---|---|---|")
        for path, size, duration in (("single", 1, DUR_SINGLE_AWS), ("batch of 100", 100, DUR_B100_AWS),
                                     ("batch of 500", 500, DUR_B500_AWS)):
            batch = size > 1
            items, r = client_ceiling(cfg["S"], cfg["A"], size, secs)
            c = r["retries_per_chain"] if r else 0.0
            groups = math.ceil(size / GROUP_EVENTS)
            # a cancelled group bills its puts and ADDs (2 WRU each); a cancelled single its 3 items
            wru = (WRU_BATCH + c * groups * 2.0 * (size + 2 * groups) / groups / size) if batch else (WRU_SINGLE + 6.0 * c)
            per_request = size
            api = cfg["stage_rps"] * per_request
            lam = LAMBDA_CONCURRENCY * per_request / duration
            table = TABLE_WRU / wru
            feed = cfg["S"] * PARTITION_WCU / GSI_WRU
            cool = WRU_BATCH if batch else WRU_SINGLE  # many clients, each far from its ceiling
            for scope, limits, w in (
                ("one client", dict(items=items, feed=feed, api=api, lambda_=lam, table=table), wru),
                ("one tenant", dict(feed=feed, api=api, lambda_=lam, table=TABLE_WRU / cool), cool),
                ("whole table", dict(api=api, lambda_=lam, table=TABLE_WRU / cool), cool),
            ):
                bound = min(limits, key=limits.get)
                results[(name, scope, path)] = (limits[bound], bound, w)
                cell = lambda k: (fmt(limits[k]) + (f" ({r['why']})" if k == "items" else "")) if k in limits else "-"
                print(f"| {scope} | {path} | {cell('items')} | {cell('feed')} | {cell('api')} | {cell('lambda_')} | "
                      f"{cell('table')} ({w:.2f} WRU) | **{fmt(limits[bound])}** | {bound.rstrip('_')} |")

    # ---- 5. the 10,000 events/s customer
    rate = 10000.0
    print("\n## 5. A customer at 10,000 events/s (36 M events per hour), in batches of 500\n")
    print("One client id carries all of it: 20 requests/s, each committing 6 groups (5 x 98 + 10 events) at once,")
    print("each group on an aggregate shard (today: the shard of its first event; or consecutive shards per")
    print("request, a possible change). Cancelled groups billed on every item they touch.\n")
    print("| EVENT_SHARDS | AGGREGATE_SHARDS | group shard | cancelled | retries per group | budgets exhausted | event partition WCU/s (of 1,000) | feed partition WCU/s (of 1,000) | table WRU/s | extra WRU per event | extra $ per hour |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for S, A, distinct in ((4, 4, False), (16, 16, False), (32, 32, False), (32, 32, True),
                           (64, 32, False), (64, 32, True), (64, 64, False), (64, 64, True)):
        r = simulate_batches(rate / 500, 6, A, HOLD_GROUP, secs, random.Random(SEED), distinct)
        c = r["retries_per_chain"]
        extra = c * 2.0 * (500 + 2 * 6) / 500  # a cancelled group bills its puts and ADDs
        ev = rate * 2 * (1 + c) / S
        print(f"| {S} | {A} | {'consecutive' if distinct else 'first event (today)'} | {100*r['conflict_share']:.1f} % | {c:.2f} | "
              f"{100*r['exhausted']:.3f} % | {fmt(ev)} | {fmt(rate/S)} | {fmt(rate*(WRU_BATCH+extra))} | {extra:.2f} | "
              f"{rate*3600*extra*PRICE_WRU:.2f} |")
    print("\nThe same 10,000 events/s spread over 10 clients of 1,000 events/s each (one tenant):\n")
    print("| EVENT_SHARDS | AGGREGATE_SHARDS | group shard | groups/s per aggregate shard | retries per group | event partition WCU/s (of 1,000) | feed partition WCU/s (of 1,000) | table WRU/s | extra WRU per event | extra $ per hour |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for S, A, distinct in ((4, 4, False), (16, 4, False), (16, 4, True), (16, 8, False), (16, 16, False), (16, 16, True)):
        per = rate / 10 / A / GROUP_EVENTS
        r = simulate_batches(rate / 10 / 500, 6, A, HOLD_GROUP, secs, random.Random(SEED), distinct)
        c = r["retries_per_chain"]
        extra = c * 2.0 * (500 + 2 * 6) / 500
        print(f"| {S} | {A} | {'consecutive' if distinct else 'first event (today)'} | {per:.1f} | {c:.2f} | {fmt(rate/10*2*(1+c)/S)} | {fmt(rate/S)} | "
              f"{fmt(rate*(WRU_BATCH+extra))} | {extra:.2f} | {rate*3600*extra*PRICE_WRU:.2f} |")
    print()
    for size, dur_aws, dur_local in ((100, DUR_B100_AWS, DUR_B100_LOCAL), (500, DUR_B500_AWS, DUR_B500_LOCAL)):
        rps = rate / size
        print(f"batches of {size}: {rps:.0f} requests/s; Lambda concurrency {rps*dur_aws:.0f} (AWS estimate "
              f"{1000*dur_aws:.0f} ms) to {rps*dur_local:.0f} (local median {1000*dur_local:.0f} ms)")
    print(f"single events: {rate:.0f} requests/s = the whole account API quota; Lambda {rate*DUR_SINGLE_AWS:.0f}-{rate*DUR_SINGLE_LOCAL:.0f} concurrent; "
          f"one client would need {rate/ceil_single:.0f} aggregate shards at {ceil_single:.0f} events/s each (the template allows 64)")
    print(f"table: {fmt(rate*WRU_BATCH)} WRU/s ({fmt(rate*(WRU_BATCH-GSI_WRU))} base + {fmt(rate*GSI_WRU)} feed index) + {fmt(rate*RRU_BATCH)} RRU/s "
          f"before cancelled groups; a new on-demand table serves {fmt(NEW_TABLE_WRU)} WRU/s at once")
    print("\ncost per hour = cost per million x 36 (BENCHMARKS.md 'Cost per million events'):\n")
    print("| path | API | $ per million | x 36 M events | $ per hour |")
    print("|---|---|---|---|---|")
    for (path, api), per_m in COST_PER_M.items():
        print(f"| {path} | {api} | {per_m:.2f} | {per_m:.2f} x 36 | **{per_m*36:,.2f}** |")
    lease = rate / 100 * 3600 * PRICE_WRU
    print(f"\nlimiter leases at blocks of 100: {rate/100:.0f} UpdateItems/s = {rate/100*3600:,.0f} WRU per hour = ${lease:.3f} per hour")


def client_ceiling(S, A, size, seconds):
    """Largest events/s of one client sending requests of `size` events (1: single events) with:
    single events at most RETRY_LIMIT conflict retries per commit, batch groups fewer than
    BATCH_EXHAUST_LIMIT budgets exhausted; each aggregate shard partition <= 1,000 WCU/s (4 WCU
    per attempt); each event partition <= 1,000 WCU/s (2 WRU per put per attempt, cancelled
    attempts billed)."""
    batch = size > 1
    def run(rate):
        if batch:  # requests of `size` events: their groups at once on the client's A shards
            r = simulate_batches(rate / size, math.ceil(size / GROUP_EVENTS), A, HOLD_GROUP, seconds, random.Random(SEED))
            r["attempts_per_s"] /= A  # per shard
            return r
        return simulate_open(rate / A, HOLD_SINGLE, seconds, random.Random(SEED))
    def check(rate):
        r = run(rate)
        c = r["retries_per_chain"]
        # single events: the retry criterion (their failure mode, measured at A=1); batch groups:
        # their conflicts are mostly a request's own groups colliding, which back off and pass
        # within the request: a cost (billed below), bounded by the partitions and the budget
        calm = (r["exhausted"] < BATCH_EXHAUST_LIMIT) if batch else (r["retries_per_chain"] <= RETRY_LIMIT)
        fine = (calm
                and r["attempts_per_s"] * 4 <= PARTITION_WCU
                and rate * 2 * (1 + c) / S <= PARTITION_WCU)
        return fine, r
    lo, hi, best = 1.0, 200000.0, None
    for _ in range(16):
        mid = math.sqrt(lo * hi)
        fine, r = check(mid)
        if fine:
            lo, best = mid, r
        else:
            hi = mid
    # which limit stops it: the first that fails just above the ceiling
    r = run(hi)
    if (r["exhausted"] >= BATCH_EXHAUST_LIMIT) if batch else (r["retries_per_chain"] > RETRY_LIMIT):
        why = "aggregate conflicts"
    elif r["attempts_per_s"] * 4 > PARTITION_WCU:
        why = "aggregate partition WCU"
    else:
        why = "event partitions"
    best = dict(best or {}, why=why)
    return lo, best


if __name__ == "__main__":
    main()
