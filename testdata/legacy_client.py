"""A caller of the original Flask service, written as its callers wrote one.

It uses only Python's standard library, makes the calls of the original's
"Check Results" steps (/data twice, /data?foo=bar twice, a browser's
cache-buster), and does the original's own arithmetic on what it reads:

    CACHE_TIMEOUT - (datetime.now() - datetime.fromisoformat(cached_at)).seconds

Usage: legacy_client.py BASE_URL aware|naive CACHE_TIMEOUT

aware: cached_at carries an offset, so the caller subtracts it from an
aware now, datetime.now(timezone.utc). naive: cached_at is the original's
own form, so the caller subtracts it from a naive datetime.now(), which
holds only when the service writes the caller's local time.

It exits 1 naming the first broken expectation, else 0.
"""

import json
import re
import sys
import time
import urllib.request
from datetime import datetime, timezone

# What datetime.fromisoformat reads in every Python from 3.7 on: 3.11
# reads more (a Z, say), so a 3.11 interpreter accepting a value proves
# nothing for the older ones; these patterns do.
FORMS = {
    "aware": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$"),
    "naive": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$"),
}


class Broken(Exception):
    pass


def expect(ok, what):
    if not ok:
        raise Broken(what)


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as resp:
        expect(resp.status == 200, f"GET {path}: status {resp.status}; want 200")
        ctype = resp.headers.get("Content-Type", "")
        expect(ctype.startswith("application/json"), f"GET {path}: Content-Type {ctype!r}; want JSON")
        body = json.load(resp)
    expect(set(body) == {"source", "data", "cached_at", "expires_in_seconds"},
           f"GET {path}: fields {sorted(body)}; want the original's four")
    return body


def check_cached_at(path, body, mode, timeout):
    cached_at = body["cached_at"]
    expect(FORMS[mode].match(cached_at) is not None,
           f"GET {path}: cached_at {cached_at!r} is not the {mode} form Python 3.7 reads")
    now = datetime.now(timezone.utc) if mode == "aware" else datetime.now()
    then = datetime.fromisoformat(cached_at)
    age = (now - then).total_seconds()
    expect(0 <= age < timeout, f"GET {path}: cached {age:.3f} s ago by this caller's clock; want within the {timeout} s TTL")
    # The original's own arithmetic, as its hit path computes it.
    expiration_time = timeout - (now - then).seconds
    left = max(expiration_time, 0)
    served = body["expires_in_seconds"]
    expect(abs(left - served) <= 1,
           f"GET {path}: expires_in_seconds {served}; the original's arithmetic on cached_at gives {left}")


def main():
    base, mode, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])

    first = get(base, "/data")
    expect(first["source"] == "database", f"first GET /data: source {first['source']!r}; want 'database'")
    expect(first["expires_in_seconds"] == timeout,
           f"first GET /data: expires_in_seconds {first['expires_in_seconds']}; want {timeout}")
    check_cached_at("/data", first, mode, timeout)
    second = get(base, "/data")
    expect(second["source"] == "cache", f"second GET /data: source {second['source']!r}; want 'cache'")
    expect(second["cached_at"] == first["cached_at"] and second["data"] == first["data"],
           "second GET /data: another entry than the first's")
    check_cached_at("/data", second, mode, timeout)

    # "appending ?foo=bar for example, you'll get newly cached responses"
    foo = get(base, "/data?foo=bar")
    expect(foo["source"] == "database", f"first GET /data?foo=bar: source {foo['source']!r}; want 'database'")
    again = get(base, "/data?foo=bar")
    expect(again["source"] == "cache" and again["cached_at"] == foo["cached_at"],
           f"second GET /data?foo=bar: {again}; want the first's entry from the cache")
    check_cached_at("/data?foo=bar", again, mode, timeout)

    # A browser's or jQuery's cache-buster: a new value, a new entry.
    buster = int(time.time() * 1000)
    for n in (buster, buster + 1):
        got = get(base, f"/data?_={n}")
        expect(got["source"] == "database", f"GET /data?_={n}: source {got['source']!r}; want 'database'")

    print(f"legacy client ({mode}): 6 calls answered as the original answers them")


if __name__ == "__main__":
    try:
        main()
    except Broken as e:
        print(f"legacy client: {e}", file=sys.stderr)
        sys.exit(1)
