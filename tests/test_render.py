"""Renderers: markdown truncation under the comment limit, redaction, NO_COLOR."""

from __future__ import annotations

from tests.test_scenarios import plan_for

from reconciler.actions import CreateUser
from reconciler.plan import build_plan
from reconciler.render import render
from reconciler.render.markdown import LIMIT


def test_markdown_truncates_safely_under_the_limit() -> None:
    base = plan_for("01_create_all")
    many = [
        CreateUser(key=f"u{i:05d}", reason="declared and in scope",
                   after={"externalId": f"u{i:05d}", "userName": f"person{i:05d}@example.com", "active": True,
                          "displayName": f"Person Number {i}", "emails": [f"person{i:05d}@example.com"]})
        for i in range(3000)
    ]
    fields = base.model_dump(exclude={"actions", "summary", "checksum"})
    fields.update(connection=base.connection, state=base.state, desired=base.desired, safety=base.safety)
    plan = build_plan(actions=many, **fields)
    text = render(plan, "markdown")
    assert len(text) < LIMIT
    assert "actions not shown (comment size limit)" in text
    assert text.rstrip().endswith("</sub>")  # the summary footer survives truncation
    assert text.count("```") % 2 == 0  # no unclosed code fence


def test_redaction_hides_people_but_keeps_groups() -> None:
    plan = plan_for("01_create_all")
    text = render(plan, "markdown", redact=True)
    assert "ann@example.com" not in text and "Ann" not in text.replace("Ann•", "")
    assert "a•••@e•••.com" in text
    assert "Engineering" in text  # group names are not personal data
    assert "u-ann" not in text  # user keys are hashed


def test_text_has_no_colour_unless_asked() -> None:
    plan = plan_for("21_batched_membership")
    assert "\x1b[" not in render(plan, "text")
    assert "\x1b[" in render(plan, "text", color=True)
