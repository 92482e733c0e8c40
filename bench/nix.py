"""The do-not-call register: a 3,000,000-number version imported, a 1,000,000-row call list checked, single checks
timed, into an embedded Redis.

    .venv/bin/python bench/nix.py [--register-numbers 3000000] [--rows 1000000] [--checks 2000] [--seed 1]

What it does: generates a register file as the publisher delivers one (CSV, ``riktnummer;nummer``: area codes
with their 0, numbers some with spaces; 65 % mobile numbers in 070/072/073/076, the rest fixed lines spread over
real area codes, every one valid and distinct) and a call list of ``--rows`` rows (CSV ``kundnr;namn;telefon;ort``;
30 % of the numbers registered, 65 % clear, 5 % invalid: too short, foreign, letters, empty; the valid ones in
the shapes people write, ``070-123 45 67``, ``+46 70 123 45 67``, ``0046701234567``, ``08-123 456 78`` ...).
Then it imports the register (``Register.import_version`` of the file, as ``kodeord nix import`` does), checks
every row's number with ``Register.check_many`` and verifies each answer against what it generated, and makes
``--checks`` single checks one after another (``Register.check``: two round trips each).

Figures:

- register_numbers: distinct numbers in the imported version;
- import_s: seconds ``import_version`` took, reading and parsing the file, packing, writing and switching;
- bytes_per_number: Redis' ``MEMORY USAGE`` (exact, ``SAMPLES 0``) of the version's hash, divided by its numbers;
- wash_rows_per_s: call-list rows washed per second, as ``kodeord nix wash`` does it: the file's encoding found
  and the CSV read, every number checked against one pinned version (``Register.pinned().check_many``: one
  ``HMGET`` batch per batch of rows for the buckets not read before, bisection), the copy written with every row
  marked; the marks are then compared with the generated answers (``check_many_rows_per_s`` is the checking
  alone, in one call);
- check_p99_ms: the 99th percentile of the single checks' latency, in ms.

Also printed: the parse rate of the call list's numbers alone (``parse_many``; the target is 300,000 a second),
the counts of registered, clear and invalid rows, and the check latency p50.

Last line: register_numbers=N import_s=N bytes_per_number=N wash_rows_per_s=N check_p99_ms=N
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import redis
from benchlib import embedded_redis

from kodeord.plugins.nix.listfile import ListFile, wash
from kodeord.plugins.nix.listrows import Mode
from kodeord.plugins.nix.numbers import parse_many, reader
from kodeord.plugins.nix.register import Register
from kodeord.plugins.nix.result import Status
from kodeord.plugins.nix.spec import SWEDEN

MOBILE = ((70, 0.30), (72, 0.10), (73, 0.15), (76, 0.10))  # share of the register
# Area code, share of the register, subscriber-number lengths (Stockholm's and Göteborg's are longer).
FIXED = (
    ("8", 0.12, (7, 8)),
    ("31", 0.04, (6, 7)),
    ("40", 0.03, (6, 7)),
    ("18", 0.02, (6,)),
    ("13", 0.015, (6,)),
    ("19", 0.015, (6,)),
    ("21", 0.015, (6,)),
    ("90", 0.015, (6,)),
    ("60", 0.01, (6,)),
    ("36", 0.01, (6,)),
    ("54", 0.01, (6,)),
    ("35", 0.01, (6,)),
    ("46", 0.01, (6,)),
    ("23", 0.01, (6,)),
    ("26", 0.01, (6,)),
    ("16", 0.01, (6,)),
    ("11", 0.01, (6,)),
    ("910", 0.005, (5, 6)),
    ("920", 0.005, (5, 6)),
    ("480", 0.005, (5, 6)),
    ("500", 0.005, (5, 6)),
    ("381", 0.005, (5, 6)),
)
INVALID = ["070-123", "hej", "+47 912 34 567", "", "08-12", "0046 8", "ring ej", "070-123 45 67 89", "+1 212 555 0100"]
NAMES = ["Anna Andersson", "Bertil Berg", "Cecilia Åberg", "Örjan Östlund", "Märta Nilsson", "Jöns Ek"]
TOWNS = ["Stockholm", "Göteborg", "Malmö", "Umeå", "Luleå", "Växjö"]


def draw_number(rng: random.Random) -> tuple[str, str]:
    """A Swedish number as (area code with its 0, subscriber number), drawn by the shares above."""
    pick = rng.random()
    for prefix, share in MOBILE:
        if pick < share:
            return f"0{prefix}", f"{rng.randrange(10**7):07d}"
        pick -= share
    for area, share, lengths in FIXED:
        if pick < share or area == FIXED[-1][0]:
            length = rng.choice(lengths)
            return f"0{area}", str(rng.randrange(2 * 10 ** (length - 1), 10**length))
        pick -= share
    raise AssertionError("unreachable")


def written(area: str, number: str, rng: random.Random) -> str:
    """The number as a person may have typed it in a call list."""
    shape = rng.randrange(8)
    if shape == 0:
        return area + number
    if shape == 1:
        return f"+46{area[1:]}{number}"
    if shape == 2:
        return f"+46 {area[1:]} {number[:3]} {number[3:5]} {number[5:]}"
    if shape == 3:
        return f"0046{area[1:]}{number}"
    if shape == 4:
        return f"{area} {number[:3]} {number[3:5]} {number[5:]}"
    return f"{area}-{number[:3]} {number[3:5]} {number[5:]}"


def make_register(path: Path, size: int, rng: random.Random) -> list[tuple[str, str]]:
    """Write a register file of ``size`` distinct valid numbers; return them."""
    fast = reader(SWEDEN).fast
    seen: set[int] = set()
    numbers: list[tuple[str, str]] = []
    while len(numbers) < size:
        area, number = draw_number(rng)
        national = fast(area + number)
        if isinstance(national, int) and national not in seen:
            seen.add(national)
            numbers.append((area, number))
    with path.open("w", encoding="utf-8") as file:
        file.write("riktnummer;nummer\n")
        for n, (area, number) in enumerate(numbers):
            shown = number if n % 2 else f"{number[:-4]} {number[-4:-2]} {number[-2:]}"
            file.write(f"{area};{shown}\n")
    return numbers


def make_call_list(
    path: Path, rows: int, register: list[tuple[str, str]], rng: random.Random
) -> tuple[list[str], list[Status]]:
    """Write a call list of ``rows`` rows; return each row's number and the status it must get."""
    fast = reader(SWEDEN).fast
    held = {fast(a + n) for a, n in register}
    phones: list[str] = []
    expected: list[Status] = []
    for _ in range(rows):
        pick = rng.random()
        if pick < 0.05:
            phones.append(rng.choice(INVALID))
            expected.append(Status.INVALID)
            continue
        if pick < 0.35:
            area, number = rng.choice(register)
            status = Status.REGISTERED
        else:
            while True:
                area, number = draw_number(rng)
                national = fast(area + number)
                if isinstance(national, int) and national not in held:
                    break
            status = Status.CLEAR
        phones.append(written(area, number, rng))
        expected.append(status)
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file, delimiter=";")
        out.writerow(["kundnr", "namn", "telefon", "ort"])
        for n, phone in enumerate(phones):
            out.writerow([100000 + n, rng.choice(NAMES), phone, rng.choice(TOWNS)])
    return phones, expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--register-numbers", type=int, default=3_000_000, help="numbers in the register")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the call list")
    parser.add_argument("--checks", type=int, default=2000, help="single checks to time")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with embedded_redis("kodeord-nix-") as (server, tmp):
        print(f"generating a register of {args.register_numbers} and a call list of {args.rows}", file=sys.stderr)
        register_file, call_list = tmp / "nix.csv", tmp / "ringlista.csv"
        numbers = make_register(register_file, args.register_numbers, rng)
        phones, expected = make_call_list(call_list, args.rows, numbers, rng)
        del numbers
        client = redis.Redis.from_url(server.url)
        register = Register(client, SWEDEN, keep=3)
        version = date.today() - timedelta(days=3)

        print("importing", file=sys.stderr)
        started = time.perf_counter()
        imported = register.import_version(register_file, version, by="bench")
        import_s = time.perf_counter() - started
        assert imported.tally.bad == 0, imported.tally.first_bad[:3]
        stored = int(client.memory_usage(register.keys.numbers(imported.version.id), samples=0) or 0)
        per_number = stored / imported.version.numbers

        print("checking the call list", file=sys.stderr)
        with call_list.open(encoding="utf-8", newline="") as file:
            listed = [row[2] for row in list(csv.reader(file, delimiter=";"))[1:]]
        assert listed == phones
        started = time.perf_counter()
        parse_many(listed, SWEDEN)
        parses_per_s = len(listed) / (time.perf_counter() - started)
        started = time.perf_counter()
        results = register.check_many(listed)
        check_many_s = time.perf_counter() - started
        wrong = [(p, r.status, e) for p, r, e in zip(listed, results, expected, strict=True) if r.status is not e]
        assert not wrong, wrong[:5]
        counts = Counter(r.status.value for r in results)

        print("washing the call list: read, checked, written marked", file=sys.stderr)
        washed = tmp / "ringlista-tvattad.csv"
        started = time.perf_counter()
        with ListFile.open(call_list) as source:
            summary = wash(source, washed, Mode.MARK, register.pinned().check_many)
        wash_s = time.perf_counter() - started
        with washed.open(encoding="utf-8", newline="") as file:
            marked = [row[4] for row in list(csv.reader(file, delimiter=";"))[1:]]
        assert marked == [e.value for e in expected], "the washed file's marks differ from the answers"
        assert summary.rows == len(listed)

        print("single checks", file=sys.stderr)
        latencies = []
        for phone in rng.sample(listed, min(args.checks, len(listed))):
            started = time.perf_counter()
            register.check(phone)
            latencies.append(time.perf_counter() - started)
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000
        client.close()

    print(f"register: {imported.version.numbers} numbers, {stored / 2**20:.1f} MiB, read as {imported.tally.layout}")
    print(f"call list: {len(listed)} rows, {dict(counts)}, every answer as generated")
    print(
        f"parses_per_s={parses_per_s:.0f} check_many_rows_per_s={len(listed) / check_many_s:.0f} check_p50_ms={p50:.2f}"
    )
    print(
        f"register_numbers={imported.version.numbers} import_s={import_s:.1f} bytes_per_number={per_number:.2f} "
        f"wash_rows_per_s={len(listed) / wash_s:.0f} check_p99_ms={p99:.2f}"
    )


if __name__ == "__main__":
    main()
