#!/usr/bin/env python3
"""boto3's `rekognition` client against facerec-server's Rekognition API.

    rekognition_client.py SCENARIO ENDPOINT IMAGES_DIR [S3_BUCKET S3_KEY]

The access key pair comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; READONLY_ACCESS_KEY_ID /
READONLY_SECRET_ACCESS_KEY name a read-only pair. Each scenario prints one JSON object,
{"checks": [{"name", "ok", "detail"}], "figures": {...}}: the Swift test
(RekognitionBoto3Tests) asserts that every expected check is present and passed.
Scenarios: operations, errors, auth, done-when, restart-before, restart-after.
"""
import datetime
import json
import os
import sys
import time

import boto3
import botocore
import botocore.auth
from botocore.config import Config

SCENARIO, ENDPOINT, IMAGES = sys.argv[1], sys.argv[2], sys.argv[3]
checks, figures = [], {}


def check(name, ok, detail=""):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)[:500]})


def client(key=None, secret=None, unsigned=False):
    config = Config(retries={"max_attempts": 1, "mode": "standard"},
                    signature_version=botocore.UNSIGNED if unsigned else None)
    return boto3.client("rekognition", endpoint_url=ENDPOINT, region_name="us-east-1",
                        aws_access_key_id=key or os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=secret or os.environ["AWS_SECRET_ACCESS_KEY"], config=config)


def image(stem):
    with open(os.path.join(IMAGES, stem + ".jpg"), "rb") as f:
        return f.read()


def error_of(call, **kwargs):
    """(code, http status, message) of a call that must fail; ("", 200, "") when it succeeded."""
    try:
        call(**kwargs)
        return "", 200, ""
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Message"]


def expect_error(name, code, status, call, **kwargs):
    got = error_of(call, **kwargs)
    check(name, got[0] == code and got[1] == status, f"expected {code}/{status}, got {got}")


rek = client()
stems = sorted(f[:-4] for f in os.listdir(IMAGES) if f.endswith(".jpg"))


def operations():
    cid = "ops-collection"
    created = rek.create_collection(CollectionId=cid)
    check("CreateCollection", created["StatusCode"] == 200 and created["CollectionArn"].endswith(f":collection/{cid}")
          and created["FaceModelVersion"], created)
    for extra in ("ops-b", "ops-c"):
        rek.create_collection(CollectionId=extra)
    # ListCollections with pagination: 3 collections, 2 per page.
    page1 = rek.list_collections(MaxResults=2)
    page2 = rek.list_collections(MaxResults=2, NextToken=page1["NextToken"])
    listed = page1["CollectionIds"] + page2["CollectionIds"]
    check("ListCollections pages", listed == sorted(["ops-collection", "ops-b", "ops-c"]) and "NextToken" not in page2
          and len(page1["FaceModelVersions"]) == 2, (page1, page2))
    paginated = [c for page in rek.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 1})
                 for c in page["CollectionIds"]]
    check("ListCollections paginator", paginated == listed, paginated)

    # IndexFaces with ExternalImageId, MaxFaces and QualityFilter.
    indexed = {}
    for stem in stems[:5]:
        r = rek.index_faces(CollectionId=cid, Image={"Bytes": image(stem)}, ExternalImageId=stem, MaxFaces=1,
                            QualityFilter="AUTO", DetectionAttributes=["DEFAULT"])
        records = r["FaceRecords"]
        ok = len(records) == 1 and records[0]["Face"]["ExternalImageId"] == stem
        if ok:
            face, detail = records[0]["Face"], records[0]["FaceDetail"]
            box = face["BoundingBox"]
            ok = (0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1 and 0 < box["Width"] <= 1.5 and 0 < box["Height"] <= 1.5
                  and 0 <= face["Confidence"] <= 100 and len(face["FaceId"]) == 36 and len(face["ImageId"]) == 36
                  and [l["Type"] for l in detail["Landmarks"]] == ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
                  and all(0 <= l["X"] <= 1 and 0 <= l["Y"] <= 1 for l in detail["Landmarks"])
                  and 0 <= detail["Quality"]["Brightness"] <= 100 and 0 <= detail["Quality"]["Sharpness"] <= 100
                  and set(detail["Pose"]) == {"Roll", "Yaw"} and r["FaceModelVersion"])
            indexed[stem] = face["FaceId"]
        check(f"IndexFaces {stem}", ok, r)
    # Index the same image again: same ImageId, new FaceId.
    again = rek.index_faces(CollectionId=cid, Image={"Bytes": image(stems[0])}, ExternalImageId=stems[0] + "-again")
    first = rek.list_faces(CollectionId=cid, FaceIds=[indexed[stems[0]]])["Faces"][0]
    check("IndexFaces same image same ImageId", again["FaceRecords"][0]["Face"]["ImageId"] == first["ImageId"]
          and again["FaceRecords"][0]["Face"]["FaceId"] != first["FaceId"], (again, first))
    # QualityFilter HIGH refuses the small sample faces, with reasons.
    high = rek.index_faces(CollectionId=cid, Image={"Bytes": image(stems[5])}, QualityFilter="HIGH")
    check("IndexFaces UnindexedFaces reasons", high["FaceRecords"] == [] and len(high["UnindexedFaces"]) >= 1
          and "SMALL_BOUNDING_BOX" in high["UnindexedFaces"][0]["Reasons"], high)
    # A multi-face photo with MaxFaces=1: the rest are EXCEEDS_MAX_FACES.
    multi_path = os.environ.get("MULTIFACE_IMAGE")
    if multi_path:
        with open(multi_path, "rb") as f:
            multi = f.read()
        r = rek.index_faces(CollectionId="ops-b", Image={"Bytes": multi}, MaxFaces=1, QualityFilter="NONE")
        check("IndexFaces MaxFaces", len(r["FaceRecords"]) == 1 and len(r["UnindexedFaces"]) >= 1
              and all(u["Reasons"] == ["EXCEEDS_MAX_FACES"] for u in r["UnindexedFaces"]), r)
        detected = rek.detect_faces(Image={"Bytes": multi})
        check("DetectFaces multi", len(detected["FaceDetails"]) == len(r["FaceRecords"]) + len(r["UnindexedFaces"]), detected)

    # ListFaces with pagination (6 faces, 4 per page).
    p1 = rek.list_faces(CollectionId=cid, MaxResults=4)
    p2 = rek.list_faces(CollectionId=cid, MaxResults=4, NextToken=p1["NextToken"])
    ids = [f["FaceId"] for f in p1["Faces"] + p2["Faces"]]
    check("ListFaces pages", len(p1["Faces"]) == 4 and len(p2["Faces"]) == 2 and "NextToken" not in p2
          and ids == sorted(ids) and set(indexed.values()) <= set(ids), (p1, p2))

    described = rek.describe_collection(CollectionId=cid)
    check("DescribeCollection", described["FaceCount"] == 6 and described["UserCount"] == 0
          and described["CollectionARN"].endswith(cid) and isinstance(described["CreationTimestamp"], datetime.datetime),
          described)

    # SearchFaces by FaceId: the same image indexed twice finds its twin at ~100, never itself.
    s = rek.search_faces(CollectionId=cid, FaceId=indexed[stems[0]], FaceMatchThreshold=99)
    check("SearchFaces", s["SearchedFaceId"] == indexed[stems[0]] and len(s["FaceMatches"]) >= 1
          and s["FaceMatches"][0]["Face"]["ExternalImageId"] == stems[0] + "-again"
          and s["FaceMatches"][0]["Similarity"] >= 99
          and all(m["Face"]["FaceId"] != indexed[stems[0]] for m in s["FaceMatches"]), s)
    s0 = rek.search_faces(CollectionId=cid, FaceId=indexed[stems[0]], FaceMatchThreshold=0, MaxFaces=2)
    check("SearchFaces MaxFaces", len(s0["FaceMatches"]) == 2
          and s0["FaceMatches"][0]["Similarity"] >= s0["FaceMatches"][1]["Similarity"], s0)

    # SearchFacesByImage.
    s = rek.search_faces_by_image(CollectionId=cid, Image={"Bytes": image(stems[1])}, MaxFaces=3)
    check("SearchFacesByImage", s["FaceMatches"] and s["FaceMatches"][0]["Face"]["ExternalImageId"] == stems[1]
          and s["FaceMatches"][0]["Similarity"] >= 99 and 0 < s["SearchedFaceConfidence"] <= 100
          and set(s["SearchedFaceBoundingBox"]) == {"Width", "Height", "Left", "Top"}, s)

    # CompareFaces: an image with itself gives one match at ~100, with a high threshold another gives none.
    c = rek.compare_faces(SourceImage={"Bytes": image(stems[2])}, TargetImage={"Bytes": image(stems[2])})
    check("CompareFaces itself", len(c["FaceMatches"]) == 1 and c["FaceMatches"][0]["Similarity"] >= 99
          and c["UnmatchedFaces"] == [] and c["SourceImageFace"]["Confidence"] > 0, c)
    c = rek.compare_faces(SourceImage={"Bytes": image(stems[2])}, TargetImage={"Bytes": image(stems[3])},
                          SimilarityThreshold=100)
    check("CompareFaces threshold", c["FaceMatches"] == [] and len(c["UnmatchedFaces"]) == 1
          and set(c["UnmatchedFaces"][0]) >= {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}, c)

    d = rek.detect_faces(Image={"Bytes": image(stems[0])}, Attributes=["DEFAULT"])
    check("DetectFaces", len(d["FaceDetails"]) == 1 and d["FaceDetails"][0]["Confidence"] > 50, d)

    # S3Object read through the pipeline's store.
    if len(sys.argv) > 5:
        bucket, key = sys.argv[4], sys.argv[5]
        d = rek.detect_faces(Image={"S3Object": {"Bucket": bucket, "Name": key}})
        check("DetectFaces S3Object", len(d["FaceDetails"]) == 1, d)
        expect_error("InvalidS3ObjectException", "InvalidS3ObjectException", 400, rek.detect_faces,
                     Image={"S3Object": {"Bucket": bucket, "Name": "missing.jpg"}})

    # Users.
    rek.create_user(CollectionId=cid, UserId="alice")
    rek.create_user(CollectionId=cid, UserId="bob")
    rek.create_user(CollectionId=cid, UserId="carol", ClientRequestToken="token-1")
    rek.create_user(CollectionId=cid, UserId="carol", ClientRequestToken="token-1")  # an SDK retry: accepted
    users1 = rek.list_users(CollectionId=cid, MaxResults=2)
    users2 = rek.list_users(CollectionId=cid, MaxResults=2, NextToken=users1["NextToken"])
    names = [u["UserId"] for u in users1["Users"] + users2["Users"]]
    check("CreateUser ListUsers pages", names == ["alice", "bob", "carol"] and "NextToken" not in users2
          and all(u["UserStatus"] == "CREATED" for u in users1["Users"]), (users1, users2))
    twin = [f["FaceId"] for f in rek.list_faces(CollectionId=cid)["Faces"] if f["ExternalImageId"] == stems[0] + "-again"][0]
    a = rek.associate_faces(CollectionId=cid, UserId="alice", FaceIds=[indexed[stems[0]], twin])
    check("AssociateFaces", sorted(f["FaceId"] for f in a["AssociatedFaces"]) == sorted([indexed[stems[0]], twin])
          and a["UserStatus"] == "ACTIVE" and a["UnsuccessfulFaceAssociations"] == [], a)
    b = rek.associate_faces(CollectionId=cid, UserId="bob", FaceIds=[indexed[stems[0]], "00000000-0000-0000-0000-000000000000"])
    reasons = {u["FaceId"]: u["Reasons"] for u in b["UnsuccessfulFaceAssociations"]}
    check("AssociateFaces refusals", b["AssociatedFaces"] == []
          and reasons == {indexed[stems[0]]: ["ASSOCIATED_TO_A_DIFFERENT_USER"],
                          "00000000-0000-0000-0000-000000000000": ["FACE_NOT_FOUND"]}, b)
    low = rek.associate_faces(CollectionId=cid, UserId="alice", FaceIds=[indexed[stems[1]]], UserMatchThreshold=100)
    check("AssociateFaces LOW_MATCH_CONFIDENCE", low["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["LOW_MATCH_CONFIDENCE"], low)
    rek.associate_faces(CollectionId=cid, UserId="bob", FaceIds=[indexed[stems[1]]])
    by_user = rek.list_faces(CollectionId=cid, UserId="alice")
    check("ListFaces UserId", sorted(f["FaceId"] for f in by_user["Faces"]) == sorted([indexed[stems[0]], twin])
          and all(f["UserId"] == "alice" for f in by_user["Faces"]), by_user)

    su = rek.search_users(CollectionId=cid, FaceId=indexed[stems[0]])
    check("SearchUsers FaceId", su["UserMatches"] and su["UserMatches"][0]["User"]["UserId"] == "alice"
          and su["UserMatches"][0]["Similarity"] >= 99 and su["SearchedFace"]["FaceId"] == indexed[stems[0]], su)
    su = rek.search_users(CollectionId=cid, UserId="alice", UserMatchThreshold=0)
    check("SearchUsers UserId", su["SearchedUser"]["UserId"] == "alice"
          and all(m["User"]["UserId"] != "alice" for m in su["UserMatches"])
          and [m["User"]["UserId"] for m in su["UserMatches"]] == ["bob"], su)
    sb = rek.search_users_by_image(CollectionId=cid, Image={"Bytes": image(stems[1])})
    check("SearchUsersByImage", sb["UserMatches"] and sb["UserMatches"][0]["User"]["UserId"] == "bob"
          and sb["UserMatches"][0]["Similarity"] >= 99 and "FaceDetail" in sb["SearchedFace"] and sb["UnsearchedFaces"] == [], sb)

    # DeleteFaces: an associated face is refused; DisassociateFaces frees it.
    df = rek.delete_faces(CollectionId=cid, FaceIds=[twin])
    check("DeleteFaces associated refused", df["DeletedFaces"] == []
          and df["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["ASSOCIATED_TO_AN_EXISTING_USER"]
          and df["UnsuccessfulFaceDeletions"][0]["UserId"] == "alice", df)
    dis = rek.disassociate_faces(CollectionId=cid, UserId="alice", FaceIds=[twin, indexed[stems[1]]])
    check("DisassociateFaces", [f["FaceId"] for f in dis["DisassociatedFaces"]] == [twin]
          and dis["UnsuccessfulFaceDisassociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]
          and dis["UserStatus"] == "ACTIVE", dis)
    df = rek.delete_faces(CollectionId=cid, FaceIds=[twin, "00000000-0000-0000-0000-000000000001"])
    check("DeleteFaces", df["DeletedFaces"] == [twin]
          and df["UnsuccessfulFaceDeletions"][0]["Reasons"] == ["FACE_NOT_FOUND"], df)
    s = rek.search_faces(CollectionId=cid, FaceId=indexed[stems[0]], FaceMatchThreshold=99)
    check("deleted face not found by search", all(m["Face"]["FaceId"] != twin for m in s["FaceMatches"]), s)

    rek.delete_user(CollectionId=cid, UserId="alice")
    after = rek.list_faces(CollectionId=cid, FaceIds=[indexed[stems[0]]])["Faces"][0]
    check("DeleteUser frees faces", "UserId" not in after
          and [u["UserId"] for u in rek.list_users(CollectionId=cid)["Users"]] == ["bob", "carol"], after)

    deleted = rek.delete_collection(CollectionId="ops-c")
    check("DeleteCollection", deleted["StatusCode"] == 200
          and "ops-c" not in rek.list_collections()["CollectionIds"], deleted)


def errors():
    cid = "errors-collection"
    rek.create_collection(CollectionId=cid)
    expect_error("ResourceAlreadyExistsException", "ResourceAlreadyExistsException", 400, rek.create_collection, CollectionId=cid)
    expect_error("ResourceNotFoundException", "ResourceNotFoundException", 400, rek.describe_collection, CollectionId="nope")
    expect_error("ResourceNotFoundException DeleteUser", "ResourceNotFoundException", 400, rek.delete_user,
                 CollectionId=cid, UserId="nobody")
    expect_error("InvalidParameterException CollectionId", "InvalidParameterException", 400, rek.create_collection,
                 CollectionId="bad/id")
    expect_error("InvalidParameterException FaceId", "InvalidParameterException", 400, rek.search_faces,
                 CollectionId=cid, FaceId="not-a-face-id")
    expect_error("InvalidParameterException no face", "InvalidParameterException", 400, rek.search_faces_by_image,
                 CollectionId=cid, Image={"Bytes": no_face_png()})
    expect_error("InvalidParameterException threshold", "InvalidParameterException", 400, rek.compare_faces,
                 SourceImage={"Bytes": image(stems[0])}, TargetImage={"Bytes": image(stems[0])}, SimilarityThreshold=101)
    expect_error("InvalidImageFormatException", "InvalidImageFormatException", 400, rek.detect_faces,
                 Image={"Bytes": b"this is not an image"})
    expect_error("ImageTooLargeException", "ImageTooLargeException", 400, rek.detect_faces,
                 Image={"Bytes": b"\xff\xd8" + b"\0" * (5 * 1024 * 1024)})
    expect_error("InvalidPaginationTokenException", "InvalidPaginationTokenException", 400, rek.list_faces,
                 CollectionId=cid, NextToken="!!!")
    rek.create_user(CollectionId=cid, UserId="dup")
    expect_error("ConflictException", "ConflictException", 400, rek.create_user, CollectionId=cid, UserId="dup",
                 ClientRequestToken="another-token")
    # The exception classes of the SDK itself, not just the code string.
    try:
        rek.describe_collection(CollectionId="nope")
        check("modeled exception class", False, "no error")
    except rek.exceptions.ResourceNotFoundException as e:
        check("modeled exception class", "does not exist" in e.response["Error"]["Message"], e.response)
    readonly_id = os.environ.get("READONLY_ACCESS_KEY_ID")
    if readonly_id:
        ro = client(readonly_id, os.environ["READONLY_SECRET_ACCESS_KEY"])
        check("read-only key may list", cid in ro.list_collections()["CollectionIds"])
        expect_error("AccessDeniedException", "AccessDeniedException", 400, ro.create_collection, CollectionId="ro-made")


def no_face_png():
    # A 64x64 grey PNG (no face), built without PIL.
    import struct
    import zlib
    raw = b"".join(b"\0" + b"\x80\x80\x80" * 64 for _ in range(64))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def auth():
    expect_error("wrong secret", "InvalidSignatureException", 403,
                 client(os.environ["AWS_ACCESS_KEY_ID"], "wrong-secret").list_collections)
    expect_error("unknown access key", "UnrecognizedClientException", 400, client("AKIDUNKNOWN", "whatever").list_collections)
    expect_error("unsigned request", "MissingAuthenticationTokenException", 400, client(unsigned=True).list_collections)
    real = botocore.auth.get_current_datetime
    try:
        botocore.auth.get_current_datetime = lambda: real() - datetime.timedelta(minutes=10)
        got = error_of(client().list_collections)
        check("expired date", got[0] == "InvalidSignatureException" and got[1] == 400 and "Signature expired" in got[2], got)
        botocore.auth.get_current_datetime = lambda: real() - datetime.timedelta(minutes=4)
        check("date within skew accepted", error_of(client().list_collections)[0] == "", "4 minutes old")
    finally:
        botocore.auth.get_current_datetime = real
    # A body changed after signing fails like a wrong secret (the payload hash is signed).
    c = client()
    def tamper(request, **kwargs):
        request.body = request.body.replace(b"tamper-a", b"tamper-b")
    c.meta.events.register("before-send.rekognition.CreateCollection", tamper)
    got = error_of(c.create_collection, CollectionId="tamper-a")
    check("tampered body", got[0] == "InvalidSignatureException" and got[1] == 403, got)
    check("tampered body changed nothing", "tamper-b" not in rek.list_collections()["CollectionIds"]
          and "tamper-a" not in rek.list_collections()["CollectionIds"])


def done_when():
    cid = "sample-100"
    rek.create_collection(CollectionId=cid)
    start = time.monotonic()
    own = {}
    for stem in stems:
        r = rek.index_faces(CollectionId=cid, Image={"Bytes": image(stem)}, ExternalImageId=stem, MaxFaces=1)
        for record in r["FaceRecords"]:
            own[stem] = record["Face"]
    figures["index_seconds"] = round(time.monotonic() - start, 2)
    check("indexed every sample image", len(own) == len(stems) == 100, f"{len(own)} of {len(stems)}")
    # face_images_100 holds 10 distinct photos, each 10 times under different names (identical
    # bytes, hence one ImageId and embeddings at distance 0): "its own image first" means the top
    # match is that image (its ImageId, at Similarity >= 99), and the stem's own face is among the
    # matches at Similarity >= 99 (tied with its copies).
    misses = []
    start = time.monotonic()
    for stem in stems:
        r = rek.search_faces_by_image(CollectionId=cid, Image={"Bytes": image(stem)}, MaxFaces=20)
        top = r["FaceMatches"][0] if r["FaceMatches"] else None
        mine = [m for m in r["FaceMatches"] if m["Face"]["ExternalImageId"] == stem]
        if (not top or stem not in own or top["Face"]["ImageId"] != own[stem]["ImageId"] or top["Similarity"] < 99
                or not mine or mine[0]["Similarity"] < 99 or mine[0]["Face"]["FaceId"] != own[stem]["FaceId"]):
            misses.append((stem, top, mine[:1]))
    figures["search_seconds"] = round(time.monotonic() - start, 2)
    figures["distinct_images"] = len({f["ImageId"] for f in own.values()})
    check("each image finds itself first with Similarity >= 99", not misses, misses[:5])
    c = rek.compare_faces(SourceImage={"Bytes": image(stems[0])}, TargetImage={"Bytes": image(stems[0])})
    check("CompareFaces of an image with itself gives one match", len(c["FaceMatches"]) == 1, c)


def restart_before():
    rek.create_collection(CollectionId="durable")
    r = rek.index_faces(CollectionId="durable", Image={"Bytes": image(stems[7])}, ExternalImageId=stems[7])
    rek.create_user(CollectionId="durable", UserId="dana")
    rek.associate_faces(CollectionId="durable", UserId="dana", FaceIds=[r["FaceRecords"][0]["Face"]["FaceId"]])
    check("indexed before restart", len(r["FaceRecords"]) == 1, r)
    figures["face_id"] = r["FaceRecords"][0]["Face"]["FaceId"]


def restart_after():
    face_id = os.environ["EXPECTED_FACE_ID"]
    faces = rek.list_faces(CollectionId="durable")["Faces"]
    check("face kept", [f["FaceId"] for f in faces] == [face_id] and faces[0]["UserId"] == "dana", faces)
    check("user kept", [u["UserId"] for u in rek.list_users(CollectionId="durable")["Users"]] == ["dana"])
    s = rek.search_faces_by_image(CollectionId="durable", Image={"Bytes": image(stems[7])})
    check("embedding kept", s["FaceMatches"] and s["FaceMatches"][0]["Face"]["FaceId"] == face_id
          and s["FaceMatches"][0]["Similarity"] >= 99, s)


def overload():
    expect_error("ProvisionedThroughputExceededException", "ProvisionedThroughputExceededException", 400,
                 rek.detect_faces, Image={"Bytes": image(stems[0])})
    check("calls without images are still served", isinstance(rek.list_collections()["CollectionIds"], list))


def imported():
    cid = os.environ["IMPORTED_COLLECTION"]
    described = rek.describe_collection(CollectionId=cid)
    check("imported faces", described["FaceCount"] == int(os.environ["EXPECTED_FACES"]), described)
    check("imported users", described["UserCount"] == int(os.environ["EXPECTED_USERS"]), described)
    faces = [f for page in rek.get_paginator("list_faces").paginate(CollectionId=cid) for f in page["Faces"]]
    check("imported faces carry their names", len(faces) == described["FaceCount"]
          and all(f.get("ExternalImageId") and f.get("UserId") == f["ExternalImageId"] for f in faces), faces[:3])
    # A face searched by its FaceId finds the user it belongs to first, at similarity 100.
    su = rek.search_users(CollectionId=cid, FaceId=faces[0]["FaceId"])
    check("SearchUsers on an imported face", su["UserMatches"] and su["UserMatches"][0]["User"]["UserId"] == faces[0]["UserId"]
          and su["UserMatches"][0]["Similarity"] >= 99.9, su)


{"operations": operations, "overload": overload, "imported": imported, "errors": errors, "auth": auth, "done-when": done_when,
 "restart-before": restart_before, "restart-after": restart_after}[SCENARIO]()
print(json.dumps({"checks": checks, "figures": figures}))
