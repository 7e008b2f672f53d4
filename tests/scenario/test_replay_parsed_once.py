"""A replay profile's CSV is parsed once per text: every entry point of a fleet that replays
one file shares the parsed rows (a thousand-service fleet validates a hundred of them on each
load), and a file that changed is parsed again, never served from before."""

from __future__ import annotations

from simulator.scenario.loader import load_scenario

TWO_ENTRIES = (
    "services: {api: {}, web: {}}\n"
    "traffic:\n"
    "  api: {profile: {profile: replay, file: rates.csv}}\n"
    "  web: {profile: {profile: replay, file: rates.csv, scale: 2}}\n"
)


def test_entry_points_replaying_one_file_share_its_rows(write_yaml):
    write_yaml("time,rate\n0,1\n10,2\n", "rates.csv")
    scenario = load_scenario(write_yaml(TWO_ENTRIES))
    api, web = (scenario.traffic[name].profile for name in ("api", "web"))
    assert api._rates is web._rates and api._times is web._times
    assert api.rates.tolist() == [1.0, 2.0] and web.rates.tolist() == [2.0, 4.0]
    again = load_scenario(scenario, {"horizon": "1h"})
    assert again.traffic["api"].profile._rates is api._rates


def test_a_changed_file_is_read_again(write_yaml):
    write_yaml("time,rate\n0,1\n10,2\n", "rates.csv")
    path = write_yaml(TWO_ENTRIES)
    assert load_scenario(path).traffic["api"].profile.rates.tolist() == [1.0, 2.0]
    write_yaml("time,rate\n0,3\n10,4\n20,5\n", "rates.csv")
    profile = load_scenario(path).traffic["api"].profile
    assert profile.rates.tolist() == [3.0, 4.0, 5.0]
    assert profile.times.tolist() == [0.0, 10.0, 20.0]
