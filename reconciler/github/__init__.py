"""GitHub integration: the `reconcile github` command group used by the workflows in
.github/workflows (plan comments, drift issues, the reviewed plan of a merged pull request).

Modules: `api` (httpx REST client), `reviewed` (which run's artifact is the reviewed plan),
`bodies` (comment/issue Markdown), `changes` (the offline report for fork pull requests),
`runner` (preflight, masking, redaction policy, step summary), `commands` (the click group).
"""
