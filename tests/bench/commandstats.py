"""Redis's costliest commands per unit of work, from a saved `INFO commandstats`.
usage: commandstats.py FILE UNITS TOP   (prints "name c calls u us, ..." per unit, costliest
first; a script's time includes the commands it runs, which are also counted on their own)
"""
import sys


def main():
    path, units, top = sys.argv[1], max(float(sys.argv[2]), 1.0), int(sys.argv[3])
    rows = []
    for line in open(path):
        if line.startswith("cmdstat_"):
            name, rest = line.strip()[8:].split(":", 1)
            f = dict(kv.split("=") for kv in rest.split(","))
            rows.append((int(f["usec"]), name, int(f["calls"])))
    print(", ".join(f"{name} {calls / units:.2f} calls {usec / units:.1f} us"
                    for usec, name, calls in sorted(rows, reverse=True)[:top]))


main()
