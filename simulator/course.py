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

from .theory import erlang_c, mmc

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


def _highest_rate(g: Given) -> float:
    """The arrival rate at which M/M/c's mean wait reaches the goal (bisection: the wait
    grows with the rate)."""
    low, high = 0.0, g["servers"] / g["service"]
    for _ in range(100):
        middle = (low + high) / 2
        if _mmc_wait(middle, g["service"], int(g["servers"])) <= g["goal"]:
            low = middle
        else:
            high = middle
    return low


def _wait_at_rate(value: float, g: Given) -> str:
    wait = _mmc_wait(value, g["service"], int(g["servers"])) if value > 0 else 0.0
    return "the queue grows without end" if math.isinf(wait) else f"the mean wait is {wait:.2f} s"


def _fewest_for_share(g: Given, per: str = "per_replica") -> float:
    """Fewest pools of `per` workers whose Erlang C share of waiting is at most the goal."""
    offered = g["rate"] * g["service"]
    count = 1
    while count * g[per] <= offered or erlang_c(int(count * g[per]), offered) > g["goal"]:
        count += 1
    return float(count)


def _share_at(value: float, g: Given, per: str = "per_replica") -> str:
    workers = int(max(value, 1) * g[per])
    offered = g["rate"] * g["service"]
    if workers <= offered:
        return "the queue grows without end"
    return f"{erlang_c(workers, offered):.1%} of the requests wait"


def _two_or_more(g: Given) -> float:
    """P(at least two of n independent answers are slow), each slow with probability p."""
    n, p = g["n"], g["p"]
    return 1 - (1 - p) ** n - n * p * (1 - p) ** (n - 1)


def _multi_path_t_job(g: Given) -> float:
    """Service t_job at which a multi-path scheduler's batch and service decisions fill it."""
    batch = g["batch_rate"] * (g["t_batch"] + g["batch_tasks"] * g["t_task"])
    return (1 - batch) / g["service_rate"] - g["service_tasks"] * g["t_task"]


def _single_path_t_job(g: Given) -> float:
    """The mistaken answer: every job on the slow path, λ × (t_job + mean tasks × t_task) = 1."""
    rate = g["batch_rate"] + g["service_rate"]
    tasks = (g["batch_rate"] * g["batch_tasks"] + g["service_rate"] * g["service_tasks"]) / rate
    return 1 / rate - tasks * g["t_task"]


def _schedulers_for(g: Given) -> float:
    """Fewest batch schedulers that split the batch decisions below the busyness goal."""
    busy = g["factor"] * g["batch_rate"] * (g["t_batch"] + g["batch_tasks"] * g["t_task"])
    return float(math.ceil(busy / g["goal"] - 1e-9))


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


def _stale_requests(g: Given, ttl: float | None = None) -> float:
    """First attempts sent to a removed replica while DNS caches expire: each client's
    answer is uniformly old within the TTL, so it keeps the address half a TTL on average."""
    return g["rate"] / g["replicas"] * (g["ttl"] if ttl is None else ttl) / 2


def _longest_ttl(g: Given) -> float:
    return float(math.floor(2 * g["budget"] * g["replicas"] / g["rate"] + 1e-9))


def _lease_expiry(g: Given) -> float:
    """Minute the lease expires: the last renewal before the failures began, plus the TTL."""
    every = g["renew_fraction"] * g["ttl"]
    renewals = max(0, math.ceil(g["failure_at"] / every - 1e-9) - 1)
    return renewals * every + g["ttl"]


def _drifted_at(run_interval: float, g: Given) -> float:
    return _drifted_share({"drift_interval": g["drift_interval"], "run_interval": run_interval})


def _longest_run_interval(g: Given) -> float:
    """Whole minutes: (R / 2) / (D + R / 2) ≤ target ⇔ R ≤ 2 × target × D / (1 − target)."""
    return float(math.floor(2 * g["target"] * g["drift_interval"] / (1 - g["target"]) + 1e-9))


def _release_failure(days: float, g: Given) -> float:
    """Change failure rate of a release every `days` working days (fresh changes)."""
    changes = g["change_rate"] * days
    return 1 - (1 - g["p"]) ** changes * (1 - g["manual"])


def _longest_release_interval(g: Given) -> float:
    days = 1
    while _release_failure(days + 1, g) <= g["target"]:
        days += 1
    return float(days) if _release_failure(days, g) <= g["target"] else 0.0


def _fewest_engineers(g: Given) -> float:
    work = g["services"] * _operator_hours(g)
    return float(math.ceil(work / (g["utilisation"] * g["engineer_hours"]) - 1e-9))


def _escaped_share(g: Given, preview: bool = True, canary: bool = True) -> float:
    share = g["p"] * (1 - g["test_detection"])
    share *= 1 - g["detection"] if preview else 1
    return share * (1 - g["canary_detection"] if canary else 1)


def _lowest_detection(
    g: Given, days: float = 5.0, tests: bool = True, canary: bool = True
) -> float:
    """Detection at which at most `budget` bad changes a week get past every check."""
    reaching = g["services"] * g["change_rate"] * days * g["p"]
    reaching *= (1 - g["test_detection"]) if tests else 1
    reaching *= (1 - g["canary_detection"]) if canary else 1
    return 1 - g["budget"] / reaching


def _escaped_per_week(detection: float, g: Given) -> float:
    changes = g["services"] * g["change_rate"] * 5
    return _escaped_share({**g, "detection": detection}) * changes


def _budget_spent(g: Given) -> float:
    """Share of the window's error budget a steady error ratio spends in `hours`."""
    return g["error_ratio"] * g["hours"] / ((1 - g["slo"]) * g["days"] * 24)


def _servers_for_spike(g: Given) -> float:
    """Fewest servers keeping the spike's busy workers at or under the target share."""
    busy = g["rate"] * g["factor"] * g["service"]
    return math.ceil(busy / (g["workers"] * g["target"]) - 1e-9)


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
            key="00-ex3",
            question="The other way round: four replicas, 1 s of work per request. What is "
            "the most traffic, in requests per second, they can take with the mean wait at "
            "or below 0.5 s?",
            expected=_highest_rate,
            relative=0.02,
            defaults={"servers": 4, "service": 1.0, "goal": 0.5},
            mistakes=(
                Mistake(
                    lambda g: g["servers"] / g["service"] * g["goal"] / (g["goal"] + g["service"]),
                    "That is one M/M/1 queue per replica (ρ / (1 − ρ) × E[S] = goal). Four "
                    "workers share one queue here, which waits far less at the same ρ: use "
                    "Erlang C.",
                ),
                Mistake(
                    lambda g: g["servers"] - g["service"] / g["goal"],
                    "E[S] / (c − a) = goal is the wait of a request that does wait. Only a "
                    "share C(c, a) of the requests waits at all, so more traffic fits.",
                ),
            ),
            too_low=lambda v, g: (
                f"At {v:g} requests/s {_wait_at_rate(v, g)}: below the {g['goal']:g} s "
                "goal, so the replicas can take more."
            ),
            too_high=lambda v, g: (
                f"At {v:g} requests/s {_wait_at_rate(v, g)}: above the {g['goal']:g} s "
                "goal. Try `simulator.theory.mmc(rate, 1.0, 4).wait_mean` for lower rates."
            ),
            why="The hockey stick read sideways: half a second of mean wait, half the service "
            "time, comes at about 75% busy on four workers. An SLO on waiting sets the "
            "utilisation a team can plan for, and it is well below 100%.",
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
            key="01-ex2",
            question="The same page renders from the first 19 of its N = 20 answers "
            "(`wait_for: 19`). Each answer is slow with probability p = 1%, independently. "
            "What share of pages is still slow (at least two slow answers)?",
            expected=_two_or_more,
            relative=0.05,
            defaults={"p": 0.01, "n": 20},
            mistakes=(
                Mistake(
                    lambda g: 1 - (1 - g["p"]) ** (g["n"] - 1),
                    "That is a page that waits for all of 19 calls. This page makes 20 calls "
                    "and drops whichever is slowest: it is slow only if two or more are.",
                ),
                Mistake(
                    lambda g: g["n"] * (g["n"] - 1) / 2 * g["p"] ** 2,
                    "Close: C(N, 2) × p² counts the pairs of slow answers, which over-counts "
                    "pages with three or more. Take 1 − P(none slow) − P(exactly one slow).",
                ),
            ),
            too_low="Too low: with 20 answers, two slow ones in the same page are rare but "
            "not that rare. P(exactly one slow) = N × p × (1 − p)^(N − 1).",
            too_high="Too high: one slow answer no longer makes the page slow; it takes two. "
            "Subtract the pages with exactly one slow answer too.",
            why="1 − (1 − p)^N − N p (1 − p)^(N − 1): dropping the slowest answer makes a slow "
            "page about ten times rarer, because two slow answers in one page are a p² event. "
            "The table below measures it, and the price: no page has all 20 answers.",
        ),
        Exercise(
            key="01-ex3",
            question="Design the homepage's own pool at the lowest cost: 10 pages per second, "
            "each holding a worker for 20 ms on average (exponential), one queue in front "
            "of all the workers. What is the fewest workers that keep the share of pages "
            "that wait for a worker at or below 1%?",
            expected=lambda g: _fewest_for_share(g, per="per_worker"),
            integer=True,
            defaults={"rate": 10.0, "service": 0.02, "goal": 0.01, "per_worker": 1.0},
            too_low=lambda v, g: (
                f"With {int(v)} worker(s) {_share_at(v, g, per='per_worker')}: more than "
                f"{g['goal']:.0%}. Check with `simulator.theory.erlang_c(c, a)`."
            ),
            too_high=lambda v, g: (
                f"Fewer than {int(v)} workers already keep the share that waits at or below "
                f"{g['goal']:.0%}: the rest is capacity you pay for and do not need."
            ),
            why="The homepage brings a fifth of a worker's worth of load, and a handful of "
            "workers make waiting for one rare. The split gave the homepage path far more: "
            "what fixed its latency was a line of its own, not the number of workers in it.",
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
            key="02-ex2",
            question="The HPA leaves the replicas alone until their busy share passes the "
            "target by more than its tolerance (10%). At the 0.85 target, by what factor can "
            "the traffic grow from the moment the HPA first acts until the replicas it had "
            "are 100% busy?",
            expected=lambda g: 1 / (g["target"] * (1 + g["tolerance"])),
            relative=0.01,
            defaults={"target": 0.85, "tolerance": 0.1},
            mistakes=(
                Mistake(
                    lambda g: 1 / g["target"],
                    "The HPA does not act at the target itself: it ignores busy shares "
                    "within the tolerance, so it first acts above target × (1 + tolerance).",
                ),
                Mistake(
                    lambda g: g["target"] * (1 + g["tolerance"]),
                    "That is the busy share at which the HPA first acts. The question asks "
                    "how much more traffic fits from there before the replicas are full.",
                ),
                Mistake(
                    lambda g: 1 / (g["target"] * (1 - g["tolerance"])),
                    "The tolerance works both ways, but a scale-up needs the busy share to "
                    "be ABOVE the target by more than it.",
                ),
            ),
            too_low="Too low: divide 100% busy by the busy share at which the HPA first acts.",
            too_high="Too high: the HPA acts only once the replicas are busier than the "
            "target plus its tolerance; the headroom is what is left above that.",
            why="1 / (target × (1 + tolerance)): at 0.85 the traffic can grow by only a few "
            "percent before the replicas saturate, far less than at 0.6. That headroom is "
            "the time the autoscaler has to bring new replicas, and nodes, into service.",
        ),
        Exercise(
            key="02-ex3",
            question="Design fixed capacity for the peak at the lowest cost: 40 requests per "
            "second of 0.4 s each, replicas of 4 workers, and the SLO for this exercise: at "
            "most 5% of the requests wait for a worker (treat all the replicas' workers as "
            "one pool, Erlang C). What is the fewest replicas that meet it?",
            expected=_fewest_for_share,
            integer=True,
            defaults={"rate": 40.0, "service": 0.4, "per_replica": 4.0, "goal": 0.05},
            mistakes=(
                Mistake(
                    lambda g: float(math.ceil(g["rate"] * g["service"] / g["per_replica"])),
                    "That many replicas would be 100% busy at the peak: the queue never "
                    "drains. The workers must exceed the offered load, and by a margin.",
                ),
            ),
            too_low=lambda v, g: (
                f"With {int(v)} replicas {_share_at(v, g)} at the peak: more than "
                f"{g['goal']:.0%}. Check with `simulator.theory.erlang_c(c, a)`."
            ),
            too_high=lambda v, g: (
                f"Fewer than {int(v)} replicas already meet the {g['goal']:.0%} goal at the "
                "peak: the rest is capacity paid for all day and never needed."
            ),
            why="A pool of many workers runs busier for the same waiting than a small one "
            "(Erlang C), so the peak needs only a few workers beyond its offered load. Paid "
            "for all day, that is still far more than the quiet hours need: the case for "
            "elastic capacity.",
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
            key="03-ex2",
            question="A multi-path scheduler gives batch jobs a fast path: 0.1 s + 5 ms per "
            "task, with 100 tasks, every 10 s. Service jobs (every 20 s, 10 tasks) take "
            "t_job + 5 ms per task. Both share the one scheduler. At what service t_job, in "
            "seconds, does it saturate?",
            expected=_multi_path_t_job,
            relative=0.01,
            defaults={
                "batch_rate": 0.1,
                "service_rate": 0.05,
                "t_batch": 0.1,
                "batch_tasks": 100.0,
                "service_tasks": 10.0,
                "t_task": 0.005,
            },
            mistakes=(
                Mistake(
                    lambda g: 1 / g["service_rate"],
                    "That is the service jobs alone. The batch decisions take their share of "
                    "the same scheduler's time first.",
                ),
                Mistake(
                    lambda g: (1 - g["batch_rate"] * g["t_batch"]) / g["service_rate"],
                    "A batch decision is not 0.1 s: each of its tasks adds 5 ms too.",
                ),
                Mistake(
                    _single_path_t_job,
                    "That is single-path, where batch jobs take the slow path too. Here only "
                    "service jobs do.",
                ),
            ),
            too_low="Too low: at that t_job the scheduler still has idle time. Batch decisions "
            "take a fixed share of its time; service decisions may fill the rest.",
            too_high="Too high: the batch share plus 0.05 jobs/s × (t_job + 10 × 5 ms) is "
            "already above 1 there.",
            why="Batch decisions take 0.1/s × 0.6 s of the scheduler's time; service "
            "decisions may take the rest: 0.05/s × (t_job + 0.05 s) = 1 − 0.06. The fast path "
            "moves saturation out, but the batch jobs still queue behind every slow service "
            "decision (head-of-line blocking).",
        ),
        Exercise(
            key="03-ex3",
            question="Shared-state, batch jobs 16× as often as the example's (one every 10 s), "
            "each decision 0.1 s + 100 tasks × 5 ms. Design at the lowest cost: what is the "
            "fewest batch schedulers, the work split evenly, that keep each at or below 60% "
            "busy?",
            expected=_schedulers_for,
            integer=True,
            defaults={
                "factor": 16.0,
                "batch_rate": 0.1,
                "t_batch": 0.1,
                "batch_tasks": 100.0,
                "t_task": 0.005,
                "goal": 0.6,
            },
            mistakes=(
                Mistake(
                    lambda g: 1.0,
                    "One scheduler would be below 100% busy, so it keeps up, but nearly "
                    "saturated: its queue, and the jobs' wait, would be long.",
                ),
            ),
            too_low="Too low: busyness per scheduler = jobs per second × decision time / "
            "schedulers; with that many it is above the goal.",
            too_high="Too high: fewer schedulers already meet the goal, and every extra one "
            "races the others for the same free nodes (more conflicts).",
            why="16 × 0.1 jobs/s × 0.6 s = 0.96 of one scheduler's time, split evenly over the "
            "fewest schedulers that bring it under the goal. The sweep shows them a little "
            "busier than that: conflicts send some jobs round again. Omega's parallel "
            "schedulers buy latency with conflicts, so add only as many as the load needs.",
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
            key="04-ex2",
            question="SkyDNS with a TTL of 60 s. `users` has 4 replicas and gets 10 requests "
            "per second; each client's cached answer is, at any moment, uniformly old within "
            "the TTL, and a client spreads its requests evenly over the addresses it knows. "
            "One replica is scaled in. How many requests (first attempts, on average) still "
            "go to the removed replica?",
            expected=_stale_requests,
            relative=0.05,
            defaults={"rate": 10.0, "replicas": 4.0, "ttl": 60.0},
            mistakes=(
                Mistake(
                    lambda g: g["rate"] / g["replicas"] * g["ttl"],
                    "That counts a whole TTL for every client. A cached answer is on average "
                    "half a TTL old when the change happens, so it expires half a TTL later.",
                ),
                Mistake(
                    lambda g: g["rate"] * g["ttl"] / 2,
                    "That sends every request to the removed replica. A client that has not "
                    "learned still spreads its requests over all the addresses it knows.",
                ),
                Mistake(
                    lambda g: g["rate"] / (g["replicas"] - 1) * g["ttl"] / 2,
                    "The client still knows the old list, removed replica included: it sends "
                    "the removed one its share of the old list, not of the new one.",
                ),
            ),
            too_low="Too low: requests per second × the removed replica's share × how long "
            "a client keeps its cached answer on average.",
            too_high="Too high: clients re-resolve at uniformly spread times, so on average "
            "one keeps the old answer for only part of the TTL.",
            why="rate / replicas × TTL / 2: the staleness of DNS is the TTL, and the damage is "
            "linear in it. Halve the TTL and half the requests go astray; the price is twice "
            "the lookups. The run below counts retries too (the `api` retries a stale visit "
            "once), so it lands a little above.",
        ),
        Exercise(
            key="04-ex3",
            question="Design: the DNS servers' load is one lookup per client per TTL, so the "
            "longer the TTL the cheaper. A scale-in may send at most 50 requests (first "
            "attempts) to the removed replica of `users` (4 replicas, 10 requests per "
            "second). What is the longest TTL, in whole seconds, that meets this budget?",
            expected=_longest_ttl,
            integer=True,
            defaults={"rate": 10.0, "replicas": 4.0, "budget": 50.0},
            mistakes=(
                Mistake(
                    lambda g: float(math.floor(g["budget"] * g["replicas"] / g["rate"])),
                    "That TTL meets the budget, but a longer one would too: a client keeps its "
                    "cached answer half a TTL on average, not a whole one.",
                ),
                Mistake(
                    lambda g: float(math.floor(2 * g["budget"] / g["rate"])),
                    "That sends every request of a stale client to the removed replica; only "
                    "its share of the old address list goes there.",
                ),
            ),
            too_low="That TTL meets the budget, but a longer one would too, with fewer "
            "lookups: solve rate / replicas × TTL / 2 ≤ budget for the TTL.",
            too_high=lambda v, g: (
                f"With a TTL of {v:g} s about {_stale_requests(g, v):.1f} requests would go to "
                f"the removed replica: over the budget of {g['budget']:g}."
            ),
            why="TTL ≤ 2 × budget × replicas / rate. Every DNS-based design is this trade: "
            "lookups (cost) against the time a client may believe something false. Consul "
            "answers with TTL 0 and pays with a lookup per connection; the load balancer "
            "with a watch pays with a long-lived connection to etcd.",
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
            key="05-ex2",
            question="A Vault lease with a TTL of 60 minutes, renewed at two thirds of it "
            "(the first renewal 40 minutes after it was issued at 0). From minute 50 on, "
            "every renewal fails. At what minute does the service's credential stop working?",
            expected=_lease_expiry,
            absolute=0.5,
            defaults={"ttl": 60.0, "renew_fraction": 2 / 3, "failure_at": 50.0},
            mistakes=(
                Mistake(
                    lambda g: g["failure_at"] + g["ttl"],
                    "The lease's clock did not restart when the renewals began to fail: it "
                    "runs from the last renewal that worked.",
                ),
                Mistake(
                    lambda g: _lease_expiry(g) + g["renew_fraction"] * g["ttl"],
                    "The renewal due after the failures began fails too: it does not extend "
                    "the lease.",
                ),
                Mistake(
                    lambda g: _lease_expiry(g) - g["ttl"] + g["renew_fraction"] * g["ttl"],
                    "A failed renewal does not end the lease: the credential keeps working "
                    "until the TTL of the last good renewal runs out.",
                ),
                Mistake(
                    lambda g: g["failure_at"],
                    "Nothing breaks when a renewal fails: the lease in hand is still valid.",
                ),
            ),
            too_low="Too low: find the last renewal that worked; the credential lives a "
            "whole TTL after it.",
            too_high="Too high: only renewals before the failures began extend the lease.",
            why="The last good renewal plus the TTL. A failed renewal is silent until the "
            "lease expires, which is why Vault's clients must alert on renewal errors, not "
            "on expiry: the warning time is what is left of the lease.",
        ),
        Exercise(
            key="05-ex3",
            question="Design: every Chef run costs each host CPU and the Chef server a "
            "converge, so the fewer runs the cheaper. Hosts drift once an hour on average. "
            "What is the longest converge interval, in whole minutes, that keeps the "
            "drifted share of host-time at or below 10%?",
            expected=_longest_run_interval,
            integer=True,
            defaults={"drift_interval": 60.0, "target": 0.1},
            mistakes=(
                Mistake(
                    lambda g: float(math.floor(2 * g["target"] * g["drift_interval"] + 1e-9)),
                    "That interval meets the target, but a longer one would too: the drifted "
                    "share is fix time over the whole cycle (drift time + fix time), not over "
                    "the drift time alone.",
                ),
                Mistake(
                    lambda g: float(math.floor(g["target"] * g["drift_interval"] + 1e-9)),
                    "That interval meets the target, but a longer one would too: a drifted "
                    "host waits half a converge interval on average, not a whole one.",
                ),
            ),
            too_low="That interval meets the target, but a longer one would too, with fewer "
            "runs: solve (R / 2) / (D + R / 2) ≤ target for R.",
            too_high=lambda v, g: (
                f"Every {v:g} minutes the hosts spend {_drifted_at(v, g):.1%} of their time "
                f"drifted: above the {g['target']:.0%} target."
            ),
            why="R ≤ 2 × target × D / (1 − target), rounded down. Halving the drifted share "
            "about halves the interval and so doubles the runs: convergence buys correctness "
            "with load, linearly. Immutable configuration leaves nothing to converge.",
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
            key="06-ex2",
            question="Read the cumulative-flow diagram: on average 150 changes are in flight "
            "(committed, not yet in production). Ten services commit 2 changes each per "
            "working day, 5 working days a week. What is the mean lead time, in calendar "
            "days (Little's law)?",
            expected=lambda g: g["wip"] / (g["services"] * g["change_rate"] * 5 / 7),
            relative=0.03,
            defaults={"wip": 150.0, "services": 10.0, "change_rate": 2.0},
            mistakes=(
                Mistake(
                    lambda g: g["wip"] / (g["services"] * g["change_rate"]),
                    "That divides by the commits of a working day, but the lead time runs on "
                    "calendar days, weekends included: use the commits per calendar day.",
                ),
                Mistake(
                    lambda g: g["wip"] / (g["services"] * g["change_rate"] * 5),
                    "That is in weeks: the question asks for days.",
                ),
                Mistake(
                    lambda g: g["services"] * g["change_rate"] * 5 / 7 / g["wip"],
                    "Upside down: Little's law says work in flight = throughput × time in "
                    "flight, so the time is work in flight / throughput.",
                ),
            ),
            too_low="Too low: L = λ × W, so W = L / λ with λ the changes committed per "
            "calendar day.",
            too_high="Too high: check the throughput, every service's commits per calendar "
            "day, weekends included.",
            why="W = L / λ: the vertical gap of the diagram divided by the slope of its "
            "lines is the horizontal gap. Little's law holds for any process that is "
            "stable, which is why the diagram's two gaps always tell the same story.",
        ),
        Exercise(
            key="06-ex3",
            question="Design: every release costs an operator a manual deploy, so the fewer "
            "releases the cheaper. Each service commits 2 changes per working day, each bad "
            "with probability 5%, and a manual deploy breaks something by itself 5% of the "
            "time. What is the longest release interval, in whole working days, that keeps "
            "the change failure rate at or below 25%?",
            expected=_longest_release_interval,
            integer=True,
            defaults={"p": 0.05, "manual": 0.05, "change_rate": 2.0, "target": 0.25},
            mistakes=(
                Mistake(
                    lambda g: _longest_release_interval({**g, "change_rate": 1.0}),
                    "That counts one change per working day; each day brings every service "
                    "its `change_rate` changes, and all of them wait for the same release.",
                ),
            ),
            too_low="That interval meets the target, but a longer one would too, with fewer "
            "manual deploys: find the largest batch with 1 − (1 − p)^n × (1 − manual) within "
            "the target.",
            too_high=lambda v, g: (
                f"A release every {v:g} working days batches {g['change_rate'] * v:g} changes "
                f"per service: {_release_failure(v, g):.0%} of releases would fail, above the "
                f"{g['target']:.0%} target."
            ),
            why="The failure rate grows with the batch, 1 − (1 − p)^n × (1 − manual): the "
            "target sets the largest batch, and the commit rate turns it into days. This is "
            "the arithmetic behind daily releases, and behind the pipeline's one change per "
            "release.",
        ),
        Exercise(
            key="07-ex1",
            question="A team's expected operator work per service per week is given below "
            "(deploys, toil, incidents, in hours), and the team's working hours per week. If "
            "the team does not grow, at how many services is it busy all its working hours "
            "(ρ = 1)?",
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
            key="07-ex2",
            question="Treat a sysadmin as one server with a queue of tickets (M/M/1): busy "
            "80% of the working time, a ticket takes 2 working hours on average. How long "
            "does a ticket wait in the queue, in working hours, before the sysadmin starts "
            "on it?",
            expected=lambda g: g["utilisation"] / (1 - g["utilisation"]) * g["service_hours"],
            relative=0.03,
            defaults={"utilisation": 0.8, "service_hours": 2.0},
            mistakes=(
                Mistake(
                    lambda g: g["service_hours"] / (1 - g["utilisation"]),
                    "That is the time in the system, the wait and the work itself. The "
                    "question asks for the wait before the work starts.",
                ),
                Mistake(
                    lambda g: g["utilisation"] / (1 - g["utilisation"]),
                    "That is the wait in units of the work's mean time: multiply by the "
                    "hours a ticket takes.",
                ),
                Mistake(
                    lambda g: g["utilisation"] * g["service_hours"],
                    "That is the mean work left in front of a ticket if nobody queued; in a "
                    "queue tickets bunch up, and the wait grows as 1 / (1 − ρ).",
                ),
            ),
            too_low="Too low: at this utilisation tickets bunch up; the M/M/1 wait is "
            "ρ / (1 − ρ) × the mean work per ticket.",
            too_high="Too high: that is more than M/M/1 gives, ρ / (1 − ρ) × the mean work "
            "per ticket.",
            why="W_q = ρ / (1 − ρ) × E[S]: 00-quickstart's hockey stick with a person as the "
            "server. At ρ = 0.9 the wait doubles again, long before the sysadmin is 'full': "
            "a team is overloaded when its queue is, not when its week is.",
        ),
        Exercise(
            key="07-ex3",
            question="Design: engineers are the cost. The DevOps team must run 50 services, "
            "each costing the operator hours per week given below, and its utilisation must "
            "stay at or below 80% (so tickets do not queue for days). Each engineer works "
            "the hours per week given below. What is the fewest engineers that does it?",
            expected=_fewest_engineers,
            integer=True,
            defaults={
                "deploy_hours": 2.0,
                "toil_hours": 1.0,
                "incident_hours": 0.5,
                "engineer_hours": 40.0,
                "services": 50.0,
                "utilisation": 0.8,
            },
            mistakes=(
                Mistake(
                    lambda g: float(
                        math.ceil(g["services"] * _operator_hours(g) / g["engineer_hours"])
                    ),
                    "That fills every engineer's week (ρ = 1), where the queue grows without "
                    "end. Divide by the hours each may be busy: utilisation × working hours.",
                ),
            ),
            too_low=lambda v, g: (
                f"{v:g} engineers would be "
                f"{g['services'] * _operator_hours(g) / (v * g['engineer_hours']):.0%} busy, "
                f"above the {g['utilisation']:.0%} target."
                if v > 0
                else "A team needs at least one engineer."
            ),
            too_high="Fewer engineers already stay within the target: the cheapest team is "
            "⌈services × hours per service / (utilisation × hours per engineer)⌉.",
            why="⌈n × hours per service / (ρ_target × hours per engineer)⌉. The team grows "
            "in proportion to the services at fixed hours per service: only tooling that "
            "shrinks the hours per service (the SRE era's pipelines and scheduler) breaks "
            "that line.",
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
            "every change is a small line next to the salaries. But it is a line added to the "
            "bill: whether it pays depends on what it saves, which the sections below weigh.",
        ),
        Exercise(
            key="08-ex2",
            question="A bad change meets the tests (they catch 50%), the preview (it catches "
            "50% of what is left), then the canary (70% of what reaches it). One change in "
            "ten is bad. What share of all changes gets past every check and reaches every "
            "user?",
            expected=_escaped_share,
            relative=0.05,
            defaults={"p": 0.1, "test_detection": 0.5, "detection": 0.5, "canary_detection": 0.7},
            mistakes=(
                Mistake(
                    lambda g: _escaped_share(g, preview=False),
                    "That leaves out the preview: it removes its share of what the tests let "
                    "through.",
                ),
                Mistake(
                    lambda g: _escaped_share(g, canary=False),
                    "That is the share that reaches the canary. The canary catches most of "
                    "it before every user sees it.",
                ),
                Mistake(
                    lambda g: _escaped_share(g) / g["p"],
                    "That is the share of the bad changes that escapes; the question asks "
                    "for a share of all changes, and only one in ten is bad.",
                ),
            ),
            too_low="Too low: each check lets through (1 − its detection) of what reaches "
            "it; multiply, starting from the share of bad changes.",
            too_high="Too high: three checks in a row each remove their share; the escaped "
            "share is the product of what each lets through.",
            why="p × (1 − tests) × (1 − preview) × (1 − canary): checks in a chain multiply. "
            "A preview that catches half halves what reaches the canary and the users, "
            "whatever the other checks do; that is its whole benefit.",
        ),
        Exercise(
            key="08-ex3",
            question="Design: a reviewer's attention is the preview's real cost, so the less "
            "detection you need, the cheaper. 30 services commit 2 changes each per working "
            "day (5 a week), one in ten bad; the tests catch 50%, the canary 70% of what "
            "reaches it. What is the lowest preview detection (a share between 0 and 1) that "
            "lets at most 1 bad change a week reach every user?",
            expected=_lowest_detection,
            relative=0.02,
            defaults={
                "services": 30.0,
                "change_rate": 2.0,
                "p": 0.1,
                "test_detection": 0.5,
                "canary_detection": 0.7,
                "budget": 1.0,
            },
            mistakes=(
                Mistake(
                    lambda g: _lowest_detection(g, days=7.0),
                    "Changes are committed on working days only: count 5 days a week.",
                ),
                Mistake(
                    lambda g: _lowest_detection(g, canary=False),
                    "That asks the preview to do the canary's work too: the canary still "
                    "catches its share of what the preview misses.",
                ),
                Mistake(
                    lambda g: _lowest_detection(g, tests=False),
                    "The tests catch their share before the preview sees anything: count "
                    "only what they let through.",
                ),
            ),
            too_low=lambda v, g: (
                f"At detection {v:.0%} about {_escaped_per_week(v, g):.1f} bad changes a week "
                f"would reach every user: over the budget of {g['budget']:g}."
            ),
            too_high="Less detection already keeps the escaped changes within budget: solve "
            "changes a week × p × (1 − tests) × (1 − detection) × (1 − canary) ≤ budget.",
            why="1 − budget / (bad changes a week that pass the tests and would pass the "
            "canary). Whether reviewers reach that detection is the question to measure: "
            "section 5 shows the preview's benefit is proportional to it.",
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
        Exercise(
            key="09-ex2",
            question="A bad version fails 20% of all requests for 2 hours before it is rolled "
            "back, at a steady traffic. The objective is 99.9% of requests over 28 days. What "
            "share of the 28-day error budget did those two hours spend (0.5 for half)?",
            expected=_budget_spent,
            relative=0.02,
            defaults={"error_ratio": 0.2, "hours": 2, "slo": 0.999, "days": 28},
            mistakes=(
                Mistake(
                    lambda g: _budget_spent({**g, "slo": 0.0}),
                    "That compares the failed requests with all the requests of 28 days. The "
                    "budget is only the share 1 − SLO of them that may fail.",
                ),
                Mistake(
                    lambda g: _budget_spent({**g, "error_ratio": 1.0}),
                    "That counts every request of the two hours as failed; only the version's "
                    "error ratio of them failed.",
                ),
            ),
            too_low="Too low: 99.9% leaves a thousandth of 28 days' requests to fail; two "
            "hours of a fifth failing is a large piece of that.",
            too_high="Too high: only a fifth of the two hours' requests failed, and the "
            "budget is a thousandth of 28 days' worth.",
            why="Spent = error ratio × duration / ((1 − SLO) × window): 0.2 × 2 h out of "
            "0.001 × 672 h of allowed failure. One slow rollback can spend most of a month's "
            "budget, which is what an error-budget policy (section 3) is about.",
        ),
        Exercise(
            key="09-ex3",
            question="At the spike's top the blog receives 10 times its normal 4 requests "
            "per second, each needing 400 ms of a worker. The sysadmin's servers have 6 "
            "workers each. What is the fewest servers he should run from the start so that "
            "at the top at most 80% of the workers are busy (no saturation page)?",
            expected=_servers_for_spike,
            integer=True,
            defaults={"rate": 4, "factor": 10, "service": 0.4, "workers": 6, "target": 0.8},
            mistakes=(
                Mistake(
                    lambda g: _servers_for_spike({**g, "factor": 1}),
                    "That sizes for a normal night. The spike multiplies the traffic by its "
                    "factor, and the work with it.",
                ),
                Mistake(
                    lambda g: _servers_for_spike({**g, "target": 1.0}),
                    "That keeps the workers just busy all the time: no room for bursts, and "
                    "the saturation check (and the queue) would fire. Size for the target.",
                ),
            ),
            too_low=lambda v, g: (
                f"With {int(v)} servers the top needs "
                f"{g['rate'] * g['factor'] * g['service'] / (v * g['workers']):.0%} of the "
                "workers: above the target."
            ),
            too_high="Fewer servers already keep the top under the target: you would pay for "
            "machines that idle all month.",
            why="Busy workers = rate × factor × service time (Little's law); servers = "
            "⌈busy / (workers × target)⌉. Sized for the spike, the sysadmin pays for idle "
            "servers every other night of the month: the trade the SRE era's autoscaler "
            "does not have to make. The cell below runs your fleet through the night.",
        ),
    ]
}
"""Every exercise of the course, by key: the notebook's number, then `ex` and its number."""
