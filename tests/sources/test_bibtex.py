"""BibTeX entries: entry types, LaTeX escaping, the .bib route and the export command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from server.cli import main
from server.sources.bibtex import bibtex_entry, entry_type, escape

RNVP = {
    "id": "dinh-2017-real-nvp",
    "authors": ["Laurent Dinh", "Jascha Sohl-Dickstein", "Samy Bengio"],
    "year": 2017,
    "title": "Density Estimation using Real NVP",
    "venue": "International Conference on Learning Representations (ICLR 2017)",
    "doi": None,
    "arxiv": "1605.08803",
    "url": "https://arxiv.org/abs/1605.08803",
}


def fields(entry: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\w+) = \{(.*)\},?$", entry, re.MULTILINE))


def test_a_conference_paper_is_inproceedings_with_its_eprint() -> None:
    entry = bibtex_entry(RNVP)
    assert entry.startswith("@inproceedings{dinh-2017-real-nvp,\n")
    assert entry.endswith("\n}\n")
    assert fields(entry) == {
        "author": "Laurent Dinh and Jascha Sohl-Dickstein and Samy Bengio",
        "title": "{Density Estimation using Real NVP}",
        "year": "2017",
        "booktitle": "International Conference on Learning Representations (ICLR 2017)",
        "eprint": "1605.08803",
        "archivePrefix": "arXiv",
        "url": "https://arxiv.org/abs/1605.08803",
    }


@pytest.mark.parametrize(
    ("venue", "kind"),
    [
        ("Journal of Machine Learning Research 22(57)", ("article", "journal")),
        ("IEEE Transactions on Pattern Analysis", ("article", "journal")),
        ("Advances in Neural Information Processing Systems 33", ("inproceedings", "booktitle")),
        ("Proceedings of the 32nd ICML", ("inproceedings", "booktitle")),
        ("MIT Press", ("book", "publisher")),
        ("A blog", ("misc", "howpublished")),
        (None, ("misc", None)),
    ],
)
def test_the_entry_type_follows_the_venue(venue: str | None, kind: tuple[str, str]) -> None:
    assert entry_type(venue) == kind


def test_latex_specials_are_escaped_and_cannot_end_a_field() -> None:
    assert escape(r"50% of {R&D} costs $5 #1 a_b ~x^2 \emph") == (
        r"50\% of \{R\&D\} costs \$5 \#1 a\_b \textasciitilde{}x\textasciicircum{}2"
        r" \textbackslash{}emph"
    )
    hostile = {
        **RNVP,
        "id": "x, title={owned}",
        "title": "}, author = {Mallory",
        "authors": ["A}\n@misc{evil,"],
        "venue": "Journal of\x00 Tricks } \\end",
        "url": "https://e.example/a b}{\\",
        "doi": "10.1/x}y",
    }
    entry = bibtex_entry(hostile)
    assert len(re.findall("^@", entry, re.MULTILINE)) == 1 and entry.count("\n}\n") == 1
    assert entry.startswith("@article{x--title--owned-,\n")
    body = fields(entry)
    assert body["title"] == r"{\}, author = \{Mallory}"
    assert body["author"] == r"A\} @misc\{evil,"
    assert body["journal"] == r"Journal of Tricks \} \textbackslash{}end"
    assert body["url"] == "https://e.example/a%20b%7D%7B%5C"
    assert body["doi"] == "10.1/x%7Dy"
    # every brace in each value is balanced or escaped: nothing closes the entry early
    for value in body.values():
        unescaped = re.sub(r"\\[{}]", "", value)
        depth = 0
        for ch in unescaped:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0, value
        assert depth == 0, value


def test_unicode_is_kept(client: TestClient) -> None:
    entry = bibtex_entry({**RNVP, "authors": ["Gülçehre Çağlar"], "venue": "pp. 1–64"})
    assert "Gülçehre Çağlar" in entry and "1–64" in entry


def test_the_bib_route_serves_one_entry(client: TestClient) -> None:
    response = client.get("/api/sources/smith-2020-example.bib")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert response.text.startswith("@article{smith-2020-example,")
    missing = client.get("/api/sources/nobody-1999.bib")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    # the JSON route is still the JSON route
    assert client.get("/api/sources/smith-2020-example").json()["id"] == "smith-2020-example"


def test_sources_export_prints_every_source(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    ingested = runner.invoke(main, ["ingest", "content", "--database", database_url])
    assert ingested.exit_code == 0, ingested.output
    result = runner.invoke(main, ["sources", "export", "--bibtex", "--database", database_url])
    assert result.exit_code == 0, result.output
    entries = re.findall(r"^@(\w+)\{([^,]+),", result.output, re.MULTILINE)
    assert ("inproceedings", "rezende-2015-normalizing-flows") in entries
    assert ("book", "goodfellow-2016-deep-learning") in entries
    assert len(entries) == len(set(entries)) >= 20
    target = tmp_path / "refs.bib"
    written = runner.invoke(
        main, ["sources", "export", "--bibtex", "-o", str(target), "--database", database_url]
    )
    assert written.exit_code == 0 and target.read_text(encoding="utf-8") == result.output
    without_flag = runner.invoke(main, ["sources", "export", "--database", database_url])
    assert without_flag.exit_code != 0
