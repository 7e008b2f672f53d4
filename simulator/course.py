"""The course's exercises: each checks a student's answer and says why it is right or wrong.

A notebook asks a question ("change one knob, predict, run, check"), the student writes a
number in the answer cell, and `answer("00-ex1", value)` says right or not yet. The check
computes the right answer itself, from theory and the question's own numbers (which the
notebook may pass in, read from its scenario), and never prints it: a wrong answer gets the
hint of the mistake it most likely comes from, a right one the reason it is right. The
reference solutions live in the tests (`tests/interface/test_course.py`), away from the
notebooks, and every check is tested with them and with typical wrong answers.

Checks are pure functions of numbers: they run no simulation, so a notebook's default
execution (its answer cells hold `None`) costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .theory import mmc

Given = Mapping[str, float]
"""The question's numbers, as the notebook passes them (defaults in `Exercise.defaults`)."""


_MARKS = {True: "✔ Right.", False: "✘ Not yet.", None: "… No answer yet."}


@dataclass(frozen=True, repr=False)
class Verdict:
    """What a check says: right (True), not yet (False) or no answer (None), and why. A
    notebook shows it as a sentence (Markdown), a console or a text export as plain text."""

    key: str
    correct: bool | None
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {_MARKS[self.correct]} {self.message}"

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        return f"**{self.key}: {_MARKS[self.correct]}** {self.message}"


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer (computed from the question's numbers) and the hint for it."""

    wrong: Callable[[Given], float]
    hint: str


Hint = str | Callable[[float, Given], str]


@dataclass(frozen=True)
class Exercise:
    """One question: how to compute its answer, how close counts as right, and what to say."""

    key: str
    question: str
    expected: Callable[[Given], float]
    why: str
    too_low: Hint
    too_high: Hint
    relative: float = 0.0
    """Relative tolerance: right within this share of the expected value."""
    absolute: float = 0.0
    """Absolute tolerance (an integer answer is right only when it is exact)."""
    integer: bool = False
    mistakes: tuple[Mistake, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)

    def solution(self, **given: float) -> float:
        """The right answer (for tests and the site's solution pages, not the notebooks)."""
        return self.expected(self._given(given))

    def _given(self, given: Mapping[str, float]) -> dict[str, float]:
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise TypeError(f"{self.key} takes {sorted(self.defaults)}, not {unknown}")
        return {**self.defaults, **given}

    def close(self, value: float, target: float) -> bool:
        if self.integer:
            return value == target
        return abs(value - target) <= max(self.absolute, self.relative * abs(target))


def _text(hint: Hint, value: float, given: Given) -> str:
    return hint if isinstance(hint, str) else hint(value, given)


def answer(key: str, value: object, **given: float) -> Verdict:
    """Check a student's answer to exercise `key`; `given` overrides the question's numbers
    (a notebook passes the ones it read from its scenario)."""
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; the exercises are {sorted(EXERCISES)}")
    exercise = EXERCISES[key]
    numbers = exercise._given(given)
    if value is None or value is Ellipsis:
        return Verdict(key, None, "Write your answer in place of `None`, then run the cell.")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Verdict(key, False, f"The answer should be a number, not {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        return Verdict(key, False, "The answer should be a finite number.")
    target = exercise.expected(numbers)
    if exercise.close(number, target):
        return Verdict(key, True, exercise.why)
    for mistake in exercise.mistakes:
        if exercise.close(number, mistake.wrong(numbers)) and not exercise.close(
            mistake.wrong(numbers), target
        ):
            return Verdict(key, False, mistake.hint)
    hint = exercise.too_low if number < target else exercise.too_high
    return Verdict(key, False, _text(hint, number, numbers))


# --------------------------------------------------------------------------- the exercises


def _mmc_wait(rate: float, service: float, servers: int) -> float:
    """Mean wait of M/M/c, infinite when the queue is unstable."""
    if rate * service >= servers:
        return math.inf
    return mmc(rate, service, servers).wait_mean


def _mm1_wait(g: Given) -> float:
    """The mistaken answer: one server at the same utilisation, ρ/(1 − ρ) × E[S]."""
    rho = g["rate"] * g["service"] / g["servers"]
    return rho / (1 - rho) * g["service"]


def _fewest_servers(g: Given) -> float:
    servers = 1
    while _mmc_wait(g["rate"], g["service"], servers) > g["goal"]:
        servers += 1
    return float(servers)


def _wait_at(value: float, g: Given) -> str:
    servers = max(1, int(value))
    wait = _mmc_wait(g["rate"], g["service"], servers)
    state = "the queue grows without end" if math.isinf(wait) else f"the mean wait is {wait:.3f} s"
    return state


def _replicas_for(g: Given, target: str = "target") -> float:
    return float(math.ceil(g["peak_rate"] * g["service"] / (g["concurrency"] * g[target])))


def _busy_share(value: float, g: Given) -> float:
    return g["peak_rate"] * g["service"] / (g["concurrency"] * max(value, 1.0))


def _saturating_t_job(g: Given) -> float:
    """t_job at which λ × (t_job + mean tasks × t_task) = 1, over both job types."""
    rate = 1 / g["batch_every"] + 1 / g["service_every"]
    tasks = (g["batch_tasks"] / g["batch_every"] + g["service_tasks"] / g["service_every"]) / rate
    return 1 / rate - tasks * g["t_task"]


def _gossip_seconds(g: Given) -> float:
    rounds = math.log(g["agents"], 1 + g["fanout"]) + math.log(g["agents"]) / g["fanout"]
    return g["interval"] * rounds


def _drifted_share(g: Given) -> float:
    fix = g["run_interval"] / 2  # a drifted host waits half a converge interval on average
    return fix / (g["drift_interval"] + fix)


def _operator_hours(g: Given) -> float:
    return g["deploy_hours"] + g["toil_hours"] + g["incident_hours"]


def _preview_cost(g: Given, days: float = 5.0) -> float:
    changes = g["services"] * g["change_rate"] * days
    return changes * g["nodes"] * g["lifetime_h"] * g["price"]


def _burn_rate_minutes(g: Given) -> float:
    """Minutes until a steady error ratio fills the long window past the burn threshold."""
    seen = g["share"] * g["error_ratio"]
    return g["window"] * g["burn"] * (1 - g["slo"]) / seen


EXERCISES: dict[str, Exercise] = {
    exercise.key: exercise
    for exercise in [
        Exercise(
            key="00-ex1",
            question="Four replicas, 1 s of work per request on average (exponential), and "
            "the traffic turned down to 3.2 requests per second (ρ = 80%). Predict the mean "
            "wait in the queue, in seconds, before you run it.",
            expected=lambda g: _mmc_wait(g["rate"], g["service"], int(g["servers"])),
            relative=0.05,
            defaults={"rate": 3.2, "service": 1.0, "servers": 4},
            mistakes=(
                Mistake(
                    _mm1_wait,
                    "That is ρ/(1 − ρ) × E[S], the wait of ONE server at 80% (M/M/1). Four "
                    "workers share one queue: use Erlang C, W = C(c, a) × E[S] / (c − a).",
                ),
                Mistake(
                    lambda g: g["service"] / (g["servers"] - g["rate"] * g["service"]),
                    "E[S] / (c − a) is the wait of a request that does wait. Only a share "
                    "C(c, a) of the requests waits at all (`simulator.theory.erlang_c`).",
                ),
            ),
            too_low="Too low: at 80% busy most requests still find all four workers busy "
            "(Erlang C), and each waits E[S] / (c − a) on average.",
            too_high="Too high: with 0.8 workers of spare capacity instead of 0.4 the queue "
            "drains twice as fast as at 90%, and fewer requests wait at all.",
            why="Erlang C: W = C(4, 3.2) × 1 s / (4 − 3.2). Going from 90% to 80% busy "
            "doubles the spare capacity and lowers the share that waits, so the wait falls "
            "by much more than the 11% cut in load. Now run the cell below: the simulation "
            "should land within a few percent.",
        ),
        Exercise(
            key="00-ex2",
            question="Still 3.6 requests per second of 1 s each. What is the fewest replicas "
            "(behind the central queue) that keep the mean wait at or below 0.1 s?",
            expected=_fewest_servers,
            integer=True,
            defaults={"rate": 3.6, "service": 1.0, "goal": 0.1},
            too_low=lambda v, g: (
                f"With {int(v)} replicas {_wait_at(v, g)}: above "
                f"{g['goal']:g} s. Check your guess with `simulator.theory.mmc`."
            ),
            too_high=lambda v, g: (
                f"Fewer than {int(v)} replicas already keep the mean wait at or below "
                f"{g['goal']:g} s: you would pay for capacity you do not need. Try "
                "`simulator.theory.mmc(rate, service, c).wait_mean` for smaller c."
            ),
            why="Each replica added near saturation buys a lot; once the spare capacity is a "
            "few workers, the wait is a small fraction of the service time and the next "
            "replica buys little. Capacity planning stops where the goal is met.",
        ),
        Exercise(
            key="01-ex1",
            question="A page calls N = 20 backends at once and waits for all of them. Each "
            "backend answer is slow (beyond 100 ms) with probability p = 1%, independently. "
            "What share of pages waits for at least one slow answer?",
            expected=lambda g: 1 - (1 - g["p"]) ** g["n"],
            absolute=0.005,
            defaults={"p": 0.01, "n": 20},
            mistakes=(
                Mistake(
                    lambda g: g["n"] * g["p"],
                    "N × p counts a page with two slow answers twice (it is an upper bound, "
                    "the union bound). Count the pages where all N answers are fast instead.",
                ),
                Mistake(
                    lambda g: g["p"],
                    "That is one backend's chance. The page waits for its slowest answer: "
                    "it is slow if ANY of the N is.",
                ),
            ),
            too_low="Too low: the page is slow if any one of its N answers is slow.",
            too_high="Too high: a page is fast only if all N answers are fast, with "
            "probability (1 − p)^N; the rest is slow.",
            why="1 − (1 − p)^N: the page is fast only if every answer is. A 1-in-100 backend "
            "tail becomes roughly a 1-in-5 page tail at N = 20: the wider the fan-out, the "
            "more a rare backend event becomes the page's common case.",
        ),
        Exercise(
            key="02-ex1",
            question="With the target utilisation at 0.85 instead of 0.6, how many replicas "
            "does the HPA settle on at the peak of the spike (steady state, no overshoot)?",
            expected=_replicas_for,
            integer=True,
            defaults={"peak_rate": 40.0, "service": 0.4, "concurrency": 4.0, "target": 0.85},
            mistakes=(
                Mistake(
                    lambda g: float(
                        math.floor(g["peak_rate"] * g["service"] / (g["concurrency"] * g["target"]))
                    ),
                    "Rounded down: those replicas would be busier than the target. The HPA "
                    "asks for ⌈busy workers / (concurrency × target)⌉.",
                ),
                Mistake(
                    lambda g: float(math.ceil(g["peak_rate"] * g["service"] / g["target"])),
                    "Each replica serves `concurrency` requests at once: divide the busy "
                    "workers by the workers per replica too.",
                ),
            ),
            too_low=lambda v, g: (
                f"{int(v)} replicas would be {_busy_share(v, g):.0%} busy at "
                f"the peak, above the {g['target']:.0%} target."
            ),
            too_high=lambda v, g: (
                f"Fewer than {int(v)} replicas would already stay within the "
                f"{g['target']:.0%} target at the peak: the HPA stops at the fewest that do."
            ),
            why="Busy workers at the peak = rate × service time; divide by the workers per "
            "replica and the target, and round up. A higher target needs fewer replicas, "
            "and leaves less headroom for the autoscaler's lag.",
        ),
        Exercise(
            key="03-ex1",
            question="A single-path monolithic scheduler spends t_job + 5 ms × tasks on every "
            "job. Batch jobs come every 10 s with 100 tasks on average, service jobs every "
            "20 s with 10. At what t_job (seconds) does the scheduler saturate (busy 100% of "
            "the time)?",
            expected=_saturating_t_job,
            relative=0.03,
            defaults={
                "batch_every": 10.0,
                "service_every": 20.0,
                "batch_tasks": 100.0,
                "service_tasks": 10.0,
                "t_task": 0.005,
            },
            mistakes=(
                Mistake(
                    lambda g: 1 / (1 / g["batch_every"] + 1 / g["service_every"]),
                    "That leaves out the per-task time: each job also costs 5 ms × its tasks "
                    "(70 on average over both kinds).",
                ),
                Mistake(
                    lambda g: g["batch_every"] - g["batch_tasks"] * g["t_task"],
                    "A single-path scheduler takes every job, service jobs too: add their "
                    "rate to the batch jobs'.",
                ),
            ),
            too_low="Too low: saturation is where jobs per second × (t_job + tasks × t_task) "
            "reaches 1; at your t_job the scheduler still has idle time.",
            too_high="Too high: at your t_job the jobs' decisions already take more than all "
            "of the scheduler's time. Use busyness = λ × (t_job + mean tasks × t_task).",
            why="λ = 0.15 jobs/s, 70 tasks per job on average: λ × (t_job + 0.35 s) = 1. Past "
            "this point the queue of jobs grows without end, which is the wait the sweep "
            "shows exploding between 1 s and 10 s.",
        ),
        Exercise(
            key="04-ex1",
            question="Consul's agents gossip a change every 200 ms, each to 3 random peers. "
            "Epidemic theory says push gossip with fanout f reaches N agents in about "
            "log_(1+f) N + ln N / f rounds. How many seconds until news reaches a cluster of "
            "1,000 agents?",
            expected=_gossip_seconds,
            relative=0.05,
            defaults={"agents": 1000.0, "fanout": 3.0, "interval": 0.2},
            mistakes=(
                Mistake(
                    lambda g: _gossip_seconds(g) / g["interval"],
                    "That is the number of rounds; each round takes one gossip interval.",
                ),
                Mistake(
                    lambda g: g["interval"] * math.log(g["agents"], 1 + g["fanout"]),
                    "That is the exponential growth alone. Add the slow end, ln N / f rounds, "
                    "when almost everyone knows and a message rarely hits the last few.",
                ),
                Mistake(
                    lambda g: g["interval"] * (math.log2(g["agents"]) + math.log(g["agents"])),
                    "That is fanout 1 (log2 N + ln N). With 3 peers a round, the known "
                    "share grows by a factor of 1 + f = 4 per round.",
                ),
            ),
            too_low="Too low: count the rounds of the formula, then the interval per round.",
            too_high="Too high: a round multiplies the agents that know by 1 + fanout.",
            why="(log4 1000 + ln 1000 / 3) rounds × 200 ms. Gossip time grows with the "
            "logarithm of the cluster: ten times the agents costs one or two rounds more, "
            "which is why it scales to thousands of nodes. The simulation below adds about "
            "a round (the O(1) term and synchronous rounds).",
        ),
        Exercise(
            key="05-ex1",
            question="Hosts drift once an hour on average. Chef converges every 10 minutes "
            "instead of 30, each host at its own phase. What share of host-time is spent "
            "drifted (renewal theory)?",
            expected=_drifted_share,
            absolute=0.003,
            defaults={"drift_interval": 60.0, "run_interval": 10.0},
            mistakes=(
                Mistake(
                    lambda g: g["run_interval"] / (g["drift_interval"] + g["run_interval"]),
                    "A drifted host waits, on average, half a converge interval (its next "
                    "run comes at a uniform time), not a whole one.",
                ),
                Mistake(
                    lambda g: g["run_interval"] / 2 / g["drift_interval"],
                    "Close, but a cycle is drift time + fix time: divide the fix time by the "
                    "whole cycle, not by the drift time alone.",
                ),
            ),
            too_low="Too low: mean fix time / (mean time to drift + mean fix time).",
            too_high="Too high: with a run every 10 minutes, the fix is a few minutes on "
            "average against an hour between drifts.",
            why="Fix time 5 min against 60 min between drifts: 5 / 65. Tripling the converge "
            "frequency cuts the drifted share about threefold; only immutable configuration "
            "makes it zero.",
        ),
        Exercise(
            key="06-ex1",
            question="A weekly release of one service batches that week's changes: 10 of "
            "them, each bad with probability 5%. What is the chance that a release holds at "
            "least one bad change (and so fails)?",
            expected=lambda g: 1 - (1 - g["p"]) ** g["changes"],
            absolute=0.01,
            defaults={"p": 0.05, "changes": 10.0},
            mistakes=(
                Mistake(
                    lambda g: g["p"] * g["changes"],
                    "p × changes counts a release with two bad changes twice: work out the "
                    "chance that all of them are good instead.",
                ),
                Mistake(
                    lambda g: g["p"],
                    "That is the chance for one change. A release fails if ANY change in it "
                    "is bad.",
                ),
            ),
            too_low="Too low: the more changes in a batch, the likelier one of them is bad.",
            too_high="Too high: a release is good when all its changes are, (1 − p)^n.",
            why="1 − (1 − p)^n: a batch of ten fails several times as often as one change does. "
            "Batching, not carelessness, is what gives the ticket process its change failure "
            "rate; and one bad change sends the whole batch back.",
        ),
        Exercise(
            key="07-ex1",
            question="A team's expected operator work per service per week is given below "
            "(deploys, toil, incidents, in hours), and the team's working hours per week. At "
            "how many services is the team busy all its working hours (ρ = 1)?",
            expected=lambda g: g["team_hours"] / _operator_hours(g),
            relative=0.03,
            defaults={
                "deploy_hours": 2.0,
                "toil_hours": 1.0,
                "incident_hours": 0.5,
                "team_hours": 120.0,
            },
            mistakes=(
                Mistake(
                    lambda g: g["team_hours"] / g["deploy_hours"],
                    "Deploys are only part of the work: toil and incidents take operator "
                    "hours too.",
                ),
                Mistake(
                    lambda g: g["team_hours"] / 40 * 168 / _operator_hours(g),
                    "Operators work their working hours, not the 168 hours of the week.",
                ),
            ),
            too_low="Too low: at that many services the team still has spare hours.",
            too_high="Too high: at that many services the work per week exceeds the team's "
            "hours, and the ticket queue grows without end.",
            why="ρ(n) = n × hours per service / team hours reaches 1 at n = team hours / "
            "hours per service. Beyond it lead times grow without bound: hiring in "
            "proportion to services is the only fix unless the hours per service shrink.",
        ),
        Exercise(
            key="08-ex1",
            question="30 services, 2 changes per service per working day (5 days a week), "
            "and every change gets a preview of 1 node for 4 hours at $0.096 an hour. What "
            "do the previews cost per week, in dollars (first attempts only)?",
            expected=_preview_cost,
            relative=0.02,
            defaults={
                "services": 30.0,
                "change_rate": 2.0,
                "nodes": 1.0,
                "lifetime_h": 4.0,
                "price": 0.096,
            },
            mistakes=(
                Mistake(
                    lambda g: _preview_cost(g, days=7.0),
                    "Changes are committed on working days only: 5 a week, not 7.",
                ),
                Mistake(
                    lambda g: g["nodes"] * g["lifetime_h"] * g["price"],
                    "That is one preview; count every change of every service in a week.",
                ),
            ),
            too_low="Too low: count services × changes a day × working days × node-hours × price.",
            too_high="Too high: a preview lives for its lifetime only, on its nodes.",
            why="Node-hours are cheap: a preview costs well under a dollar, so even one for "
            "every change is a small line next to people. Whether it pays depends on what it "
            "saves, which the sweep measures.",
        ),
        Exercise(
            key="09-ex1",
            question="A canary gets 10% of the traffic and its version fails 20% of the "
            "requests it serves. The SLO is 99.9%, and the fast burn-rate rule fires when the "
            "error ratio over its long window of 60 minutes exceeds 14.4 times the budget's "
            "rate (its 5-minute window crosses sooner). If nothing rolls the canary back, how "
            "many minutes after the deploy does the rule fire?",
            expected=_burn_rate_minutes,
            relative=0.03,
            defaults={"share": 0.1, "error_ratio": 0.2, "slo": 0.999, "burn": 14.4, "window": 60},
            mistakes=(
                Mistake(
                    lambda g: _burn_rate_minutes({**g, "share": 1.0}),
                    "That is the time if every request went to the bad version. Users see the "
                    "canary's share of the traffic times its error ratio.",
                ),
                Mistake(
                    lambda g: g["window"],
                    "The rule does not wait for a full window of errors: it fires once the "
                    "errors in the window add up to 14.4 times the budget's rate over it.",
                ),
            ),
            too_low="Too low: the users' error ratio is only the canary's slice of 20%; the "
            "window's average reaches the threshold later.",
            too_high="Too high: errors arriving at a steady ratio fill the 60-minute window "
            "linearly; the rule fires when the window's average crosses the threshold.",
            why="The window's bad share grows linearly from the deploy: it crosses "
            "burn × (1 − SLO) after window × burn × (1 − SLO) / (share × error ratio). A "
            "canary slows detection in proportion to its slice, which is why it has its own "
            "analysis. Notebook 09's SRE run shows the analysis winning that race.",
        ),
    ]
}
"""Every exercise of the course, by key: the notebook's number, then `ex` and its number."""
