"""Demo flow data: realistic Antrea Flow Aggregator files for ``make run``, tests and benchmarks.

The generated cluster has several namespaces (kube-system among them), Deployments whose
pods carry ``app`` and ``pod-template-hash`` labels, Services, pod-to-pod, pod-to-service,
to-external and from-external traffic, a label-less pod, flows governed by policies with
Allow, Drop and Reject actions, and one injected spike of dropped flows on the last day.
Output is deterministic for a given seed and end time.

Run ``theia-demo-flows --help`` (or ``python -m theia_sf.demo``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import string
import sys
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from theia_sf.layouts import COLUMNS_BY_NAME, LAYOUTS, Kind, get_layout

TCP, UDP = 6, 17
ALLOW, DROP, REJECT = 1, 2, 3
K8S_NP, ANP, ACNP = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    ip: str
    node: str
    labels: dict[str, str] | None  # None: a pod without labels (Antrea writes null)

    @property
    def labels_json(self) -> str:
        if self.labels is None:
            return "null"
        return json.dumps(self.labels, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    port_name: str
    cluster_ip: str
    port: int
    target_port: int
    protocol: int
    backends: tuple[Pod, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    namespace: str  # empty for cluster-scoped
    rule: str
    action: int
    kind: int


@dataclass
class Connection:
    """One kind of traffic; each record is one flow-record export of such a connection."""

    weight: float
    src_pod: Pod | None
    src_ip: str
    dst_pod: Pod | None
    dst_ip: str
    dst_port: int
    protocol: int
    flow_type: int
    service: Service | None = None
    ingress: Policy | None = None
    egress: Policy | None = None
    # dropped-flow connections get a per-day count instead of a weight
    drops_per_day: int = 0


@dataclass
class DemoSummary:
    directory: str
    layout: str
    files: list[str]
    records: int
    start: str
    end: str
    cluster_uuid: str
    spike: dict[str, object] = field(default_factory=dict)

    def to_record(self) -> dict[str, object]:
        return asdict(self)


def _hash(rng: random.Random, n: int) -> str:
    return "".join(rng.choices("bcdfghjklmnpqrstvwxz2456789", k=n))


class _Cluster:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_ip = 2
        self.pods: dict[str, list[Pod]] = {}
        self.services: dict[str, Service] = {}

    def deploy(self, ns: str, app: str, replicas: int, extra: dict[str, str] | None = None) -> list[Pod]:
        tmpl = _hash(self.rng, 10)
        pods = []
        for _ in range(replicas):
            ip = f"10.10.{self.next_ip // 250}.{self.next_ip % 250 + 2}"
            self.next_ip += 1
            labels = {"app": app, "pod-template-hash": tmpl, **(extra or {})}
            name = f"{app}-{tmpl}-{_hash(self.rng, 5)}"
            pods.append(Pod(ns, name, ip, self.rng.choice(["node-a", "node-b", "node-c"]), labels))
        self.pods[f"{ns}/{app}"] = pods
        return pods

    def service(self, ns: str, name: str, port_name: str, port: int, target: int, proto: int) -> Service:
        ip = f"10.96.{len(self.services) // 200}.{len(self.services) % 200 + 10}"
        svc = Service(ns, name, port_name, ip, port, target, proto, tuple(self.pods[f"{ns}/{name}"]))
        self.services[f"{ns}/{name}"] = svc
        return svc


def build_cluster(seed: int) -> tuple[list[Connection], Connection, str]:
    """The demo cluster's connections, the one whose drops spike, and the cluster UUID."""
    rng = random.Random(seed)
    c = _Cluster(rng)
    c.deploy("kube-system", "coredns", 2, {"k8s-app": "kube-dns"})
    c.deploy("flow-aggregator", "flow-aggregator", 1)
    web = c.deploy("shop", "web", 3, {"tier": "frontend"})
    api = c.deploy("shop", "api", 2, {"tier": "backend"})
    db = c.deploy("shop", "db", 1, {"tier": "data"})
    cache = c.deploy("shop", "cache", 1)
    gateway = c.deploy("payments", "gateway", 2)
    ledger = c.deploy("payments", "ledger", 2)
    prom = c.deploy("monitoring", "prometheus", 1)
    debug = Pod("default", "debug-shell", "10.10.9.9", "node-b", None)
    dns = c.service("kube-system", "coredns", "dns", 53, 53, UDP)
    svc_api = c.service("shop", "api", "http", 8080, 8080, TCP)
    svc_gw = c.service("payments", "gateway", "https", 8443, 8443, TCP)
    svc_ledger = c.service("payments", "ledger", "grpc", 9090, 9090, TCP)
    svc_web = c.service("shop", "web", "http", 80, 8080, TCP)

    allow_api = Policy("allow-web-to-api", "shop", "ingress-rule-0", ALLOW, K8S_NP)
    deny_scrape = Policy("deny-scrape-cache", "", "ingress-deny-0", DROP, ACNP)
    reject_ledger = Policy("ledger-only-gateway", "payments", "ingress-reject-0", REJECT, ANP)
    deny_egress = Policy("no-debug-egress", "default", "egress-drop-0", DROP, ANP)

    def same_node(a: Pod, b: Pod) -> int:
        return 1 if a.node == b.node else 2

    conns: list[Connection] = []

    def via_service(src: list[Pod], svc: Service, weight: float, **kw: object) -> None:
        for s in src:
            for b in svc.backends:
                conns.append(
                    Connection(weight / (len(src) * len(svc.backends)), s, s.ip, b, b.ip,
                               svc.target_port, svc.protocol, same_node(s, b), svc, **kw)  # type: ignore[arg-type]
                )

    def direct(src: list[Pod], dst: list[Pod], port: int, proto: int, weight: float, **kw: object) -> None:
        for s in src:
            for d in dst:
                conns.append(
                    Connection(weight / (len(src) * len(dst)), s, s.ip, d, d.ip, port, proto,
                               same_node(s, d), **kw)  # type: ignore[arg-type]
                )

    # Unprotected traffic: what policy recommendation learns from.
    via_service(web, svc_api, 20, ingress=None)
    direct(api, db, 5432, TCP, 10)
    direct(api, cache, 6379, TCP, 8)
    for pods in (web, api, gateway, ledger, prom):
        via_service(pods, dns, 6)
    via_service(api, svc_gw, 6)
    via_service(gateway, svc_ledger, 6)
    direct(prom, web + api, 9100, TCP, 3)
    direct([c.pods["flow-aggregator/flow-aggregator"][0]], web, 4739, UDP, 1)
    for ext, port in (("93.184.216.34", 443), ("151.101.1.140", 443), ("2606:4700:4700::1111", 443)):
        for g in gateway:
            conns.append(Connection(2, g, g.ip, None, ext, port, TCP, 3))
    for w in web:  # from outside the cluster, straight to the web pods
        conns.append(Connection(4, None, "203.0.113.7", w, w.ip, 8080, TCP, 4, svc_web))
    conns.append(Connection(1, debug, debug.ip, None, "198.51.100.20", 80, TCP, 3))
    # Traffic governed by policies.
    via_service(web, svc_api, 5, ingress=allow_api)
    baseline_drops = 24
    for p in prom:
        conns.append(Connection(0, p, p.ip, cache[0], cache[0].ip, 6379, TCP,
                                same_node(p, cache[0]), ingress=deny_scrape, drops_per_day=baseline_drops))
    spike = Connection(0, web[0], web[0].ip, ledger[0], ledger[0].ip, 9090, TCP,
                       same_node(web[0], ledger[0]), ingress=reject_ledger, drops_per_day=6)
    conns.append(spike)
    conns.append(Connection(0, debug, debug.ip, None, "198.51.100.20", 22, TCP, 3,
                            egress=deny_egress, drops_per_day=4))
    cluster_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return conns, spike, cluster_uuid


def _static_fields(conn: Connection, cluster_uuid: str) -> dict[str, str]:
    """Field values that do not change between records of a connection."""
    def pod(p: Pod | None, attr: str) -> str:
        return getattr(p, attr) if p is not None else ""

    svc = conn.service
    f: dict[str, str] = {
        "flowEndReason": "",  # dynamic
        "sourceIP": conn.src_ip,
        "destinationIP": conn.dst_ip,
        "destinationTransportPort": str(conn.dst_port),
        "protocolIdentifier": str(conn.protocol),
        "sourcePodName": pod(conn.src_pod, "name"),
        "sourcePodNamespace": pod(conn.src_pod, "namespace"),
        "sourceNodeName": pod(conn.src_pod, "node"),
        "destinationPodName": pod(conn.dst_pod, "name"),
        "destinationPodNamespace": pod(conn.dst_pod, "namespace"),
        "destinationNodeName": pod(conn.dst_pod, "node"),
        "destinationClusterIP": svc.cluster_ip if svc else "",
        "destinationServiceIP": svc.cluster_ip if svc else "",
        "destinationServicePort": str(svc.port) if svc else "0",
        "destinationServicePortName": f"{svc.namespace}/{svc.name}:{svc.port_name}" if svc else "",
        "tcpState": "",
        "flowType": str(conn.flow_type),
        "sourcePodLabels": "'" + (conn.src_pod.labels_json if conn.src_pod else "") + "'",
        "destinationPodLabels": "'" + (conn.dst_pod.labels_json if conn.dst_pod else "") + "'",
        "clusterUUID": cluster_uuid,
        "egressName": "",
        "egressIP": "",
        "appProtocolName": "",
        "httpVals": "",
        "egressNodeName": "",
    }
    for side, pol in (("ingress", conn.ingress), ("egress", conn.egress)):
        f[f"{side}NetworkPolicyName"] = pol.name if pol else ""
        f[f"{side}NetworkPolicyNamespace"] = pol.namespace if pol else ""
        f[f"{side}NetworkPolicyRuleName"] = pol.rule if pol else ""
        f[f"{side}NetworkPolicyRuleAction"] = str(pol.action) if pol else "0"
        f[f"{side}NetworkPolicyType"] = str(pol.kind) if pol else "0"
    return f


_DYNAMIC = (
    "flowStartSeconds", "flowEndSeconds", "flowEndSecondsFromSourceNode",
    "flowEndSecondsFromDestinationNode", "timeInserted", "flowEndReason", "sourceTransportPort",
    "tcpState", "packetTotalCount", "octetTotalCount", "packetDeltaCount", "octetDeltaCount",
    "reversePacketTotalCount", "reverseOctetTotalCount", "reversePacketDeltaCount",
    "reverseOctetDeltaCount", "throughput", "reverseThroughput", "throughputFromSourceNode",
    "throughputFromDestinationNode", "reverseThroughputFromSourceNode",
    "reverseThroughputFromDestinationNode",
)


def _template(conn: Connection, fields: tuple[str, ...], cluster_uuid: str) -> str:
    """A str.format template of one line: static values inlined, dynamic ones by their
    position in ``_DYNAMIC`` (positional formatting is much faster than keywords)."""
    static = _static_fields(conn, cluster_uuid)
    parts = []
    for name in fields:
        if name in _DYNAMIC:
            parts.append("{" + str(_DYNAMIC.index(name)) + "}")
        else:
            parts.append(static[name].replace("{", "{{").replace("}", "}}"))
    return ",".join(parts) + "\n"


def _day_plan(conns: list[Connection], spike: Connection, days: int, records: int,
              rng: random.Random) -> list[list[tuple[int, int]]]:
    """Per day, a list of (connection index, record count)."""
    per_day = max(1, records // days)
    weights = [c.weight for c in conns]
    total_w = sum(weights)
    plan = []
    for day in range(days):
        entries = []
        dropped = 0
        for i, c in enumerate(conns):
            if c.drops_per_day:
                n = max(0, c.drops_per_day + rng.randint(-2, 2))
                if c is spike and day == days - 1:
                    n = c.drops_per_day * 40
                entries.append((i, n))
                dropped += n
        budget = max(0, per_day - dropped)
        for i, w in enumerate(weights):
            if w:
                entries.append((i, round(budget * w / total_w)))
        plan.append(entries)
    return plan


def generate_flows(
    directory: str | Path,
    *,
    layout: str = "v2.7",
    records: int = 100_000,
    days: int = 14,
    end: dt.datetime | None = None,
    seed: int = 7,
    records_per_file: int = 1_000_000,
    compress: bool = True,
) -> DemoSummary:
    """Write demo flow files into ``directory`` and describe what was written.

    ``records`` is approximate (rounded per day); the last of ``days`` days carries the
    drop spike. ``end`` defaults to the current hour (UTC).
    """
    if days < 1 or records < 1 or records_per_file < 1:
        raise ValueError("days, records and records_per_file must be positive")
    lay = get_layout(layout)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    end = (end or dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)).astimezone(dt.UTC)
    end_day = dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC)
    first_day = end_day - dt.timedelta(days=days - 1)
    rng = random.Random(seed)
    conns, spike, cluster_uuid = build_cluster(seed)
    templates = [_template(c, lay.fields, cluster_uuid) for c in conns]
    plan = _day_plan(conns, spike, days, records, rng)
    names = random.Random(seed * 7919 + 1)

    files: list[str] = []
    written = 0
    buffer: list[str] = []

    def flush() -> None:
        if not buffer:
            return
        suffix = ".csv.gz" if compress else ".csv"
        name = "records-" + "".join(names.choices(string.ascii_lowercase + string.digits, k=12)) + suffix
        tmp = out / ("." + name + ".tmp")
        data = "".join(buffer).encode()
        if compress:
            with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz:
                gz.write(data)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, out / name)
        files.append(name)
        buffer.clear()

    random_ = rng.random
    now_s = int(end.timestamp())
    for day, entries in enumerate(plan):
        day_start = int((first_day + dt.timedelta(days=day)).timestamp())
        # the last day ends at `end`, so "now" runs see it complete
        span = min(86_400, max(60, now_s - day_start - 120)) if day == days - 1 else 86_400
        for index, count in entries:
            conn = conns[index]
            fmt = templates[index].format
            tcp = conn.protocol == TCP
            dropped = conn.drops_per_day > 0
            for _ in range(count):
                start = day_start + int(random_() * (span - 60))
                stop = start + 1 + int(random_() * 59)
                duration = stop - start
                if dropped:
                    packets = octets = rpackets = roctets = 0
                else:
                    packets = 1 + int(random_() * 400)
                    octets = packets * (60 + int(random_() * 1340))
                    rpackets = 1 + int(random_() * 400)
                    roctets = rpackets * (60 + int(random_() * 1340))
                rate, rrate = octets * 8 // duration, roctets * 8 // duration
                # Positional values in _DYNAMIC order.
                buffer.append(fmt(
                    start, stop, stop, stop, stop + 5,
                    3 if dropped else 1 + int(random_() * 3),
                    32768 + int(random_() * 28232),
                    ("TIME_WAIT" if dropped else "ESTABLISHED") if tcp else "",
                    packets, octets, packets, octets, rpackets, roctets, rpackets, roctets,
                    rate, rrate, rate, rate, rrate, rrate,
                ))
                written += 1
                if len(buffer) >= records_per_file:
                    flush()
    flush()
    assert spike.dst_pod is not None
    return DemoSummary(
        directory=str(out),
        layout=lay.name,
        files=files,
        records=written,
        start=first_day.isoformat(),
        end=end.isoformat(),
        cluster_uuid=cluster_uuid,
        spike={
            "endpoint": f"{spike.dst_pod.namespace}/{spike.dst_pod.name}",
            "workload": f"{spike.dst_pod.namespace}/ledger",
            "direction": "ingress",
            "day": (first_day + dt.timedelta(days=days - 1)).date().isoformat(),
            "drops": plan[-1][[i for i, _ in plan[-1]].index(conns.index(spike))][1],
            "policy": f"{spike.ingress.namespace}/{spike.ingress.name}" if spike.ingress else "",
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="theia-demo-flows", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory to write flow files into")
    parser.add_argument("--layout", default="v2.7", choices=sorted(LAYOUTS))
    parser.add_argument("--records", type=int, default=100_000, help="approximate number of records")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--records-per-file", type=int, default=1_000_000)
    parser.add_argument("--end", help="RFC 3339 end time (default: the current hour, UTC)")
    parser.add_argument("--no-gzip", action="store_true", help="write plain .csv files")
    args = parser.parse_args(argv)
    end = dt.datetime.fromisoformat(args.end.replace("Z", "+00:00")) if args.end else None
    summary = generate_flows(
        args.out, layout=args.layout, records=args.records, days=args.days, end=end,
        seed=args.seed, records_per_file=args.records_per_file, compress=not args.no_gzip,
    )
    json.dump(summary.to_record(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


# Columns whose CSV value is an integer (used by tests that read files back).
INT_FIELDS = frozenset(c.name for c in COLUMNS_BY_NAME.values() if c.kind in (Kind.INT, Kind.TIME))

if __name__ == "__main__":
    raise SystemExit(main())
