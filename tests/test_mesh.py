"""The service mesh pattern: four sidecar traversals per call, mTLS, proxy
CPU and memory metered as fleet compute, and the mesh's resilience through
the shared machinery.
"""

import pytest
from helpers import ROOT, topology_run, trace

from simulator.engine.simulation import simulate
from simulator.errors import ScenarioError
from simulator.pricing.monthly import monthly_usage
from simulator.scenario.loader import load_scenario, load_scenario_text

MESH = """
name: mesh
seed: 9
run: {{duration: {duration}, drain: 100s}}
workload: {{arrivals: {{kind: constant, rate: 1/s}}, request_size: 1KB}}
pricing: {{region: {region}}}
topologies:
  t:
    services:
      front:
        kind: container
        replicas: 2
        steps:
          - {{compute: 10ms}}
          - {{call: back, via: inner}}
      back: {{kind: {back_kind}, replicas: 3, work: 20ms{back_extra}}}
    links:
      outer: &mesh
        pattern: mesh
        network: {{latency: 0.5ms}}
        sidecar: {{latency: 1ms, cpu: 0.1ms, memory: 64MiB}}
        mtls:
          handshake: 3ms
          handshake_cpu: 2ms
          new_connection_fraction: {fraction}
      inner: *mesh
    entrypoint:
      - {{call: front, via: outer}}
"""


def mesh_text(
    duration: str = "10.5s",
    fraction: float = 0.0,
    region: str = "us-east-1",
    back_kind: str = "container",
    back_extra: str = "",
) -> str:
    return MESH.format(
        duration=duration,
        fraction=fraction,
        region=region,
        back_kind=back_kind,
        back_extra=back_extra,
    )


def test_a_call_crosses_four_sidecars_and_two_network_legs() -> None:
    run = topology_run(mesh_text())
    outcomes = trace(run)
    result = run.run()

    # Per hop: 4 x 1 ms of sidecars + 2 x 0.5 ms of network; two hops, plus
    # 10 ms and 20 ms of work.
    assert {round(o.latency_s, 9) for o in outcomes} == {0.040}
    for link in ("outer", "inner"):
        figures = result.hops[link]
        assert figures["proxy_latency_s"]["max"] == pytest.approx(0.004)
        assert figures["proxy_cpu_s_per_call"] == pytest.approx(0.0004)
        assert figures["mtls_handshakes"] == 0


def test_new_connections_pay_the_mtls_handshake() -> None:
    run = topology_run(mesh_text(fraction=1.0))
    outcomes = trace(run)
    result = run.run()
    assert {round(o.latency_s, 9) for o in outcomes} == {0.046}
    figures = result.hops["inner"]
    assert figures["mtls_handshakes"] == 10
    # Four traversals of 0.1 ms plus a handshake of 2 ms on each end.
    assert figures["proxy_cpu_s_per_call"] == pytest.approx(0.0044)


def test_proxy_cpu_and_memory_are_metered_as_fleet_compute() -> None:
    scenario = load_scenario_text(mesh_text(duration="3600s"), "<mesh>")
    result = simulate(scenario, "t", 0)
    meters = {key: value for key, (value, _) in result.meters.items()}

    # CPU: 0.4 ms per call on each link, in vCPU-hours, per measured call.
    calls = result.arrived
    for link in ("outer", "inner"):
        assert meters[(link, "compute.vcpu-hours")] == pytest.approx(
            calls * 0.0004 / 3600
        )

    # Memory: one sidecar per replica at either end, an ingress proxy for
    # the entrypoint, 64 MiB each, held for the hour of the window.
    gb = 64 / 1024
    assert meters[("sidecars/ingress", "compute.gb-hours")] == pytest.approx(gb)
    assert meters[("sidecars/front", "compute.gb-hours")] == pytest.approx(2 * gb)
    assert meters[("sidecars/back", "compute.gb-hours")] == pytest.approx(3 * gb)

    # A month holds them for 730 hours.
    memory = [
        u for u in monthly_usage(result, scenario) if u.meter.endswith("gb-hours")
    ]
    assert sum(u.quantity for u in memory) == pytest.approx(6 * gb * 730)


def test_mesh_prices_come_from_the_catalog_or_an_override() -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(mesh_text(region="ap-south-1"), "mumbai.yaml")
    message = str(raised.value)
    assert "compute.vcpu-hours" in message
    assert "pricing.overrides" in message


def test_only_container_services_are_in_the_mesh() -> None:
    text = mesh_text(
        back_kind="lambda", back_extra=", memory_mb: 128, cold_start: 100ms"
    ).replace("replicas: 3, ", "")
    with pytest.raises(ScenarioError) as raised:
        load_scenario_text(text, "mesh.yaml")
    assert "mesh, which calls container services" in str(raised.value)


def test_the_mesh_retries_and_balances_through_the_shared_machinery() -> None:
    text = mesh_text(
        back_extra=", load_balancing: round-robin, faults: [{kind: errors, "
        "replica: 0, error_rate: 1.0, start: 0s, end: 100s}]"
    ).replace(
        "      inner: *mesh\n",
        "      inner:\n"
        "        pattern: mesh\n"
        "        sidecar: {latency: 1ms}\n"
        "        retries: {attempts: 2, backoff: {base: 0s}}\n"
        "        load_balancing: round-robin\n",
    )
    run = topology_run(text)
    outcomes = trace(run)
    result = run.run()

    # Round robin over 3 replicas: a call that lands on the failing replica 0
    # is retried on replica 1, the next call goes to 2: picks 0, 1, 2, 0, ...
    assert all(o.cause is None for o in outcomes)
    figures = result.hops["inner"]
    assert figures["attempts"] == 15
    assert figures["try_errors"] == {"failed": 5}
    assert figures["balancing"]["back"]["picked"] == {"0": 5, "1": 5, "2": 5}


def test_istio_scenario_adds_the_published_figures_per_hop() -> None:
    # The published per-hop figures: +2.76 ms at p90, +2.88 ms at p99; 10 s
    # of the scenario give 10,000 calls per hop.
    scenario = load_scenario(ROOT / "scenarios" / "mesh-istio-vs-none.yaml")
    short = scenario.model_copy(
        update={"run": scenario.run.model_copy(update={"duration": 10.0})}
    )
    hops = simulate(short, "istio", 0).hops
    for link in ("to-frontend", "to-orders", "to-inventory"):
        proxy = hops[link]["proxy_latency_s"]
        assert proxy["p90"] == pytest.approx(0.00276, rel=0.02)
        assert proxy["p99"] == pytest.approx(0.00288, rel=0.02)
