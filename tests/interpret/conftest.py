"""The bundle tests' trained-and-exported tiny model (built once per session, shared)."""

from tests.bundle.conftest import exported, trained_run  # noqa: F401
