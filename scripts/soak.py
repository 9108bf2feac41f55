#!/usr/bin/env python3
"""Soak: one facerec-worker process, many recognitions, its resident memory sampled.

    python3 scripts/soak.py --weights synthetic.safetensors [--jobs 10000] [--deadline-minutes 60]

Sets up a fresh embedded-default data dir, puts the 1,000 images of face_images_1000 into the
input bucket and enqueues their keys round after round (10,000 jobs = 10 rounds), runs ONE
`facerec-worker` (release build, `--concurrency` jobs in hand, default 8 as the worker's own
default, so its images are batched) on them, and every `--interval` seconds reads
VmRSS from /proc/<pid>/status and the number of results sent (output-queue messages). Reports
the RSS once `--warmup` jobs are done and at the end, and the growth in between (the goal: under
5 %). Stops at `--jobs` results or at the deadline, whichever comes first, and says which.
The samples go to <workdir>/rss.csv.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_injection import LocalBackend, ROOT, add_pipeline_arguments  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=10000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--interval", type=float, default=5)
    p.add_argument("--deadline-minutes", type=float, default=600)
    add_pipeline_arguments(p)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--workdir")
    args = p.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="facerec-soak-")
    backend = LocalBackend(workdir)
    backend.setup(lambda n: os.path.join(args.bin, n), 60, 3)
    folder = os.path.join(args.data, "face_images_1000")
    images = sorted(f for f in os.listdir(folder) if f.endswith(".jpg"))
    for name in images:
        backend.put_input(name, open(os.path.join(folder, name), "rb").read())
    rounds = -(-args.jobs // len(images))
    keys = [images[i % len(images)] for i in range(args.jobs)]
    backend.send_keys(keys)
    cmd = [os.path.join(args.bin, "facerec-worker"), "--concurrency", str(args.concurrency), "--data-dir", backend.data,
           "--mtcnn-weights", args.mtcnn_weights]
    if args.weights:
        cmd += ["--weights", args.weights, "--gallery", args.gallery]
    load0 = open("/proc/loadavg").read().split()[:3]
    print(f"soak: {args.jobs} jobs ({rounds} rounds of {len(images)} images), one worker (concurrency {args.concurrency}), "
          f"{'identify' if args.weights else 'detection only'}; cores {os.cpu_count()}; load {' '.join(load0)}", flush=True)
    proc = subprocess.Popen(cmd, env=backend.env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, "worker.log"), "w"))
    started = time.time()
    deadline = started + args.deadline_minutes * 60
    samples = []
    warm = None
    csv = open(os.path.join(workdir, "rss.csv"), "w")
    csv.write("seconds,jobs,rss_kib\n")
    reason = "all jobs done"
    try:
        while True:
            time.sleep(args.interval)
            if proc.poll() is not None:
                reason = f"worker exited with {proc.returncode}"
                break
            jobs = backend.depth("output")
            rss = rss_kib(proc.pid)
            t = time.time() - started
            samples.append((t, jobs, rss))
            csv.write(f"{t:.1f},{jobs},{rss}\n")
            csv.flush()
            if warm is None and jobs >= args.warmup:
                warm = (t, jobs, rss)
                print(f"  warm-up done: {jobs} jobs at {t:.0f} s, RSS {rss / 1024:.1f} MiB", flush=True)
            if len(samples) % 60 == 0:
                print(f"  {t:.0f} s: {jobs} jobs, RSS {rss / 1024:.1f} MiB", flush=True)
            if jobs >= args.jobs:
                break
            if time.time() > deadline:
                reason = "deadline reached"
                break
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=120)
    t, jobs, rss = samples[-1]
    peak = max(s[2] for s in samples)
    load1 = open("/proc/loadavg").read().split()[:3]
    print(f"stopped: {reason}; {jobs} recognitions in {t:.0f} s ({jobs / t:.2f}/s); load at end {' '.join(load1)}")
    if warm:
        after = [s[2] for s in samples if s[1] >= warm[1]]
        growth = (rss - warm[2]) / warm[2] * 100
        print(f"RSS after warm-up ({warm[1]} jobs): {warm[2] / 1024:.1f} MiB; at the end ({jobs} jobs): {rss / 1024:.1f} MiB; "
              f"growth {growth:+.2f} %; min/max after warm-up {min(after) / 1024:.1f}/{max(after) / 1024:.1f} MiB; peak {peak / 1024:.1f} MiB")
        print("OK: growth under 5 %" if growth < 5 else "FAILED: growth of 5 % or more")
        return 0 if growth < 5 else 1
    print("warm-up not reached")
    return 1


if __name__ == "__main__":
    sys.exit(main())
