"""Measurement fixture, not a second CLI: a typer-free ``agenthost serve`` that measures what
skipping typer saves at cold start (server ``agenthost+plugins no-typer``). Not a supported
entry point: it handles only the options the benchmark uses. Usage: ``python serve_direct.py
--host H --port P --metrics-port M [--modules m,..] [--workers N]``."""

from __future__ import annotations

import argparse
import sys

from agenthost.server.app import ServerConfig, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="agenthost serve")
    parser.add_argument("--host", default="[::]")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=9090)
    parser.add_argument("--modules", action="append", default=[])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    modules = [n for v in args.modules for n in v.replace(",", " ").split() if n]
    config = ServerConfig(
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        modules=modules,
        workers=args.workers,
    )
    return run(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
