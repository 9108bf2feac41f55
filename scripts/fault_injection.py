#!/usr/bin/env python3
"""Fault injection for the recognition pipeline (a dev tool, like the reference benchmarks).

    python3 scripts/fault_injection.py --backend local [--jobs 1000] [--weights synthetic.safetensors --gallery data.pt]
    python3 scripts/fault_injection.py --backend moto  [--slowdown 0.1] ...

What it does:
  1. Sets the pipeline up (`facerec-server setup`, short visibility timeout, maxReceiveCount 3).
     moto: a moto server with SigV4 checking (scripts/moto-server.sh) and, in front of S3 only, a
     fault proxy on 127.0.0.1 that forwards requests byte for byte (Host header included, so the
     signature stays valid) and answers `503 SlowDown` to a share of them (`--slowdown`).
  2. Phase A, the server: `facerec-server --no-workers` takes the first `--server-jobs` images
     through `POST /v1/images` (4 client threads); half way it is killed with SIGKILL and
     started again (uploads that fail while it is down are retried; only 202-acknowledged jobs
     count). The server is stopped before the workers start, because its result waiter consumes
     the output queue and the duplicate count below must see every output message.
  3. Phase B, direct: the rest of the images plus `--corrupt` corrupt ones are put into the input
     bucket and their keys sent to the input queue (the old uploader's way).
  4. Phase C, chaos: `--workers` facerec-worker processes (`--worker-concurrency` jobs each, 8 as
     the worker's own default; `--visibility-timeout`)
     while every 2-5 s a random worker is SIGKILLed and restarted at once; the S3 proxy keeps
     failing its share. Runs until the input queue is empty and every job has a result.
  5. Checks: exactly one result object per job and nothing else in the output bucket (good
     images: a name; corrupt: `error: ...`), input queue empty, the dead-letter queue holds
     exactly the corrupt jobs. Prints jobs, redeliveries (deliveries with receive-count > 1 in the
     worker logs), duplicates in the output queue, kills, 503s injected, time to drain.
Exit status 0 when every check holds.
"""
import argparse
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socketserver
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- fault proxy

class FaultProxy:
    """HTTP/1.1 proxy to one upstream; answers 503 SlowDown to `share` of the requests."""

    def __init__(self, upstream_port, share, seed):
        self.upstream_port = upstream_port
        self.share = 0.0
        self.target_share = share
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.forwarded = 0
        self.injected = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    fail = proxy.rng.random() < proxy.share
                    if fail:
                        proxy.injected += 1
                    else:
                        proxy.forwarded += 1
                if fail:
                    payload = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                               b'<Message>Please reduce your request rate.</Message>'
                               b'<RequestId>fault-proxy</RequestId></Error>')
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        conn.putheader(name, value)
                    conn.endheaders(body if body else None)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response_only(resp.status, resp.reason)
                    for name, value in resp.getheaders():
                        if name.lower() in ("transfer-encoding", "content-length", "connection"):
                            continue
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def arm(self):
        self.share = self.target_share

    def disarm(self):
        self.share = 0.0


# ---------------------------------------------------------------- backends

class LocalBackend:
    def __init__(self, workdir):
        self.data = os.path.join(workdir, "data")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL", "INPUT_BUCKET", "OUTPUT_BUCKET")}
        self.proxy = None

    def setup(self, binary, visibility, max_receive):
        subprocess.run([binary("facerec-server"), "setup", "--data-dir", self.data,
                        "--visibility-timeout", str(visibility), "--max-receive-count", str(max_receive)],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)

    def data_args(self):
        return ["--data-dir", self.data]

    def _object_path(self, bucket, key):
        parts = key.split("/")
        return os.path.join(self.data, "buckets", bucket, "objects", *[p + "~d" for p in parts[:-1]], parts[-1] + "~o")

    def put_input(self, key, data):
        path = self._object_path("input", key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = os.path.join(os.path.dirname(path), uuid.uuid4().hex + "~t")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)

    def _db(self):
        db = sqlite3.connect(os.path.join(self.data, "queues.sqlite"), timeout=30)
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    def send_keys(self, keys):
        now = int(time.time() * 1000)
        db = self._db()
        with db:
            for key in keys:
                db.execute("INSERT INTO messages (id, queue, body, attributes, sent_at_ms, visible_at_ms, receive_count) "
                           "VALUES (?, 'input', ?, '{}', ?, ?, 0)", (str(uuid.uuid4()), key, now, now))
        db.close()

    def depth(self, queue):
        db = self._db()
        (n,) = db.execute("SELECT COUNT(*) FROM messages WHERE queue = ?", (queue,)).fetchone()
        db.close()
        return n

    def input_depth(self):
        return self.depth("input")

    def dlq_bodies(self):
        db = self._db()
        rows = [r[0] for r in db.execute("SELECT body FROM messages WHERE queue = 'input-dead-letter'")]
        db.close()
        return rows

    def output_messages(self):
        db = self._db()
        rows = [(body, json.loads(attrs)) for body, attrs in
                db.execute("SELECT body, attributes FROM messages WHERE queue = 'output'")]
        db.close()
        return rows

    def results(self, bodies=True):
        root = os.path.join(self.data, "buckets", "output", "objects")
        out = {}
        for dirpath, _, files in os.walk(root):
            for name in files:
                if not name.endswith("~o"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                key = "/".join(p[:-2] for p in rel.split(os.sep))
                out[key] = None
                if bodies:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        out[key] = f.read().decode("utf-8", "replace")
        return out

    def close(self):
        pass


class MotoBackend:
    def __init__(self, workdir, slowdown, seed):
        import boto3  # noqa: F401  (only the moto mode needs it)
        self.state = os.path.join(workdir, "moto")
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "moto-server.sh"), "start", "--state-dir", self.state,
                              "--owner-pid", str(os.getpid())], check=True, capture_output=True, text=True).stdout
        values = dict(re.findall(r"export (\w+)=(\S+)", out))
        self.endpoint = values["FACEREC_MOTO_ENDPOINT"]
        self.key_id = values["FACEREC_MOTO_ACCESS_KEY_ID"]
        self.secret = values["FACEREC_MOTO_SECRET_ACCESS_KEY"]
        port = int(self.endpoint.rsplit(":", 1)[1])
        self.proxy = FaultProxy(port, slowdown, seed)
        suffix = uuid.uuid4().hex[:8]
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key_id, AWS_SECRET_ACCESS_KEY=self.secret,
                        AWS_REGION="us-east-1", AWS_ENDPOINT_URL_SQS=self.endpoint,
                        AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{self.proxy.port}",
                        INPUT_BUCKET=f"chaos-in-{suffix}", OUTPUT_BUCKET=f"chaos-out-{suffix}")
        self.env.pop("AWS_SESSION_TOKEN", None)
        self.env.pop("AWS_ENDPOINT_URL", None)
        import boto3
        kw = dict(endpoint_url=self.endpoint, region_name="us-east-1",
                  aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)
        self.s3 = boto3.client("s3", **kw)
        self.sqs = boto3.client("sqs", **kw)

    def setup(self, binary, visibility, max_receive):
        out = subprocess.run([binary("facerec-server"), "setup", "--visibility-timeout", str(visibility),
                              "--max-receive-count", str(max_receive)],
                             env=self.env, check=True, capture_output=True, text=True).stdout
        for name, value in re.findall(r"export (\w+)=(\S+)", out):
            self.env[name] = value.strip("'\"")
        for name in ("INPUT_QUEUE_URL", "OUTPUT_QUEUE_URL", "DEAD_LETTER_QUEUE_URL"):
            if name not in self.env:
                raise SystemExit(f"setup printed no {name}: {out}")

    def data_args(self):
        return []

    def put_input(self, key, data):
        self.s3.put_object(Bucket=self.env["INPUT_BUCKET"], Key=key, Body=data)

    def send_keys(self, keys):
        keys = list(keys)
        for i in range(0, len(keys), 10):
            self.sqs.send_message_batch(QueueUrl=self.env["INPUT_QUEUE_URL"],
                                        Entries=[{"Id": str(j), "MessageBody": k} for j, k in enumerate(keys[i:i + 10])])

    def _depth(self, url):
        a = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in a.values())

    def input_depth(self):
        return self._depth(self.env["INPUT_QUEUE_URL"])

    def _drain(self, url):
        out = []
        empty = 0
        while empty < 2:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                         MessageAttributeNames=["All"], WaitTimeSeconds=0)
            msgs = r.get("Messages", [])
            if not msgs:
                empty += 1
                continue
            empty = 0
            for m in msgs:
                attrs = {k: v.get("StringValue") for k, v in m.get("MessageAttributes", {}).items()}
                out.append((m["Body"], attrs))
        return out

    def dlq_bodies(self):
        return [b for b, _ in self._drain(self.env["DEAD_LETTER_QUEUE_URL"])]

    def output_messages(self):
        return self._drain(self.env["OUTPUT_QUEUE_URL"])

    def results(self, bodies=True):
        out = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.env["OUTPUT_BUCKET"]):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = (self.s3.get_object(Bucket=self.env["OUTPUT_BUCKET"], Key=obj["Key"])["Body"].read().decode()
                                   if bodies else None)
        return out

    def close(self):
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "moto-server.sh"), "stop", "--state-dir", self.state])


# ---------------------------------------------------------------- processes

class Server:
    def __init__(self, args, backend, workdir, binary):
        self.cmd = [binary("facerec-server"), "--port", "0", "--no-workers", "--mtcnn-weights", args.mtcnn_weights,
                    *backend.data_args()]
        self.env = backend.env
        self.workdir = workdir
        self.starts = 0
        self.proc = None
        self.url = None

    def start(self):
        self.starts += 1
        out = os.path.join(self.workdir, f"server-{self.starts}.out")
        err = open(os.path.join(self.workdir, f"server-{self.starts}.log"), "w")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=open(out, "w"), stderr=err)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"facerec-server exited: see {err.name}")
            m = re.search(r"http://[\d.]+:\d+", open(out).read())
            if m:
                self.url = m.group(0)
                return
            time.sleep(0.1)
        raise SystemExit("facerec-server did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def upload(url, path):
    """POST /v1/images with the raw image; returns the stored key or None on a failure."""
    name = os.path.basename(path)
    req = urllib.request.Request(f"{url}/v1/images?filename={name}", data=open(path, "rb").read(), method="POST",
                                 headers={"Content-Type": "image/jpeg"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status == 202:
                return json.loads(r.read())["key"]
    except Exception:
        return None
    return None


def add_pipeline_arguments(p):
    """The options every pipeline script shares: weights, gallery, binaries and test data."""
    p.add_argument("--weights", help="FaceNet weights (default: detection only)")
    p.add_argument("--gallery", default=os.path.join(ROOT, "..", "shared", "data", "data.pt"))
    p.add_argument("--mtcnn-weights", default=os.path.join(ROOT, "weights"))
    p.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    p.add_argument("--data", default=os.environ.get("FACEREC_TEST_DATA", os.path.join(ROOT, "..", "shared", "data")))


class Workers:
    def __init__(self, args, backend, workdir, binary):
        self.cmd = [binary("facerec-worker"), "--concurrency", str(args.worker_concurrency), "--visibility-timeout", str(args.visibility_timeout),
                    "--mtcnn-weights", args.mtcnn_weights, *backend.data_args()]
        if args.weights:
            self.cmd += ["--weights", args.weights, "--gallery", args.gallery]
        self.env = dict(backend.env, LOG_LEVEL="info")
        self.workdir = workdir
        self.procs = {}
        self.starts = Counter()
        self.logs = []
        self.kills = 0

    def start(self, slot):
        self.starts[slot] += 1
        path = os.path.join(self.workdir, f"worker-{slot}-{self.starts[slot]}.log")
        self.logs.append(path)
        self.procs[slot] = subprocess.Popen(self.cmd, env=dict(self.env, FACEREC_WORKER_ID=f"w{slot}"),
                                            stdout=subprocess.DEVNULL, stderr=open(path, "w"))

    def kill_random(self, rng):
        slot = rng.choice(sorted(self.procs))
        self.procs[slot].send_signal(signal.SIGKILL)
        self.procs[slot].wait()
        self.kills += 1
        self.start(slot)

    def stop(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()


def redeliveries(logs):
    seen = set()
    for path in logs:
        for line in open(path, errors="replace"):
            mid = re.search(r"message-id=(\S+)", line)
            rc = re.search(r"receive-count=(\d+)", line)
            if mid and rc and int(rc.group(1)) > 1:
                seen.add((mid.group(1), int(rc.group(1))))
    return len(seen)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["local", "moto"], required=True)
    p.add_argument("--jobs", type=int, default=1000, help="good images (from face_images_1000)")
    p.add_argument("--corrupt", type=int, default=5, help="corrupt images, must end in the DLQ")
    p.add_argument("--server-jobs", type=int, default=None, help="jobs enqueued through the server (default: half)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-concurrency", type=int, default=8, help="jobs each worker holds (its images are batched)")
    p.add_argument("--visibility-timeout", type=int, default=5)
    p.add_argument("--max-receive-count", type=int, default=3)
    p.add_argument("--kill-every", type=float, nargs=2, default=[2.0, 5.0], metavar=("MIN", "MAX"))
    p.add_argument("--slowdown", type=float, default=0.10, help="share of S3 requests answered 503 SlowDown (moto)")
    add_pipeline_arguments(p)
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir")
    args = p.parse_args()
    rng = random.Random(args.seed)
    binary = lambda name: os.path.join(args.bin, name)  # noqa: E731
    workdir = args.workdir or tempfile.mkdtemp(prefix=f"facerec-chaos-{args.backend}-")
    os.makedirs(workdir, exist_ok=True)
    images = sorted(os.path.join(args.data, "face_images_1000", f)
                    for f in os.listdir(os.path.join(args.data, "face_images_1000")) if f.endswith(".jpg"))
    if args.jobs > len(images):
        images = [images[i % len(images)] for i in range(args.jobs)]
    images = images[:args.jobs]
    server_jobs = args.jobs // 2 if args.server_jobs is None else args.server_jobs
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    log(f"backend {args.backend}; workdir {workdir}; jobs {args.jobs} + {args.corrupt} corrupt; "
        f"recognition: {'identify (' + args.weights + ')' if args.weights else 'detection only'}; "
        f"cores {os.cpu_count()}; load {load}")

    backend = LocalBackend(workdir) if args.backend == "local" else MotoBackend(workdir, args.slowdown, args.seed)
    workers = None
    try:
        backend.setup(binary, args.visibility_timeout, args.max_receive_count)
        expected = {}  # input key -> "ok" | "corrupt"

        # Phase A: through the server, killed and restarted half way.
        if backend.proxy:
            backend.proxy.arm()
        server = Server(args, backend, workdir, binary)
        server.start()
        pending = list(images[:server_jobs])
        lock = threading.Lock()
        done = [0]
        failures = [0]
        # Stems of images with an upload attempt that got no 202: when the server died after
        # enqueueing but before answering, that attempt is a real job nobody was told about.
        unacknowledged = set()

        def client():
            while True:
                with lock:
                    if not pending:
                        return
                    path = pending.pop(0)
                url = server.url
                key = upload(url, path)
                with lock:
                    if key:
                        expected[key] = "ok"
                        done[0] += 1
                    else:
                        failures[0] += 1
                        unacknowledged.add(os.path.splitext(os.path.basename(path))[0])
                        pending.append(path)  # retried: only an acknowledged upload is a job
                if not key:
                    time.sleep(0.2)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        restarted = False
        while any(t.is_alive() for t in threads):
            if not restarted and done[0] >= server_jobs // 2:
                server.kill()
                log(f"server SIGKILLed after {done[0]} acknowledged uploads; restarting")
                time.sleep(1)
                server.start()
                restarted = True
            time.sleep(0.05)
        server.stop()
        log(f"phase A: {done[0]} uploads acknowledged by the server (202), {failures[0]} failed attempts retried, "
            f"server started {server.starts}x")

        # Phase B: straight into the bucket and the queue.
        if backend.proxy:
            backend.proxy.disarm()
        direct = []
        for i, path in enumerate(images[server_jobs:]):
            key = f"direct/{i:05d}_{os.path.basename(path)}"
            backend.put_input(key, open(path, "rb").read())
            direct.append(key)
            expected[key] = "ok"
        for i in range(args.corrupt):
            key = f"direct/corrupt_{i:02d}.jpg"
            good = open(images[i], "rb").read()
            data = [b"\xff\xd8\xff\xe0 not really a jpeg", good[:len(good) // 3], b"GIF89a", b"",
                    bytes(rng.getrandbits(8) for _ in range(5000))][i % 5]
            backend.put_input(key, data)
            direct.append(key)
            expected[key] = "corrupt"
        backend.send_keys(direct)
        log(f"phase B: {len(direct)} keys put and enqueued directly ({args.corrupt} corrupt)")

        # Phase C: workers under SIGKILL, S3 failing.
        if backend.proxy:
            backend.proxy.arm()
        workers = Workers(args, backend, workdir, binary)
        for slot in range(args.workers):
            workers.start(slot)
        started = time.time()
        next_kill = started + rng.uniform(*args.kill_every)
        want = {k.rsplit(".", 1)[0] for k in expected}
        last_report = 0
        while True:
            now = time.time()
            if now - started > args.timeout:
                raise SystemExit("timed out waiting for the drain")
            depth = backend.input_depth()
            results = backend.results(bodies=False)
            if depth == 0 and want <= set(results):
                break
            if now >= next_kill:
                workers.kill_random(rng)
                next_kill = now + rng.uniform(*args.kill_every)
            if now - last_report > 30:
                log(f"  input queue {depth}, results {len(set(results) & want)}/{len(want)}, kills {workers.kills}")
                last_report = now
            time.sleep(2)
        drain_seconds = time.time() - started
        workers.stop()
        if backend.proxy:
            backend.proxy.disarm()

        # Checks.
        results = backend.results()
        problems = []
        extra = set(results) - want
        # Accepted but never acknowledged (the server was SIGKILLed between enqueueing and its
        # 202): processed like any job, so they must have a proper result, but they are not lost
        # or foreign objects.
        orphans = {k for k in extra if k.startswith("uploads/") and k.rsplit("/", 1)[-1] in unacknowledged}
        extra -= orphans
        for key in sorted(orphans):
            if results[key].startswith("error") or not results[key]:
                problems.append(f"unacknowledged upload {key}: result {results[key]!r}, expected a name")
        missing = want - set(results)
        if extra:
            problems.append(f"{len(extra)} result objects for no job, e.g. {sorted(extra)[:3]}")
        if missing:
            problems.append(f"{len(missing)} jobs without a result, e.g. {sorted(missing)[:3]}")
        for key, kind in expected.items():
            body = results.get(key.rsplit(".", 1)[0])
            if body is None:
                continue
            if kind == "corrupt" and not body.startswith("error: "):
                problems.append(f"corrupt {key}: result {body!r}, expected 'error: ...'")
            if kind == "ok" and (body.startswith("error") or not body):
                problems.append(f"{key}: result {body!r}, expected a name")
        depth = backend.input_depth()
        if depth:
            problems.append(f"input queue holds {depth} messages")
        dlq = Counter(backend.dlq_bodies())
        corrupt = Counter(k for k, kind in expected.items() if kind == "corrupt")
        if dlq != corrupt:
            problems.append(f"dead-letter queue holds {dict(dlq)}, expected {dict(corrupt)}")
        out_msgs = backend.output_messages()
        per_key = Counter(a.get("inputKey") for _, a in out_msgs)
        duplicates = sum(n - 1 for n in per_key.values() if n > 1)
        no_answer = [k for k in expected if per_key[k] == 0]
        if no_answer:
            problems.append(f"{len(no_answer)} jobs with no output message, e.g. {no_answer[:3]}")
        answers = Counter(results[k.rsplit('.', 1)[0]] for k, kind in expected.items() if kind == "ok"
                          and k.rsplit('.', 1)[0] in results)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print()
        print(f"backend: {args.backend}" + (f" (S3 through the fault proxy, {args.slowdown:.0%} SlowDown)" if backend.proxy else ""))
        print(f"jobs: {len(expected)} ({server_jobs} via POST /v1/images, server SIGKILLed + restarted once; "
              f"{len(expected) - server_jobs} direct, {args.corrupt} corrupt)")
        print(f"workers: {args.workers} x concurrency {args.worker_concurrency}, visibility timeout {args.visibility_timeout} s; "
              f"SIGKILLs: {workers.kills}")
        if backend.proxy:
            print(f"S3 requests: {backend.proxy.forwarded} forwarded, {backend.proxy.injected} answered 503 SlowDown")
        print(f"redeliveries (receive-count > 1 in worker logs): {redeliveries(workers.logs)}")
        print(f"output queue: {len(out_msgs)} messages, duplicates: {duplicates}")
        print(f"dead-letter queue: {sum(dlq.values())} messages ({sum(corrupt.values())} corrupt jobs)")
        print(f"result objects: {len(set(results) & want)}/{len(want)}; most common answers: {answers.most_common(4)}")
        print(f"uploads the server enqueued but was killed before acknowledging: {len(orphans)} (each with one result)")
        print(f"time to drain: {drain_seconds:.1f} s ({len(expected) / drain_seconds:.2f} jobs/s); load at end: {load}")
        secret = getattr(backend, "secret", None)
        if secret:
            leaked = []
            for name in os.listdir(workdir):
                path = os.path.join(workdir, name)
                if os.path.isfile(path) and (name.endswith(".log") or name.endswith(".out")):
                    if secret in open(path, errors="replace").read():
                        leaked.append(name)
            print(f"moto secret access key in the server/worker logs: {'FOUND in ' + ', '.join(leaked) if leaked else 'nowhere'}")
            if leaked:
                problems.append(f"the secret access key appears in {leaked}")
        if problems:
            print("FAILED:")
            for line in problems[:20]:
                print("  " + line)
            return 1
        print("OK: exactly one result per job, input queue empty, DLQ = the corrupt jobs")
        return 0
    finally:
        if workers:
            for proc in workers.procs.values():
                if proc.poll() is None:
                    proc.kill()
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
