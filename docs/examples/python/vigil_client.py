#!/usr/bin/python3
"""A small vigil API client: pulls the fleet report and follows alerts.

Uses Debian's python3-grpcio and modules generated from proto/ by generate.sh:

    docs/examples/python/generate.sh            # once, writes gen/
    docs/examples/python/vigil_client.py --api 127.0.0.1:7701 --ca ca.crt \
        --token-file tokens report
    docs/examples/python/vigil_client.py --api 127.0.0.1:7701 --insecure follow --min-score 50

Run it with Debian's /usr/bin/python3 (where python3-grpcio lives). Output is
JSON (one object per line for `follow`), so it pipes into jq or a SIEM shipper.
Exit codes: 0 ok, 1 the API refused or failed, 2 bad usage.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("VIGIL_PY_GEN", os.path.join(HERE, "gen")))

try:
    import grpc
    from google.protobuf import json_format
    from vigil.v1 import query_pb2, query_pb2_grpc
except ImportError as e:  # pragma: no cover - guidance for a first run
    sys.stderr.write(
        f"vigil_client: {e}\n"
        "  apt install python3-grpcio python3-protobuf protobuf-compiler-grpc, run\n"
        "  docs/examples/python/generate.sh, and use /usr/bin/python3\n")
    sys.exit(2)


def to_dict(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def read_token(path):
    """The first token of a token file ('ROLE TOKEN' or 'TOKEN' per line)."""
    with open(path) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if words:
                return words[-1]
    raise SystemExit(f"vigil_client: no token in {path}")


def cmd_report(stub, args):
    report = stub.FleetReport(
        query_pb2.FleetReportRequest(window_s=args.window, top=args.top),
        timeout=args.timeout, metadata=args.metadata)
    if args.json:
        print(json.dumps(to_dict(report), indent=2))
        return 0
    print(f"fleet: {len(report.hosts)} hosts, {report.fleet_alerts} fleet alerts "
          f"in the last {report.window_s} s")
    for h in sorted(report.hosts, key=lambda h: -h.risk):
        print(f"  {h.host:<24} level={h.level:<10} risk={h.risk:<3} "
              f"events={h.events} alerts={h.alerts}")
    for a in report.top_alerts:
        print(f"  alert {a.id} score={a.score} host={a.host or 'fleet'} "
              f"kind={a.kind}: {a.summary}")
    return 0


def cmd_follow(stub, args):
    request = query_pb2.WatchAlertsRequest(host=args.host, min_score=args.min_score)
    stream = stub.WatchAlerts(request, metadata=args.metadata)
    seen = 0
    try:
        for alert in stream:
            d = to_dict(alert)
            attack = sorted({i.attack for i in alert.indicators if i.attack})
            d["attack"] = attack
            print(json.dumps(d), flush=True)
            seen += 1
            if args.max and seen >= args.max:
                stream.cancel()
                break
    except KeyboardInterrupt:
        stream.cancel()
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="vigil API client (fleet report, live alerts)")
    p.add_argument("--api", default=os.environ.get("VIGIL_API", "127.0.0.1:7701"),
                   help="collector API address HOST:PORT (env VIGIL_API)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per unary call")
    p.add_argument("--insecure", action="store_true",
                   help="plaintext (a collector started with --insecure)")
    p.add_argument("--ca", default=os.environ.get("VIGIL_CA"),
                   help="CA (PEM) of the collector's certificate (env VIGIL_CA)")
    p.add_argument("--token-file", default=os.environ.get("VIGIL_TOKEN_FILE"),
                   help="API token file, 'ROLE TOKEN' per line (env VIGIL_TOKEN_FILE)")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report", help="fleet report")
    r.add_argument("--window", type=int, default=3600, help="seconds (default 3600)")
    r.add_argument("--top", type=int, default=5)
    r.add_argument("--json", action="store_true", help="the whole report as JSON")
    f = sub.add_parser("follow", help="follow alerts live, one JSON object per line")
    f.add_argument("--host", default="", help="only this host's alerts")
    f.add_argument("--min-score", type=int, default=0)
    f.add_argument("--max", type=int, default=0, help="stop after N alerts (0: never)")
    args = p.parse_args(argv)

    if args.insecure:
        channel = grpc.insecure_channel(args.api)
    else:
        root = open(args.ca, "rb").read() if args.ca else None
        channel = grpc.secure_channel(args.api, grpc.ssl_channel_credentials(root_certificates=root))
    metadata = []
    if args.token_file:
        metadata.append(("authorization", "Bearer " + read_token(args.token_file)))
    stub = query_pb2_grpc.QueryServiceStub(channel)
    args.metadata = metadata
    try:
        return cmd_report(stub, args) if args.cmd == "report" else cmd_follow(stub, args)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.CANCELLED:
            return 0
        sys.stderr.write(f"vigil_client: {e.code().name}: {e.details()}\n")
        return 1
    finally:
        channel.close()


if __name__ == "__main__":
    sys.exit(main())
