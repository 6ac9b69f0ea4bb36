"""Amazon CloudWatch: metrics, alarms that act, dashboards."""
