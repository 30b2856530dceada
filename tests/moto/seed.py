"""Seeds a moto server (server mode) for tests/aws_apigateway.rs through the
real AWS API, with boto3 from moto's own venv: an IAM user allowed
everything and its access key, a REST API with a method, two deployed
stages and a usage plan. Then it turns on moto's IAM authentication, so
every later request must carry a valid SigV4 signature by that key (moto
checks it with botocore's signer), and prints what it made as JSON.

Usage: python seed.py ENDPOINT REGION
"""

import json
import sys
import urllib.request

import boto3

endpoint, region = sys.argv[1], sys.argv[2]
session = boto3.session.Session(
    aws_access_key_id="AKIASEEDSEEDSEEDSEED",
    aws_secret_access_key="seed-secret",
    region_name=region,
)
iam = session.client("iam", endpoint_url=endpoint)
iam.create_user(UserName="portico")
iam.put_user_policy(
    UserName="portico",
    PolicyName="everything",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ),
)
key = iam.create_access_key(UserName="portico")["AccessKey"]

gw = session.client("apigateway", endpoint_url=endpoint)
api = gw.create_rest_api(
    name="Pet Store", description="Pets for sale.", version="1.2.0", tags={"team": "pets"}
)
root = next(r for r in gw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/")
pets = gw.create_resource(restApiId=api["id"], parentId=root["id"], pathPart="pets")
gw.put_method(
    restApiId=api["id"],
    resourceId=pets["id"],
    httpMethod="GET",
    authorizationType="NONE",
    apiKeyRequired=True,
)
gw.put_method_response(
    restApiId=api["id"], resourceId=pets["id"], httpMethod="GET", statusCode="200"
)
gw.put_integration(restApiId=api["id"], resourceId=pets["id"], httpMethod="GET", type="MOCK")
for stage in ("prod", "dev"):
    gw.create_deployment(restApiId=api["id"], stageName=stage)
plan = gw.create_usage_plan(
    name="Gold",
    description="For paying customers.",
    apiStages=[{"apiId": api["id"], "stage": "prod"}],
    throttle={"burstLimit": 20, "rateLimit": 10.0},
    quota={"limit": 5000, "period": "MONTH"},
)

# From here on, every request must be signed by a known key.
# (Not a form, or the server reads no body.)
urllib.request.urlopen(
    urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}
    )
)

print(
    json.dumps(
        {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
            "api_id": api["id"],
            "plan_id": plan["id"],
        }
    )
)
