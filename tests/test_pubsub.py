"""Push fan-out (SNS, EventBridge): deliveries, filters, retries and prices.

Constant latencies and work make every figure exact: a publish fans out to
each matching subscription after its delivery latency, the flow ends with the
last subscriber, failed deliveries are retried on their schedule, and each
publish and delivery is metered on the right price key.
"""

import pytest
from helpers import topology_run

from simulator.engine.simulation import ReplicationResult
from simulator.messaging.pubsub import matches

FAN_OUT = """\
name: fan-out
run: {{duration: 1.5s, drain: 1000s}}
workload:
  arrivals: {{kind: constant, rate: 1/s}}
  request_size: {size}
pricing: {{region: us-east-1}}
topologies:
  t:
    services:
      fn: {{kind: lambda, memory_mb: 128, work: 200ms, cold_start: 0s,
            error_rate: {lambda_errors}}}
      web: {{kind: container, work: 500ms, error_rate: {web_errors}}}
      worker: {{kind: container, work: 1s}}
    channels:
      events:
        kind: topic
        flavour: {flavour}
        api_latency: 10ms
        subscriptions:
          - {{service: fn, delivery_latency: 100ms}}
          {web}
          - {{queue: inbox, delivery_latency: 20ms, filter: {{type: [placed]}}}}
      inbox:
        kind: queue
        api_latency: 0s
        consumer: {{service: worker, pickup_latency: 0s}}
    entrypoint:
      - {{publish: events, attributes: {{type: {event_type}}}}}
"""

WEB = "- {service: web, delivery_latency: 50ms, retries: 2, retry_backoff: 1s}"


def fan_out(
    flavour: str = "sns",
    event_type: str = "placed",
    web_errors: float = 0.0,
    lambda_errors: float = 0.0,
    size: str = "1KB",
    web: str = WEB,
) -> ReplicationResult:
    text = FAN_OUT.format(
        flavour=flavour,
        event_type=event_type,
        web_errors=web_errors,
        lambda_errors=lambda_errors,
        size=size,
        web=web,
    )
    return topology_run(text).run()


def meters(result: ReplicationResult) -> dict[tuple[str, str], float]:
    return {key: quantity for key, (quantity, _) in result.meters.items()}


def test_every_subscriber_gets_a_delivery_and_the_flow_waits_for_the_last() -> None:
    result = fan_out()

    # Published at 1 s (the call takes 10 ms): the Lambda is done at 1.31 s,
    # the HTTP endpoint at 1.56 s, the queue's worker at 2.03 s: the last.
    topic = result.channels["events"]
    assert topic["published"] == 1
    delivered = {name: s["deliveries"] for name, s in topic["subscriptions"].items()}
    assert delivered == {"fn": 1, "web": 1, "inbox": 1}
    assert topic["subscriptions"]["fn"]["delivered_latency_s"]["max"] == (
        pytest.approx(0.3)
    )
    assert topic["subscriptions"]["web"]["delivered_latency_s"]["max"] == (
        pytest.approx(0.55)
    )
    flow = result.async_flows["events"]
    assert (flow.started, flow.succeeded, flow.in_flight) == (1, 1, 0)
    assert flow.latency.max_s == pytest.approx(1.03)
    # The publisher waited for the Publish call only.
    assert result.latency.max_s == pytest.approx(0.01)


def test_a_filter_that_does_not_match_skips_the_delivery_and_its_price() -> None:
    result = fan_out(event_type="cancelled")

    subscriptions = result.channels["events"]["subscriptions"]
    assert subscriptions["inbox"]["filtered"] == 1
    assert subscriptions["inbox"]["deliveries"] == 0
    assert result.channels["inbox"]["sent"] == 0
    assert meters(result)[("events -> inbox", "sns.sqs-deliveries")] == 0.0
    # The flow ends with the HTTP endpoint, the last subscriber left.
    assert result.async_flows["events"].latency.max_s == pytest.approx(0.56)


@pytest.mark.parametrize(
    ("rules", "attributes", "expected"),
    [
        ({}, {}, True),
        ({"type": ["a", "b"]}, {"type": "b"}, True),
        ({"type": ["a"]}, {"type": "b"}, False),
        ({"type": ["a"]}, {}, False),
        ({"type": ["a"], "region": ["eu"]}, {"type": "a", "region": "us"}, False),
    ],
)
def test_filter_rules(
    rules: dict[str, list[str]], attributes: dict[str, str], expected: bool
) -> None:
    assert matches(rules, attributes) is expected


def test_sns_bills_publishes_and_http_deliveries_not_sqs_or_lambda_ones() -> None:
    result = fan_out(size="100KB")
    usage = meters(result)

    # 100,000 bytes: two 64 KiB chunks for the publish.
    assert usage[("events", "sns.publishes")] == 2.0
    assert usage[("events -> web", "sns.http-deliveries")] == 1.0
    assert usage[("events -> fn", "sns.lambda-deliveries")] == 1.0
    assert usage[("events -> inbox", "sns.sqs-deliveries")] == 1.0
    # The queue's send was SNS's delivery: no SQS send is billed.
    assert usage[("inbox: send", "sqs.standard.requests")] == 0.0
    assert usage[("inbox: receive", "sqs.standard.requests")] == 2.0


def test_eventbridge_bills_events_per_chunk_and_nothing_per_delivery() -> None:
    result = fan_out(flavour="eventbridge", size="100KB", web="")
    usage = meters(result)
    assert usage[("events", "eventbridge.events")] == 2.0
    assert not [key for key in usage if key[1].startswith("sns.")]


def test_a_failing_http_subscriber_is_retried_with_doubling_backoff() -> None:
    result = fan_out(web_errors=1.0)

    # Each try is the 50 ms delivery and 0.5 s of failing work, then a wait
    # of 1 s, then 2 s: tries fail at 1.56, 3.11 and 5.66 s.
    web = result.channels["events"]["subscriptions"]["web"]
    assert (web["deliveries"], web["retries"], web["failed"]) == (0, 2, 1)
    assert meters(result)[("events -> web", "sns.http-deliveries")] == 3.0
    flow = result.async_flows["events"]
    assert flow.errors["failed"] == 1
    assert flow.succeeded == 0
    assert result.run_end_s == pytest.approx(5.66)


def test_lambda_subscribers_retry_as_asynchronous_invokes() -> None:
    result = fan_out(lambda_errors=1.0)

    # Lambda's own schedule: two retries, one and two minutes after a failure.
    fn = result.channels["events"]["subscriptions"]["fn"]
    assert (fn["retries"], fn["failed"]) == (2, 1)
    assert result.services["fn"]["invocations"] == 3
    flow = result.async_flows["events"]
    assert flow.errors["failed"] == 1
    assert result.run_end_s == pytest.approx(1.01 + 0.1 + 0.2 + 60 + 0.2 + 120 + 0.2)
