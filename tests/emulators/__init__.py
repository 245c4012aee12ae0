"""Stateful HTTP emulators of registry provider APIs, for tests (see docs/emulators.md)."""
