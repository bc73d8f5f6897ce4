"""Custom integrations (this file makes the folder importable in the test harness)."""
