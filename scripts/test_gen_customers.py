#!/usr/bin/env python3
"""Tests for gen_customers.py; run with `python3 scripts/test_gen_customers.py`."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen_customers.py")

CUSTOMER_KEYS = {"id", "name", "phone", "email", "language", "timeZone", "premises",
                 "preferences", "medicallyDependent"}
PREMISE_KEYS = {"id", "address", "feeder", "transformer", "zip", "location"}
PREFERENCE_KEYS = {"channels", "cadence", "quietHours", "maxPerDay", "callbackOffers"}
KINDS = {"OUTAGE", "PLANNED_MAINTENANCE", "BOIL_WATER_ADVISORY"}
ZONES = {"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
         "America/Phoenix", "America/Puerto_Rico"}
CADENCES = {"EVERY_UPDATE", "MILESTONES", "RESTORATION_ONLY"}
# NANP: area code and exchange start 2-9; exchanges are never N11 or 555.
PHONE = re.compile(r"^\+1[2-9]\d{2}(?!555)(?![2-9]11)[2-9]\d{2}\d{4}$")
EMAIL = re.compile(r"^[a-z]+(\.[a-z]+)+\+\d+@example\.(com|org|net)$")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def run(*args):
    out = subprocess.run([sys.executable, SCRIPT, *args], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return out.stdout.decode("utf-8").splitlines()


def problem(line):
    """What makes one line unfit for import, named like --bad-every's kinds; None if fine."""
    try:
        c = json.loads(line)
    except ValueError:
        return "broken_json"
    if set(c) - CUSTOMER_KEYS or any(set(p) - PREMISE_KEYS for p in c["premises"]) or \
            set(c["preferences"]) - PREFERENCE_KEYS:
        return "unknown_field"
    if not isinstance(c.get("medicallyDependent", False), bool):
        return "wrong_type"
    if "phone" in c and not PHONE.match(c["phone"]):
        return "phone"
    if "email" in c and not EMAIL.match(c["email"]):
        return "email"
    if c["timeZone"] not in ZONES:
        return "time_zone"
    quiet = c["preferences"].get("quietHours")
    if quiet and not (HHMM.match(quiet["start"]) and HHMM.match(quiet["end"])):
        return "quiet_hours"
    return None


class GeneratorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lines = run("--count", "3000", "--seed", "7")
        cls.customers = [json.loads(line) for line in cls.lines]

    def test_same_seed_gives_identical_output(self):
        self.assertEqual(run("--count", "3000", "--seed", "7"), self.lines)

    def test_other_seed_gives_other_customers(self):
        other = run("--count", "50", "--seed", "8")
        self.assertNotEqual(other, self.lines[:50])

    def test_chunks_with_start_match_one_big_run(self):
        self.assertEqual(run("--count", "40", "--seed", "7", "--start", "1000"),
                         self.lines[1000:1040])

    def test_writes_exactly_count_lines(self):
        self.assertEqual(len(self.lines), 3000)
        self.assertEqual(run("--count", "0"), [])
        self.assertEqual(len(run("--count", "1")), 1)

    def test_out_file_matches_stdout(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "c.ndjson")
            run("--count", "200", "--seed", "7", "--out", path)
            with open(path, encoding="utf-8") as f:
                self.assertEqual(f.read().splitlines(), self.lines[:200])

    def test_ids_are_sequential_from_start(self):
        self.assertEqual([c["id"] for c in self.customers],
                         [f"C-{n:07d}" for n in range(1, 3001)])
        shifted = [json.loads(line)["id"] for line in run("--count", "3", "--start", "41")]
        self.assertEqual(shifted, ["C-0000042", "C-0000043", "C-0000044"])

    def test_every_line_is_a_valid_customer(self):
        for line in self.lines:
            self.assertIsNone(problem(line), line)
        for c in self.customers:
            self.assertIn(c["language"], ("en", "es"))
            self.assertIn(c["preferences"]["cadence"], CADENCES)
            self.assertTrue(c["name"].strip())
            self.assertTrue(1 <= len(c["premises"]) <= 3)

    def test_everyone_is_reachable_on_every_chosen_channel(self):
        for c in self.customers:
            self.assertTrue("phone" in c or "email" in c, c["id"])
            channels = c["preferences"]["channels"]
            self.assertLessEqual(set(channels), KINDS)
            self.assertTrue(channels.get("OUTAGE"), c["id"])
            for chosen in channels.values():
                self.assertEqual(len(chosen), len(set(chosen)))
                for channel in chosen:
                    needs = "email" if channel == "EMAIL" else "phone"
                    self.assertIn(needs, c, f"{c['id']} chose {channel}")

    def test_premise_ids_are_unique_across_runs(self):
        ids = [p["id"] for c in self.customers for p in c["premises"]]
        ids += [p["id"] for line in run("--count", "500", "--start", "3000")
                for p in json.loads(line)["premises"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertTrue(all(re.match(r"^P-\d{8}$", i) for i in ids))

    def test_grid_is_consistent(self):
        feeder_of, zip_of, served = {}, {}, {}
        for c in self.customers:
            for p in c["premises"]:
                t = p["transformer"]
                self.assertRegex(t, r"^T-\d{6}$")
                self.assertRegex(p["feeder"], r"^F-\d{4}$")
                self.assertRegex(p["zip"], r"^1(00[0-4]\d|12[0-3]\d)$")
                self.assertEqual(feeder_of.setdefault(t, p["feeder"]), p["feeder"])
                self.assertEqual(zip_of.setdefault(t, p["zip"]), p["zip"])
                served[t] = served.get(t, 0) + 1
                self.assertLessEqual(abs(p["location"]["lat"] - 40.75), 0.3)
                self.assertLessEqual(abs(p["location"]["lon"] + 73.99), 0.3)
        full = [n for n in served.values() if n >= 8]
        self.assertGreater(len(full), 150)  # transformers fill up with 8..15 customers
        self.assertLessEqual(max(served.values()), 20)
        self.assertGreater(len(set(feeder_of.values())), 100)
        self.assertGreater(len(set(zip_of.values())), 40)

    def test_utility_center_moves_every_premise(self):
        for line in run("--count", "300", "--utility-center", "34.05,-118.25"):
            for p in json.loads(line)["premises"]:
                self.assertLessEqual(abs(p["location"]["lat"] - 34.05), 0.3)
                self.assertLessEqual(abs(p["location"]["lon"] + 118.25), 0.3)

    def test_mix_is_realistic(self):
        n = len(self.customers)

        def share(pred):
            return sum(1 for c in self.customers if pred(c)) / n

        self.assertAlmostEqual(share(lambda c: c["language"] == "es"), 0.30, delta=0.04)
        self.assertAlmostEqual(share(lambda c: "phone" in c), 0.90, delta=0.03)
        self.assertAlmostEqual(share(lambda c: "email" in c), 0.80, delta=0.03)
        self.assertAlmostEqual(share(lambda c: len(c["premises"]) > 1), 0.08, delta=0.02)
        self.assertAlmostEqual(share(lambda c: c["timeZone"] == "America/New_York"), 0.88,
                               delta=0.03)
        self.assertAlmostEqual(share(lambda c: "quietHours" in c["preferences"]), 0.6,
                               delta=0.04)
        self.assertAlmostEqual(share(lambda c: c["preferences"]["cadence"] == "MILESTONES"),
                               0.5, delta=0.04)
        self.assertAlmostEqual(share(lambda c: c["preferences"].get("callbackOffers")), 0.4,
                               delta=0.04)
        self.assertAlmostEqual(share(lambda c: c.get("medicallyDependent")), 0.015,
                               delta=0.01)
        caps = [c["preferences"]["maxPerDay"] for c in self.customers
                if "maxPerDay" in c["preferences"]]
        self.assertAlmostEqual(len(caps) / n, 0.5, delta=0.04)
        self.assertEqual(set(caps), set(range(3, 11)))

    def test_bad_every_spoils_exactly_every_kth_line_in_rotation(self):
        lines = run("--count", "100", "--seed", "7", "--bad-every", "7")
        self.assertEqual(len(lines), 100)
        bad = [(i, problem(line)) for i, line in enumerate(lines, 1) if problem(line)]
        self.assertEqual([i for i, _ in bad], list(range(7, 101, 7)))
        kinds = ["phone", "email", "unknown_field", "wrong_type", "time_zone",
                 "quiet_hours", "broken_json"]
        self.assertEqual([k for _, k in bad], (kinds * 2)[:14])
        good = [line for i, line in enumerate(lines, 1) if i % 7]
        self.assertEqual(good, [line for i, line in enumerate(self.lines[:100], 1) if i % 7])

    def test_quiet_share_sets_who_has_quiet_hours_and_nothing_else(self):
        default = run("--count", "200", "--seed", "5")
        none = run("--count", "200", "--seed", "5", "--quiet-share", "0")
        every = run("--count", "200", "--seed", "5", "--quiet-share", "1")
        self.assertFalse(any("quietHours" in json.loads(l)["preferences"] for l in none))
        self.assertTrue(all("quietHours" in json.loads(l)["preferences"] for l in every))
        for a, b in zip(default, none):
            a, b = json.loads(a), json.loads(b)
            a["preferences"].pop("quietHours", None)
            self.assertEqual(a, b)

    def test_rejects_bad_arguments(self):
        for args in (["--count", "-1"], ["--count", "5", "--start", "9999999"],
                     ["--count", "1", "--utility-center", "north"], ["--count", "1",
                     "--quiet-share", "1.5"], []):
            result = subprocess.run([sys.executable, SCRIPT, *args],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(result.returncode, 2, args)


if __name__ == "__main__":
    unittest.main()
