"""Tests for the pure health-intake rules in booking.intake (no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from booking.choices import OUTCOME_SEVERITY, RuleOutcome
from booking.intake import Answer, Rule, answers_from_dict, answers_to_dict, evaluate, strictest

PREGNANCY_RULES = [
    Rule("pregnancy", RuleOutcome.CALL, number_max=12),
    Rule("pregnancy", RuleOutcome.FLAG, number_min=13),
]


def test_no_answers_allow():
    result = evaluate(answers={}, rules=PREGNANCY_RULES, technique_id=1)
    assert result.outcome == RuleOutcome.ALLOW
    assert result.flags == ()
    assert not result.flagged


def test_a_no_never_matches():
    result = evaluate(
        answers={"pregnancy": Answer(yes=False, number=8)}, rules=PREGNANCY_RULES, technique_id=1
    )
    assert result.outcome == RuleOutcome.ALLOW


def test_first_trimester_calls_second_flags():
    early = evaluate(answers={"pregnancy": Answer(yes=True, number=8)}, rules=PREGNANCY_RULES, technique_id=1)
    later = evaluate(
        answers={"pregnancy": Answer(yes=True, number=20)}, rules=PREGNANCY_RULES, technique_id=1
    )
    assert early.outcome == RuleOutcome.CALL
    assert later.outcome == RuleOutcome.FLAG
    assert later.flags == ("pregnancy",)


def test_range_ends_are_inclusive():
    rules = [Rule("pregnancy", RuleOutcome.CALL, number_min=5, number_max=12)]
    for weeks, expected in [
        (4, RuleOutcome.ALLOW),
        (5, RuleOutcome.CALL),
        (12, RuleOutcome.CALL),
        (13, RuleOutcome.ALLOW),
    ]:
        result = evaluate(
            answers={"pregnancy": Answer(yes=True, number=weeks)}, rules=rules, technique_id=None
        )
        assert result.outcome == expected, weeks


def test_yes_without_a_number_takes_the_stricter_case():
    result = evaluate(answers={"pregnancy": Answer(yes=True)}, rules=PREGNANCY_RULES, technique_id=1)
    assert result.outcome == RuleOutcome.CALL


def test_technique_rules_apply_only_to_their_technique():
    rules = [Rule("skin", RuleOutcome.DOCTOR_NOTE, technique_id=7), Rule("skin", RuleOutcome.FLAG)]
    answers = {"skin": Answer(yes=True, details="eczema")}
    assert evaluate(answers=answers, rules=rules, technique_id=7).outcome == RuleOutcome.DOCTOR_NOTE
    assert evaluate(answers=answers, rules=rules, technique_id=8).outcome == RuleOutcome.FLAG


def test_strictest_wins_and_flags_list_each_question_once():
    rules = [
        Rule("blood_thinners", RuleOutcome.FLAG),
        Rule("blood_thinners", RuleOutcome.FLAG, technique_id=1),
        Rule("injury_or_surgery", RuleOutcome.DOCTOR_NOTE),
        Rule("oil_allergy", RuleOutcome.ALLOW),
    ]
    answers = {
        "blood_thinners": Answer(yes=True),
        "injury_or_surgery": Answer(yes=True),
        "oil_allergy": Answer(yes=True),
    }
    result = evaluate(answers=answers, rules=rules, technique_id=1)
    assert result.outcome == RuleOutcome.DOCTOR_NOTE
    assert result.flags == ("blood_thinners", "injury_or_surgery")
    assert len(result.matched) == 4


def test_answers_round_trip_and_junk_is_ignored():
    answers = {"pregnancy": Answer(yes=True, details="", number=20), "skin": Answer(yes=False)}
    assert answers_from_dict(answers_to_dict(answers)) == answers
    assert answers_from_dict(None) == {}
    assert answers_from_dict({"x": "junk", "y": {"yes": 1, "number": True}}) == {"y": Answer(yes=True)}


OUTCOMES = st.sampled_from(list(RuleOutcome))
KEYS = st.sampled_from(["pregnancy", "skin", "fever"])
RULES = st.lists(
    st.builds(
        Rule,
        question_key=KEYS,
        outcome=OUTCOMES,
        technique_id=st.one_of(st.none(), st.integers(1, 3)),
        number_min=st.one_of(st.none(), st.integers(0, 40)),
        number_max=st.one_of(st.none(), st.integers(0, 40)),
    ),
    max_size=8,
)
ANSWERS = st.dictionaries(
    KEYS, st.builds(Answer, yes=st.booleans(), number=st.one_of(st.none(), st.integers(0, 45))), max_size=3
)


@given(answers=ANSWERS, rules=RULES, technique_id=st.integers(1, 3))
def test_outcome_is_the_strictest_matching_rule(answers, rules, technique_id):
    result = evaluate(answers=answers, rules=rules, technique_id=technique_id)
    for rule in result.matched:
        assert OUTCOME_SEVERITY[rule.outcome] <= OUTCOME_SEVERITY[result.outcome]
        assert answers[rule.question_key].yes
    assert result.outcome == strictest(rule.outcome for rule in result.matched)
    assert set(result.flags) == {r.question_key for r in result.matched if r.outcome != RuleOutcome.ALLOW}


@given(answers=ANSWERS, rules=RULES, extra=RULES, technique_id=st.integers(1, 3))
def test_more_rules_never_make_the_outcome_milder(answers, rules, extra, technique_id):
    fewer = evaluate(answers=answers, rules=rules, technique_id=technique_id)
    more = evaluate(answers=answers, rules=rules + extra, technique_id=technique_id)
    assert OUTCOME_SEVERITY[more.outcome] >= OUTCOME_SEVERITY[fewer.outcome]


@given(answers=ANSWERS, rules=RULES, technique_id=st.integers(1, 3))
def test_all_no_answers_always_allow(answers, rules, technique_id):
    noes = {key: Answer(yes=False, number=a.number) for key, a in answers.items()}
    assert evaluate(answers=noes, rules=rules, technique_id=technique_id).outcome == RuleOutcome.ALLOW
