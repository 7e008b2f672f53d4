"""The analytic fidelity's speed-ups give the numbers of the straightforward computation,
bit for bit: the gamma wait's far tail filled in, the lattice evaluated for many steps at
once, the flows propagated for every entry point at once, YAML read by libyaml."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy import special

import simulator
from simulator.analytic import latency
from simulator.analytic.flows import compile_model, visits_per_request
from simulator.analytic.run import _distinct_rows
from simulator.errors import ScenarioError
from simulator.scenario import loader
from simulator.scenario.distributions import Exponential, Gamma, LogNormal, Uniform
from simulator.scenario.graph import call_graph, call_lists, expected_visits
from simulator.scenario.limits import Limits, check_yaml_shape
from tests.helpers import SCENARIOS


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("shape", [0.05, 0.7, 1.0, 2.5, 17.0, 400.0])
@pytest.mark.parametrize("scale_points", [0.3, 3.0, 40.0, 2000.0])
def test_the_gamma_waits_tail_is_filled_with_the_bits_it_would_have(shape, scale_points):
    lattice = latency.Lattice(2.0)
    x = lattice.x
    scale = scale_points * lattice.step
    full = latency._gamma_limited(shape, scale, x, x / scale)[0]
    assert same_bits(latency.gamma_limited(shape, scale, x), full)
    rows = lattice.gamma_levels(np.array([shape, 1.3]), np.array([scale, lattice.step]))
    assert same_bits(rows[0], full)


@pytest.mark.parametrize("shape", [0.01, 0.2, 0.5, 0.8, 1.2, 1.7, 2.5, 5.0, 20.0, 100.0, 900.0])
def test_the_gamma_waits_sooner_cut_gives_the_bits_of_every_point(shape):
    """Rows cut where the density term is surely negligible (about 15% fewer points for a
    wait's usual shapes), each against the row evaluated at every point."""
    lattice = latency.Lattice(2.0)
    x = lattice.x
    scales = lattice.step * np.array([0.4, 1.0, 3.0, 11.0, 60.0])
    rows = lattice.gamma_levels(np.full(scales.size, shape), scales)
    for row, scale in zip(rows, scales, strict=True):
        assert same_bits(row, latency._gamma_limited(shape, scale, x, x / scale)[0])


@pytest.mark.parametrize("shape", [0.01, 0.3, 0.7, 1.0, 1.6, 3.0, 10.0, 40.0, 100.0])
def test_past_the_sooner_cut_the_gamma_level_is_exactly_k_theta(shape):
    """Where `gamma_levels` cuts, P(k, y) is 1.0 and the density term at most 2⁻⁵⁴ from
    there on: the check passes and the row is not evaluated again at every point."""
    tail = shape + latency.TAIL_Y + 10.0 * np.sqrt(shape)
    cut = min(tail, latency.DENSITY_Y + shape * np.log(tail) - special.gammaln(shape + 1))
    assert shape < cut <= tail
    y = cut + np.linspace(0.0, 60.0, 3001)
    _, lower, density = latency._gamma_limited(shape, 1.0, y, y)
    assert (lower == 1.0).all()
    assert (density <= 2.0**-54).all()


def fan_out_scenario() -> dict:
    """Fan-outs (all and k of n), calls shared by a batch, per-replica queues, a gamma
    service time and an overloaded hour (a backlog): every node of the lattice."""
    work = {"distribution": "gamma", "mean": "8ms", "cv": 0.7}
    return {
        "name": "lattice",
        "fidelity": "analytic",
        "horizon": "6h",
        "warmup": "30min",
        "analytic": {"representative_steps": 24},
        "services": {
            "edge": {
                "replicas": 4,
                "service_time": work,
                "handler": [
                    {"work": "2ms"},
                    {"parallel": [{"call": "a", "count": 3}, {"call": "b"}]},
                    {"parallel": [{"call": "a"}, {"call": "c"}, {"call": "b"}], "wait_for": 2},
                ],
            },
            "side": {"replicas": 2, "service_time": work, "handler": [{"call": "c"}]},
            "a": {"replicas": 3, "load_balancer": "central-queue", "service_time": work},
            "b": {"replicas": 2, "load_balancer": "round-robin", "service_time": work},
            "c": {
                "replicas": 1,
                "concurrency": 4,
                "service_time": {"distribution": "exponential", "mean": "5ms"},
            },
        },
        "traffic": {
            "edge": {
                "rate": 40,
                "profile": {"profile": "step", "at": "2h", "factor": 3.0, "until": "3h"},
            },
            "side": {"rate": 30, "profile": {"profile": "diurnal", "trough_ratio": 0.3}},
        },
    }


@pytest.mark.parametrize("source", ["fan-out", "scale/sre-1000.yaml"], ids=["fan-out", "sre-1000"])
def test_the_lattice_for_many_steps_at_once_equals_each_step_alone(source):
    """Rows evaluated together (and released as their callers finish) are the numbers of a
    job evaluated on its own, which runs exactly the operations of one step."""
    if source == "fan-out":
        scenario = simulator.load_scenario(fan_out_scenario())
    else:
        scenario = simulator.load_scenario(SCENARIOS / source, ["horizon=2d"])
    captured = {}
    original = latency.lattice_distributions

    def spy(model, steps, jobs):
        captured.update(model=model, steps=steps, jobs=jobs)
        return original(model, steps, jobs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("simulator.analytic.run.lattice_distributions", spy)
        simulator.run(scenario)
    model, steps, jobs = captured["model"], captured["steps"], captured["jobs"]
    together = original(model, steps, jobs)
    children = latency.visit_children(model)
    picks = jobs if source == "fan-out" else jobs[:: max(1, len(jobs) // 12)]
    assert len({step for _, step, _, _ in picks}) > 1
    for service, step, mean, sd in picks:
        span = latency.lattice_span(mean, sd)
        alone = latency._evaluate(
            model, steps, latency.Lattice(span), [(service, step)], children, {}, {}
        )[service, step]
        points, masses = together[service, step]
        if points[-1] == span:  # not widened for its tail
            assert same_bits(masses, alone), (service, step)


def test_flows_for_every_entry_at_once_equal_expected_visits():
    scenario = simulator.load_scenario(SCENARIOS / "scale/sre-1000.yaml")
    graph = call_graph(scenario)
    rows = [expected_visits(graph, entry) for entry in scenario.traffic]
    expected = np.array([[row[name] for name in scenario.services] for row in rows])
    assert same_bits(visits_per_request(scenario), expected)
    assert same_bits(visits_per_request(scenario, call_lists(scenario.services)), expected)
    assert same_bits(compile_model(scenario).visits_per_request, expected)


def test_distinct_rows_are_exact_and_in_order():
    rng = np.random.default_rng(3)
    base = rng.random((40, 7))
    values = base[rng.integers(0, 40, 500)]
    found = _distinct_rows(values)
    _, first = np.unique(values, axis=0, return_index=True)
    assert same_bits(found, values[np.sort(first)])
    assert len(_distinct_rows(np.zeros((5, 0)))) <= 1


def test_libyaml_reads_the_same_data_and_errors_stay_the_pure_python_ones():
    text = (SCENARIOS / "scale/sre-1000.yaml").read_text()
    assert loader._load_yaml(text) == yaml.load(text, Loader=loader._StrictLoader)
    for bad in ("a: 1\na: 2\n", "a: [1, 2\n", "a:\n\t- 1\n", "a: \x07\n", "- &x [1]\n- *y\n"):
        with pytest.raises(yaml.YAMLError) as fast:
            loader._load_yaml(bad)
        with pytest.raises(yaml.YAMLError) as slow:
            yaml.load(bad, Loader=loader._StrictLoader)
        assert str(fast.value) == str(slow.value)
    deep = "a: " + "[" * 70 + "]" * 70 + "\n"
    with pytest.raises(ScenarioError, match="nested deeper than 64 levels at line 1"):
        check_yaml_shape(deep, "deep.yaml", Limits())


def test_one_pass_over_the_events_reads_the_same_data_or_leaves_the_text_to_the_full_path():
    text = (SCENARIOS / "scale/sre-1000.yaml").read_text()
    limits = Limits()
    plain = [
        text,
        "a: 1\nb: [1, 2.5, .inf, -.nan, yes, no, ~, null, 0x1f, 1_000, 2026-01-01, 3.6/s]\n",
        "a: 'x'\nb: \"y\"\nc: |\n  text\nd: >\n  folded\ne:\n",
        "a:\n  - b: 1\n    c: [x, {y: z}]\n  - []\n  - {}\n",
        "just a scalar",
    ]
    for case in plain:
        got = loader._load_plain(case, limits)
        assert got is not loader._FULL, case
        assert repr(got) == repr(loader._load_yaml(case)), case
    full = [
        "a: &x 1\nb: *x\n",  # anchors and aliases
        "a: !!str 1\n",  # tags
        "<<: {a: 1}\n",  # merge keys
        "a: 1\na: 2\n",  # duplicate keys: the full path says where
        "1: a\ntrue: b\n",
        "? [a]\n: 1\n",  # a collection as a key
        "a: [1, 2\n",  # malformed
        "---\na: 1\n---\nb: 2\n",
        "",
        "a: " + "[" * 70 + "]" * 70 + "\n",  # deeper than max_depth
        "a: \x07\n",
    ]
    for case in full:
        assert loader._load_plain(case, limits) is loader._FULL, case
    few = Limits(max_nodes=5)
    assert loader._load_plain("[1, 2, 3, 4]", few) is not loader._FULL
    assert loader._load_plain("[1, 2, 3, 4, 5]", few) is loader._FULL


def test_one_pass_reads_every_shipped_yaml_file_as_the_full_path_does():
    """Every YAML file of the project (scenarios, presets, the site's): the same data from
    the one pass, or the text left to the full path."""
    files = sorted(SCENARIOS.parent.glob("**/*.yaml"))
    files = [f for f in files if ".venv" not in f.parts and "node_modules" not in f.parts]
    assert len(files) > 40
    read = 0
    for path in files:
        text = path.read_text()
        got = loader._load_plain(text, Limits())
        if got is not loader._FULL:
            read += 1
            assert repr(got) == repr(loader._load_yaml(text)), path
    assert read > 40


def test_a_call_made_once_is_the_formula_to_the_bit():
    rng = np.random.default_rng(6)
    made = rng.normal(size=4000) + 1j * rng.normal(size=4000)
    for value in (0.0, -0.0):
        made.real[rng.random(made.size) < 0.05] = value
        made.imag[rng.random(made.size) < 0.05] = value
    made[:4] = [0.0, complex(-0.0, -0.0), complex(0.0, -0.0), complex(-0.0, 1.0)]
    for spectrum in (made, made[:3000].reshape(3, 1000), np.append(made, np.nan)):
        expected = latency._first_power(1 - 1.0 + 1.0 * spectrum)
        assert same_bits(latency._made_once(spectrum), expected)


def test_the_first_power_of_a_spectrum_is_numpys():
    rng = np.random.default_rng(5)
    base = rng.normal(size=4000) + 1j * rng.normal(size=4000)
    for value in (0.0, -0.0, np.nan, np.inf, -np.inf):
        base.real[rng.random(base.size) < 0.05] = value
        base.imag[rng.random(base.size) < 0.05] = value
    base[:3] = [0.0, complex(-0.0, -0.0), complex(0.0, -0.0)]
    assert same_bits(latency._first_power(base), base**1)
    rows = base[:3000].reshape(3, 1000)
    assert same_bits(latency._first_power(rows), rows**1)


def general_wait_masses(lattice, waiting, shape, scale):
    """A wait's masses the general way: every row's levels at every point, `from_levels`."""
    levels = np.empty((shape.size, lattice.x.size))
    exponential = shape == 1.0
    if exponential.any():
        levels[exponential] = latency._exponential_levels(scale[exponential][:, None], lattice.x)
    if not exponential.all():
        levels[~exponential] = lattice.gamma_levels(shape[~exponential], scale[~exponential])
    masses = lattice.from_levels(levels)
    np.multiply(waiting[:, None], masses, out=masses)
    masses[:, 0] += 1 - waiting
    return masses


@pytest.mark.parametrize("span", [0.25, 2.0, 64.0])
@pytest.mark.parametrize("seed", range(4))
def test_a_waits_masses_from_the_levels_head_are_those_of_every_point(span, seed):
    """`Lattice.wait_masses` (each row's levels only up to its cut, masses summed over a
    block of the row) against the levels at every point and `from_levels`: exponential and
    gamma rows, waits short and long beside the lattice (up to rows evaluated at every
    point), one row or many."""
    rng = np.random.default_rng(seed)
    lattice = latency.Lattice(span)
    for rows in (1,) * 100 + (3, 17):  # alone, a row's rounding may leave mass for the end
        shape = np.where(rng.random(rows) < 0.5, 1.0, rng.uniform(0.2, 3.0, rows))
        scale = lattice.step * 10.0 ** rng.uniform(-1.0, 3.5 if rows > 1 else 2.5, rows)
        waiting = rng.uniform(1e-6, 1.0, rows)
        waiting[0] = 1.0 if rows > 1 else waiting[0]
        fast = lattice.wait_masses(waiting, shape, scale)
        assert same_bits(fast, general_wait_masses(lattice, waiting, shape, scale)), rows


def test_a_rows_cut_found_by_search_is_the_count_of_divided_points():
    """`_count_below` (a search of x for limit·θ, corrected) against dividing every point,
    also for limits that fall exactly on a point's quotient; None where not finite."""
    rng = np.random.default_rng(3)
    x = latency.Lattice(2.0).x
    scale = x[1] * 10.0 ** rng.uniform(-2.0, 4.0, 2000)
    limit = rng.uniform(0.0, 80.0, 2000)
    exact = rng.integers(0, x.size, 500)
    limit[:500] = x[exact] / scale[:500]  # on a quotient: that point is not below
    limit[500:510] = np.nextafter(limit[:10], np.inf)
    expected = (x[None, :] / scale[:, None] < limit[:, None]).sum(axis=1)
    found = latency._count_below(x, scale, limit)
    assert found is not None
    assert (found == expected).all()
    assert latency._count_below(x, np.array([1.0, np.inf]), np.array([1.0, 2.0])) is None


def every_point_from_levels(lattice, lev):
    """`Lattice.from_levels` as it was: the maximum and the total over every point."""
    h = lattice.step
    masses = np.zeros((*lev.shape[:-1], lattice.points))
    flat = lev.reshape(-1, lev.shape[-1])
    changing = np.flatnonzero((flat != flat[:, -1:]).any(axis=0))
    m = min(int(changing[-1]) + 2, lattice.points) if changing.size else 1
    masses[..., 0] = 1.0 - lev[..., 1] / h
    masses[..., 1:m] = (2 * lev[..., 1:m] - lev[..., : m - 1] - lev[..., 2 : m + 1]) / h
    np.maximum(masses, 0.0, out=masses)
    rest = 1.0 - masses.sum(axis=-1)
    masses[..., -1] += np.where(rest > 0.0, rest, 0.0)
    return masses


@pytest.mark.parametrize("seed", range(3))
def test_masses_from_levels_are_those_summed_over_every_point(seed):
    """Work and network distributions of every kind (one row), and rows of them, short and
    long beside the lattice: `from_levels` sums a row over a block of it, the same bits."""
    rng = np.random.default_rng(seed)
    lattice = latency.Lattice(1.0)
    kinds = [
        lambda mean, cv: Exponential(mean=mean),
        lambda mean, cv: Gamma(mean=mean, cv=cv),
        lambda mean, cv: LogNormal(mean=mean, cv=cv),
        lambda mean, cv: Uniform(mean=mean, cv=min(cv, 0.5)),
    ]
    rows = []
    for _ in range(200):
        make = kinds[int(rng.integers(len(kinds)))]
        dist = make(float(lattice.step * 10.0 ** rng.uniform(-0.5, 3.0)), rng.uniform(0.1, 2.0))
        rows.append(latency.limited_expectation(dist, lattice.x))
        assert same_bits(lattice.from_levels(rows[-1]), every_point_from_levels(lattice, rows[-1]))
    for group in (np.array(rows[:5]), np.array(rows[5:6]), np.array(rows[::7])):
        assert same_bits(lattice.from_levels(group), every_point_from_levels(lattice, group))


@pytest.mark.parametrize(
    "shape", [(1025,), (1, 1025), (7, 1025), (1, 5), (7, 1), (3, 7, 1025), (), (2, 1024)]
)
@pytest.mark.parametrize("into", [(1025,), (1, 1025), (7, 1025)])
def test_a_product_is_made_in_place_only_where_it_keeps_its_shape(shape, into):
    """`_fits` (a sequence's product taken in place) never says yes where numpy's
    broadcasting would change the shape, or fail."""
    try:
        keeps = np.broadcast_shapes(into, shape) == into
    except ValueError:
        keeps = False
    assert not latency._fits(shape, into) or keeps
    if shape in ((1025,), into):
        assert latency._fits(shape, into)


@pytest.fixture(scope="module")
def lattice_jobs():
    """The model, steps and lattice jobs of the fan-out scenario and of sre-1000 over two
    days, as `run` hands them to `lattice_distributions`."""
    found = {}
    original = latency.lattice_distributions
    for source in ("fan-out", "scale/sre-1000.yaml"):
        if source == "fan-out":
            scenario = simulator.load_scenario(fan_out_scenario())
        else:
            scenario = simulator.load_scenario(SCENARIOS / source, ["horizon=2d"])

        def spy(model, steps, jobs, source=source):
            found[source] = (model, steps, jobs)
            return original(model, steps, jobs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("simulator.analytic.run.lattice_distributions", spy)
            simulator.run(scenario)
    return found


@pytest.mark.parametrize("budget", [2**20, latency.PREPARED_BYTES])
@pytest.mark.parametrize("source", ["fan-out", "scale/sre-1000.yaml"], ids=["fan-out", "sre-1000"])
def test_waits_computed_ahead_are_those_computed_station_by_station(lattice_jobs, source, budget):
    """`LatticeEvaluator._prepare` (every wait a lattice needs, grouped by reach) against
    each station's wait computed as its visit asks (no bytes for computing ahead), and
    with a budget that holds only some of them: the same masses, bit for bit."""
    model, steps, jobs = lattice_jobs[source]
    original = latency.lattice_distributions
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latency, "PREPARED_BYTES", budget)
        ahead = original(model, steps, jobs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latency, "PREPARED_BYTES", -1)
        one_by_one = original(model, steps, jobs)
    assert ahead.keys() == one_by_one.keys()
    for job, (points, masses) in one_by_one.items():
        assert same_bits(ahead[job][0], points) and same_bits(ahead[job][1], masses), job
