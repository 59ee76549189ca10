#!/usr/bin/env python3
"""The sandbox's conformance suite: boto3 (from the pinned PyPI set) against `--endpoint`, every case written
as AWS documents the behaviour. Cases marked `peer` also run against moto's server (`--moto`), and each place
where moto and the sandbox disagree must be in moto_known.py, with the reason; an unlisted one fails the suite.

The last line printed is the summary:
    conformance: N operations covered, M cases, D differences from AWS's documented behaviour
and the exit status is 0 only when D is 0 and every moto difference is explained.

Run by crates/sandbox/tests/conformance.rs with a fresh sandbox (LAKEDROP_SEED holds its seed, as JSON).
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
import traceback
import urllib.request

import boto3
import botocore.config
import botocore.session

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases  # noqa: E402  (registers every case)
import moto_known  # noqa: E402


class Target:
    """One peer: its clients, the operations called on them, and for the sandbox its seed."""

    def __init__(self, name, endpoint, key, secret, region, seed=None):
        self.name = name
        self.endpoint = endpoint
        self.region = region
        self.seed = seed or {}
        self.session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
        self.called = set()
        self._clients = {}

    def client(self, service, **config):
        key = (service, tuple(sorted(config.items())))
        if key not in self._clients:
            cfg = botocore.config.Config(
                retries={"max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": "path"},
                **config,
            )
            c = self.session.client(service, endpoint_url=self.endpoint, config=cfg)
            c.meta.events.register("before-call", self._record)
            self._clients[key] = c
        return self._clients[key]

    def _record(self, model, **_):
        self.called.add((model.service_model.service_name, model.name))

    @property
    def s3(self):
        return self.client("s3")

    @property
    def kms(self):
        return self.client("kms")

    @property
    def healthlake(self):
        return self.client("healthlake")

    def signed(self, method, url, body=None, service="healthlake", headers=None):
        """A SigV4-signed HTTP request (the FHIR REST API), answered as (status, parsed JSON or None)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
        SigV4Auth(self.session.get_credentials(), service, self.region).add_auth(request)
        prepared = urllib.request.Request(url, data=body, method=method, headers=dict(request.headers))
        try:
            with urllib.request.urlopen(prepared, timeout=30) as r:
                data = r.read()
                return r.status, (json.loads(data) if data else None)
        except urllib.error.HTTPError as e:
            data = e.read()
            try:
                return e.code, json.loads(data)
            except ValueError:
                return e.code, None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(binary):
    port = free_port()
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except Exception:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("moto's server did not start")


def outcome(fn, target):
    """Runs a case on a target: ("pass", observation) or ("fail", why)."""
    try:
        return "pass", fn(target)
    except AssertionError as e:
        return "fail", str(e) or traceback.format_exc(limit=3)
    except Exception as e:  # noqa: BLE001 (any client error is the case's result)
        return "fail", f"{type(e).__name__}: {e}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--moto", help="moto_server to compare the S3 and KMS cases with")
    ap.add_argument("--only", help="run only cases whose name contains this")
    args = ap.parse_args()
    seed = json.loads(os.environ["LAKEDROP_SEED"])
    sandbox = Target("sandbox", args.endpoint, seed["access_key_id"], seed["secret_access_key"], seed["region"], seed)
    moto_proc, moto = None, None
    if args.moto:
        moto_proc, url = start_moto(args.moto)
        moto = Target("moto", url, "testing", "testing", seed["region"])

    differences = 0
    unexplained_moto = 0
    ran = 0
    limits = 0
    try:
        for case in cases.ALL:
            if args.only and args.only not in case.name:
                continue
            ran += 1
            limits += case.limit
            status, result = outcome(case.fn, sandbox)
            if status == "fail":
                differences += 1
                print(f"DIFFERS  {case.name}: {result}")
            else:
                print(f"ok       {case.name}")
            if moto and case.peer:
                m_status, m_result = outcome(case.fn, moto)
                known = moto_known.WRONG.get(case.name)
                agree = m_status == "pass" and (status != "pass" or m_result == result)
                if agree and known:
                    unexplained_moto += 1
                    print(f"  moto now agrees, remove it from moto_known.py: {case.name}")
                elif not agree and not known:
                    unexplained_moto += 1
                    print(f"  moto differs, not in moto_known.py: {case.name}: {m_result!r} vs {result!r}")
                elif not agree:
                    print(f"  moto differs, as known: {known}")
    finally:
        if moto_proc:
            moto_proc.kill()
            moto_proc.wait()

    supported = cases.supported_operations()
    covered = {op for op in sandbox.called if op in supported}
    missing = sorted(f"{s}:{o}" for s, o in supported - covered)
    if missing and not args.only:
        print(f"not covered: {', '.join(missing)}")
        differences += len(missing)
    print(f"moto: {len(moto_known.WRONG)} known differences, {unexplained_moto} unexplained")
    print(f"declared limits of the sandbox (refused by name): {limits}")
    print(f"conformance: {len(covered)} operations covered, {ran} cases, "
          f"{differences} differences from AWS's documented behaviour")
    sys.exit(0 if differences == 0 and unexplained_moto == 0 else 1)


if __name__ == "__main__":
    main()
