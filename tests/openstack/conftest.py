"""Fixtures for the OpenStack tests: a fake cloud on loopback and a clouds.yaml naming it ``fake``.

The fake cloud needs only the standard library; the test modules that talk to
it through openstacksdk skip themselves when the extra is missing.
"""

from __future__ import annotations

import os

import pytest
from fake_cloud import FakeCloud, clouds_yaml, serve

MIGRATION_SECONDS = 0.05


@pytest.fixture
def fake():
    """The example cloud (see FakeCloud.example), served on 127.0.0.1 for the test."""
    cloud = FakeCloud.example(migration_seconds=MIGRATION_SECONDS)
    with serve(cloud) as base:
        cloud.base = base
        yield cloud


@pytest.fixture
def os_cloud(fake, tmp_path, monkeypatch):
    """The name of the fake cloud in a clouds.yaml that openstacksdk reads (and no other OS_* setting)."""
    path = tmp_path / "clouds.yaml"
    path.write_text(clouds_yaml(fake.base))
    for key in list(os.environ):
        if key.startswith("OS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    return "fake"


@pytest.fixture
def cloud(os_cloud):
    """A :class:`cpplan.openstack.cloud.Cloud` connected to the fake cloud."""
    from cpplan.openstack.cloud import Cloud
    return Cloud.connect(os_cloud)
