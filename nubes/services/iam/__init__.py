"""AWS Identity and Access Management: principals, policies, credentials, the policy engine."""
