"""moto's server (`moto_server`), with one fix to its signature check, for
tests/aws_apigateway.rs.

With IAM authentication on, moto recomputes each request's SigV4 signature
with botocore. For a request without a body it hashes the request's query
parameters (or, without any, its headers) as if they were a form body,
where AWS hashes the empty body; so no correctly signed GET of a REST-JSON
API such as API Gateway would pass. Here a request without a body is
checked as one.

Usage: python server.py [moto_server arguments], e.g. -H 127.0.0.1 -p 0
"""

import sys

from moto.iam import access_control
from moto.server import main

_create_aws_request = access_control.IAMRequestBase._create_aws_request


def _create_aws_request_without_a_body(self):
    if not self._body:
        self._data = {}
    return _create_aws_request(self)


access_control.IAMRequestBase._create_aws_request = _create_aws_request_without_a_body

if __name__ == "__main__":
    main(sys.argv[1:])
