"""Cloud Control resources through boto3 against two statusgate replicas.

Run by .ci/readme-examples.sh (inside its throwaway virtualenv, which has
boto3) once per backend as:

    python3 .ci/cloudcontrol_clients.py ENDPOINT_A ENDPOINT_B

Both servers run on one database with --simulate-provisioning (a short
delay) and the --simulation-rules file of the README's example
(.ci/readme-examples.sh extracts it), in --auth none mode. Every check
prints one line; the first failure exits 1. Waits poll until the awaited
status shows, bounded, and only then call boto3's waiter, so a waiter's
5-second sleep is never part of the run.
"""

import json
import sys
import threading
import time

import boto3
from botocore.exceptions import ClientError, WaiterError

endpoint_a, endpoint_b = sys.argv[1:3]
ACCOUNT = "123456789012"
REGION = "eu-west-1"
WAIT_LIMIT = 30.0


def fail(message):
    print(f"cloudcontrol-clients: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def ok(message):
    print(f"ok: {message}")


def check(condition, message):
    if not condition:
        fail(message)


def client(endpoint=endpoint_a, region=REGION, account=ACCOUNT):
    session = boto3.Session(
        aws_access_key_id=account,
        aws_secret_access_key="anything",
        region_name=region,
    )
    return session.client("cloudcontrol", endpoint_url=endpoint)


def error_code(error):
    return error.response["Error"]["Code"]


def wait_finished(cc, token):
    """Polls until the request is finished; returns its progress event."""
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        event = cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]
        if event["OperationStatus"] in ("SUCCESS", "FAILED", "CANCEL_COMPLETE"):
            return event
        if time.monotonic() > deadline:
            fail(f"request {token} still {event['OperationStatus']} after {WAIT_LIMIT} s")
        time.sleep(0.05)


def succeed(cc, token):
    """Waits for the request, then boto3's ResourceRequestSuccess waiter agrees."""
    event = wait_finished(cc, token)
    check(event["OperationStatus"] == "SUCCESS", f"request {token}: {event}")
    cc.get_waiter("resource_request_success").wait(RequestToken=token)
    return event


def create(cc, type_name, desired_state):
    event = cc.create_resource(TypeName=type_name, DesiredState=json.dumps(desired_state))
    return event["ProgressEvent"]["RequestToken"]


def properties(cc, type_name, identifier):
    described = cc.get_resource(TypeName=type_name, Identifier=identifier)
    check(described["TypeName"] == type_name, f"GetResource type: {described}")
    description = described["ResourceDescription"]
    check(description["Identifier"] == identifier, f"GetResource identifier: {described}")
    return json.loads(description["Properties"])


cc = client()

# create -> waiter -> GetResource, write-only properties left out.
function = {
    "FunctionName": "boto3-resize",
    "Role": f"arn:aws:iam::{ACCOUNT}:role/lambda",
    "Runtime": "python3.12",
    "Handler": "index.handler",
    "Code": {"ZipFile": "def handler(event, context): pass"},
    "Timeout": 3,
}
event = succeed(cc, create(cc, "AWS::Lambda::Function", function))
check(event["Identifier"] == "boto3-resize", f"identifier: {event}")
expected = dict(function, Code={})
got = properties(cc, "AWS::Lambda::Function", "boto3-resize")
check(got == expected, f"GetResource properties {got}, not {expected}")
ok("create, ResourceRequestSuccess waiter, GetResource without write-only Code/ZipFile")

# Update applies the patch.
token = cc.update_resource(
    TypeName="AWS::Lambda::Function",
    Identifier="boto3-resize",
    PatchDocument=json.dumps([{"op": "replace", "path": "/Timeout", "value": 30}]),
)["ProgressEvent"]["RequestToken"]
succeed(cc, token)
got = properties(cc, "AWS::Lambda::Function", "boto3-resize")
check(got["Timeout"] == 30, f"patched properties: {got}")
ok("update applies its JSON Patch")

# An invalid JSON Patch is refused at once, naming the member.
for invalid in ['{"op": "add"}', '[{"op": "frobnicate", "path": "/Timeout"}]', '[{"op": "add", "value": 1}]']:
    try:
        cc.update_resource(
            TypeName="AWS::Lambda::Function", Identifier="boto3-resize", PatchDocument=invalid
        )
        fail(f"patch {invalid} accepted")
    except ClientError as error:
        check(error_code(error) == "ValidationException", f"{invalid}: {error.response}")
        check("'patchDocument'" in error.response["Error"]["Message"], f"{invalid}: {error}")
ok("invalid JSON Patch documents are ValidationException")

# Delete, then GetResource is ResourceNotFoundException.
succeed(cc, cc.delete_resource(TypeName="AWS::Lambda::Function", Identifier="boto3-resize")["ProgressEvent"]["RequestToken"])
try:
    cc.get_resource(TypeName="AWS::Lambda::Function", Identifier="boto3-resize")
    fail("a deleted resource was found")
except cc.exceptions.ResourceNotFoundException as error:
    check(error.response["ResponseMetadata"]["HTTPStatusCode"] == 400, f"{error.response}")
    message = error.response["Error"]["Message"]
    check(
        message == "Resource of type 'AWS::Lambda::Function' with identifier 'boto3-resize' was not found.",
        message,
    )
ok("delete, then GetResource is ResourceNotFoundException (400)")

# ListResources pages 45 resources with no duplicates or gaps.
names = [f"boto3-logs-{index:02}" for index in range(45)]
tokens = [create(cc, "AWS::Logs::LogGroup", {"LogGroupName": name, "RetentionInDays": 7}) for name in names]
for token in tokens:
    succeed(cc, token)
listed = []
pages = 0
for page in cc.get_paginator("list_resources").paginate(
    TypeName="AWS::Logs::LogGroup", PaginationConfig={"PageSize": 10}
):
    pages += 1
    listed.extend(description["Identifier"] for description in page["ResourceDescriptions"])
check(listed == names, f"listed {listed}")
check(pages == 5, f"{pages} pages")
ok("ListResources pages 45 resources by 10, no duplicates or gaps")

# Two concurrent updates of one identifier on two servers: exactly one accepted.
other_server = client(endpoint_b)
for round_number in range(5):
    name = names[round_number]
    outcomes = []

    def send(target, value):
        try:
            target.update_resource(
                TypeName="AWS::Logs::LogGroup",
                Identifier=name,
                PatchDocument=json.dumps([{"op": "replace", "path": "/RetentionInDays", "value": value}]),
            )
            outcomes.append("accepted")
        except ClientError as error:
            outcomes.append(error_code(error))

    threads = [
        threading.Thread(target=send, args=(target, value))
        for target, value in ((cc, 14), (other_server, 30))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    check(
        sorted(outcomes) == ["ConcurrentOperationException", "accepted"],
        f"round {round_number}: {outcomes}",
    )
ok("two concurrent updates on two servers: one accepted, one ConcurrentOperationException")

# Regions are apart.
virginia = client(region="us-east-1")
try:
    virginia.get_resource(TypeName="AWS::Logs::LogGroup", Identifier=names[44])
    fail("a resource of eu-west-1 was found from us-east-1")
except virginia.exceptions.ResourceNotFoundException:
    pass
try:
    virginia.get_resource_request_status(RequestToken=tokens[44])
    fail("a request of eu-west-1 was found from us-east-1")
except virginia.exceptions.RequestTokenNotFoundException:
    pass
check(
    virginia.list_resources(TypeName="AWS::Logs::LogGroup")["ResourceDescriptions"] == [],
    "us-east-1 lists eu-west-1's log groups",
)
ok("regions apart: resources, requests and listings")

# The README's rules file: Fail (matching the desired state), ExtraDelay and
# RetryAfter.
taken = create(cc, "AWS::S3::Bucket", {"BucketName": "taken"})
failed = wait_finished(cc, taken)
check(
    (failed["OperationStatus"], failed.get("ErrorCode"), failed.get("StatusMessage"))
    == ("FAILED", "AlreadyExists", "a bucket of that name exists"),
    f"Fail rule: {failed}",
)
try:
    cc.get_waiter("resource_request_success").wait(RequestToken=taken)
    fail("the waiter succeeded on a FAILED request")
except WaiterError as error:
    check("FAILED" in str(error), f"{error}")
succeed(cc, create(cc, "AWS::S3::Bucket", {"BucketName": "free"}))
ok("Fail rule: FAILED with its code and message, the waiter fails; other buckets are made")

queue = create(cc, "AWS::SQS::Queue", {"QueueName": "jobs"})
events = []
deadline = time.monotonic() + WAIT_LIMIT
while not events or events[-1]["OperationStatus"] != "SUCCESS":
    events.append(cc.get_resource_request_status(RequestToken=queue)["ProgressEvent"])
    check(time.monotonic() < deadline, f"queue still {events[-1]}")
    time.sleep(0.05)
started = next(event["EventTime"] for event in events if event["OperationStatus"] == "IN_PROGRESS")
took = (events[-1]["EventTime"] - started).total_seconds()
check(took >= 2.0, f"ExtraDelay 2s: finished {took} s after it started")
ok(f"ExtraDelay rule: finished {took:.2f} s after IN_PROGRESS")

logs = create(
    cc, "AWS::Logs::LogGroup", {"LogGroupName": "boto3-slow-logs", "LogGroupClass": "INFREQUENT_ACCESS"}
)
deadline = time.monotonic() + WAIT_LIMIT
while True:
    event = cc.get_resource_request_status(RequestToken=logs)["ProgressEvent"]
    if "RetryAfter" in event:
        break
    check(event["OperationStatus"] in ("PENDING", "IN_PROGRESS"), f"no RetryAfter: {event}")
    check(time.monotonic() < deadline, f"no RetryAfter yet: {event}")
    time.sleep(0.05)
wait_after = (event["RetryAfter"] - event["EventTime"]).total_seconds()
check(0.9 < wait_after <= 1.0, f"RetryAfter {wait_after} s after the event")
finished = succeed(cc, logs)
check(finished["EventTime"] >= event["RetryAfter"], f"finished before its RetryAfter: {finished}")
ok("RetryAfter rule: reported while in progress, nothing finished before it")

print("cloudcontrol clients: all checks passed")
