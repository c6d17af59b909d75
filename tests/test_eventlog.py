"""The partitioned log: keys, consumer groups, batching, replay and prices.

Replays of a retained history with constant work give exact times (events x
work / active members), which is how partitions bounding parallelism is
checked; a slow record holds up the records behind it in its partition.
"""

import time

import pytest
from helpers import topology_run

from simulator.engine.simulation import ReplicationResult, TopologyRun
from simulator.messaging.eventlog import PUT_UNIT_BYTES, Log, put_units
from simulator.pricing.monthly import monthly_usage

LOG = """\
name: log
run: {{duration: {duration}, drain: 600s}}
workload:
  arrivals: {{kind: constant, rate: {rate}}}
  request_size: {size}
pricing: {{region: us-east-1}}
topologies:
  t:
    services:
      indexer: {{kind: container, replicas: {consumers}, work: {work}}}
      audit: {{kind: container, work: 1s}}
    channels:
      events:
        kind: log
        flavour: {flavour}
        partitions: {partitions}
        produce_latency: 0s
        {extra}
        consumer_groups:
          search:
            service: indexer
            start: {start}
            batch_size: {batch}
            fetch_latency: 0s
          {group}
    entrypoint:
      - {{publish: events, {key}}}
"""


def log_run(
    partitions: int = 4,
    consumers: int = 4,
    work: str = "100ms",
    rate: str = "1/day",
    duration: str = "60s",
    start: str = "latest",
    batch: int = 1,
    history: int = 0,
    extra: str = "",
    group: str = "",
    key: str = "key: {keys: 1}",
    flavour: str = "kafka",
    size: str = "1KB",
) -> TopologyRun:
    if history:
        extra += f"\n        history: {{events: {history}, span: 1d}}"
    text = LOG.format(
        partitions=partitions,
        consumers=consumers,
        work=work,
        rate=rate,
        duration=duration,
        start=start,
        batch=batch,
        extra=extra,
        group=group,
        key=key,
        flavour=flavour,
        size=size,
    )
    return topology_run(text)


def search(result: ReplicationResult) -> dict[str, object]:
    group: dict[str, object] = result.channels["events"]["groups"]["search"]
    return group


def log_of(run: TopologyRun) -> Log:
    channel = run.messaging.channels["events"]
    assert isinstance(channel, Log)
    return channel


# Partitions bound parallelism.


@pytest.mark.parametrize(
    ("partitions", "consumers", "active", "rebuild_s"),
    [
        (4, 4, 4, 10.0),
        (4, 8, 4, 10.0),  # four members sit idle: no faster
        (2, 8, 2, 20.0),
        (8, 4, 4, 10.0),  # each member reads two partitions in turn
        (8, 8, 8, 5.0),
    ],
)
def test_partitions_bound_the_active_consumers(
    partitions: int, consumers: int, active: int, rebuild_s: float
) -> None:
    # 400 events of 0.1 s each, spread evenly: 40 s of work in all.
    run = log_run(partitions, consumers, start="earliest", history=400, batch=25)
    result = run.run()
    group = search(result)
    replay = group["replay"]
    assert isinstance(replay, dict)

    assert group["active_consumers"] == active
    assert replay["history_read_s"] == pytest.approx(rebuild_s)
    assert replay["history_left"] == 0


def test_keys_pick_the_partition_and_no_key_spreads_uniformly() -> None:
    run = log_run(partitions=8)
    log = log_of(run)
    assert [log.partition_of(key).index for key in (0, 7, 8, 13)] == [0, 7, 0, 5]

    spread = log_run(partitions=8, rate="800/s", duration="10s", key="size: 1KB")
    spread.run()
    written = [p.end_offset for p in log_of(spread).partitions]
    assert sum(written) == 7999
    assert all(abs(n - 1000) < 150 for n in written), written


# Order and blocking inside a partition.


def test_a_slow_record_holds_up_its_partition() -> None:
    # Records at 1, 2 and 3 s, all keyed to partition 0, 1.5 s of work each:
    # each waits for the one before it; partition 1's member has nothing.
    result = log_run(
        partitions=2, consumers=2, work="1.5s", rate="1/s", duration="3.5s"
    ).run()
    flow = result.async_flows["events"]
    assert flow.succeeded == 3
    assert flow.latency.max_s == pytest.approx(2.5)
    assert flow.latency.mean_s == pytest.approx(2.0)
    assert flow.latency.min_s == pytest.approx(1.5)
    group = search(result)
    assert group["partition_lag_peak"] == [2.0, 0.0]


def test_every_group_reads_every_record_and_the_flow_waits_for_both() -> None:
    audit = "audit: {service: audit, fetch_latency: 0s}"
    result = log_run(rate="1/s", duration="3.5s", group=audit, key="size: 1KB").run()
    groups = result.channels["events"]["groups"]
    assert groups["search"]["consumed"] == groups["audit"]["consumed"] == 3
    # The search index takes 0.1 s, the audit 1 s: the flow ends with the audit.
    assert result.async_flows["events"].latency.max_s == pytest.approx(1.0)


# Producer batching: linger and batch size trade latency for throughput.


def producer(linger: str, batch: int, limit: str) -> str:
    return (
        f"producer: {{linger: {linger}, batch_size: {batch}}}\n"
        f"        partition_limits: {{requests_per_s: {limit}}}"
    )


def test_linger_fills_batches_at_the_price_of_latency() -> None:
    # 50 records a second to one partition; a batch closes 90 ms after its
    # first record and takes 1 ms to write: five records per produce request,
    # waiting 91, 71, 51, 31 and 11 ms.
    run = log_run(rate="50/s", duration="2s", extra=producer("90ms", 10, "1000/s"))
    result = run.run()
    log = result.channels["events"]
    assert log["records_per_produce_request"] == pytest.approx(5.0, abs=0.2)
    assert result.latency.mean_s == pytest.approx(0.051, abs=0.002)

    eager = log_run(rate="50/s", duration="2s", extra=producer("0s", 1, "1000/s"))
    eager_result = eager.run()
    assert eager_result.channels["events"]["records_per_produce_request"] == 1.0
    assert eager_result.latency.max_s == pytest.approx(0.001)


def test_batching_keeps_up_where_one_record_per_request_cannot() -> None:
    # The partition serves 20 produce requests a second; 50 records arrive.
    one_by_one = log_run(rate="50/s", duration="2s", extra=producer("0s", 1, "20/s"))
    batched = log_run(rate="50/s", duration="2s", extra=producer("0s", 10, "20/s"))
    slow, fast = one_by_one.run(), batched.run()

    # One by one, 100 records take 5 s to write: the last producer waits ~3 s.
    assert slow.latency.max_s > 2.5
    # Batches form while a request is in flight: latency stays near 2 requests.
    assert fast.latency.max_s < 0.15
    assert fast.channels["events"]["records_per_produce_request"] > 2


# Replay of a retained history while live traffic goes on.


def test_replay_reports_when_the_history_is_read_and_when_it_caught_up() -> None:
    # 95 history events on one partition at 0.1 s each, in batches of 10;
    # live records arrive every second from 1 s.
    run = log_run(
        partitions=1,
        consumers=1,
        rate="1/s",
        duration="30s",
        start="earliest",
        batch=10,
        history=95,
    )
    replay = search(run.run())["replay"]
    assert isinstance(replay, dict)
    # History read at 9.5 s with 9 live records waiting (1 s to 9 s); they take
    # 0.9 s, the record of 10 s another 0.1 s: lag 0 at 10.5 s.
    assert replay["history_read_s"] == pytest.approx(9.5)
    assert replay["lag_at_history_end"] == 9
    assert replay["caught_up_s"] == pytest.approx(10.5)


def test_a_huge_history_is_counts_not_records() -> None:
    # A billion retained events: replayed in batches of a million, with the
    # work of each batch drawn as one sum; nothing per event is kept.
    run = log_run(
        partitions=10,
        consumers=10,
        work="1us",
        duration="200s",
        start="earliest",
        batch=1_000_000,
        history=1_000_000_000,
    )
    started = time.perf_counter()
    replay = search(run.run())["replay"]
    assert time.perf_counter() - started < 5.0
    assert isinstance(replay, dict)
    assert replay["history_read_s"] == pytest.approx(100.0)
    assert all(len(p.records) == 0 for p in log_of(run).partitions)


def test_exponential_history_work_sums_to_the_right_mean() -> None:
    run = log_run(
        partitions=1,
        consumers=1,
        work="{kind: exponential, mean: 10ms}",
        duration="2000s",
        start="earliest",
        batch=1000,
        history=100_000,
    )
    replay = search(run.run())["replay"]
    assert isinstance(replay, dict)
    # 100,000 draws of mean 10 ms: 1000 s, sd 3.2 s; within 5 sd.
    assert replay["history_read_s"] == pytest.approx(1000.0, abs=16.0)


# Prices.


def test_kinesis_bills_shard_hours_and_25_kib_put_units() -> None:
    assert [put_units(n) for n in (1, PUT_UNIT_BYTES, PUT_UNIT_BYTES + 1)] == [1, 1, 2]

    run = log_run(
        partitions=4, flavour="kinesis", rate="1/s", duration="3.5s", size="30KB"
    )
    result = run.run()
    scenario = run.scenario
    usage = {
        (u.component, u.meter): u.quantity for u in monthly_usage(result, scenario)
    }
    # Three records of 30,000 bytes: two units each, per request; 4 shards
    # all month long.
    quantities = {key: q for key, (q, _) in result.meters.items()}
    assert quantities[("events", "kinesis.put-units")] == 6.0
    assert usage[("events", "kinesis.shard-hours")] == pytest.approx(4 * 730)


def test_msk_bills_broker_hours_and_provisioned_storage() -> None:
    extra = "brokers: 3\n        storage_per_broker: 500GiB"
    run = log_run(extra=extra, rate="1/s", duration="3.5s")
    result = run.run()
    usage = {
        (u.component, u.meter): u.quantity for u in monthly_usage(result, run.scenario)
    }
    assert usage[("events", "msk.broker-hours")] == pytest.approx(3 * 730)
    assert usage[("events", "msk.storage")] == pytest.approx(3 * 500)
