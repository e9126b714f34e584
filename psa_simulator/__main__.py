"""Command line: ``python -m psa_simulator serve|change|create|delete|list ...``."""

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

from .seed import COLLECTIONS, resolve_collection
from .server import PsaSimulator

DEFAULT_URL = "http://127.0.0.1:8070"
DEFAULT_TOKEN = "demo-token"


def _collection(name):
    try:
        return resolve_collection(name)
    except KeyError:
        choices = ", ".join(COLLECTIONS)
        raise argparse.ArgumentTypeError(
            f"unknown collection {name!r} (one of {choices})"
        ) from None


def _assignment(text):
    """``field=value``; the value is JSON when it parses (numbers, true, null), else a string."""
    field, separator, raw = text.partition("=")
    if not separator or not field:
        raise argparse.ArgumentTypeError(f"expected field=value, got {text!r}")
    try:
        return field, json.loads(raw)
    except json.JSONDecodeError:
        return field, raw


def _build_parser():
    parser = argparse.ArgumentParser(prog="python -m psa_simulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the simulator until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8070)
    serve.add_argument("--token", default=DEFAULT_TOKEN)
    serve.add_argument("--webhook-url")
    serve.add_argument(
        "--webhook-secret",
        default=os.environ.get("PSA_SIMULATOR_WEBHOOK_SECRET"),
        help="the webhooks' signing secret; by default the environment variable "
        "PSA_SIMULATOR_WEBHOOK_SECRET, which keeps it out of the process list",
    )
    serve.add_argument("--no-seed", action="store_true", help="start with an empty store")
    serve.add_argument(
        "--time-entries",
        type=int,
        default=0,
        metavar="N",
        help="seed N extra approved time entries over the seeded projects, tasks and employees",
    )
    serve.add_argument(
        "--legal-entities",
        action="store_true",
        help="seed the firm's UK legal entity too (records naming legal_entity 'UK', which "
        "the demo backend maps to its UK company)",
    )
    serve.add_argument(
        "--announce",
        action="store_true",
        help="send a created-webhook for every record after start",
    )

    def client_command(name, help_text):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("collection", type=_collection)
        command.add_argument("--url", default=DEFAULT_URL)
        command.add_argument("--token", default=DEFAULT_TOKEN)
        return command

    change = client_command("change", "PATCH fields of a record")
    change.add_argument("id")
    change.add_argument("fields", nargs="+", type=_assignment, metavar="field=value")
    create = client_command("create", "POST a new record")
    create.add_argument("fields", nargs="*", type=_assignment, metavar="field=value")
    delete = client_command("delete", "DELETE a record")
    delete.add_argument("id")
    client_command("list", "GET every record of a collection, all pages")
    return parser


def _serve(args):
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s")
    simulator = PsaSimulator(
        host=args.host,
        port=args.port,
        token=args.token,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        seed=not args.no_seed,
        legal_entities=args.legal_entities,
    )
    if args.time_entries < 0 or (args.time_entries and args.no_seed):
        print("--time-entries needs a non-negative N and the seed", file=sys.stderr)
        return 2
    if args.time_entries:
        simulator.add_time_entries(args.time_entries)
        print(f"seeded {args.time_entries} extra time entries", flush=True)
    stop_requested = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    simulator.start()
    print(f"Demo PSA listening on {simulator.url}", flush=True)
    if args.announce:
        print(f"announcing {simulator.announce()} records", flush=True)
    stop_requested.wait()
    simulator.stop()
    print("Demo PSA stopped", flush=True)
    return 0


def _call(args, method, path, payload=None):
    """One API request; returns the decoded JSON answer, or None for an empty one."""
    request = urllib.request.Request(
        args.url.rstrip("/") + "/api/v1/" + path,
        data=None if payload is None else json.dumps(payload).encode(),
        method=method,
        headers={"Authorization": f"Bearer {args.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def _run_client(args):
    quote = urllib.parse.quote
    if args.command == "change":
        result = _call(
            args, "PATCH", f"{args.collection}/{quote(args.id, safe='')}", dict(args.fields)
        )
    elif args.command == "create":
        result = _call(args, "POST", args.collection, dict(args.fields))
    elif args.command == "delete":
        _call(args, "DELETE", f"{args.collection}/{quote(args.id, safe='')}")
        result = {"deleted": args.id}
    else:
        result, page = [], 1
        while page:
            answer = _call(args, "GET", f"{args.collection}?page={page}&per_page=500")
            result.extend(answer["data"])
            page = answer["meta"]["next_page"]
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def main(argv=None):
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    try:
        return _run_client(args)
    except urllib.error.HTTPError as error:
        print(f"HTTP {error.code}: {error.read().decode(errors='replace')}", file=sys.stderr)
    except urllib.error.URLError as error:
        print(f"cannot reach {args.url}: {error.reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
