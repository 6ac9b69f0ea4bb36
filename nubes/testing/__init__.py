"""Helpers for users' test suites: a nubes server in a child process and a pytest plugin."""
