"""API Gateway's data plane: the HTTP endpoint REST and HTTP APIs answer on, the events
integrations receive, Lambda proxying, authorizers, usage-plan throttling and mapping
templates. The control planes (``services/apigateway``, ``services/apigatewayv2``) keep the
definitions; this package runs them."""
