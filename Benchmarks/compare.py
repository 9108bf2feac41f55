#!/usr/bin/env python3
"""Runs a FaceRecBenchmarks suite and its Python reference in one go on this machine and prints
the ratios (reference time / our time: above 1 means we are faster).

    swift build -c release --product FaceRecBenchmarks
    python3 Benchmarks/compare.py facenet --rounds 3   # reference: Benchmarks/reference.py
    python3 Benchmarks/compare.py detection --data ../shared/data --iterations 20 --rounds 4
                                               # reference: Benchmarks/reference_detection.py
    python3 Benchmarks/compare.py int8 --data ../shared/data   # our int8 FaceNet against our float32

The facenet suite's references are facenet-pytorch eager, ONNX Runtime and OpenVINO (pip
install onnxruntime openvino; a runtime not installed is left out); the last column compares us
with the faster of the two runtimes in each round. FACEREC_DISABLE_AVX2=1 in the environment
times our portable path (one OpenBLAS SGEMM per layer) instead of the SIMD kernels.

Options after the suite go to both sides for `detection` (--data, --iterations, --images) and
for `facenet` (--sizes, --batches, --seconds, and --impls for the reference alone; the others
to FaceRecBenchmarks only); `--rounds
N` alternates which side runs first for N rounds and prints every round's ratio and the median.
Short rounds of one shape (`facenet --sizes 160 --batches 1 --rounds 9`) let more rounds share
the machine's slow and fast spells. The load average is printed before each run: other
work on the machine slows both sides, rarely by the same amount.

`int8` compares our opt-in int8 FaceNet with our float32 one: speed in one process
(FaceRecBenchmarks facenet-int8, float32 and int8 alternating which runs first every round;
--rounds, --seconds, --batches and --size go there), then accuracy (facenet-int8-accuracy: the
cosine of each int8 embedding to its float32 one over --set, default face_images_1000 under
--data, cropped by MTCNN at --crop-size, default 240, and how often both name the same nearest
gallery entry; --calibrate-on goes there).
"""
import json
import os
import statistics
import subprocess
import sys

REFERENCES = {"facenet": ["python3", "Benchmarks/reference.py"],
              "detection": ["python3", "Benchmarks/reference_detection.py", "--json"]}
SHARED_DETECTION_OPTIONS = {"--data", "--iterations", "--images"}
SHARED_FACENET_OPTIONS = {"--sizes", "--batches", "--seconds", "--impls"}


def shared_options(extra, names):
    """The `--name value` pairs of `extra` whose names are in `names`."""
    shared = []
    for i in range(0, len(extra) - 1):
        if extra[i] in names:
            shared += extra[i:i + 2]
    return shared


RUNTIMES = ("onnxruntime", "openvino")
FASTEST = "fastest runtime"


def cpu_name():
    """The CPU's model name, family and model as /proc/cpuinfo gives them (a VM may name only the
    vendor: family 25 model 17 is AMD Zen 4), or the platform's processor string."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" in fields:
        return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
    import platform
    return platform.processor() or "unknown CPU"


def run(command, echo=True):
    """Runs `command` and returns its JSON lines; `echo` prints them too (the suites whose
    tables below do not already show every field)."""
    print("$", " ".join(command), flush=True)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if echo:
        for row in rows:
            print("  ", json.dumps(row))
    return rows


def pop_rounds(extra):
    """(N of `--rounds N`, default 1; the other options)."""
    if "--rounds" not in extra:
        return 1, extra
    i = extra.index("--rounds")
    return int(extra[i + 1]), extra[:i] + extra[i + 2:]


def detection_cpu():
    """The CPU's model name and widest vector extension, from /proc/cpuinfo (Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), "unknown")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines()
                      if line.startswith("flags")), []))
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name} ({vector})"


def detection(extra):
    """Rounds of (ours, reference) with the order swapped every round, so that a slow spell of
    the machine (this VM kind drifts by ±20 % from minute to minute) falls on both sides
    alike; prints every round's ratios and their median."""
    rounds, extra = pop_rounds(extra)
    shared = shared_options(extra, SHARED_DETECTION_OPTIONS)
    ratios = {}
    print(f"CPU: {detection_cpu()}, {os.cpu_count()} logical CPUs")
    for k in range(rounds):
        print("load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())
        if k % 2 == 0:
            ours = run([".build/release/FaceRecBenchmarks", "detection", "--json"] + extra)
            theirs = run(REFERENCES["detection"] + shared)
        else:
            theirs = run(REFERENCES["detection"] + shared)
            ours = run([".build/release/FaceRecBenchmarks", "detection", "--json"] + extra)
        print()
        if rounds > 1:
            print(f"round {k + 1} of {rounds} ({'ours' if k % 2 == 0 else 'reference'} first)")
        print(f"{'image':<30} {'size':>10} {'ours ms':>9} {'torch ms':>9} {'ratio':>7}   "
              f"{'ours cpu':>9} {'torch cpu':>9} {'ratio':>7}")
        for row in ours:
            ref = next((r for r in theirs if r["image"] == row["image"]), None)
            if ref is None:
                continue
            ratios.setdefault(row["image"], []).append(ref["ms"] / row["ms"])
            print(f"{row['image']:<30} {row['size']:>10} {row['ms']:9.2f} {ref['ms']:9.2f} "
                  f"{ref['ms'] / row['ms']:6.2f}x   {row['cpu_ms']:9.2f} {ref['cpu_ms']:9.2f} "
                  f"{ref['cpu_ms'] / row['cpu_ms']:6.2f}x")
        print()
    if rounds > 1:
        print("wall-time ratio per round, and the median:")
        for image, values in ratios.items():
            print(f"{image:<30} " + " ".join(f"{v:5.2f}x" for v in values)
                  + f"   median {statistics.median(values):5.2f}x")


def facenet(extra):
    """As detection: `--rounds N` alternates which side runs first and prints, per shape and
    reference, every round's ratio and the median."""
    rounds, extra = pop_rounds(extra)
    shared = shared_options(extra, SHARED_FACENET_OPTIONS)
    ratios = {}
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs")
    for k in range(rounds):
        print("load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())
        ours_command = [".build/release/FaceRecBenchmarks", "facenet", "--json"] + extra
        if k % 2 == 0:
            ours = run(ours_command)
            theirs = run(REFERENCES["facenet"] + shared)
        else:
            theirs = run(REFERENCES["facenet"] + shared)
            ours = run(ours_command)
        impls = sorted({r["impl"] for r in theirs})
        if any(impl in RUNTIMES for impl in impls):
            impls.append(FASTEST)
        print()
        if rounds > 1:
            print(f"round {k + 1} of {rounds} ({'ours' if k % 2 == 0 else 'reference'} first)")
        print(f"{'shape':>12} {'ours ms/face':>13} " + " ".join(f"{impl:>22}" for impl in impls))
        for row in ours:
            if "ms_per_face" not in row:
                continue
            key = (row["size"], row["batch"])
            cells = []
            for impl in impls:
                matching = [r for r in theirs if (r["size"], r["batch"]) == key
                            and (r["impl"] == impl or (impl == FASTEST and r["impl"] in RUNTIMES))]
                ref = min(matching, key=lambda r: r["ms_per_face"], default=None)
                if ref is None:
                    cells.append("-")
                    continue
                ratio = ref["ms_per_face"] / row["ms_per_face"]
                ratios.setdefault((row["size"], row["batch"], row.get("layout", ""), impl), []).append(ratio)
                cells.append(f"{ref['ms_per_face']:8.2f} ms = {ratio:5.2f}x")
            print(f"{row['size']}x{row['size']} b{row['batch']:<2} {row['ms_per_face']:13.2f} " + " ".join(f"{c:>22}" for c in cells)
                  + (f"   ({row['layout']}, {row.get('kernels', '?')} kernels)" if "layout" in row else ""))
        print()
    if rounds > 1:
        print(f"ratio (reference time / ours) per round, and the median; {cpu_name()}:")
        for (size, batch, layout, impl), values in ratios.items():
            print(f"{size}x{size} b{batch:<2} {impl:>14} " + " ".join(f"{v:5.2f}x" for v in values)
                  + f"   median {statistics.median(values):5.2f}x   ({layout})")


INT8_SPEED_OPTIONS = {"--rounds", "--seconds", "--batches", "--size"}
INT8_ACCURACY_OPTIONS = {"--data", "--set", "--calibrate-on"}


def int8(extra):
    """Our int8 FaceNet against our float32: the speed ratio (float32 time / int8 time) per
    round and its median per batch, then the two accuracy figures."""
    speed = shared_options(extra, INT8_SPEED_OPTIONS)
    accuracy = shared_options(extra, INT8_ACCURACY_OPTIONS)
    if "--crop-size" in extra:
        accuracy += ["--size", extra[extra.index("--crop-size") + 1]]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs")
    print("load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())
    rows = run([".build/release/FaceRecBenchmarks", "facenet-int8", "--json"] + speed, echo=False)
    print()
    print(f"{'round':>5} {'first':>8} {'shape':>10} {'float32 ms/face':>16} {'int8 ms/face':>13} {'ratio':>7} {'load':>6}")
    ratios = {}
    for row in rows:
        ratios.setdefault((row["size"], row["batch"]), []).append(row["ratio"])
        print(f"{row['round']:>5} {row['first']:>8} {row['size']}x{row['size']} b{row['batch']:<2} "
              f"{row['float32_ms_per_face']:16.2f} {row['int8_ms_per_face']:13.2f} {row['ratio']:6.2f}x {row['load']:6.2f}")
    print()
    print("int8 speed-up over float32 (float32 time / int8 time) on FaceNet's input crops, median of the rounds:")
    for (size, batch), values in ratios.items():
        print(f"{size}x{size} b{batch:<2} " + " ".join(f"{v:5.2f}x" for v in sorted(values))
              + f"   median {statistics.median(values):5.2f}x")
    print()
    print("load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())
    for row in run([".build/release/FaceRecBenchmarks", "facenet-int8-accuracy", "--json"] + accuracy, echo=False):
        faces = row["faces"]
        print()
        print(f"accuracy on {row['set']} (MTCNN at {row['size']}, {faces} faces), calibrated on {row['calibrated_on']}:")
        print(f"  cosine(int8, float32): min {row['min_cosine']:.4f}, 1st percentile {row['p1_cosine']:.4f}, "
              f"median {row['median_cosine']:.4f}; >= 0.995: {faces - row['below_0995']} of {faces}")
        print(f"  identify agreement with float32 (nearest gallery entry): {row['agree']} / {faces}"
              f" = {100 * row['agree'] / max(faces, 1):.1f} %")
        for line in row["disagreements"][:10]:
            print("    " + line)
        shown = min(10, len(row["disagreements"]))
        if faces - row["agree"] > shown:
            print(f"    … and {faces - row['agree'] - shown} more")


def main():
    if any(argument in ("-h", "--help") for argument in sys.argv[1:]):
        print(__doc__)
        return
    suite = sys.argv[1] if len(sys.argv) > 1 else "facenet"
    if suite == "detection":
        detection(sys.argv[2:])
    elif suite == "facenet":
        facenet(sys.argv[2:])
    elif suite == "int8":
        int8(sys.argv[2:])
    else:
        sys.exit(f"unknown suite {suite!r}: facenet, detection or int8")


if __name__ == "__main__":
    main()
