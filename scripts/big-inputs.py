#!/usr/bin/env python3
"""Writes the big inputs `make bench-app` opens in the real app, into OUT (once; existing ones are kept):
  thousand/  1,000 files of 1,000 lines, every line rejected (a gender outside its value set): a million issues
  million/   one file of a million rejected lines (a date written 01/02/1965)
  2gb/       one 2 GB file of real Synthea encounters, each given an id of its own, all valid
Usage: scripts/big-inputs.py OUT SYNTHEA_DIR"""
import os
import re
import sys

out, synthea = sys.argv[1], sys.argv[2]


def fresh(folder):
    path = os.path.join(out, folder)
    if os.path.isdir(path):
        return None
    os.makedirs(path + ".tmp", exist_ok=True)
    return path


def done(path):
    os.rename(path + ".tmp", path)


path = fresh("thousand")
if path:
    for f in range(1000):
        with open(f"{path}.tmp/Patient.{f:04d}.ndjson", "w") as w:
            for i in range(1000):
                w.write('{"resourceType":"Patient","id":"p%d-%d","gender":"dude"}\n' % (f, i))
    done(path)

path = fresh("million")
if path:
    with open(f"{path}.tmp/Patient.million.ndjson", "w") as w:
        for i in range(1_000_000):
            w.write('{"resourceType":"Patient","id":"m%d","birthDate":"01/02/1965"}\n' % i)
    done(path)

path = fresh("2gb")
if path:
    with open(os.path.join(synthea, "Encounter.000.ndjson")) as r:
        lines = [line for line in r if line.strip()]
    first_id = re.compile(r'"id":"[^"]*"')
    written, n = 0, 0
    with open(f"{path}.tmp/Encounter.2gb.ndjson", "w") as w:
        while written < 2_000_000_000:
            for line in lines:
                line = first_id.sub(f'"id":"e{n}"', line, count=1)
                w.write(line)
                written += len(line)
                n += 1
    done(path)
