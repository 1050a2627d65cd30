"""The AWS SDK calls the console test makes, with boto3, against statusgate.

    python3 aws_calls.py ENDPOINT CALLS_JSON

CALLS_JSON is a list of calls, made in order in one process (boto3 is slow
to import), each one of:

    {"call": "create-resource", "typeName": "...", "desiredState": {...}}
    {"call": "update-resource", "typeName": "...", "identifier": "...", "patch": [...]}
    {"call": "get-resource-request-status", "requestToken": "..."}
    {"call": "get-change-token", "service": "waf" | "waf-regional"}

Prints the list of boto3 answers (ResponseMetadata removed) as JSON. The
credential comes from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the
region is us-east-1, and nothing of this machine's AWS configuration is read.
Exits 1 with the error on the first failed call.
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REGION = "us-east-1"


def main():
    endpoint, calls = sys.argv[1], json.loads(sys.argv[2])
    session = boto3.Session(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=20)
    clients = {}

    def client(service):
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=endpoint, config=config)
        return clients[service]

    answers = []
    for call in calls:
        kind = call["call"]
        try:
            if kind == "create-resource":
                answer = client("cloudcontrol").create_resource(
                    TypeName=call["typeName"], DesiredState=json.dumps(call["desiredState"])
                )
            elif kind == "update-resource":
                answer = client("cloudcontrol").update_resource(
                    TypeName=call["typeName"],
                    Identifier=call["identifier"],
                    PatchDocument=json.dumps(call["patch"]),
                )
            elif kind == "get-resource-request-status":
                answer = client("cloudcontrol").get_resource_request_status(
                    RequestToken=call["requestToken"]
                )
            elif kind == "get-change-token":
                answer = client(call["service"]).get_change_token()
            else:
                raise SystemExit(f"aws_calls: unknown call {kind!r}")
        except (BotoCoreError, ClientError) as error:
            print(f"aws_calls: {kind} failed: {error}", file=sys.stderr)
            sys.exit(1)
        answer.pop("ResponseMetadata", None)
        answers.append(answer)
    print(json.dumps(answers, default=str))


if __name__ == "__main__":
    main()
