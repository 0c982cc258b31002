"""Renderers: Plan -> text (terminal), markdown (PR comment, job summary) or JSON. Pure."""

from __future__ import annotations

from reconciler.plan import Plan, dumps


def render(plan: Plan, fmt: str, *, color: bool = False, redact: bool = False) -> str:
    if fmt == "json":
        return dumps(plan)
    if fmt == "markdown":
        from reconciler.render.markdown import render_markdown

        return render_markdown(plan, redact=redact)
    from reconciler.render.text import render_text

    return render_text(plan, color=color, redact=redact)
