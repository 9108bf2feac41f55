#!/usr/bin/env python3
"""Runs a FaceRecBenchmarks suite and its Python reference in one go on this machine and prints
the ratios (reference time / our time: above 1 means we are faster).

    swift build -c release --product FaceRecBenchmarks
    python3 Benchmarks/compare.py facenet      # reference: Benchmarks/reference.py
"""
import json
import subprocess
import sys

REFERENCES = {"facenet": ["python3", "Benchmarks/reference.py"]}


def run(command):
    print("$", " ".join(command), flush=True)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for row in rows:
        print("  ", json.dumps(row))
    return rows


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else "facenet"
    ours = run([".build/release/FaceRecBenchmarks", suite, "--json"] + sys.argv[2:])
    theirs = run(REFERENCES[suite])
    print()
    print(f"{'shape':>12} {'ours ms/face':>13} " + " ".join(f"{impl:>22}" for impl in sorted({r['impl'] for r in theirs})))
    for row in ours:
        if "ms_per_face" not in row:
            continue
        key = (row["size"], row["batch"])
        cells = []
        for impl in sorted({r["impl"] for r in theirs}):
            ref = next((r for r in theirs if r["impl"] == impl and (r["size"], r["batch"]) == key), None)
            cells.append(f"{ref['ms_per_face']:8.2f} ms = {ref['ms_per_face'] / row['ms_per_face']:5.2f}x" if ref else "-")
        print(f"{row['size']}x{row['size']} b{row['batch']:<2} {row['ms_per_face']:13.2f} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
