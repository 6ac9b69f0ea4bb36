"""Amazon CloudWatch Logs."""
