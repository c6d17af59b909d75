"""Asynchronous flows end to end, mixed topologies, bad input and the scenarios.

A flow runs from the request's arrival to the last consumer finishing, through
chains of queues, workers and topics; the synchronous caller waits for its API
calls only. Each shipped asynchronous scenario is checked for what it claims.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, invoke, topology_run
from test_cli_scenarios import by_name, report

from simulator.engine.simulation import TopologyRun
from simulator.scenario.base import Lognormal, distribution_mean
from simulator.scenario.loader import load_scenario_text

MIXED = """\
name: mixed
run: {{duration: 1.5s, drain: {drain}}}
workload:
  arrivals: {{kind: constant, rate: 1/s}}
pricing: {{region: us-east-1}}
topologies:
  t:
    services:
      api: {{kind: container, steps: [{{compute: 10ms}}, {{send: orders}}]}}
      worker:
        kind: container
        steps: [{{compute: 1s}}, {{publish: paid, attributes: {{type: paid}}}}]
      fn: {{kind: lambda, memory_mb: 128, work: 200ms, cold_start: 0s}}
      web: {{kind: container, work: 500ms}}
      shipper: {{kind: container, work: 1s}}
    channels:
      orders: &queue
        kind: queue
        api_latency: 0s
        consumer: {{service: worker, pickup_latency: 0s}}
      paid:
        kind: topic
        api_latency: 0s
        subscriptions:
          - {{service: fn, delivery_latency: 100ms}}
          - {{service: web, delivery_latency: 50ms}}
          - {{queue: shipping, delivery_latency: 0s}}
      shipping:
        kind: queue
        api_latency: 0s
        consumer: {{service: shipper, pickup_latency: 0s}}
    entrypoint:
      - {{call: api}}
"""


def test_api_then_queue_worker_event_and_three_subscribers_is_one_flow() -> None:
    result = topology_run(MIXED.format(drain="60s")).run()

    # The caller waits for the API's own work only (the send takes no time).
    assert result.latency.max_s == pytest.approx(0.01)
    # The flow: 10 ms, then the worker's second, then the slowest subscriber
    # (the shipping queue's worker, 1 s; the Lambda ends after 0.3 s, the
    # HTTP endpoint after 0.55 s).
    flow = result.async_flows["orders"]
    assert (flow.started, flow.succeeded, flow.in_flight) == (1, 1, 0)
    assert flow.latency.max_s == pytest.approx(2.01)
    # One flow, named after the first channel; the others are not roots.
    assert result.async_flows["paid"].started == 0
    assert result.async_flows["shipping"].started == 0
    assert result.channels["shipping"]["consumed"] == 1


def test_a_flow_unfinished_when_the_drain_ends_is_in_flight() -> None:
    result = topology_run(MIXED.format(drain="1.5s")).run()
    flow = result.async_flows["orders"]
    assert (flow.started, flow.succeeded, flow.in_flight) == (1, 0, 1)
    # The synchronous side finished; the run stopped at the end of the drain.
    assert result.in_flight == 0
    assert result.run_end_s == pytest.approx(3.0)


SAME_WORK = """\
name: same work
seed: 9
run: {duration: 60s, drain: 60s}
workload:
  arrivals: {kind: poisson, rate: 5/s}
pricing: {region: us-east-1}
topologies:
  sync:
    services:
      worker: &worker
        kind: container
        replicas: 50
        work: {kind: lognormal, p50: 100ms, p99: 400ms}
    entrypoint:
      - {call: worker}
  async:
    services:
      worker: *worker
    channels:
      q:
        kind: queue
        api_latency: 0s
        consumer: {service: worker, pickup_latency: 0s}
    entrypoint:
      - {send: q}
"""


def test_a_consumer_gets_the_same_work_as_a_synchronous_callee() -> None:
    # Common random numbers: a request's work at a service is the same number
    # whether the service is called or reached through a queue.
    scenario = load_scenario_text(SAME_WORK)
    sync = TopologyRun(scenario, "sync", 0).run()
    flows = TopologyRun(scenario, "async", 0).run().async_flows["q"]
    assert flows.succeeded == sync.succeeded > 250
    assert flows.latency.mean_s == pytest.approx(sync.latency.mean_s, rel=1e-9)
    assert flows.latency.max_s == sync.latency.max_s


def test_bursts_add_arrivals_on_their_own_stream() -> None:
    steady = SAME_WORK.replace("rate: 5/s}", "rate: 5/s}\n  monthly_requests: 1M")
    burst = steady.replace(
        "rate: 5/s}", "rate: 5/s, bursts: [{start: 10s, duration: 5s, rate: 40/s}]}"
    )
    plain = TopologyRun(load_scenario_text(steady), "sync", 0).run()
    bursty = TopologyRun(load_scenario_text(burst), "sync", 0).run()
    assert 120 < bursty.arrived - plain.arrived < 280


def test_the_same_seed_gives_the_same_report_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED.format(drain="60s").replace("1/s", "20/s"))
    first = invoke("run", str(path), "--format", "json")
    second = invoke("run", str(path), "--format", "json")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == second.stdout
    flows = json.loads(first.stdout)["topologies"][0]["async_flows"]
    assert list(flows) == ["orders"]


# Bad input: exit code 2, the file, the line, the rule.

BROKEN = {
    "send to an undeclared queue": (
        ("{send: orders}", "{send: order}"),
        "send: order}",
        "'order' is not a queue of this topology (queues: orders, shipping)",
    ),
    "subscriber that is not a service": (
        ("{service: web, delivery_latency: 50ms}", "{service: wbe}"),
        "service: wbe",
        "'wbe' is not a service of this topology",
    ),
    "publish to a queue": (
        ("{publish: paid, attributes", "{publish: shipping, attributes"),
        "publish: shipping",
        "'shipping' is not a topic or log of this topology",
    ),
    "messages in a loop": (
        ("consumer: {service: shipper", "consumer: {service: api"),
        "orders: &queue",
        "messages would go round for ever: api -> orders -> worker -> paid -> "
        "shipping -> api",
    ),
    "FIFO send without a message group": (
        (
            "      orders: &queue\n        kind: queue\n",
            "      orders:\n        kind: queue\n        fifo: true\n",
        ),
        "{send: orders}",
        "'orders' is a FIFO queue: a send needs key (the message group)",
    ),
    "misspelt channel setting": (
        ("        consumer: {service: worker", "        consumr: {service: worker"),
        "consumr:",
        "unknown key 'consumr'",
    ),
    "dead-letter queue that is not a queue": (
        (
            "      orders: &queue\n        kind: queue\n",
            "      orders:\n        "
            "kind: queue\n        max_receive_count: 3\n        dead_letter_queue: "
            "paid\n",
        ),
        "dead_letter_queue: paid",
        "'paid' is not another queue of this topology",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_bad_channels_are_reported_with_line_and_rule(
    case: str, tmp_path: Path
) -> None:
    (old, new), marker, message = BROKEN[case]
    text = MIXED.format(drain="60s")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if marker in s)

    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert f"{path}:{line}:" in result.stderr, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# What each shipped scenario shows (one replication each, run once).


def scenario_report(name: str) -> dict[str, dict[str, Any]]:
    return by_name(report(ROOT / "scenarios" / name))


def usd(topology: dict[str, Any], component_suffix: str) -> float:
    return sum(
        line["usd"]
        for line in topology["cost"]["breakdown"]
        if line["component"].endswith(component_suffix)
    )


def test_order_processing_three_ways() -> None:
    topologies = scenario_report("order-processing-three-ways.yaml")
    rest, queues, events = (
        topologies[name] for name in ("rest-chain", "queue-stages", "events")
    )

    # The burst overflows the synchronous chain; the queues absorb it.
    assert rest["errors"]["rejected"] > 0
    assert queues["requests"]["failed"] == events["requests"]["failed"] == 0
    assert rest["latency_s"]["p99"] > 5 * queues["latency_s"]["p99"]
    # Queues answer fast; the work is done later: the flow takes longer.
    for topology in (queues, events):
        flow = topology["async_flows"]["payment-queue"]
        assert flow["in_flight"] == 0 and flow["failed"] == 0
        assert flow["latency_s"]["p50"] > 5 * topology["latency_s"]["p50"]
    # Messaging is not free: the REST chain is the cheapest.
    costs = [t["cost"]["monthly_usd"] for t in (rest, events, queues)]
    assert costs == sorted(costs)


def test_low_traffic_polling_costs_more_than_messages_until_long_polling() -> None:
    topologies = scenario_report("low-traffic-queue-polling.yaml")
    short = topologies["short-polling"]
    messages = sum(usd(short, f": {call}") for call in ("send", "receive", "delete"))
    polling = usd(short, ": empty receives")
    assert polling > 10 * messages

    monthly = {name: t["cost"]["monthly_usd"] for name, t in topologies.items()}
    assert monthly["long-polling"] < 0.2 * monthly["short-polling"]
    assert monthly["long-polling-batched"] < monthly["long-polling"]
    assert monthly["long-polling"] < monthly["lambda-event-source"]


def test_partitions_bound_consumers_and_a_hot_key_overloads_one() -> None:
    topologies = scenario_report("partitions-and-hot-key.yaml")

    def flow(name: str) -> dict[str, Any]:
        return topologies[name]["async_flows"]["orders"]  # type: ignore[no-any-return]

    def group(name: str) -> dict[str, Any]:
        groups = topologies[name]["channels"]["orders"]["groups"]
        return groups["search"]  # type: ignore[no-any-return]

    assert flow("8-partitions-16-consumers") == flow("8-partitions-8-consumers")
    assert group("8-partitions-16-consumers")["active_consumers"] == 8
    p99 = {name: flow(name)["latency_s"]["p99"] for name in topologies}
    assert p99["16-partitions-16-consumers"] < p99["8-partitions-8-consumers"]
    assert p99["hot-key"] > 10 * p99["8-partitions-8-consumers"]
    lags = group("hot-key")["partition_lag_mean"]
    assert lags[0] > 20 * max(lags[1:])


def test_replaying_a_year_takes_hours_with_12_partitions_minutes_with_48() -> None:
    topologies = scenario_report("replay-a-year.yaml")
    rebuild = {
        name: t["channels"]["order-events"]["groups"]["search"]["replay"]
        for name, t in topologies.items()
    }
    twelve, forty_eight = rebuild["12-partitions"], rebuild["48-partitions"]
    # 50 M events of 2.4 ms mean work: 9,950 s over 12 members, a quarter
    # over 48; the new group then catches up with the live traffic.
    mean_work_s = distribution_mean(Lognormal(kind="lognormal", p50=0.002, p99=0.008))
    assert twelve["history_read_s"] == pytest.approx(50e6 * mean_work_s / 12, rel=0.02)
    assert forty_eight["history_read_s"] == pytest.approx(
        twelve["history_read_s"] / 4, rel=0.02
    )
    for replay in (twelve, forty_eight):
        assert replay["caught_up_s"] >= replay["history_read_s"]
        assert replay["lag_at_history_end"] > 0
