"""Learning pages: ``/graph`` (a drawing of the concept graph), ``/plan/{context}/{slug}``,
and ``POST /progress/{key}`` (the concept page's learned/starred buttons without script)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from server.concepts.service import concept_graph
from server.deps import SessionDep
from server.errors import InvalidInput
from server.keys import concept_key
from server.learning import service
from server.learning.focus import MAX_FOCUS_DEPTH, Direction, with_status
from server.learning.index import index_for
from server.learning.service import ProgressWrite
from server.learning.svg import Drawer
from server.pages.render import render_page
from server.people.deps import CurrentPerson
from server.people.reader import ReaderName

router = APIRouter(include_in_schema=False)


def drawer(request: Request) -> Drawer:
    """The app's drawer (made on first use, from the settings)."""
    state = request.app.state
    found: Drawer | None = getattr(state, "graph_drawer", None)
    if found is None:
        settings = state.settings
        found = Drawer(settings.graphviz_dot, settings.graphviz_timeout_s, settings.graph_max_nodes)
        state.graph_drawer = found
    return found


def marks(session: SessionDep, learner: str | None, key: str) -> dict[str, bool]:
    """The viewer's marks on one concept, for the concept page."""
    index = index_for(session)
    learned, starred = service.learner_state(session, learner, index)
    return {"learned": key in learned, "starred": key in starred, "signed_in": learner is not None}


@router.get("/graph", response_class=HTMLResponse)
def graph_page(
    request: Request,
    session: SessionDep,
    learner: ReaderName,
    focus: Annotated[str | None, Query(max_length=400)] = None,
    direction: Direction = "both",
    depth: Annotated[int, Query(ge=1, le=MAX_FOCUS_DEPTH)] = 2,
) -> HTMLResponse:
    if focus is not None:
        graph = service.focus_graph(session, learner, focus, direction, depth)
        twin = f"/api/graph?focus={quote(focus)}&direction={direction}&depth={depth}"
        title = f"Graph around {graph['nodes'][0]['title']}"
    else:
        graph = with_status(session, learner, concept_graph(session))
        twin, title = "/api/graph", "Concept graph"
    svg = drawer(request).svg(graph, focus, index_for(session).revision)
    context: dict[str, Any] = {
        "title": title, "graph": graph, "svg": svg, "focus": focus, "direction": direction,
        "depth": depth,
    }  # fmt: skip
    return render_page(request, "graph.html", context, twin)


@router.get("/plan/{context}/{slug}", response_class=HTMLResponse)
def plan_page(
    context: str, slug: str, request: Request, session: SessionDep, person: CurrentPerson
) -> HTMLResponse:
    plan = service.plan(session, person.name, concept_key(context, slug))
    title = f"Plan to {plan['target']['title']}"
    twin = f"/api/plan?target={quote(plan['target']['key'])}"
    return render_page(request, "plan.html", {"title": title, "plan": plan}, twin)


MAX_FORM_BYTES = 2048


async def mark_form(request: Request) -> ProgressWrite:
    """The form the concept page's buttons send (``learned=true`` or ``starred=false``)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise InvalidInput("the form is too large")
    try:
        fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:
        raise InvalidInput("the form has too many fields") from None
    values: dict[str, bool] = {}
    for name in ("learned", "starred"):
        if name in fields:
            value = fields[name][-1]
            if value not in ("true", "false"):
                raise InvalidInput(f"{name} must be true or false, not '{value}'")
            values[name] = value == "true"
    if not values:
        raise InvalidInput("the form sets neither learned nor starred")
    return ProgressWrite(**values)


@router.post("/progress/{key:path}")
def progress_form(
    key: str,
    session: SessionDep,
    person: CurrentPerson,
    body: Annotated[ProgressWrite, Depends(mark_form)],
) -> RedirectResponse:
    """The concept page's buttons as a plain form: set a mark, then back to the page."""
    result = service.put_progress(session, person.name, key, body)
    return RedirectResponse("/concepts/" + result["key"].partition(":")[2], status_code=303)
