"""Signed calls from real AWS clients against a statusgate in --auth sigv4 mode.

Run by .ci/readme-examples.sh (inside its throwaway virtualenv, which has
awscli and boto3) as:

    python3 .ci/signed_clients.py ENDPOINT STATUSGATE_BINARY DATABASE_URL

The server must already run at ENDPOINT with --auth sigv4, on DATABASE_URL,
and STATUSGATE_CREDENTIALS_KEY must be set. Credentials are issued with
`statusgate credentials create`; every check prints one line, and the first
failure exits 1.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

endpoint, binary, database_url = sys.argv[1:4]
REGION = "eu-west-1"


def fail(message):
    print(f"signed-clients: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def ok(message):
    print(f"ok: {message}")


def statusgate(*arguments):
    completed = subprocess.run(
        [binary, *arguments, "--database-url", database_url],
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        fail(f"statusgate {' '.join(arguments)}: {completed.stderr}")
    return completed.stdout


def issue(account, role):
    return json.loads(statusgate("credentials", "create", "--account", account, "--role", role))


def client(service, key, secret, token=None):
    session = boto3.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=endpoint)


def expect_error(call, code, what):
    try:
        call()
    except ClientError as error:
        got = error.response["Error"]["Code"]
        if got != code:
            fail(f"{what}: expected {code}, got {got}: {error}")
        ok(f"{what}: {code} ({error.response['ResponseMetadata']['HTTPStatusCode']})")
        return error
    fail(f"{what}: expected {code}, the call succeeded")


def aws_cli(key, secret, *arguments):
    environment = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_DEFAULT_REGION=REGION,
    )
    return subprocess.run(
        ["aws", "--endpoint-url", endpoint, *arguments],
        capture_output=True,
        text=True,
        env=environment,
    )


caller = issue("123456789012", "client")
other = issue("210987654321", "client")
key, secret = caller["AccessKeyId"], caller["SecretAccessKey"]

# boto3 with the right secret works unchanged.
waf_regional = client("waf-regional", key, secret)
token = waf_regional.get_change_token()["ChangeToken"]
status = waf_regional.get_change_token_status(ChangeToken=token)["ChangeTokenStatus"]
if status != "PROVISIONED":
    fail(f"GetChangeTokenStatus answered {status}")
ok("boto3 waf-regional GetChangeToken / GetChangeTokenStatus")
cloudcontrol = client("cloudcontrol", key, secret)
event = cloudcontrol.create_resource(
    TypeName="AWS::Logs::LogGroup", DesiredState='{"LogGroupName": "signed-boto3"}'
)["ProgressEvent"]
request_token = event["RequestToken"]
pages = list(cloudcontrol.get_paginator("list_resource_requests").paginate(PaginationConfig={"PageSize": 1}))
if sum(len(page["ResourceRequestStatusSummaries"]) for page in pages) != 1:
    fail(f"ListResourceRequests pages: {pages}")
ok("boto3 cloudcontrol CreateResource / paginated ListResourceRequests")
# A NextToken with +, / and = is signed like any body: the service judges it.
try:
    cloudcontrol.list_resource_requests(NextToken="a+b/c=")
    ok("boto3 ListResourceRequests NextToken a+b/c= accepted")
except ClientError as error:
    code = error.response["Error"]["Code"]
    if "Signature" in code or "Unrecognized" in code:
        fail(f"a NextToken with +/= broke the signature: {code}")
    ok(f"boto3 ListResourceRequests NextToken a+b/c= verified, answered {code}")

# The account is the credential's.
expect_error(
    lambda: client("cloudcontrol", other["AccessKeyId"], other["SecretAccessKey"]).get_resource_request_status(
        RequestToken=request_token
    ),
    "RequestTokenNotFoundException",
    "another account's key",
)

# Wrong variants.
expect_error(
    lambda: client("cloudcontrol", key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").list_resource_requests(),
    "InvalidSignatureException",
    "boto3 with a wrong secret",
)
expect_error(
    lambda: client("cloudcontrol", "111111111111", "anything").list_resource_requests(),
    "UnrecognizedClientException",
    "boto3 with 111111111111 as its key id",
)
expect_error(
    lambda: client("waf", key, secret, token="FwoGZXIvYXdzEXAMPLE").get_change_token(),
    "UnrecognizedClientException",
    "boto3 with a session token",
)

# The AWS CLI, right and wrong.
completed = aws_cli(key, secret, "waf", "get-change-token", "--query", "ChangeToken", "--output", "text")
if completed.returncode != 0 or not completed.stdout.strip():
    fail(f"aws waf get-change-token: {completed.stderr}")
ok("aws waf get-change-token")
completed = aws_cli(
    key, secret, "cloudcontrol", "get-resource-request-status", "--request-token", request_token,
    "--query", "ProgressEvent.OperationStatus", "--output", "text",
)
if completed.returncode != 0 or completed.stdout.strip() != "PENDING":
    fail(f"aws cloudcontrol get-resource-request-status: {completed.stdout} {completed.stderr}")
ok("aws cloudcontrol get-resource-request-status")
completed = aws_cli(key, "not-the-secret", "cloudcontrol", "list-resource-requests")
if completed.returncode != 255 or "InvalidSignatureException" not in completed.stderr:
    fail(f"aws with a wrong secret: {completed.returncode} {completed.stderr}")
ok("aws with a wrong secret: InvalidSignatureException")

# The query form, presigned by botocore's own query signer.
def presigned(expires, tamper=False):
    request = botocore.awsrequest.AWSRequest(
        method="GET",
        url=f"{endpoint}/?Action=GetResourceRequestStatus&RequestToken={request_token}&Version=2021-09-30",
    )
    signer = botocore.auth.SigV4QueryAuth(
        botocore.credentials.Credentials(key, secret), "cloudcontrolapi", REGION, expires=expires
    )
    signer.add_auth(request)
    url = request.url
    if tamper:
        url = url.replace("Version=2021-09-30", "Version=2021-09-30&Extra=1")
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


status, body = presigned(300)
if status != 200 or "<OperationStatus>PENDING</OperationStatus>" not in body:
    fail(f"presigned query: {status} {body}")
ok("botocore presigned GetResourceRequestStatus")
status, body = presigned(300, tamper=True)
if status != 400 or "InvalidSignatureException" not in body:
    fail(f"tampered presigned query: {status} {body}")
ok("tampered presigned query: InvalidSignatureException")
request = botocore.awsrequest.AWSRequest(
    method="GET",
    url=f"{endpoint}/?Action=GetResourceRequestStatus&RequestToken={request_token}&Version=2021-09-30",
)
botocore.auth.SigV4QueryAuth(
    botocore.credentials.Credentials(key, secret), "cloudcontrolapi", REGION, expires=1
).add_auth(request)
time.sleep(2)  # past the one second the URL is valid for, on purpose
try:
    urllib.request.urlopen(request.url)
    fail("an expired presigned URL was accepted")
except urllib.error.HTTPError as error:
    body = error.read().decode()
    if error.code != 400 or "Signature expired" not in body:
        fail(f"expired presigned query: {error.code} {body}")
ok("expired presigned query: InvalidSignatureException (Signature expired)")

# Revocation.
statusgate("credentials", "revoke", key)
deadline = time.monotonic() + 5
while True:
    try:
        cloudcontrol.list_resource_requests()
    except ClientError as error:
        if error.response["Error"]["Code"] == "UnrecognizedClientException":
            ok("a revoked key: UnrecognizedClientException")
            break
    if time.monotonic() > deadline:
        fail("a revoked key still works after 5 s")
    time.sleep(0.1)

print("signed clients: all checks passed")
