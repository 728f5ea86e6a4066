"""Health intake rules, pure: answers and rules in, an outcome out. Imports no ORM.

A rule matches when the answer to its question is yes and, if the rule names a range,
the number given (weeks of pregnancy, say) is within it. A yes without a number matches
a ranged rule too: what the client did not tell us is treated as the stricter case.
Rules for one technique and rules for every technique both apply; the strictest
matching outcome wins (allow < flag < doctor's note < call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .choices import OUTCOME_SEVERITY, RuleOutcome


@dataclass(frozen=True)
class Answer:
    """One answer to a health question."""

    yes: bool
    details: str = ""
    number: int | None = None

    def as_dict(self) -> dict:
        return {"yes": self.yes, "details": self.details, "number": self.number}

    @classmethod
    def from_dict(cls, data: Mapping) -> Answer:
        number = data.get("number")
        return cls(
            yes=bool(data.get("yes")),
            details=str(data.get("details") or ""),
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        )


@dataclass(frozen=True)
class Rule:
    """What a yes to ``question_key`` leads to; ``technique_id`` None means every technique."""

    question_key: str
    outcome: RuleOutcome
    technique_id: int | None = None
    number_min: int | None = None
    number_max: int | None = None
    staff_note: str = ""

    def applies_to(self, technique_id: int | None) -> bool:
        return self.technique_id is None or self.technique_id == technique_id

    def matches(self, answer: Answer | None) -> bool:
        if answer is None or not answer.yes:
            return False
        if answer.number is None:
            return True
        if self.number_min is not None and answer.number < self.number_min:
            return False
        return self.number_max is None or answer.number <= self.number_max


@dataclass(frozen=True)
class Evaluation:
    """The outcome for a set of answers, the questions flagged and the rules that matched."""

    outcome: RuleOutcome = RuleOutcome.ALLOW
    flags: tuple[str, ...] = ()
    matched: tuple[Rule, ...] = field(default=())

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def strictest(outcomes: Iterable[RuleOutcome]) -> RuleOutcome:
    """The strictest of ``outcomes`` (allow when there are none)."""
    return max(outcomes, key=OUTCOME_SEVERITY.__getitem__, default=RuleOutcome.ALLOW)


def evaluate(*, answers: Mapping[str, Answer], rules: Iterable[Rule], technique_id: int | None) -> Evaluation:
    """The outcome of ``answers`` under ``rules`` for the technique ``technique_id``.

    The flags are the questions whose matching rules ask for more than "allow", in the
    order the rules came: what the therapist should look at before the massage.
    """
    matched = tuple(
        rule
        for rule in rules
        if rule.applies_to(technique_id) and rule.matches(answers.get(rule.question_key))
    )
    flags: list[str] = []
    for rule in matched:
        if rule.outcome != RuleOutcome.ALLOW and rule.question_key not in flags:
            flags.append(rule.question_key)
    return Evaluation(
        outcome=strictest(RuleOutcome(rule.outcome) for rule in matched), flags=tuple(flags), matched=matched
    )


def answers_from_dict(data: Mapping | None) -> dict[str, Answer]:
    """Answers as stored (``{key: {"yes", "details", "number"}}``), tolerating junk."""
    if not isinstance(data, Mapping):
        return {}
    return {str(key): Answer.from_dict(value) for key, value in data.items() if isinstance(value, Mapping)}


def answers_to_dict(answers: Mapping[str, Answer]) -> dict[str, dict]:
    return {key: answer.as_dict() for key, answer in answers.items()}
