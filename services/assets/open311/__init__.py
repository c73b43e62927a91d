"""Open311 GeoReport v2 of the assets service: faults reported against cameras.

``/open311/discovery.{json,xml}``; under ``/open311/v2``: ``services``, ``services/{code}``,
``requests`` (GET the list, POST a report), ``requests/{id}`` and FixMyStreet's
``servicerequestupdates``, each as ``.json`` and ``.xml``. Errors follow the format asked for:
``[{"code": 400, "description": ...}]`` or ``<errors><error><code/><description/></error>
</errors>``, with the HTTP status of the problem.

- ``jurisdiction_id`` is optional (one jurisdiction is served: ``open311_jurisdiction``); any
  other value is a 404 naming the one served.
- Services and definitions and the discovery document are public. Reading requests takes a
  token (``api_key``, ``Authorization: Bearer`` or the session): fault readers (operator, seg,
  analyst, admin) read every request; reporters that are not fault readers (crews) read only
  the requests they filed. Reporting takes an operator or crew token.
- A request keeps ``media_url`` (http(s) only, at most 2048 characters) and ``address_string``
  (at most 500); operators see both in the control room. A request or update never shows who
  reported it, the camera's live health, or an operator's note (``service`` says why).
- The camera is named by ``attribute[camera]`` (asset tag or numeric id) or ``address_id``
  (asset tag). With only ``lat``/``long``, the nearest camera in service within 50 m is used.
"""

from services.assets.open311.routes import router

__all__ = ["router"]
