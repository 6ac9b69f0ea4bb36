"""CloudWatch's moving parts: metric storage, statistics, metric math, and alarm evaluation at
each period boundary of the one clock (driven by the CloudWatch provider)."""
