"""Speed and memory of the engine against a bare SimPy program (issue 2).

Two systems, each simulated two ways in the same process, alternating, over
several rounds (the median is kept, so a noisy neighbour on a shared machine
spoils one round, not the figure):

* ``mm1``: M/M/1 at rho = 0.8 (Poisson arrivals at 800/s, exponential service
  with a 1 ms mean, one worker, unbounded queue);
* ``chain``: client -> a -> b -> c, synchronous calls over links with a constant
  1 ms one-way latency per leg, exponential compute on each service, the
  caller's worker held while it waits (thread-per-request).

Way 1 (``product``) is what a user's run does short of pricing and printing:
the scenario as YAML text, ``load_scenario_text``, then ``simulate`` (one
replication, no warm-up). Way 2 (``bare``) is a plain SimPy program of the same
system: ``simpy.Resource``, a process per request, ``random.Random`` and its
``expovariate``, latencies appended to a list.

Each round has its own seed, shared by both ways (the bare program seeds its
arrival generator like the product's ``arrivals`` stream, so both see the same
arrivals; the product draws work per request, the bare program sequentially,
so their work differs). The rounds are independent replications: the mean
latencies of the two ways must agree within 3 %, with a t-based 95 % interval
from the rounds saying how sure that is; it checks that both simulate the same
system, so the speed comparison is fair.

Usage::

    python bench/bench_engine.py [--requests N] [--rounds R] [--memory]
                                 [--profile]

``--memory`` runs the product's M/M/1 at 1 M and 10 M requests, each in a fresh
subprocess, and prints the peak RSS of each; ``--profile`` prints where the
time goes per request (cProfile), product against bare.
"""

import argparse
import cProfile
import gc
import json
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import scipy.stats
import simpy

from simulator.engine.simulation import simulate
from simulator.engine.streams import stream_seed
from simulator.scenario.loader import load_scenario_text

SEED = 20240601
TARGET_RATIO = 0.7
LATENCY_AGREEMENT = 0.03

MM1_RATE_PER_S = 800.0
MM1_SERVICE_MEAN_S = 0.001

CHAIN_RATE_PER_S = 300.0
CHAIN_COMPUTE_MEAN_S = 0.002
CHAIN_LINK_LATENCY_S = 0.001
CHAIN_WORKERS = {"a": 6, "b": 4, "c": 1}
CHAIN_NEXT = {"a": "b", "b": "c", "c": None}

MEMORY_SIZES = (1_000_000, 10_000_000)

Process = Generator[simpy.Event, Any, None]


@dataclass
class Run:
    """One timed simulation: how many requests, how long, what latency."""

    requests: int
    wall_s: float
    mean_latency_s: float
    seed: int = 0
    load_s: float = 0.0
    extra: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s


# ---------------------------------------------------------------------------
# Way 1: the product's scenario path.


def mm1_yaml(requests: int, seed: int) -> str:
    duration_s = requests / MM1_RATE_PER_S
    return f"""
name: bench M/M/1 at rho 0.8
seed: {seed}
run: {{duration: {duration_s!r}s, warmup: 0s, replications: 1}}
workload:
  arrivals: {{kind: poisson, rate: {MM1_RATE_PER_S!r}/s}}
topologies:
  mm1:
    services:
      server:
        kind: container
        replicas: 1
        concurrency: 1
        work: {{kind: exponential, mean: {MM1_SERVICE_MEAN_S * 1000!r}ms}}
    entrypoint:
      - {{call: server}}
"""


def chain_yaml(requests: int, seed: int) -> str:
    duration_s = requests / CHAIN_RATE_PER_S
    mean_ms = CHAIN_COMPUTE_MEAN_S * 1000
    latency_ms = CHAIN_LINK_LATENCY_S * 1000

    services = ""
    for name, workers in CHAIN_WORKERS.items():
        services += (
            f"      {name}:\n        kind: container\n"
            f"        concurrency: {workers}\n        steps:\n"
            f"          - {{compute: {{kind: exponential, mean: {mean_ms!r}ms}}}}\n"
        )
        callee = CHAIN_NEXT[name]
        if callee is not None:
            services += f"          - {{call: {callee}, via: {name}-{callee}}}\n"

    links = "".join(
        f"      {link}: {{pattern: network, network: {{latency: {latency_ms!r}ms}}}}\n"
        for link in ("client-a", "a-b", "b-c")
    )
    return f"""
name: bench 3-hop synchronous chain
seed: {seed}
run: {{duration: {duration_s!r}s, warmup: 0s, replications: 1}}
workload:
  arrivals: {{kind: poisson, rate: {CHAIN_RATE_PER_S!r}/s}}
topologies:
  chain:
    services:
{services}    links:
{links}    entrypoint:
      - {{call: a, via: client-a}}
"""


def run_product(text: str, topology: str, seed: int) -> Run:
    gc.collect()
    started = time.perf_counter()
    scenario = load_scenario_text(text, "<bench>")
    loaded = time.perf_counter()
    result = simulate(scenario, topology, 0)
    finished = time.perf_counter()

    # Every request must have finished, or the two ways would not compare.
    assert result.in_flight == 0 and result.succeeded == result.arrived
    utilisation = ", ".join(
        f"{name} {figures['utilisation']:.2f}"
        for name, figures in result.services.items()
    )
    return Run(
        result.succeeded,
        finished - started,
        result.latency.mean_s,
        seed=seed,
        load_s=loaded - started,
        extra=f"utilisation {utilisation}",
    )


def product_mm1(requests: int, seed: int) -> Run:
    return run_product(mm1_yaml(requests, seed), "mm1", seed)


def product_chain(requests: int, seed: int) -> Run:
    return run_product(chain_yaml(requests, seed), "chain", seed)


# ---------------------------------------------------------------------------
# Way 2: bare SimPy, sharing nothing with the product but the seed of the
# arrival stream.


def seeded(seed: int, name: str) -> random.Random:
    return random.Random(stream_seed(seed, 0, name))


def bare_mm1(requests: int, seed: int) -> Run:
    gc.collect()
    started = time.perf_counter()

    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    arrivals = seeded(seed, "arrivals")
    service = seeded(seed, "service/server/step0")
    end_s = requests / MM1_RATE_PER_S
    latencies: list[float] = []

    def request() -> Process:
        start = env.now
        with server.request() as slot:
            yield slot
            yield env.timeout(service.expovariate(1.0 / MM1_SERVICE_MEAN_S))
        latencies.append(env.now - start)

    def source() -> Process:
        while True:
            yield env.timeout(arrivals.expovariate(MM1_RATE_PER_S))
            if env.now >= end_s:
                return
            env.process(request())

    env.process(source())
    env.run()

    finished = time.perf_counter()
    mean_s = statistics.fmean(latencies)
    return Run(len(latencies), finished - started, mean_s, seed=seed)


def bare_chain(requests: int, seed: int) -> Run:
    gc.collect()
    started = time.perf_counter()

    env = simpy.Environment()
    pools = {
        name: simpy.Resource(env, capacity=workers)
        for name, workers in CHAIN_WORKERS.items()
    }
    compute = {name: seeded(seed, f"service/{name}/step0") for name in CHAIN_WORKERS}
    arrivals = seeded(seed, "arrivals")
    end_s = requests / CHAIN_RATE_PER_S
    latencies: list[float] = []

    def serve(name: str) -> Process:
        # The worker stays held while the downstream call is made.
        with pools[name].request() as slot:
            yield slot
            yield env.timeout(compute[name].expovariate(1.0 / CHAIN_COMPUTE_MEAN_S))
            callee = CHAIN_NEXT[name]
            if callee is not None:
                yield env.timeout(CHAIN_LINK_LATENCY_S)
                yield from serve(callee)
                yield env.timeout(CHAIN_LINK_LATENCY_S)

    def request() -> Process:
        start = env.now
        yield env.timeout(CHAIN_LINK_LATENCY_S)
        yield from serve("a")
        yield env.timeout(CHAIN_LINK_LATENCY_S)
        latencies.append(env.now - start)

    def source() -> Process:
        while True:
            yield env.timeout(arrivals.expovariate(CHAIN_RATE_PER_S))
            if env.now >= end_s:
                return
            env.process(request())

    env.process(source())
    env.run()

    finished = time.perf_counter()
    mean_s = statistics.fmean(latencies)
    return Run(len(latencies), finished - started, mean_s, seed=seed)


Simulation = Callable[[int, int], Run]
"""Runs one system one way: (requests, seed) -> timed run."""

SYSTEMS: dict[str, tuple[Simulation, Simulation]] = {
    "mm1": (product_mm1, bare_mm1),
    "chain": (product_chain, bare_chain),
}


# ---------------------------------------------------------------------------
# Speed.


def latency_agreement(product: list[Run], bare: list[Run]) -> tuple[bool, str]:
    product_mean_s = statistics.fmean(run.mean_latency_s for run in product)
    bare_mean_s = statistics.fmean(run.mean_latency_s for run in bare)
    relative = product_mean_s / bare_mean_s - 1
    line = (
        f"mean latency product {product_mean_s * 1000:.4f} ms, "
        f"bare {bare_mean_s * 1000:.4f} ms, difference {relative:+.2%}"
    )

    # With two rounds or more, the difference must also be within its noise.
    differences = [
        p.mean_latency_s - b.mean_latency_s for p, b in zip(product, bare, strict=True)
    ]
    within_noise = True
    if len(differences) > 1:
        t95 = scipy.stats.t.ppf(0.975, len(differences) - 1)
        half_width_s = t95 * statistics.stdev(differences) / len(differences) ** 0.5
        half_width = half_width_s / bare_mean_s
        within_noise = abs(relative) <= half_width
        line += f" (95 % interval +/- {half_width:.2%})"

    # Only a difference beyond the tolerance and beyond the noise fails.
    if abs(relative) <= LATENCY_AGREEMENT:
        agree, verdict = True, "agree"
    elif within_noise:
        agree, verdict = True, "inconclusive: within the noise, run more requests"
    else:
        agree, verdict = False, "DISAGREE"
    return agree, f"{line}: {verdict} (tolerance {LATENCY_AGREEMENT:.0%})"


def speed(requests: int, rounds: int) -> bool:
    print(f"speed: {requests:,} requests per run, {rounds} rounds, median kept")
    runs: dict[tuple[str, str], list[Run]] = {
        (system, way): [] for system in SYSTEMS for way in ("product", "bare")
    }

    # Alternate which way goes first, so a slow spell does not favour one way.
    for round_index in range(rounds):
        seed = SEED + round_index
        for system, (product, bare) in SYSTEMS.items():
            order = [("product", product), ("bare", bare)]
            if round_index % 2:
                order.reverse()
            for way, function in order:
                run = function(requests, seed)
                runs[system, way].append(run)
                print(
                    f"  round {round_index + 1} {system:5} {way:7} "
                    f"{run.rate:10,.0f} req/s  {run.wall_s:6.2f} s  "
                    f"mean latency {run.mean_latency_s * 1000:.4f} ms"
                )

    # Runs of one round are neighbours in time, so their ratio suffers least
    # from a slow spell of the machine; both summaries are printed.
    print()
    print(
        f"{'system':6} {'product req/s':>14} {'bare req/s':>11} "
        f"{'ratio of medians':>17} {'median round ratio':>19} {'round ratios':>20}"
    )
    all_pass = True
    for system in SYSTEMS:
        product_runs, bare_runs = runs[system, "product"], runs[system, "bare"]
        product_rate = statistics.median(run.rate for run in product_runs)
        bare_rate = statistics.median(run.rate for run in bare_runs)
        round_ratios = [
            product.rate / bare.rate
            for product, bare in zip(product_runs, bare_runs, strict=True)
        ]
        ratio = statistics.median(round_ratios)
        spread = f"{min(round_ratios):.3f} .. {max(round_ratios):.3f}"
        passed = min(ratio, product_rate / bare_rate) >= TARGET_RATIO
        all_pass &= passed
        print(
            f"{system:6} {product_rate:14,.0f} {bare_rate:11,.0f} "
            f"{product_rate / bare_rate:17.3f} {ratio:19.3f} {spread:>20}  "
            f"{'pass' if passed else 'FAIL'} (target {TARGET_RATIO})"
        )

    # Rounds are independent replications (one seed each): the difference of
    # the mean latencies gets a t-based 95 % interval from them.
    print()
    for system in SYSTEMS:
        agree, line = latency_agreement(runs[system, "product"], runs[system, "bare"])
        all_pass &= agree
        print(f"{system}: {line}")

    print()
    mm1_theory_s = 1 / (1 / MM1_SERVICE_MEAN_S - MM1_RATE_PER_S)
    print(f"M/M/1 theory: mean latency {mm1_theory_s * 1000:.4f} ms")
    for system in SYSTEMS:
        first = runs[system, "product"][0]
        print(
            f"{system}: product load (YAML + validation) "
            f"{first.load_s * 1000:.0f} ms of {first.wall_s:.2f} s; {first.extra}"
        )
    return all_pass


# ---------------------------------------------------------------------------
# Memory: each size in a fresh process, peak RSS measured in the child.


def memory_child(requests: int) -> None:
    scenario = load_scenario_text(mm1_yaml(requests, SEED), "<bench>")
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    started = time.perf_counter()
    result = simulate(scenario, "mm1", 0)
    wall_s = time.perf_counter() - started

    # ru_maxrss is in KiB on Linux.
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "requests": result.succeeded,
                "wall_s": wall_s,
                "rss_before_simulate_mib": before_kib / 1024,
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


def memory() -> None:
    print("memory: product M/M/1, each size in a fresh process")
    for requests in MEMORY_SIZES:
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(requests)],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(child.stdout)
        print(
            f"  {figures['requests']:>12,} requests: peak RSS "
            f"{figures['peak_rss_mib']:7.1f} MiB (before simulate "
            f"{figures['rss_before_simulate_mib']:.1f} MiB), "
            f"simulated in {figures['wall_s']:.1f} s"
        )


# ---------------------------------------------------------------------------
# Profile: where the time goes, per request.


def profile(requests: int, top: int = 14) -> None:
    for system, ways in SYSTEMS.items():
        for way, function in zip(("product", "bare"), ways, strict=True):
            profiler = cProfile.Profile()
            profiler.enable()
            run = function(requests, SEED)
            profiler.disable()

            stats = pstats.Stats(profiler)
            total_s = stats.total_tt  # type: ignore[attr-defined]
            print(
                f"\nprofile {system} {way}: {total_s / run.requests * 1e6:.1f} us "
                f"per request under cProfile; top functions by own time"
            )
            print(f"  {'us/req':>7} {'calls/req':>9}  function")
            entries = stats.stats  # type: ignore[attr-defined]
            ranked = sorted(entries.items(), key=lambda item: -item[1][2])
            for (path, line, name), (_, calls, own_s, _, _) in ranked[:top]:
                where = f"{os.path.basename(path)}:{line}" if line else path
                print(
                    f"  {own_s / run.requests * 1e6:7.2f} "
                    f"{calls / run.requests:9.2f}  {name} ({where})"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.memory_child:
        memory_child(arguments.memory_child)
        return

    print(f"python {sys.version.split()[0]}, simpy {simpy.__version__}")
    if arguments.profile:
        profile(arguments.requests)
        return
    passed = speed(arguments.requests, arguments.rounds)
    if arguments.memory:
        print()
        memory()
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
