"""The scim2-server lifecycle, again on django-scim2 (a second, independent implementation whose
quirks are those of real providers: 200-with-body PATCH, members dropped on group create, 501
for remove-by-filter-path). The generic profile must cope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.lifecycle import test_scim2_lifecycle as same
from tests.lifecycle.project import Project


@pytest.fixture
def project(tmp_path: Path, django_tenant: Any) -> Project:
    p = Project(tmp_path, {"APP_URL": django_tenant.base_url, "APP_TOKEN": django_tenant.token}, "generic")
    # django-scim2 derives displayName from the name parts and ignores it on writes: said once,
    # in the policy, so that the diff reports the difference instead of re-sending it forever
    p.capabilities = "{user_writable: [userName, externalId, active, emails, name.givenName, name.familyName]}"
    p.write()
    return p


def test_ignored_field_is_detected_without_the_override(tmp_path: Path, django_tenant: Any) -> None:
    p = Project(tmp_path, {"APP_URL": django_tenant.base_url, "APP_TOKEN": django_tenant.token}, "generic")
    p.write()
    p.plan()
    p.apply()
    plan = p.plan()
    assert {a["kind"] for a in plan["actions"]} == {"update_user"}  # displayName differs
    r = p.apply(expect=1)
    assert "the server does not support changing displayName" in r.output
    assert "connection.capabilities.user_writable" in r.output


def test_bootstrap_disable_restore_delete(project: Project, django_tenant: Any) -> None:
    same.test_bootstrap_disable_restore_delete(project, django_tenant)


def test_stale_plan_is_refused_without_any_write(project: Project, django_tenant: Any) -> None:
    import httpx

    from tests.lifecycle.project import kinds

    project.converge()
    project.rule = "{conditions: [{attribute: attributes.dept, operator: in, value: [eng, ops]}]}"
    project.write()
    assert kinds(project.plan()) == [("disable_user", "u-dan")]
    dan = same.server_users(django_tenant)["u-dan"]
    # django-scim2 answers 501 to a displayName PATCH; a PUT changing the given name moves dan
    body = {k: v for k, v in dan.items() if k not in ("meta", "groups", "id")}
    body["name"] = {"givenName": "Daniel", "familyName": "Example"}
    httpx.put(f"{django_tenant.base_url}/Users/{dan['id']}", json=body,
              headers={"Authorization": f"Bearer {django_tenant.token}"}).raise_for_status()
    r = project.apply(expect=1)
    assert "plan is stale: user dan@example.com changed on the target; run plan again" in r.output
    assert same.server_users(django_tenant)["u-dan"]["active"] is True


def test_out_of_band_disable_is_left_alone(project: Project, django_tenant: Any) -> None:
    same.test_out_of_band_disable_is_left_alone(project, django_tenant)


def test_membership_batch_is_one_patch(project: Project, django_tenant: Any) -> None:
    same.test_membership_batch_is_one_patch(project, django_tenant)
