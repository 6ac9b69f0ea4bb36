"""Every way a request can be answered before the gateway's chain (an interceptor) has been
reviewed for IAM enforcement: one added later fails here until it is classified (and, when it
serves or changes state, checked by the enforcement matrix)."""

from __future__ import annotations

import re
from pathlib import Path

import nubes

REVIEWED = {
    ("nubes/services/s3/provider.py", "self.cors.preflight"): (
        "CORS preflights carry no credentials (browsers never send them); answered from the "
        "bucket's CORS rules alone, as S3 does"
    ),
    ("nubes/services/s3/provider.py", "self.uploads.intercept"): (
        "browser POST: signature verified always, s3:PutObject authorized under enforcement"
    ),
    ("nubes/services/s3/provider.py", "self.website.intercept"): (
        "website endpoints: anonymous s3:GetObject authorized under enforcement"
    ),
    ("nubes/services/lambda_/urls.py", "self._serve_http"): (
        "function URLs: AWS_IAM signed and lambda:InvokeFunctionUrl, NONE by resource policy"
    ),
    ("nubes/services/cognito_idp/provider.py", "endpoints(self)"): (
        "user pools' JWKS and OpenID configuration (public, as on AWS); the managed login "
        "endpoints, where the user's password, the client's secret or the code is the "
        "credential, as on AWS; /_aws/cognito-idp/codes: an internal endpoint (admission)"
    ),
    ("nubes/services/lambda_/provider.py", "self.code_urls.serve"): (
        "GetFunction's Code.Location and a layer's Content.Location: presigned GETs whose "
        "signature (nubes' own key) and expiry are verified always; each serves only its zip"
    ),
    ("nubes/services/sqs/provider.py", "inspection_endpoint(self)"): (
        "/_aws/sqs/messages: an internal endpoint, the account root's signature (admission)"
    ),
    ("nubes/services/sqs/provider.py", "queue_url_in_path"): (
        "rewrites a queue-URL path into QueueUrl and answers nothing: the chain authorizes"
    ),
    ("nubes/services/sns/provider.py", "endpoints(self)"): (
        "/_aws/sns/*: internal endpoints (admission), but the public signing certificate"
    ),
    ("nubes/services/elbv2/balancing.py", "self.plane.intercept"): (
        "load balancer listeners of ELBv2 and Classic ELB (Host: the DNS name): public traffic, "
        "as a load balancer's listeners are; the targets decide"
    ),
    ("nubes/services/cloudformation/provider.py", "response_endpoint(self)"): (
        "custom resource responses and wait condition signals, PUT to the presigned-URL stand-ins "
        "CloudFormation hands out; the response token / stack id in the URL is the credential "
        "(the X-Amz-Signature in those URLs is not checked: weaker than AWS's presigned URL)"
    ),
    ("nubes/runtime/apigateway/serving.py", "self.serve"): (
        "REST and HTTP API invoke URLs and custom domain names: public as on AWS, gated by the "
        "API's authorizers (REST: and API keys; HTTP: JWT, Lambda); methods and routes with "
        "AWS_IAM authorization are not yet checked for a signature"
    ),
}

_REGISTRATION = re.compile(r"interceptors\.(?:append|insert)\((?:\s*\d+\s*,)?\s*([^)]*\)?)\)")


def test_every_interceptor_is_reviewed() -> None:
    root = Path(nubes.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        for line in path.read_text().splitlines():
            if "``" in line:  # a docstring naming the call, not making it
                continue
            for expression in _REGISTRATION.findall(line):
                found.add((f"nubes/{path.relative_to(root)}", expression.strip()))
    unreviewed = found - set(REVIEWED)
    assert not unreviewed, f"interceptors not reviewed for IAM enforcement: {sorted(unreviewed)}"
    gone = set(REVIEWED) - found
    assert not gone, f"reviewed interceptors no longer registered (update REVIEWED): {gone}"
