"""Prometheus families of agent nodes (see :mod:`suanli.service.agent_metrics`; names in docs/agents.md).

Per node (labels ``node``, ``site``): ``suanli_agent_up`` (1 up, 0.5 suspect, 0 down),
``suanli_agent_rtt_seconds``, ``suanli_agent_last_seen_seconds`` (age of the last heartbeat).
Per device (labels ``node``, ``device``, ``site``, ``model``): utilisation ratio, memory used/total
bytes, power watts, temperature celsius, uncorrected ECC errors, energy kWh."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from suanli.service.agent_metrics import AgentFigures

MIB = 1024 * 1024


def agent_families(agents: Sequence[AgentFigures]) -> Iterator[Metric]:
    node_labels = ["node", "site"]
    up = GaugeMetricFamily("suanli_agent_up", "Agent health: 1 up, 0.5 suspect (heartbeats late), 0 down "
                           "(silent past the grace, not approved or revoked)", labels=[*node_labels, "state"])
    rtt = GaugeMetricFamily("suanli_agent_rtt_seconds", "Round-trip time agent -> server -> agent the agent "
                            "measured (moving median)", labels=node_labels)
    seen = GaugeMetricFamily("suanli_agent_last_seen_seconds", "Seconds since the agent's last heartbeat "
                             "(server clock)", labels=node_labels)
    dev = ["node", "device", "site", "model"]
    util = GaugeMetricFamily("suanli_agent_device_utilisation_ratio", "Device utilisation 0..1, as the agent "
                             "measured it", labels=dev)
    used = GaugeMetricFamily("suanli_agent_device_memory_used_bytes", "Device memory in use", labels=dev)
    total = GaugeMetricFamily("suanli_agent_device_memory_total_bytes", "Device memory", labels=dev)
    power = GaugeMetricFamily("suanli_agent_device_power_watts", "Device power draw", labels=dev)
    temp = GaugeMetricFamily("suanli_agent_device_temperature_celsius", "Device temperature", labels=dev)
    errors = CounterMetricFamily("suanli_agent_device_ecc_errors", "Uncorrected memory (ECC) errors since the "
                                 "driver loaded", labels=dev)
    energy = CounterMetricFamily("suanli_agent_device_energy_kwh", "Device energy counter", labels=dev)
    for a in agents:
        up.add_metric([a.node, a.site, a.state], a.up)
        if a.rtt_ms is not None:
            rtt.add_metric([a.node, a.site], float(a.rtt_ms) / 1000)
        if a.last_seen_age_s is not None:
            seen.add_metric([a.node, a.site], a.last_seen_age_s)
        for t in a.devices:
            labels = [a.node, str(t.index), a.site, a.model]
            if t.utilisation_pct is not None:
                util.add_metric(labels, t.utilisation_pct / 100)
            if t.memory_used_mib is not None:
                used.add_metric(labels, t.memory_used_mib * MIB)
            if t.memory_total_mib is not None:
                total.add_metric(labels, t.memory_total_mib * MIB)
            if t.power_w is not None:
                power.add_metric(labels, float(t.power_w))
            if t.temperature_c is not None:
                temp.add_metric(labels, t.temperature_c)
            if t.errors is not None:
                errors.add_metric(labels, t.errors)
            if t.energy_kwh is not None:
                energy.add_metric(labels, float(t.energy_kwh))
    yield from (up, rtt, seen, util, used, total, power, temp, errors, energy)
