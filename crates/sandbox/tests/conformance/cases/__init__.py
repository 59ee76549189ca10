"""The registry of cases and what they share. A case is a function of a Target (run.py) that raises
AssertionError where the target departs from AWS's documented behaviour, and returns an observation (plain data)
that a peer must match for the case to agree."""
import collections
import json
import os
import time
import uuid

Case = collections.namedtuple("Case", "name fn peer limit")
ALL = []


def case(name, peer=False, limit=False):
    """`peer`: also run on moto. `limit`: a declared limit of the sandbox, which AWS does not share (refused by
    name, said in the summary)."""

    def register(fn):
        ALL.append(Case(name, fn, peer, limit))
        return fn

    return register


def supported_operations():
    """(service, operation) the sandbox implements, as the test harness passes them from the Rust constants."""
    listed = json.loads(os.environ.get("LAKEDROP_SUPPORTED", "{}"))
    return {(service, op) for service, ops in listed.items() for op in ops}


def error_code(fn):
    """The AWS error code `fn` raises, or None when it succeeds."""
    try:
        fn()
    except Exception as e:  # botocore's ClientError, or a waiter's
        response = getattr(e, "response", None) or getattr(e, "last_response", None) or {}
        return response.get("Error", {}).get("Code", type(e).__name__)
    return None


def expect_error(fn, *codes):
    code = error_code(fn)
    assert code in codes, f"expected {' or '.join(codes)}, got {code or 'success'}"
    return code


def unique(prefix="c"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def eventually(fn, seconds=30, what="condition"):
    deadline = time.time() + seconds
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


from . import healthlake, kms, s3  # noqa: E402,F401  (each registers its cases)
