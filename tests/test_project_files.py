"""The licence and the citation agree with each other and with pyproject.toml, and cite the paper
this project reproduces by its arXiv identifier."""

from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parent.parent


def test_the_licence_is_mit_everywhere():
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License\n\nCopyright (c) 2026 the sparse-recovery-mlp authors\n")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (project["license"], project["license-files"]) == ("MIT", ["LICENSE"])
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["license"] == "MIT"


def test_the_citation_names_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert (cff["cff-version"], cff["type"], cff["version"]) == ("1.2.0", "software", "0.1.0")
    paper = cff["preferred-citation"]
    assert paper["type"] == "conference-paper"
    assert paper["title"] == "A Recovery Guarantee for Sparse Neural Networks"
    names = [(a["given-names"], a["family-names"]) for a in paper["authors"]]
    assert names == [("Sara", "Fridovich-Keil"), ("Mert", "Pilanci")]
    assert paper["year"] == 2026 and "ICLR 2026" in paper["conference"]["name"]
    assert {"value": "arXiv:2509.20323", "type": "other"}.items() <= paper["identifiers"][0].items()
    assert "doi" not in paper and all(i["type"] != "doi" for i in paper["identifiers"])
