#!/usr/bin/env python3
"""Generates data/people.csv: synthetic staff records for veil's demo.

Every value is made up from a fixed seed: names from short lists, emails on example.*
domains (reserved for documentation, RFC 2606), Luhn-valid card numbers and
valid-format SSNs drawn at random. Usage: python3 scripts/gen_people.py > data/people.csv
"""
import csv
import random
import sys

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jon",
         "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara"]
LAST = ["Adams", "Becker", "Chen", "Dubois", "Evans", "Fischer", "García", "Haddad", "Ito",
        "Jensen", "Kowalski", "López", "Müller", "Novak", "Okafor", "Patel", "Rossi", "Silva"]
DEPTS = {"engineering": (95000, 25000), "sales": (70000, 20000), "support": (52000, 9000),
         "finance": (80000, 15000)}
NOTES = [
    "Reimburse to card {card}; receipt sent from {email}.",
    "New hire paperwork: SSN {ssn}, contact {email}.",
    "Asked to update payroll card {card} (SSN on file {ssn}).",
    "Follow up with {name} at {email} about the offsite.",
    "Badge reissued, no other changes.",
    "Corporate card {card} blocked after travel; call back.",
]


def luhn_complete(prefix, length):
    digits = [int(d) for d in prefix]
    while len(digits) < length - 1:
        digits.append(random.randrange(10))
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    digits.append((10 - total % 10) % 10)
    return "".join(map(str, digits))


def card():
    number = luhn_complete(random.choice(["4", "51", "55", "37", "6011"]), 16)
    return " ".join(number[i:i + 4] for i in range(0, 16, 4))


def ssn():
    area = random.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{random.randint(1, 99):02d}-{random.randint(1, 9999):04d}"


def main():
    random.seed(20261122)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "name", "email", "dept", "salary", "note"])
    for i in range(1, 501):
        first, last = random.choice(FIRST), random.choice(LAST)
        name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}{i}@example.{random.choice(['com', 'org', 'net'])}"
        dept = random.choice(list(DEPTS))
        mu, sd = DEPTS[dept]
        salary = max(30000, min(190000, round(random.gauss(mu, sd), -2)))
        note = random.choice(NOTES).format(card=card(), email=email, ssn=ssn(), name=name)
        out.writerow([i, name, email, dept, int(salary), note])


if __name__ == "__main__":
    main()
