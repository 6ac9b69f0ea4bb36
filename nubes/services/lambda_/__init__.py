"""AWS Lambda: functions run in local worker processes, no containers."""
