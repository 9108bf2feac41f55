#!/usr/bin/env python3
"""Generates sigv4_botocore.json: SigV4 signatures made by botocore itself (the reference
signer behind boto3 and the AWS CLI) for fixed credentials, time and bodies.

The Swift tests (Tests/CloudPipelineTests/SigV4BotocoreGoldenTests.swift) rebuild each request,
sign it with SigV4Signer and compare canonical request, string to sign, Authorization header
and added headers byte for byte; presigned URLs are compared with boto3's
generate_presigned_url as whole strings.

Run: python3 Tests/Fixtures/aws/make_sigv4_goldens.py   (botocore/boto3 as installed; the
versions are recorded in the output).
"""
import base64
import datetime
import json
import os
from urllib.parse import quote

import boto3
import botocore
import botocore.auth
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 11, 29, 1, 2, 3)
botocore.auth.get_current_datetime = lambda *args, **kwargs: FIXED

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars"


def enc(text):
    return quote(text, safe="-_.~")


class Recording:
    """Mixin that keeps the canonical request and string to sign botocore computed."""

    def canonical_request(self, request):
        self.recorded_cr = super().canonical_request(request)
        return self.recorded_cr

    def string_to_sign(self, request, canonical_request):
        self.recorded_sts = super().string_to_sign(request, canonical_request)
        return self.recorded_sts


class RecSigV4(Recording, SigV4Auth):
    pass


class RecS3SigV4(Recording, S3SigV4Auth):
    pass


def header_case(name, service, region, method, scheme, host, port, path, query, headers, body,
                token=None, unsigned_payload=False):
    creds = Credentials(ACCESS_KEY, SECRET_KEY, token)
    auth = (RecS3SigV4 if service == "s3" else RecSigV4)(creds, service, region)
    netloc = host if port is None else f"{host}:{port}"
    url = f"{scheme}://{netloc}{path}"
    if query:
        url += "?" + "&".join(f"{enc(k)}={enc(v)}" for k, v in query)
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    if unsigned_payload:
        # S3SigV4Auth reads the client's s3 config, not the generic context flag.
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    auth.add_auth(request)
    added = {k: v for k, v in request.headers.items()
             if k.lower() in ("x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "authorization")}
    return {
        "name": name, "kind": "header", "service": service, "region": region, "method": method,
        "scheme": scheme, "host": host, "port": port, "path": path, "query": query,
        "headers": headers, "body_base64": base64.b64encode(body).decode(),
        "session_token": token, "unsigned_payload": unsigned_payload,
        "canonical_request": auth.recorded_cr, "string_to_sign": auth.recorded_sts,
        "authorization": request.headers["Authorization"],
        "signed_request_headers": {k.lower(): v for k, v in added.items()},
    }


def presign_case(name, region, method, bucket, key, expires, token=None):
    client = boto3.client(
        "s3", region_name=region, endpoint_url="http://127.0.0.1:5000",
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, aws_session_token=token,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    operation = {"GET": "get_object", "PUT": "put_object"}[method]
    url = client.generate_presigned_url(operation, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires,
                                        HttpMethod=method)
    return {"name": name, "kind": "presign", "service": "s3", "region": region, "method": method,
            "endpoint": "http://127.0.0.1:5000", "bucket": bucket, "key": key, "expires": expires,
            "session_token": token, "url": url}


def s3_path(bucket, key):
    return "/" + bucket + "/" + quote(key, safe="/~")


def main():
    sqs_body = json.dumps({"QueueUrl": "http://127.0.0.1:5000/123456789012/jobs", "MessageBody": "héllo {\"a\":1}"},
                          separators=(",", ":"), sort_keys=True).encode()
    ec2_body = ("Action=RunInstances&Version=2016-11-15&ImageId=ami-12345678&InstanceType=t2.micro&MinCount=1"
                "&MaxCount=1&UserData=" + enc(base64.b64encode(b"#!/bin/bash\necho hi\n").decode())).encode()
    photo = bytes(range(256)) * 3
    key = "uploads/2026 11/fäce+1 (copy)~.jpg"
    cases = [
        header_case("sqs-json-send", "sqs", "us-east-1", "POST", "http", "127.0.0.1", 5000, "/", [],
                    [["Content-Type", "application/x-amz-json-1.0"], ["X-Amz-Target", "AmazonSQS.SendMessage"]],
                    sqs_body),
        header_case("sqs-json-session-token", "sqs", "eu-west-1", "POST", "https", "sqs.eu-west-1.amazonaws.com", None,
                    "/", [], [["Content-Type", "application/x-amz-json-1.0"], ["X-Amz-Target", "AmazonSQS.ReceiveMessage"]],
                    b'{"MaxNumberOfMessages":10,"QueueUrl":"q","WaitTimeSeconds":20}', token=TOKEN),
        header_case("ec2-query-run", "ec2", "eu-west-1", "POST", "https", "ec2.eu-west-1.amazonaws.com", None, "/", [],
                    [["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"]], ec2_body),
        header_case("non-s3-path-double-encoded", "execute-api", "us-west-2", "GET", "https", "example.amazonaws.com",
                    None, "/stage/a%20b/./c//d", [["q", "x y"], ["a", "ü"]], [["My-Header", "  a   b  "]], b""),
        header_case("s3-put-object", "s3", "us-east-1", "PUT", "http", "127.0.0.1", 5000, s3_path("photos", key), [],
                    [["Content-Type", "image/jpeg"], ["x-amz-meta-origin", "camera 1"]], photo),
        header_case("s3-put-object-unsigned-payload", "s3", "eu-central-1", "PUT", "https",
                    "s3.eu-central-1.amazonaws.com", None, s3_path("photos", key), [],
                    [["Content-Type", "image/jpeg"]], photo, unsigned_payload=True),
        header_case("s3-get-range-session-token", "s3", "us-east-1", "GET", "https", "photos.s3.us-east-1.amazonaws.com",
                    None, "/" + quote(key, safe="/~"), [], [["Range", "bytes=10-99"]], b"", token=TOKEN),
        header_case("s3-list-objects-v2", "s3", "us-east-1", "GET", "http", "127.0.0.1", 5000, "/photos",
                    [["list-type", "2"], ["encoding-type", "url"], ["prefix", "uploads/2026 11/"], ["max-keys", "2"],
                     ["continuation-token", "abc/def+=="]], [], b""),
        header_case("s3-create-bucket-location", "s3", "eu-west-1", "PUT", "http", "127.0.0.1", 5000, "/photos", [],
                    [["Content-Type", "application/xml"]],
                    b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>'
                    b'eu-west-1</LocationConstraint></CreateBucketConfiguration>'),
        presign_case("presign-get", "us-east-1", "GET", "photos", key, 900),
        presign_case("presign-put", "eu-west-1", "PUT", "photos", "results/test_00.txt", 3600),
        presign_case("presign-get-session-token", "us-east-1", "GET", "photos", "a/b.jpg", 604800, token=TOKEN),
    ]
    out = {
        "generator": "Tests/Fixtures/aws/make_sigv4_goldens.py",
        "botocore": botocore.__version__, "boto3": boto3.__version__,
        "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY, "timestamp": FIXED.strftime("%Y%m%dT%H%M%SZ"),
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigv4_botocore.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
