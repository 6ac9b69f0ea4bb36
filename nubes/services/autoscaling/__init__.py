"""Amazon EC2 Auto Scaling: groups that keep their capacity on the one clock and scale by policy."""
