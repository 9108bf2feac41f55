#!/usr/bin/env python3
"""Reference timing for the `detection` benchmark suite: facenet-pytorch MTCNN.forward
(detect + extract_face) per image, torch.set_num_threads(2), median of N runs after a
half-second warm-up.

    python3 Benchmarks/reference_detection.py [--data ../shared/data] [--iterations 20] [--json]
"""
import argparse
import json
import os
import time

import torch
from PIL import Image
from facenet_pytorch import MTCNN

IMAGES = [
    "face_images_100/test_00.jpg",
    "photos/multiface.jpg",
    "photos/kate_siegel.jpg",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("FACEREC_TEST_DATA", "../shared/data"))
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--images", default=None, help="comma-separated paths under --data")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")
    args = parser.parse_args()
    torch.set_num_threads(2)
    mtcnn = MTCNN(image_size=240, margin=0, min_face_size=20)
    if not args.json:
        print(f"reference: facenet-pytorch MTCNN forward, torch {torch.__version__}, 2 threads, "
              f"{args.iterations} runs, median")
        print("(cpu ms: process CPU time per image, all threads; steadier than wall time on a busy machine)")
        print("image                              size        ms/image   cpu ms/image")
    images = args.images.split(",") if args.images else IMAGES
    for name in images:
        img = Image.open(os.path.join(args.data, name)).convert("RGB")
        # Warm-up as FaceRecBenchmarks does it: at least one call and at least half a second.
        warm_up_start = time.perf_counter()
        mtcnn(img)
        while time.perf_counter() - warm_up_start < 0.5:
            mtcnn(img)
        times, cpu = [], []
        for _ in range(args.iterations):
            start, cpu_start = time.perf_counter(), time.process_time()
            mtcnn(img)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
        times.sort()
        cpu.sort()
        if args.json:
            print(json.dumps({"suite": "detection", "impl": "facenet-pytorch", "image": name,
                              "size": f"{img.width}x{img.height}", "iterations": args.iterations,
                              "ms": times[len(times) // 2], "cpu_ms": cpu[len(cpu) // 2]}), flush=True)
            continue
        print(f"{name:<35}{f'{img.width}x{img.height}':<12}{times[len(times) // 2]:8.2f}   "
              f"{cpu[len(cpu) // 2]:12.2f}")


if __name__ == "__main__":
    main()
