#!/usr/bin/env python3
"""Writes inputs for the benchmarks into OUT, each set once (existing ones are kept). `make bench-app` opens the
first three in the real app; `make bench-data` writes the fourth for the validator's benchmark:
  thousand/  1,000 files of 1,000 lines, every line rejected (a gender outside its value set): a million issues
  million/   one file of a million rejected lines (a date written 01/02/1965)
  2gb/       one 2 GB file of real Synthea encounters, each given an id of its own, all valid
  synthea/   varied real Synthea files: the 100- and 1,000-patient partial exports kept beside the repository in
             ../shared when they are there (so figures compare with earlier ones), else the sample's files three
             times over, every resource with an id of its own
Usage: scripts/big-inputs.py OUT SAMPLE_DIR [SET...]   (the sets default to thousand, million and 2gb)"""
import os
import re
import shutil
import sys

out, synthea = sys.argv[1], sys.argv[2]
sets = sys.argv[3:] or ["thousand", "million", "2gb"]
first_id = re.compile(r'"id":"[^"]*"')


def with_fresh_id(line, new_id):
    """The line with its resource's id (the first "id" member) replaced."""
    return first_id.sub(f'"id":"{new_id}"', line, count=1)


def fresh(folder):
    path = os.path.join(out, folder)
    if os.path.isdir(path):
        return None
    os.makedirs(path + ".tmp", exist_ok=True)
    return path


def done(path):
    os.rename(path + ".tmp", path)


path = "thousand" in sets and fresh("thousand")
if path:
    for f in range(1000):
        with open(f"{path}.tmp/Patient.{f:04d}.ndjson", "w") as w:
            for i in range(1000):
                w.write('{"resourceType":"Patient","id":"p%d-%d","gender":"dude"}\n' % (f, i))
    done(path)

path = "million" in sets and fresh("million")
if path:
    with open(f"{path}.tmp/Patient.million.ndjson", "w") as w:
        for i in range(1_000_000):
            w.write('{"resourceType":"Patient","id":"m%d","birthDate":"01/02/1965"}\n' % i)
    done(path)

path = "2gb" in sets and fresh("2gb")
if path:
    with open(os.path.join(synthea, "Encounter.000.ndjson")) as r:
        lines = [line for line in r if line.strip()]
    written, n = 0, 0
    with open(f"{path}.tmp/Encounter.2gb.ndjson", "w") as w:
        while written < 2_000_000_000:
            for line in lines:
                line = with_fresh_id(line, f"e{n}")
                w.write(line)
                written += len(line)
                n += 1
    done(path)

path = "synthea" in sets and fresh("synthea")
if path:
    shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared/data/synthea")
    kept = [d for d in ("100-patients-partial", "1000-patients-partial") if os.path.isdir(os.path.join(shared, d))]
    if kept:
        for d in kept:
            shutil.copytree(os.path.join(shared, d), os.path.join(path + ".tmp", d), dirs_exist_ok=True)
    else:
        for copy in range(3):
            os.makedirs(f"{path}.tmp/copy-{copy}", exist_ok=True)
            for name in sorted(os.listdir(synthea)):
                if not name.endswith(".ndjson") or name == "log.ndjson":
                    continue
                with open(os.path.join(synthea, name)) as r, open(f"{path}.tmp/copy-{copy}/{name}", "w") as w:
                    for n, line in enumerate(r):
                        w.write(with_fresh_id(line, f"c{copy}-{n}"))
    done(path)
