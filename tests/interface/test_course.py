"""The course's exercise checks (simulator/course.py): the reference solutions pass, typical
wrong answers fail with the hint for their mistake, and no hint prints the answer.

The reference solutions are here, worked out by hand from the questions (not by calling
the check's own formula), so a wrong formula in a check fails these tests.
"""

from __future__ import annotations

import math
import re

import nbformat
import pytest

from simulator import course
from tests.helpers import ROOT


def _erlang_c_by_hand(c: int, a: float) -> float:
    """Erlang C from its textbook sum (independent of simulator.theory's recursion)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


SOLUTIONS: dict[str, float] = {
    "00-ex1": _erlang_c_by_hand(4, 3.2) * 1.0 / (4 - 3.2),
    "00-ex2": 6,  # 5 replicas: 0.29 s; 6: 0.08 s
    "00-ex3": 2.98973368010,  # C(4, a) / (4 − a) = 0.5 at a ≈ 2.99 (see test_00_ex3_by_hand)
    "01-ex1": 1 - 0.99**20,
    "01-ex2": 1 - 0.99**20 - 20 * 0.01 * 0.99**19,  # none slow, or exactly one
    "01-ex3": 3,  # a = 10/s × 0.02 s = 0.2: C(2, 0.2) = 1.8% > 1%, C(3, 0.2) = 0.12%
    "02-ex1": 5,  # 40/s × 0.4 s = 16 busy workers; 16 / (4 × 0.85) = 4.7
    "02-ex2": 1 / 0.935,  # the HPA acts at 0.85 × 1.1 = 93.5% busy
    "02-ex3": 6,  # a = 16: 20 workers C = 25.6%, 24 workers C = 4.3%
    "03-ex1": 1 / 0.15 - 70 * 0.005,  # 0.15 jobs/s, 70 tasks per job
    "03-ex2": (1 - 0.1 * 0.6) / 0.05 - 0.05,  # batch 0.06 of the time; service t_job + 50 ms
    "03-ex3": 2,  # 1.6 jobs/s × 0.6 s = 0.96 schedulers busy; 0.48 each on two (goal 0.6)
    "04-ex1": 0.2 * (math.log(1000) / math.log(4) + math.log(1000) / 3),
    "04-ex2": 10 / 4 * 60 / 2,  # a quarter of 10/s, for half a TTL on average
    "04-ex3": 40,  # 10/4 × 40/2 = 50 requests exactly; at 41 s, 51.25
    "05-ex1": 5 / 65,
    "05-ex2": 40 + 60,  # renewed at 40 min (the 80-min renewal fails), then a whole TTL
    "05-ex3": 13,  # 6.5 / 66.5 = 9.8%; every 14 min: 7 / 67 = 10.4%
    "06-ex1": 1 - 0.95**10,
    "06-ex2": 150 / (10 * 2 * 5 / 7),  # 100 commits a week = 14.3 a calendar day
    "06-ex3": 2,  # 4 changes: 1 − 0.95⁴ × 0.95 = 22.6%; 6 changes: 30.2%
    "07-ex1": 120 / 3.5,
    "07-ex2": 0.8 / 0.2 * 2,
    "07-ex3": 6,  # 50 × 3.5 h = 175 h; 175 / (0.8 × 40) = 5.5
    "08-ex1": 30 * 2 * 5 * 1 * 4 * 0.096,
    "08-ex2": 0.1 * 0.5 * 0.5 * 0.3,
    "08-ex3": 1 - 1 / (300 * 0.1 * 0.5 * 0.3),  # 4.5 a week would escape without it
    "09-ex1": 60 * 14.4 * 0.001 / (0.1 * 0.2),
    "09-ex2": (0.2 * 2) / (0.001 * 28 * 24),  # 0.4 bad-request-hours of 0.672 allowed
    "09-ex3": 4,  # 4/s × 10 × 0.4 s = 16 busy workers; 3 servers of 6 = 89%, 4 = 67%
}
"""Each exercise's reference solution at its default numbers."""

WRONG: dict[str, list[float]] = {
    "00-ex1": [4.0, 1.25, 2.0, 0.2, 0.6],
    "00-ex2": [4, 5, 7, 10],
    "00-ex3": [4 / 3, 2.0, 3.6, 3.2, 2.5],
    "01-ex1": [0.2, 0.01, 0.5, 0.1],
    "01-ex2": [0.174, 0.019, 0.182, 0.001, 0.05],
    "01-ex3": [1, 2, 4, 20],
    "02-ex1": [4, 6, 7, 19],
    "02-ex2": [1 / 0.85, 0.935, 1 / 0.765, 1.5, 1.0],
    "02-ex3": [4, 5, 7, 8],
    "03-ex1": [6.67, 9.5, 20.0, 1.0],
    "03-ex2": [20.0, 19.8, 6.32, 10.0, 30.0],
    "03-ex3": [1, 3, 4, 16],
    "04-ex1": [7.28, 1.0, 3.38, 0.5, 10.0],
    "04-ex2": [150.0, 300.0, 100.0, 20.0, 600.0],
    "04-ex3": [20, 10, 41, 39, 60, 1],
    "05-ex1": [0.143, 0.083, 0.2, 0.0],
    "05-ex2": [110.0, 140.0, 80.0, 50.0, 60.0, 120.0],
    "05-ex3": [12, 6, 14, 30, 10],
    "06-ex1": [0.5, 0.05, 0.6, 0.3],
    "06-ex2": [7.5, 1.5, 0.095, 150.0, 21.0],
    "06-ex3": [4, 1, 3, 5],
    "07-ex1": [60.0, 90.0, 10.0, 50.0],
    "07-ex2": [10.0, 4.0, 1.6, 2.0, 16.0],
    "07-ex3": [5, 4, 7, 10],
    "08-ex1": [161.28, 0.384, 50.0, 500.0],
    "08-ex2": [0.015, 0.025, 0.075, 0.1, 0.0],
    "08-ex3": [0.8413, 0.9333, 0.8889, 0.5, 1.0],
    "09-ex1": [4.32, 60.0, 10.0, 200.0],
    "09-ex2": [0.000595, 2.976, 0.3, 1.0],
    "09-ex3": [1, 2, 3, 5, 16],
}
"""Typical wrong answers: the mistakes each check names, and plain over- and underestimates."""


def test_every_exercise_has_a_reference_solution():
    assert set(SOLUTIONS) == set(course.EXERCISES) == set(WRONG)


@pytest.mark.parametrize("key", sorted(SOLUTIONS))
def test_the_reference_solution_passes(key: str):
    verdict = course.answer(key, SOLUTIONS[key])
    assert verdict.correct is True, verdict.message
    assert verdict.message == course.EXERCISES[key].why


@pytest.mark.parametrize("key", sorted(SOLUTIONS))
def test_the_solution_method_agrees_with_the_reference(key: str):
    assert course.EXERCISES[key].solution() == pytest.approx(SOLUTIONS[key], rel=1e-9)


def _printed_answer(message: str, solution: float) -> bool:
    """Whether a hint shows the solution (as the number a student would type or see)."""
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", message.replace(",", ""))]
    return any(math.isclose(n, solution, rel_tol=0.01) for n in numbers if n != 0)


@pytest.mark.parametrize("key", sorted(WRONG))
def test_wrong_answers_fail_with_a_hint_that_hides_the_answer(key: str):
    for wrong in WRONG[key]:
        verdict = course.answer(key, wrong)
        assert verdict.correct is False, f"{key} accepted {wrong}"
        assert verdict.message and verdict.message != course.EXERCISES[key].why
        assert not _printed_answer(verdict.message, SOLUTIONS[key]), verdict.message


@pytest.mark.parametrize("key", sorted(course.EXERCISES))
def test_each_named_mistake_gets_its_own_hint(key: str):
    exercise = course.EXERCISES[key]
    for mistake in exercise.mistakes:
        wrong = mistake.wrong(exercise.defaults)
        verdict = course.answer(key, wrong)
        assert verdict.correct is False
        assert verdict.message == mistake.hint


def test_00_ex3_by_hand():
    # the rate at which four workers' mean wait reaches 0.5 s, by bisection on the textbook sum
    low, high = 2.0, 3.99
    for _ in range(60):
        rate = (low + high) / 2
        wait = _erlang_c_by_hand(4, rate) / (4 - rate)
        low, high = (rate, high) if wait <= 0.5 else (low, rate)
    assert low == pytest.approx(SOLUTIONS["00-ex3"], abs=1e-9)


def test_no_answer_yet_and_answers_that_are_not_numbers():
    assert course.answer("00-ex1", None).correct is None
    assert course.answer("00-ex1", "0.75").correct is False
    assert course.answer("00-ex1", True).correct is False
    assert course.answer("00-ex1", math.nan).correct is False
    assert "00-ex1" in str(course.answer("00-ex1", None))
    assert "Right" in course.answer("00-ex1", SOLUTIONS["00-ex1"])._repr_markdown_()


def test_the_notebook_passes_its_own_numbers():
    # a scenario with another target or another TTL moves the right answer with it
    assert course.answer("02-ex1", 7, target=0.6).correct is True
    assert course.answer("02-ex1", 5, target=0.6).correct is False
    assert course.answer("04-ex1", 0.2 * (math.log(100, 4) + math.log(100) / 3), agents=100).correct
    with pytest.raises(TypeError, match="02-ex1 takes"):
        course.answer("02-ex1", 5, targett=0.6)
    with pytest.raises(KeyError, match="no exercise"):
        course.answer("99-ex1", 1)


def test_integer_answers_must_be_exact_and_others_have_a_tolerance():
    assert course.answer("00-ex2", 6.0).correct is True
    assert course.answer("00-ex2", 6.4).correct is False
    assert course.answer("01-ex1", SOLUTIONS["01-ex1"] + 0.004).correct is True
    assert course.answer("01-ex1", SOLUTIONS["01-ex1"] + 0.01).correct is False


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_a_checked_exercise(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    keys = set(re.findall(r'course\.answer\(\s*"(\d\d-ex\d+)"', source))
    assert keys, f"{path.name} has no exercise checked with course.answer"
    assert all(key.startswith(path.name[:2]) for key in keys), keys
    assert keys <= set(course.EXERCISES)


def test_every_exercise_is_asked_in_a_notebook():
    asked = set()
    for path in NOTEBOOKS:
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        asked |= set(re.findall(r'course\.answer\(\s*"(\d\d-ex\d+)"', source))
    assert asked == set(course.EXERCISES)
