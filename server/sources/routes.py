"""``GET /api/sources/{id}.bib``: a source's BibTeX entry."""

from __future__ import annotations

from fastapi import APIRouter, Response

from server.claims.service import source_with_claims
from server.deps import SessionDep
from server.sources.bibtex import bibtex_entry

router = APIRouter(prefix="/api", tags=["sources"])


@router.get(
    "/sources/{source_id}.bib",
    summary="A source's BibTeX entry",
    response_class=Response,
    responses={200: {"content": {"application/x-bibtex": {}}}},
)
def source_bibtex(source_id: str, session: SessionDep) -> Response:
    entry = bibtex_entry(source_with_claims(session, source_id))
    return Response(entry, media_type="application/x-bibtex; charset=utf-8")
