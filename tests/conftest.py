"""Shared fixtures: facilities, staff of every role, a real Celery worker, a live server."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures", "tests.celery_worker"]


@pytest.fixture(autouse=True)
def _vietnamese(settings):
    settings.LANGUAGE_CODE = "vi"
