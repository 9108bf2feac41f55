#!/usr/bin/env python3
"""Generates query_botocore.json: Auto Scaling and IAM query-protocol requests as boto3 itself
serializes and signs them (botocore's QuerySerializer and SigV4Auth, the code behind boto3 and
the AWS CLI), for fixed credentials and time.

moto does not implement CompleteLifecycleAction and RecordLifecycleActionHeartbeat, so
Tests/CloudPipelineTests/QueryBotocoreGoldenTests.swift checks those requests here instead:
body, canonical request, string to sign and Authorization byte for byte. Each case's params
are passed in the order our clients write them (botocore keeps the caller's order).

Run: python3 Tests/Fixtures/aws/make_query_goldens.py   (versions are recorded in the output).
"""
import datetime
import json
import os

import boto3
import botocore
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 11, 29, 1, 2, 3)
botocore.auth.get_current_datetime = lambda *args, **kwargs: FIXED

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars"


class RecSigV4(SigV4Auth):
    def canonical_request(self, request):
        self.recorded_cr = super().canonical_request(request)
        return self.recorded_cr

    def string_to_sign(self, request, canonical_request):
        self.recorded_sts = super().string_to_sign(request, canonical_request)
        return self.recorded_sts


class Captured(Exception):
    pass


def capture(service, region, operation, params, token=None):
    """boto3's request for `operation`, captured before it is sent."""
    client = boto3.client(service, region_name=region, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, aws_session_token=token)
    seen = {}

    def before_send(request, **kwargs):
        seen["request"] = request
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send", before_send)
    try:
        getattr(client, operation)(**params)
    except Exception:
        pass  # the empty canned response does not parse; the request is what we want
    request = seen["request"]
    body = request.body if isinstance(request.body, bytes) else request.body.encode()
    # The canonical request and string to sign, recomputed with the same signer and time;
    # the Authorization header must come out identical to the one boto3 sent.
    auth = RecSigV4(Credentials(ACCESS_KEY, SECRET_KEY, token), client.meta.service_model.signing_name,
                    "us-east-1" if service == "iam" else region)
    def text(value):
        return value.decode() if isinstance(value, bytes) else value

    headers = {k: text(v) for k, v in request.headers.items()
               if k.lower() not in ("authorization", "x-amz-date", "x-amz-security-token", "user-agent",
                                    "amz-sdk-invocation-id", "amz-sdk-request", "content-length")}
    again = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
    auth.add_auth(again)
    sent = {k: text(v) for k, v in request.headers.items()}
    assert again.headers["Authorization"] == sent["Authorization"], (operation, sent)
    return {
        "name": f"{service}-{operation}" + ("-session-token" if token else ""),
        "service": service, "region": region, "operation": operation, "url": request.url,
        "session_token": token, "body": body.decode(),
        "content_type": sent["Content-Type"],
        "canonical_request": auth.recorded_cr, "string_to_sign": auth.recorded_sts,
        "authorization": sent["Authorization"], "x_amz_date": sent["X-Amz-Date"],
    }


def main():
    cases = [
        capture("autoscaling", "eu-west-1", "complete_lifecycle_action", {
            "LifecycleHookName": "facerec-workers-drain", "AutoScalingGroupName": "facerec-workers",
            "LifecycleActionResult": "CONTINUE", "InstanceId": "i-0123456789abcdef0"}),
        capture("autoscaling", "us-east-1", "complete_lifecycle_action", {
            "LifecycleHookName": "facerec-workers-drain", "AutoScalingGroupName": "facerec-workers",
            "LifecycleActionToken": "bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635", "LifecycleActionResult": "ABANDON"},
            token=TOKEN),
        capture("autoscaling", "eu-west-1", "record_lifecycle_action_heartbeat", {
            "LifecycleHookName": "facerec-workers-drain", "AutoScalingGroupName": "facerec-workers",
            "InstanceId": "i-0123456789abcdef0"}),
        capture("autoscaling", "us-east-1", "record_lifecycle_action_heartbeat", {
            "LifecycleHookName": "facerec-workers-drain", "AutoScalingGroupName": "facerec-workers",
            "InstanceId": "i-0123456789abcdef0"}, token=TOKEN),
        capture("autoscaling", "eu-west-1", "put_scaling_policy", {
            "AutoScalingGroupName": "facerec-workers", "PolicyName": "facerec-workers-backlog-per-instance",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {
                "TargetValue": 120.0, "DisableScaleIn": False,
                "CustomizedMetricSpecification": {"Metrics": [
                    {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
                                                           "Dimensions": [{"Name": "QueueName", "Value": "facerec-input"}]},
                                                "Stat": "Sum"},
                     "Label": "Visible messages in the input queue", "ReturnData": False},
                    {"Id": "m2", "MetricStat": {"Metric": {"Namespace": "AWS/AutoScaling", "MetricName": "GroupInServiceInstances",
                                                           "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "facerec-workers"}]},
                                                "Stat": "Average"},
                     "Label": "In-service instances", "ReturnData": False},
                    {"Id": "e1", "Expression": "m1 / m2", "Label": "Backlog per instance", "ReturnData": True},
                ]}}}),
        capture("iam", "eu-west-1", "put_role_policy", {
            "RoleName": "facerec-workers-worker", "PolicyName": "facerec-worker",
            "PolicyDocument": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], '
                              '"Resource": ["arn:aws:s3:::in/*"]}]}'}),
    ]
    out = {
        "generator": "Tests/Fixtures/aws/make_query_goldens.py",
        "botocore": botocore.__version__, "boto3": boto3.__version__,
        "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY, "timestamp": FIXED.strftime("%Y%m%dT%H%M%SZ"),
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "query_botocore.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
