"""The review app's exceptions, part of budgetnlp's one tree (budgetnlp.errors.BudgetNLPError).

The web layer maps each to one answer: NotFound → 404, ValidationError → 422, Conflict → 409
(with the rows' current state), Throttled → 429. The commands print their message on one line.
"""

from __future__ import annotations

from ..errors import BudgetNLPError


class ReviewError(BudgetNLPError):
    """Base of the review app's errors."""


class NotFound(ReviewError):
    """No such row, project, decision or user."""


class ValidationError(ReviewError):
    """Input that fails the checks (the web layer answers 422)."""


class Throttled(ReviewError):
    """Too many failed logins for this name or from this address (the web layer answers 429)."""


class Conflict(ReviewError):
    """A save based on a version that is no longer current (the web layer answers 409).

    ``current`` holds, per row id, the row's state now: version, status, and the decision that
    made it (reviewer, time, labels, note)."""

    def __init__(self, current: dict[str, dict]):
        self.current = current
        who = ", ".join(f"{row_id} (版本 {state['version']}, {state.get('decided_by') or '—'})" for row_id, state in current.items())
        super().__init__(f"已被他人修改: {who}")
