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
    "01-ex1": 1 - 0.99**20,
    "02-ex1": 5,  # 40/s × 0.4 s = 16 busy workers; 16 / (4 × 0.85) = 4.7
    "03-ex1": 1 / 0.15 - 70 * 0.005,  # 0.15 jobs/s, 70 tasks per job
    "04-ex1": 0.2 * (math.log(1000) / math.log(4) + math.log(1000) / 3),
    "05-ex1": 5 / 65,
    "06-ex1": 1 - 0.95**10,
    "07-ex1": 120 / 3.5,
    "08-ex1": 30 * 2 * 5 * 1 * 4 * 0.096,
    "09-ex1": 60 * 14.4 * 0.001 / (0.1 * 0.2),
}
"""Each exercise's reference solution at its default numbers."""

WRONG: dict[str, list[float]] = {
    "00-ex1": [4.0, 1.25, 2.0, 0.2, 0.6],
    "00-ex2": [4, 5, 7, 10],
    "01-ex1": [0.2, 0.01, 0.5, 0.1],
    "02-ex1": [4, 6, 7, 19],
    "03-ex1": [6.67, 9.5, 20.0, 1.0],
    "04-ex1": [7.28, 1.0, 3.38, 0.5, 10.0],
    "05-ex1": [0.143, 0.083, 0.2, 0.0],
    "06-ex1": [0.5, 0.05, 0.6, 0.3],
    "07-ex1": [60.0, 90.0, 10.0, 50.0],
    "08-ex1": [161.28, 0.384, 50.0, 500.0],
    "09-ex1": [4.32, 60.0, 10.0, 200.0],
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
