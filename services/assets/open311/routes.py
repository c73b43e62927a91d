"""The Open311 routes: each endpoint in ``.json`` and ``.xml``, errors in the asked format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from services.assets.dependencies import FAULT_READERS
from services.assets.faults import georeport as geo
from services.assets.open311 import render
from services.assets.open311 import service as svc
from services.assets.open311.render import FORMATS, Format
from shared.auth import Principal, form_csrf, lookup, optional_principal
from shared.db import SessionDep
from shared.errors import AppError, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.web.deps import AppSettings

PREFIX = "/open311/v2"
# Who reads every request (the fault readers of the JSON API; admins hold every role), and who
# reports: operators, and patrol crews who find a damaged camera (they read back only their own).
READERS = (*FAULT_READERS, "admin")
REPORTERS = ("operator", "crew", "admin")
CHANGESET = datetime(2026, 12, 7)  # when these endpoints last changed (the discovery document)
SPEC = "http://wiki.open311.org/GeoReport_v2"
CONTACT = "Medway Community Safety Partnership CCTV control room"

router = APIRouter(tags=["Open311 GeoReport v2"])
_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer csp_...`")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": f"{text}: GeoReport errors, [{{code, description}}] or <errors>",
        "content": {render.JSON_MEDIA: {}, render.XML_MEDIA: {}},
    }
    for code, text in (
        (400, "Bad request"),
        (401, "No valid api_key or token"),
        (403, "Wrong role"),
        (404, "Not found (or another jurisdiction_id)"),
        (409, "Camera cannot take faults"),
    )
}
Jurisdiction = Annotated[str | None, Query(description="Optional; the one served is in discovery")]


def _caller(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    form_token: Annotated[str | None, Depends(form_csrf)],
) -> Principal | AppError | None:
    """The Bearer token or session cookie's caller; a refusal is kept to render as GeoReport."""
    try:
        return optional_principal(request, session, creds, form_token)
    except AppError as exc:
        return exc


Caller = Annotated[Principal | AppError | None, Depends(_caller)]


def _who(session: Session, caller: Principal | AppError | None, api_key: str | None) -> Principal:
    """The caller from the header or cookie, else from ``api_key`` (as GeoReport clients send)."""
    if isinstance(caller, AppError):
        raise caller
    if caller is not None:
        return caller
    if api_key and api_key.strip():
        found = lookup(session, api_key.strip()[:200])
        if found is not None:
            return found
        raise Unauthorized(
            "The api_key is not a valid token", headers={"WWW-Authenticate": "Bearer"}
        )
    raise Unauthorized(
        "This needs an api_key (or 'Authorization: Bearer <token>')",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _scope(who: Principal) -> str | None:
    """None (every request) for a fault reader; the caller's key (its own) for a reporter."""
    if who.holds(*FAULT_READERS):
        return None
    if who.holds(*REPORTERS):
        return str(who.caller)
    raise Forbidden(
        f"Role '{who.role}' may not read service requests; it needs one of: "
        + ", ".join(sorted({*READERS, *REPORTERS}))
    )


def _check_jurisdiction(settings: Any, jurisdiction_id: str | None) -> None:
    ours: str = settings.open311_jurisdiction
    if jurisdiction_id is not None and jurisdiction_id.strip() != ours:
        raise NotFound(
            f"jurisdiction_id {jurisdiction_id[:60]!r} was not found; this endpoint serves {ours!r}"
        )


def _answer(fmt: Format, work: Callable[[], Response]) -> Response:
    """``work()``, or its refusal as a GeoReport error in ``fmt``."""
    try:
        return work()
    except AppError as exc:
        return render.error(fmt, exc.status, exc.detail, exc.headers or None)


def _doc(fmt: Format, model: Any) -> dict[str, Any]:
    if fmt == "json":
        return {"response_model": model}
    return {"response_model": None, "response_class": render.XmlResponse}


def _discovery(fmt: Format) -> Callable[..., Response]:
    def discovery(request: Request, settings: AppSettings) -> Response:
        """The discovery document: the GeoReport v2 endpoint, its formats and changeset."""
        base = str(request.base_url).rstrip("/") + PREFIX
        stamp = CHANGESET.isoformat() + "Z"
        body = {
            "changeset": stamp,
            "contact": CONTACT,
            "key_service": "API tokens are issued by the partnership's administrators",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": stamp,
                    "type": "production",
                    "formats": [render.XML_MEDIA, render.JSON_MEDIA],
                }
            ],
        }
        return render.respond(fmt, "discovery", body)

    return discovery


def _services(fmt: Format) -> Callable[..., Response]:
    def services(settings: AppSettings, jurisdiction_id: Jurisdiction = None) -> Response:
        """One service per fault category (public)."""

        def work() -> Response:
            _check_jurisdiction(settings, jurisdiction_id)
            return render.respond(fmt, "services", geo.services())

        return _answer(fmt, work)

    return services


def _definition(fmt: Format) -> Callable[..., Response]:
    def service_definition(
        service_code: str, settings: AppSettings, jurisdiction_id: Jurisdiction = None
    ) -> Response:
        """The attributes of one service: the camera (required)."""

        def work() -> Response:
            _check_jurisdiction(settings, jurisdiction_id)
            return render.respond(fmt, "service_definition", geo.definition(service_code[:60]))

        return _answer(fmt, work)

    return service_definition


def _list(fmt: Format) -> Callable[..., Response]:
    def get_requests(
        session: SessionDep,
        caller: Caller,
        settings: AppSettings,
        jurisdiction_id: Jurisdiction = None,
        api_key: str | None = None,
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        status: str | None = None,
    ) -> Response:
        """Service requests, newest first (at most 1000): every fault for a fault reader, a
        reporter's own otherwise; by comma-separated ids (at most 100), or reported between
        start_date and end_date (ISO 8601; default the last 90 days, a start alone reads 366
        days from it, at most 366 days)."""

        def work() -> Response:
            _check_jurisdiction(settings, jurisdiction_id)
            mine = _scope(_who(session, caller, api_key))
            state = svc.check_status(status)
            if service_request_id and service_request_id.strip():
                ids = svc.parse_ids(service_request_id)
                found = svc.find_requests(
                    session, reporter=mine, ids=ids, code=service_code, status=state
                )
            else:
                period = svc.window(start_date, end_date)
                found = svc.find_requests(
                    session, reporter=mine, code=service_code, status=state, period=period
                )
            return render.respond(fmt, "service_requests", found)

        return _answer(fmt, work)

    return get_requests


def _one(fmt: Format) -> Callable[..., Response]:
    def get_request(
        service_request_id: str,
        session: SessionDep,
        caller: Caller,
        settings: AppSettings,
        jurisdiction_id: Jurisdiction = None,
        api_key: str | None = None,
    ) -> Response:
        """One request by id, as a one-item list (a reporter reads only its own)."""

        def work() -> Response:
            _check_jurisdiction(settings, jurisdiction_id)
            mine = _scope(_who(session, caller, api_key))
            one = svc.get_request(session, number=service_request_id, reporter=mine)
            return render.respond(fmt, "service_requests", [one])

        return _answer(fmt, work)

    return get_request


def _updates(fmt: Format) -> Callable[..., Response]:
    def service_request_updates(
        session: SessionDep,
        caller: Caller,
        settings: AppSettings,
        jurisdiction_id: Jurisdiction = None,
        api_key: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
    ) -> Response:
        """FixMyStreet's status updates: each status change in the period, oldest first (at
        most 1000; the period as for requests). The description is the status's public
        sentence, never an operator's note; a reporter sees only its own requests' updates."""

        def work() -> Response:
            _check_jurisdiction(settings, jurisdiction_id)
            mine = _scope(_who(session, caller, api_key))
            found = svc.find_updates(
                session, reporter=mine, period=svc.window(start_date, end_date)
            )
            return render.respond(fmt, "service_requests_updates", found)

        return _answer(fmt, work)

    return service_request_updates


class _PostForm:
    """The form fields of a GeoReport POST (``attribute[camera]`` keeps its bracket name).

    Every field is text here and checked by the use case, so a bad one is a GeoReport error in
    the asked format. Contact fields are accepted and not kept (no personal data is stored).
    """

    def __init__(
        self,
        service_code: Annotated[str | None, Form()] = None,
        jurisdiction_id: Annotated[str | None, Form()] = None,
        lat: Annotated[str | None, Form(description="WGS84 degrees")] = None,
        long: Annotated[str | None, Form(description="WGS84 degrees")] = None,
        camera: Annotated[str | None, Form(alias="attribute[camera]")] = None,
        address_id: Annotated[str | None, Form()] = None,
        address_string: Annotated[str | None, Form(description="At most 500 characters")] = None,
        description: Annotated[str | None, Form(description="At most 4000 characters")] = None,
        media_url: Annotated[str | None, Form(description="http(s), at most 2048")] = None,
        api_key: Annotated[str | None, Form()] = None,
        email: Annotated[str | None, Form()] = None,
        first_name: Annotated[str | None, Form()] = None,
        last_name: Annotated[str | None, Form()] = None,
        phone: Annotated[str | None, Form()] = None,
        device_id: Annotated[str | None, Form()] = None,
        account_id: Annotated[str | None, Form()] = None,
    ) -> None:
        self.service_code = (service_code or "").strip()
        self.jurisdiction_id = jurisdiction_id
        self.lat, self.long = lat, long
        self.camera = camera or address_id
        self.address_string = address_string
        self.description = description
        self.media_url = media_url
        self.api_key = api_key

    def report(self) -> svc.Report:
        """The checked report (BadRequest naming the first bad field)."""
        if not self.service_code:
            raise svc.BadRequest("service_code is required; GET services.json lists them")
        return svc.Report(
            code=self.service_code[:60],
            camera_ref=self.camera,
            lat=svc.check_degrees(self.lat, "lat"),
            lon=svc.check_degrees(self.long, "long"),
            description=svc.check_text(self.description, "description", svc.DESCRIPTION_MAX),
            media_url=svc.check_media_url(self.media_url),
            address_string=svc.check_text(self.address_string, "address_string", svc.ADDRESS_MAX),
        )


IDEMPOTENCY_KEY_MAX = 200


def _post(fmt: Format) -> Callable[..., Response]:
    def post_request(
        session: SessionDep,
        caller: Caller,
        settings: AppSettings,
        form: Annotated[_PostForm, Depends()],
        # Length checked in code: a refused header is a GeoReport error, not problem+json.
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> Response:
        """Report a fault from a form-encoded GeoReport request (operators, crews); with an
        Idempotency-Key a retry answers the same request instead of logging it twice."""

        def work() -> Response:
            if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
                raise InvalidInput(
                    f"Idempotency-Key is longer than {IDEMPOTENCY_KEY_MAX} characters"
                )
            _check_jurisdiction(settings, form.jurisdiction_id)
            who = _who(session, caller, form.api_key)
            if not who.holds(*REPORTERS):
                raise Forbidden(
                    f"Role '{who.role}' may not report faults; it needs one of: "
                    + ", ".join(REPORTERS)
                )
            result = svc.report_fault(
                session,
                report=form.report(),
                actor=who.actor,
                caller=who.caller,
                idempotency_key=idempotency_key,
            )
            return render.respond(fmt, "service_requests", [result], status_code=201)

        return _answer(fmt, work)

    return post_request


ROUTES: tuple[tuple[str, str, Callable[[Format], Callable[..., Response]], Any, str], ...] = (
    ("GET", "/open311/discovery", _discovery, dict[str, Any], "Discovery"),
    ("GET", f"{PREFIX}/services", _services, list[geo.Service], "Service list"),
    (
        "GET",
        f"{PREFIX}/services/{{service_code}}",
        _definition,
        geo.ServiceDefinition,
        "Service definition",
    ),
    ("GET", f"{PREFIX}/requests", _list, list[geo.ServiceRequest], "Service requests (faults)"),
    ("POST", f"{PREFIX}/requests", _post, list[geo.PostResult], "Report a fault"),
    (
        "GET",
        f"{PREFIX}/requests/{{service_request_id}}",
        _one,
        list[geo.ServiceRequest],
        "One service request",
    ),
    (
        "GET",
        f"{PREFIX}/servicerequestupdates",
        _updates,
        list[svc.ServiceRequestUpdate],
        "Status updates (FixMyStreet)",
    ),
)

for _method, _path, _make, _model, _summary in ROUTES:
    for _fmt in FORMATS:
        _endpoint = _make(_fmt)
        router.add_api_route(
            f"{_path}.{_fmt}",
            _endpoint,
            methods=[_method],
            # The JSON routes keep the names (and so the operation ids) clients were given.
            name=_endpoint.__name__ if _fmt == "json" else f"{_endpoint.__name__}_xml",
            summary=_summary if _fmt == "json" else f"{_summary} (XML)",
            status_code=201 if _method == "POST" else 200,
            responses=ERRORS,
            **_doc(_fmt, _model),
        )
