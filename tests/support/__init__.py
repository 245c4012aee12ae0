"""Test support helpers (registry, token server, seeding client, ansible runner)."""
