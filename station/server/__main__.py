"""``station-server`` (or ``python -m station.server``): run the receiver, manage tokens.

    station-server [--config FILE] [serve] [--host H] [--port P]
    station-server tokens create STATION_ID [--viewer]    prints the token once
    station-server tokens revoke TOKEN_ID|NAME
    station-server tokens list
    station-server audit [--limit N]

Exit 0 on success, 2 with one line on stderr for a bad configuration or argument.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from station import __version__
from station.errors import ConfigError, StationError
from station.server import config as config_mod


def _serve(cfg: config_mod.ServerConfig, args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from station.server.app import create_app

    cfg = dataclasses.replace(cfg, host=args.host or cfg.host, port=args.port or cfg.port)
    if bool(cfg.tls_certfile) != bool(cfg.tls_keyfile):
        raise ConfigError("tls_certfile and tls_keyfile go together")
    if not cfg.tls and not cfg.allow_plain_http and not _loopback(cfg.host):
        raise ConfigError(f"refusing plain HTTP on {cfg.host}: set tls_certfile/tls_keyfile, "
                          "or allow_plain_http = true behind a TLS proxy")
    logging.getLogger("station").setLevel(cfg.log_level.upper())
    uvicorn.run(create_app(cfg), host=cfg.host, port=cfg.port, workers=1,
                ssl_certfile=cfg.tls_certfile or None, ssl_keyfile=cfg.tls_keyfile or None,
                access_log=False, log_level=cfg.log_level, server_header=False,
                limit_concurrency=256, timeout_graceful_shutdown=10)
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _tokens(cfg: config_mod.ServerConfig, args: argparse.Namespace) -> int:
    from station.server.index import Index
    from station.server.tokens import Tokens

    index = Index(cfg.db_file)
    try:
        tokens = Tokens(index)
        if args.action == "create":
            token_id, secret = tokens.create(args.name, "viewer" if args.viewer else "station")
            print(f"token id {token_id} for {args.name}; shown once, store it now:",
                  file=sys.stderr)
            print(secret.reveal())
        elif args.action == "revoke":
            n = tokens.revoke(args.key)
            if not n:
                raise ConfigError(f"no active token with id or name {args.key!r}")
            print(f"revoked {n} token(s)")
        else:
            for t in tokens.list():
                state = f"revoked {t['revoked_utc']}" if t["revoked_utc"] else "active"
                print(f"{t['token_id']}  {t['role']:<8}{t['name']:<24}created "
                      f"{t['created_utc']}  last used {t['last_used_utc'] or 'never'}  {state}")
    finally:
        index.close()
    return 0


def _audit(cfg: config_mod.ServerConfig, args: argparse.Namespace) -> int:
    from station.server.index import Index

    index = Index(cfg.db_file)
    try:
        for a in index.audit_tail(args.limit):
            print(f"{a['utc']}  {a['actor']:<16}{a['action']:<16}{a['outcome']:<24}"
                  f"{a['session_id'] or ''} {a['patient_code'] or ''} {a['remote'] or ''}")
    finally:
        index.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="station-server",
                                description="Clinic receiver for balance-station sessions.")
    p.add_argument("--version", action="version", version=f"station-server {__version__}")
    p.add_argument("--config", metavar="FILE",
                   help=f"TOML file with a [server] table (default: ${config_mod.ENV_FILE}; "
                        f"each key may be overridden by {config_mod.ENV_PREFIX}<KEY>)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    s = sub.add_parser("serve", help="run the receiver (the default)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=_serve)
    t = sub.add_parser("tokens", help="create, revoke or list station and viewer tokens")
    tsub = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="new token for a station id (or a viewer name)")
    c.add_argument("name")
    c.add_argument("--viewer", action="store_true", help="a token for the web page")
    r = tsub.add_parser("revoke", help="revoke a token id, or every token of a name")
    r.add_argument("key")
    tsub.add_parser("list", help="list tokens (never the secrets)")
    t.set_defaults(func=_tokens)
    a = sub.add_parser("audit", help="print the end of the audit log")
    a.add_argument("--limit", type=int, default=50)
    a.set_defaults(func=_audit)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "serve"])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(config_mod.load(args.config), args) or 0)
    except StationError as exc:
        print(f"station-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
