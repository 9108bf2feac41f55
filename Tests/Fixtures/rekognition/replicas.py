#!/usr/bin/env python3
"""boto3's `rekognition` client against two facerec-server replicas sharing one PostgreSQL database.

    replicas.py STEP ENDPOINT_A ENDPOINT_B IMAGES_DIR

Steps:
  propagate  index a face through A; poll SearchFaces (FaceId) through B until it answers, with a
             1 s deadline counted from IndexFaces' answer (figure: propagation_ms); then
             SearchFacesByImage through B finds it; a face deleted through B leaves A's ListFaces and
             SearchFacesByImage; a user created through B is associated through A.
  restarted  after both replicas restarted: both list the kept face with its user, and find it.
Prints {"checks": [...], "figures": {...}} like rekognition_client.py (RekognitionPostgresTests).
"""
import json
import os
import sys
import time

import boto3
from botocore.config import Config

STEP, A_URL, B_URL, IMAGES = sys.argv[1:5]
checks, figures = [], {}
COLLECTION = "shared"
PROPAGATION_DEADLINE = 1.0  # the requirement: a face indexed through one replica is found through another within 1 s
LIVENESS = 60.0  # how long a deletion may take to show before the step gives up (not a speed bound)


def check(name, ok, detail=""):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)[:500]})


def client(url):
    return boto3.client("rekognition", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def image(stem):
    with open(os.path.join(IMAGES, stem + ".jpg"), "rb") as f:
        return f.read()


a, b = client(A_URL), client(B_URL)
stems = sorted(f[:-4] for f in os.listdir(IMAGES) if f.endswith(".jpg"))
kept_stem, deleted_stem = stems[3], stems[4]


def face_ids(rek):
    return sorted(f["FaceId"] for page in rek.get_paginator("list_faces").paginate(CollectionId=COLLECTION) for f in page["Faces"])


def found_by_search_faces(rek, face_id):
    try:
        rek.search_faces(CollectionId=COLLECTION, FaceId=face_id)
        return True
    except rek.exceptions.InvalidParameterException:  # "no face with that FaceId" until the change arrives
        return False
    except rek.exceptions.ResourceNotFoundException:  # the collection has not arrived yet
        return False


def propagate():
    a.create_collection(CollectionId=COLLECTION)
    r = a.index_faces(CollectionId=COLLECTION, Image={"Bytes": image(kept_stem)}, ExternalImageId=kept_stem)
    indexed_at = time.monotonic()
    kept = r["FaceRecords"][0]["Face"]["FaceId"]
    polls = 0
    while True:
        polls += 1
        if found_by_search_faces(b, kept):
            delay = time.monotonic() - indexed_at
            break
        if time.monotonic() - indexed_at > PROPAGATION_DEADLINE:
            delay = None
            break
    figures["propagation_ms"] = round(delay * 1000, 1) if delay is not None else "not within 1 s"
    figures["propagation_polls"] = polls
    check("indexed through A, SearchFaces through B within 1 s", delay is not None, f"{polls} polls")
    s = b.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": image(kept_stem)})
    check("SearchFacesByImage through B finds it", s["FaceMatches"] and s["FaceMatches"][0]["Face"]["FaceId"] == kept
          and s["FaceMatches"][0]["Similarity"] >= 99, s["FaceMatches"][:2])

    # A second face, indexed through A and deleted through B, leaves A's searches.
    r = a.index_faces(CollectionId=COLLECTION, Image={"Bytes": image(deleted_stem)}, ExternalImageId=deleted_stem)
    doomed = r["FaceRecords"][0]["Face"]["FaceId"]
    start = time.monotonic()
    while not found_by_search_faces(b, doomed) and time.monotonic() - start < LIVENESS:
        time.sleep(0.01)
    d = b.delete_faces(CollectionId=COLLECTION, FaceIds=[doomed])
    check("DeleteFaces through B", d["DeletedFaces"] == [doomed], d)
    start = time.monotonic()
    while doomed in face_ids(a) and time.monotonic() - start < LIVENESS:
        time.sleep(0.01)
    check("the face deleted through B leaves A's ListFaces", face_ids(a) == [kept], face_ids(a))
    s = a.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": image(deleted_stem)}, FaceMatchThreshold=0)
    check("the face deleted through B leaves A's SearchFacesByImage",
          doomed not in [m["Face"]["FaceId"] for m in s["FaceMatches"]], s["FaceMatches"][:2])

    # A user created through B, the face associated through A: both see the association.
    b.create_user(CollectionId=COLLECTION, UserId="kept-user")
    start = time.monotonic()
    while not any(u["UserId"] == "kept-user" for u in a.list_users(CollectionId=COLLECTION)["Users"]) \
            and time.monotonic() - start < LIVENESS:
        time.sleep(0.01)
    r = a.associate_faces(CollectionId=COLLECTION, UserId="kept-user", FaceIds=[kept])
    check("a user created through B is associated through A", [f["FaceId"] for f in r["AssociatedFaces"]] == [kept], r)
    start = time.monotonic()
    while b.list_faces(CollectionId=COLLECTION, UserId="kept-user")["Faces"] == [] and time.monotonic() - start < LIVENESS:
        time.sleep(0.01)
    check("B sees the association", [f["FaceId"] for f in b.list_faces(CollectionId=COLLECTION, UserId="kept-user")["Faces"]] == [kept])
    figures["face_id"] = kept


def restarted():
    kept = os.environ["EXPECTED_FACE_ID"]
    for name, rek in (("A", a), ("B", b)):
        faces = rek.list_faces(CollectionId=COLLECTION)["Faces"]
        check(f"{name} keeps the face and its user after the restart",
              [f["FaceId"] for f in faces] == [kept] and faces[0].get("UserId") == "kept-user", faces)
        check(f"{name} keeps the user", [u["UserId"] for u in rek.list_users(CollectionId=COLLECTION)["Users"]] == ["kept-user"])
    s = b.search_faces_by_image(CollectionId=COLLECTION, Image={"Bytes": image(kept_stem)})
    check("B finds the kept face by image after the restart",
          s["FaceMatches"] and s["FaceMatches"][0]["Face"]["FaceId"] == kept and s["FaceMatches"][0]["Similarity"] >= 99, s)


{"propagate": propagate, "restarted": restarted}[STEP]()
print(json.dumps({"checks": checks, "figures": figures}))
