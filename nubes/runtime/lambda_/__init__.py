"""Lambda's runtime side: worker processes, their bootstraps, and the interpreters they use."""
