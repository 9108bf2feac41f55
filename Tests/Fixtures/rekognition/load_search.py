#!/usr/bin/env python3
"""Load figures for the Rekognition API (docs/REKOGNITION.md#figures).

    load_search.py make-gallery OUT.safetensors FACES NAMES
        A facerec gallery of FACES random unit embeddings named person-0 … person-(NAMES-1),
        for `facerec-server collections import`.
    load_search.py search ENDPOINT COLLECTION CONCURRENCY [IMAGE]
        CONCURRENCY calls at once, released together: SearchFaces by a FaceId of the collection,
        or SearchFacesByImage with IMAGE when given. Prints {"calls", "errors", "p50_ms",
        "p99_ms", "seconds", "per_second"} as JSON.

Keys come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import json
import struct
import sys
import threading
import time

import numpy as np


def make_gallery(out, faces, names):
    rng = np.random.default_rng(23)
    embeddings = rng.standard_normal((faces, 512), dtype=np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    data = embeddings.astype("<f4").tobytes()
    header = {"__metadata__": {"format": "facerec-gallery/1",
                               "names": json.dumps([f"person-{i % names}" for i in range(faces)])},
              "embeddings": {"dtype": "F32", "shape": [faces, 512], "data_offsets": [0, len(data)]}}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def search(endpoint, collection, concurrency, image_path=None):
    import boto3
    from botocore.config import Config
    client = boto3.client("rekognition", endpoint_url=endpoint, region_name="us-east-1",
                          config=Config(max_pool_connections=concurrency, retries={"max_attempts": 1},
                                        read_timeout=3600, connect_timeout=60))
    face_id = client.list_faces(CollectionId=collection, MaxResults=1)["Faces"][0]["FaceId"]
    image = open(image_path, "rb").read() if image_path else None
    barrier = threading.Barrier(concurrency)
    latencies, errors, lock = [], [], threading.Lock()

    def call():
        barrier.wait()
        start = time.monotonic()
        try:
            if image:
                client.search_faces_by_image(CollectionId=collection, Image={"Bytes": image}, MaxFaces=10)
            else:
                client.search_faces(CollectionId=collection, FaceId=face_id, MaxFaces=10)
            with lock:
                latencies.append(time.monotonic() - start)
        except Exception as e:  # noqa: BLE001 - every failure is counted and shown
            with lock:
                errors.append(repr(e)[:200])

    threads = [threading.Thread(target=call) for _ in range(concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    latencies.sort()
    pick = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None
    print(json.dumps({"calls": concurrency, "errors": len(errors), "first_error": errors[0] if errors else None,
                      "p50_ms": pick(0.50), "p99_ms": pick(0.99), "seconds": round(seconds, 2),
                      "per_second": round(len(latencies) / seconds, 1)}))


if sys.argv[1] == "make-gallery":
    make_gallery(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
else:
    search(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None)
