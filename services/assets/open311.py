"""Open311 GeoReport v2 routes of the assets service: faults reported against cameras.

``/open311/v2``: ``services.json`` (one service per fault category), ``services/{code}.json``
(the camera attribute), ``requests.json`` (GET list, POST a new report) and
``requests/{id}.json``. The services, schemas and queries are in ``faults.georeport``.

Choices, where this differs from a public street-reporting Open311 endpoint:

- Errors are RFC 9457 ``application/problem+json`` like the rest of the project, not GeoReport's
  ``[{"code": 400, "description": ...}]`` array: one error format across every API is easier for
  clients and logs than two. The problem body's ``detail`` carries the description.
- The service list and definitions are public. Reading requests needs a token of a role that
  reads faults in the JSON API (operator, seg, analyst, admin; not crew), because fault notes
  tell someone which cameras are down. Posting needs an operator token, sent as
  ``Authorization: Bearer`` or, as the spec expects, as the ``api_key`` form field.
- The camera is named by ``attribute[camera]`` (asset tag or numeric id) or ``address_id``
  (asset tag). With only ``lat``/``long``, the nearest camera in service within 50 m is used.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from services.assets.dependencies import FAULT_READERS, OPERATORS
from services.assets.faults import georeport as geo
from shared.auth import MaybePrincipal, Principal, lookup
from shared.db import SessionDep
from shared.errors import Forbidden, Unauthorized

PREFIX = "/open311/v2"
# Who reads faults (as in the JSON API) and who reports them; admins hold every role.
READERS = (*FAULT_READERS, "admin")
REPORTERS = (*OPERATORS, "admin")

router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in (
        (400, "Bad request"),
        (401, "No valid token"),
        (403, "Wrong role"),
        (404, "Not found"),
        (409, "Camera cannot take faults"),
    )
}


def _principal(session: Session, bearer: Principal | None, api_key: str | None) -> Principal:
    """The caller from the Bearer header or, as GeoReport clients send it, ``api_key``."""
    if bearer is not None:
        return bearer
    if api_key:
        found = lookup(session, api_key)
        if found is not None:
            return found
        raise Unauthorized(
            "The api_key is not a valid token", headers={"WWW-Authenticate": "Bearer"}
        )
    raise Unauthorized(
        "This needs a token: 'Authorization: Bearer <token>' or the api_key field",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _fault_reader(session: Session, bearer: Principal | None) -> Principal:
    who = _principal(session, bearer, None)
    if who.role not in READERS:
        raise Forbidden(
            f"Role '{who.role}' may not read faults; it needs one of: " + ", ".join(READERS)
        )
    return who


@router.get("/services.json", response_model=list[geo.Service], summary="Service list")
def services() -> list[geo.Service]:
    """One service per fault category (public)."""
    return geo.services()


@router.get(
    "/services/{service_code}.json",
    response_model=geo.ServiceDefinition,
    responses=PROBLEMS,
    summary="Service definition",
)
def service_definition(service_code: str) -> geo.ServiceDefinition:
    """The attributes of one service: the camera (required)."""
    return geo.definition(service_code)


@router.get(
    "/requests.json",
    response_model=list[geo.ServiceRequest],
    responses=PROBLEMS,
    summary="Service requests (faults)",
)
def get_requests(
    session: SessionDep,
    bearer: MaybePrincipal,
    service_request_id: Annotated[str | None, Query(description="Comma-separated ids")] = None,
    service_code: str | None = None,
    start_date: Annotated[str | None, Query(description="ISO 8601; default 90 days ago")] = None,
    end_date: Annotated[str | None, Query(description="ISO 8601; default now")] = None,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(geo.GEOREPORT_STATUSES)})$")] = None,
) -> list[geo.ServiceRequest]:
    """Faults as service requests, newest first (fault readers); the last 90 days unless dated."""
    _fault_reader(session, bearer)
    return geo.find_requests(
        session,
        ids=service_request_id,
        code=service_code,
        status=status,
        start_date=start_date,
        end_date=end_date,
    )


@router.get(
    "/requests/{service_request_id}.json",
    response_model=list[geo.ServiceRequest],
    responses=PROBLEMS,
    summary="One service request",
)
def get_request(
    service_request_id: str, session: SessionDep, bearer: MaybePrincipal
) -> list[geo.ServiceRequest]:
    """One fault by number, as a one-item list (the GeoReport shape)."""
    _fault_reader(session, bearer)
    return [geo.get_request(session, number=service_request_id)]


class _PostForm:
    """The form fields of a GeoReport POST (``attribute[camera]`` keeps its bracket name)."""

    def __init__(
        self,
        service_code: Annotated[str, Form()],
        lat: Annotated[float | None, Form()] = None,
        long: Annotated[float | None, Form()] = None,
        camera: Annotated[str | None, Form(alias="attribute[camera]")] = None,
        address_id: Annotated[str | None, Form()] = None,
        description: Annotated[str | None, Form(max_length=4000)] = None,
        api_key: Annotated[str | None, Form()] = None,
        email: Annotated[str | None, Form()] = None,
        first_name: Annotated[str | None, Form()] = None,
        last_name: Annotated[str | None, Form()] = None,
    ) -> None:
        self.service_code = service_code
        self.lat, self.long = lat, long
        self.camera = camera or address_id
        self.description = (description or "").strip()
        self.api_key = api_key


@router.post(
    "/requests.json",
    status_code=201,
    response_model=list[geo.PostResult],
    responses=PROBLEMS,
    summary="Report a fault",
)
def post_request(
    session: SessionDep,
    bearer: MaybePrincipal,
    form: Annotated[_PostForm, Depends()],
) -> JSONResponse:
    """Log a fault from a form-encoded GeoReport request (operator)."""
    who = _principal(session, bearer, form.api_key)
    if who.role not in REPORTERS:
        raise Forbidden(f"Role '{who.role}' may not report faults; it needs operator or admin")
    result = geo.report_fault(
        session,
        code=form.service_code,
        camera_ref=form.camera,
        lon=form.long,
        lat=form.lat,
        description=form.description,
        actor=who.actor,
    )
    return JSONResponse([result.model_dump()], status_code=201)
