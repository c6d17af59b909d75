"""Terminal tables of links and replicas: what each hop and replica saw.

The links table shows, per hop, its calls, the tries they took (retry
amplification per call and per request of the workload), its failures by
cause and its latency as the caller sees it, with what its resilience settings
and pattern did. The replicas table shows how a per-replica balancer spread
the work and what outlier detection did.
"""

from typing import Any

from rich.table import Table

from simulator.report.pattern_notes import pattern_notes

_NOTES = (
    ("retries", "retries"),
    ("retries_denied_by_budget", "budget denied"),
    ("cancelled", "cancelled"),
    ("circuit_opened", "circuit opened"),
    ("circuit_overflows", "overflows"),
    ("mtls_handshakes", "mTLS handshakes"),
)


def _count(value: float) -> str:
    # Figures are means over replications: whole numbers stay whole.
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _errors(errors: dict[str, float]) -> str:
    return ", ".join(
        f"{cause.replace('_', ' ')} {_count(n)}" for cause, n in errors.items() if n
    )


def _notes(link: dict[str, Any]) -> str:
    notes = [f"{label} {_count(link[key])}" for key, label in _NOTES if link.get(key)]
    proxy = link.get("proxy_latency_s")
    if proxy and proxy.get("max"):
        notes.append(
            f"sidecars p90 {proxy['p90'] * 1000:.2f} ms, "
            f"p99 {proxy['p99'] * 1000:.2f} ms"
        )
    if link.get("proxy_cpu_s_per_call"):
        notes.append(f"proxy CPU {link['proxy_cpu_s_per_call'] * 1000:.3f} ms/call")
    for balancer in (link.get("balancing") or {}).values():
        if balancer.get("ejections"):
            notes.append(f"ejections {_count(balancer['ejections'])}")
    notes += pattern_notes(link)
    return "; ".join(notes)


def links_table(document: dict[str, Any]) -> Table | None:
    """Return one row per link that carried calls; None when none did."""
    table = Table(
        title="Links (per replication, as the caller sees each hop; tries "
        "include retries)",
        title_justify="left",
    )
    for name in (
        "topology",
        "link",
        "pattern",
        "calls",
        "tries / call",
        "tries / request",
        "errors",
        "p50 ms",
        "p99 ms",
        "notes",
    ):
        left = name in ("topology", "link", "pattern", "errors", "notes")
        table.add_column(name, justify="left" if left else "right")

    rows = 0
    for topology in document["topologies"]:
        for name, link in topology.get("links", {}).items():
            if not link.get("calls"):
                continue
            rows += 1
            latency = link["latency_s"]
            table.add_row(
                topology["name"],
                name,
                link["pattern"],
                _count(link["calls"]),
                f"{link.get('attempts_per_call', 1.0):.3f}",
                f"{link.get('attempts_per_request', 0.0):.3f}",
                _errors(link.get("errors", {})),
                f"{latency['p50'] * 1000:,.2f}",
                f"{latency['p99'] * 1000:,.2f}",
                _notes(link),
            )
    return table if rows else None


def replicas_table(document: dict[str, Any]) -> Table | None:
    """Return how each per-replica service spread its work; None if none does."""
    table = Table(title="Replicas (per-replica queues)", title_justify="left")
    for name in ("topology", "service", "policy", "served share", "utilisation"):
        left = name in ("topology", "service", "policy")
        table.add_column(name, justify="left" if left else "right")

    rows = 0
    for topology in document["topologies"]:
        for name, service in topology.get("services", {}).items():
            replicas = service.get("per_replica")
            if not replicas:
                continue
            rows += 1
            served = sum(r["served"] for r in replicas.values()) or 1
            balancing = service.get("load_balancing", {})
            policy = balancing.get("policy", "")
            if not sum(balancing.get("picked", {}).values()):
                # Every request came with its replica chosen by a link.
                policy = "chosen by the caller's link"
            if balancing.get("ejections"):
                policy += f" ({_count(balancing['ejections'])} ejections)"
            table.add_row(
                topology["name"],
                name,
                policy,
                " | ".join(
                    f"{r['served'] / served * 100:.1f} %" for r in replicas.values()
                ),
                " | ".join(
                    f"{r['utilisation'] * 100:.1f} %" for r in replicas.values()
                ),
            )
    return table if rows else None
