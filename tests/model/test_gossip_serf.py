"""Gossip against HashiCorp's own convergence model (issue 15).

Serf's documentation has a "Convergence Simulator" (hashicorp/serf,
website/source/docs/internals/simulator.html.markdown; the formula is in
website/source/assets/javascripts/_simulator.js, `convergenceAtRound`). At Serf's defaults
(200 ms interval, fanout 3) it puts 99.99% convergence at 1.84 s, 2.15 s and 2.46 s for 100,
1,000 and 10,000 agents. The project's gossip (`gossip_spread`: synchronous push rounds,
memberlist's retransmit limit) gets there 18-39% sooner. These tests recompute Serf's
numbers from its formula, measure the gap, and pin down where it comes from: Serf's logistic
curve has a contact rate of fanout/2 per interval, which matches push gossip's early growth
(×(1 + f) = ×4 a round against e^1.5 = ×4.5) but shrinks the last uninformed share by only
e^-1.5 a round where push gossip shrinks it by about e^-3. The 99.99% target lies in that
tail. docs/discovery.md, "Against Serf's convergence simulator", says the same in words.
"""

import math

import numpy as np
import pytest

from simulator.model.discovery.gossip import (
    gossip_spread,
    retransmit_limit,
    serf_convergence,
    serf_convergence_rounds,
)

INTERVAL, FANOUT = 0.2, 3
SIZES = (100, 1_000, 10_000)
PUBLISHED = {100: 1.84, 1_000: 2.15, 10_000: 2.46}
"""Serf's model at its defaults, seconds to 99.99% (the figures issue 15 quotes)."""


def test_serfs_formula_gives_its_published_convergence_times():
    for agents, seconds in PUBLISHED.items():
        rounds = serf_convergence_rounds(agents, FANOUT)
        assert rounds * INTERVAL == pytest.approx(seconds, abs=0.005)
        assert serf_convergence(agents, FANOUT, rounds) == pytest.approx(0.9999)
    # the chart plots whole rounds: its first point at or above 99.99%
    assert [math.ceil(serf_convergence_rounds(n, FANOUT)) for n in SIZES] == [10, 11, 13]
    # loss and failed agents scale the contact rate: 30% loss stretches the time by 1/0.7
    lossy = serf_convergence_rounds(1_000, FANOUT, packet_loss=0.3)
    assert lossy == pytest.approx(serf_convergence_rounds(1_000, FANOUT) / 0.7)


def simulated_rounds(agents: int, share: float, seeds: range) -> np.ndarray:
    """Per seed, the round by which `share` of the agents know (memberlist's retransmit
    limit, no loss)."""
    out = []
    for seed in seeds:
        learned = gossip_spread(
            agents, FANOUT, np.random.default_rng(seed),
            transmissions=retransmit_limit(4, agents),
        )  # fmt: skip
        known = np.sort(learned[np.isfinite(learned)])
        out.append(known[math.ceil(share * agents) - 1])
    return np.array(out, dtype=float)


@pytest.fixture(scope="module")
def rounds_to_converge() -> dict[int, float]:
    return {n: float(simulated_rounds(n, 0.9999, range(10)).mean()) for n in SIZES}


def test_the_project_converges_sooner_than_serfs_model_by_a_shrinking_margin(
    rounds_to_converge,
):
    # Measured (10 seeds): 5.6, 8.1 and 10.1 rounds = 1.12, 1.62 and 2.02 s against Serf's
    # 1.84, 2.15 and 2.46 s: 39%, 25% and 18% sooner. The margin shrinks with N because
    # push gossip needs log_4 N + ln N / 3 rounds (1.05 ln N) and Serf's curve
    # (ln(N + 1) + ln 9999) / 1.5 (0.67 ln N): the two would meet near two million agents.
    ratios = []
    for agents in SIZES:
        ours = rounds_to_converge[agents] * INTERVAL
        ratios.append(ours / PUBLISHED[agents])
    assert 0.55 < ratios[0] < ratios[1] < ratios[2] < 0.9, ratios


def test_the_gap_is_in_the_tail_not_in_the_start():
    # From one agent to half of them the two agree within a round; from half to 99.99% Serf's
    # curve takes ln(9999) / 1.5 = 6.1 rounds, push gossip (simulated) 2 to 4.
    for agents in SIZES:
        half = simulated_rounds(agents, 0.5, range(10)).mean()
        full = simulated_rounds(agents, 0.9999, range(10)).mean()
        serf_half = math.log(agents + 1) / (FANOUT * 0.5)  # 1/(1 + (N+1)e^-kx) = 1/2
        serf_tail = serf_convergence_rounds(agents, FANOUT) - serf_half
        assert abs(half - serf_half) < 1.0, (agents, half, serf_half)
        assert serf_tail == pytest.approx(math.log(9999) / 1.5)
        assert 1.5 < full - half < 4.5 < serf_tail, (agents, full - half, serf_tail)
