"""Documentation that is generated, or that makes promises the code must keep."""

import re

from simulator.scenario.reference import markdown
from tests.helpers import ROOT


def test_scenario_reference_is_up_to_date():
    committed = (ROOT / "docs" / "scenario-reference.md").read_text()
    assert committed == markdown(), "docs/scenario-reference.md is stale: run `make docs`"


def test_readme_sets_up_in_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_docs_link_to_files_that_exist():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\((?!https?://|#)([^)#]+)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
