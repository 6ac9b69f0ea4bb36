"""The Step Functions state machine interpreter (the Amazon States Language)."""
