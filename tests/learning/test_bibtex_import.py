"""``readingroom sources import FILE.bib``: entries checked like authored sources, appended
to sources.yaml without rewriting it, and the result ingests."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine
from sqlmodel import select

from server.cli import main
from server.db import unit_of_work
from server.ingest.service import ingest
from server.models import Source
from server.sources.importer import person
from tests.conftest import VALID_CONTENT

GOOD = r"""
@inproceedings{Lipman2023FlowMatching,
  author = {Lipman, Yaron and Chen, Ricky T. Q. and Le, Matt},
  title = {Flow {M}atching for Generative Modeling},
  booktitle = {International Conference on Learning Representations},
  year = {2023},
  eprint = {2210.02747}, archivePrefix = {arXiv},
  doi = {https://doi.org/10.48550/arXiv.2210.02747},
}
@article{goedel-1931,
  author = {G{\"o}del, Kurt},
  title = {{\"U}ber formal unentscheidbare S{\"a}tze},
  journal = {Monatshefte f{\"u}r Mathematik und Physik},
  year = 1931,
}
"""
BAD = r"""
@misc{no-year, author = {A, B}, title = {T}}
@misc{script-url, author = {A, B}, title = {T}, year = {2020}, url = {javascript:alert(1)}}
@misc{broken, title = {unclosed
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(VALID_CONTENT, root)
    return root


def test_entries_are_added_in_the_files_style_and_ingest(engine: Engine, tmp_path: Path) -> None:
    root = content(tmp_path)
    before = (root / "sources.yaml").read_text()
    bib = tmp_path / "refs.bib"
    bib.write_text(GOOD, encoding="utf-8")
    result = run("sources", "import", str(bib), "--content", str(root))
    assert result.exit_code == 0, result.output
    after = (root / "sources.yaml").read_text()
    assert after.startswith(before)  # the file's own text is kept as it was
    entries = {e["id"]: e for e in yaml.safe_load(after)}
    flow = entries["lipman2023flowmatching"]
    assert flow["authors"] == ["Yaron Lipman", "Ricky T. Q. Chen", "Matt Le"]
    assert (flow["arxiv"], flow["doi"]) == ("2210.02747", "10.48550/arXiv.2210.02747")
    assert flow["title"] == "Flow Matching for Generative Modeling"
    goedel = entries["goedel-1931"]
    assert goedel["title"] == "Über formal unentscheidbare Sätze"
    assert goedel["authors"] == ["Kurt Gödel"] and goedel["year"] == 1931
    with unit_of_work(engine) as session:
        ingest(session, root)
    with unit_of_work(engine, write=False) as session:
        ids = set(session.exec(select(Source.slug)))
    assert {"lipman2023flowmatching", "goedel-1931", "smith-2020-example"} <= ids
    again = run("sources", "import", str(bib), "--content", str(root))
    assert (
        again.exit_code == 0 and "skipped    goedel-1931: already in sources.yaml" in again.output
    )
    assert (root / "sources.yaml").read_text() == after


def test_a_bad_entry_writes_nothing_unless_skipped(tmp_path: Path) -> None:
    root = content(tmp_path)
    before = (root / "sources.yaml").read_text()
    bib = tmp_path / "refs.bib"
    bib.write_text(GOOD + BAD, encoding="utf-8")
    result = run("sources", "import", str(bib), "--content", str(root))
    assert result.exit_code == 1
    assert "no-year" in result.output and "no year" in result.output
    assert "script-url" in result.output and "url" in result.output
    assert "could not be parsed: Unexpectedly reached end of file" in result.output
    assert (root / "sources.yaml").read_text() == before
    skipped = run("sources", "import", str(bib), "--content", str(root), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    ids = [e["id"] for e in yaml.safe_load((root / "sources.yaml").read_text())]
    assert ids == ["smith-2020-example", "lipman2023flowmatching", "goedel-1931"]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    root = content(tmp_path)
    before = (root / "sources.yaml").read_text()
    bib = tmp_path / "refs.bib"
    bib.write_text(GOOD, encoding="utf-8")
    result = run("sources", "import", str(bib), "--content", str(root), "--dry-run")
    assert result.exit_code == 0 and "id: goedel-1931" in result.output
    assert (root / "sources.yaml").read_text() == before


def test_names_are_turned_around() -> None:
    assert person("Lipman, Yaron") == "Yaron Lipman"
    assert person("de la Fuente, Jr, Ana") == "Ana de la Fuente Jr"
    assert person("Ada Smith") == "Ada Smith"
