"""OpenID Connect for the suite's single sign-on, apart from the web routes (shared.web.oidc).

Discovery (cached per process for ``DISCOVERY_TTL_S``), the provider's keys (fetched again once
when a token names a key the cache lacks: a rotation), the code exchange, ID token checks
(authlib's joserfc: signature, ``iss``, ``aud``/``azp``, ``exp``, ``iat``, ``nonce``), userinfo
when the ID token lacks the role claim, and the mapping of claims to the suite's role, agency,
username and name. Every failure is an ``SsoFailed`` whose ``key`` picks the sign-in page's
words in ``SSO_MESSAGES``; its ``detail`` is for the log only.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from shared import accounts
from shared.errors import InvalidInput

DISCOVERY_TTL_S = 3600.0
HTTP_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
# ID tokens signed with the provider's public keys only: never unsigned, never MAC'd with
# the client secret (a secret every instance of the suite holds).
ID_TOKEN_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
CLOCK_SKEW_S = 60

# The sign-in page's words for each way single sign-on can stop (its ``error=`` keys).
SSO_MESSAGES = {
    "sso": "Single sign-on did not complete; try again or use your password.",
    "sso-off": "Single sign-on is not set up here; sign in with your username and password.",
    "sso-unavailable": (
        "The partnership's sign-in service cannot be reached just now; try again in a few "
        "minutes or use your password."
    ),
    "sso-expired": "That sign-in took too long or was already used; please start again.",
    "sso-denied": "The partnership's sign-in service did not sign you in; please start again.",
    "sso-no-role": (
        "Your partnership account has no role in this suite; ask an administrator to add you "
        "to one of its groups."
    ),
    "sso-disabled": "This account is disabled; ask an administrator.",
    "sso-account": (
        "Your partnership account cannot be matched to an account here; ask an administrator."
    ),
}


class SsoFailed(Exception):
    """Why a single sign-on stopped: ``key`` picks the page's message, ``detail`` is logged."""

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail


@dataclass(frozen=True)
class ProviderInfo:
    """What the suite uses of a provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    token_auth_methods: tuple[str, ...]
    id_token_algs: tuple[str, ...]


_providers: dict[str, tuple[float, ProviderInfo]] = {}
_keys: dict[str, tuple[float, KeySet]] = {}


def forget_providers() -> None:
    """Drop the cached discovery documents and key sets (the next sign-in fetches them)."""
    _providers.clear()
    _keys.clear()


def _get_json(url: str, what: str, **kwargs: Any) -> dict[str, Any]:
    try:
        r = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False, **kwargs)
    except httpx.HTTPError as exc:
        raise SsoFailed("sso-unavailable", f"{what} {url}: {exc!r}") from None
    if r.status_code != 200:
        raise SsoFailed("sso-unavailable", f"{what} {url} answered {r.status_code}")
    try:
        body = r.json()
    except ValueError:
        raise SsoFailed("sso-unavailable", f"{what} {url} is not JSON") from None
    if not isinstance(body, dict):
        raise SsoFailed("sso-unavailable", f"{what} {url} is not a JSON object")
    return body


def provider_info(issuer: str) -> ProviderInfo:
    """The provider's endpoints from ``{issuer}/.well-known/openid-configuration`` (cached)."""
    cached = _providers.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        return cached[1]
    doc = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
    # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
    if str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise SsoFailed("sso-unavailable", f"discovery names issuer {doc.get('issuer')!r}")
    try:
        info = ProviderInfo(
            issuer=str(doc["issuer"]),
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
            userinfo_endpoint=str(doc["userinfo_endpoint"])
            if doc.get("userinfo_endpoint")
            else None,
            token_auth_methods=tuple(
                doc.get("token_endpoint_auth_methods_supported") or ("client_secret_basic",)
            ),
            id_token_algs=tuple(doc.get("id_token_signing_alg_values_supported") or ("RS256",)),
        )
    except KeyError as exc:
        raise SsoFailed("sso-unavailable", f"discovery lacks {exc}") from None
    _providers[issuer] = (time.monotonic(), info)
    return info


def provider_keys(info: ProviderInfo, *, refresh: bool = False) -> KeySet:
    """The provider's signing keys from its JWKS (cached; ``refresh`` after a key rotation)."""
    cached = _keys.get(info.jwks_uri)
    if not refresh and cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        return cached[1]
    try:
        keys = KeySet.import_key_set(_get_json(info.jwks_uri, "JWKS"))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise SsoFailed("sso-unavailable", f"JWKS {info.jwks_uri}: {exc!r}") from None
    _keys[info.jwks_uri] = (time.monotonic(), keys)
    return keys


def verify_id_token(
    id_token: str,
    *,
    keys: KeySet,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: tuple[str, ...] = ID_TOKEN_ALGS,
) -> dict[str, Any]:
    """The ID token's claims once its signature, iss, aud, azp, exp, iat and nonce hold.

    Raises SsoFailed, or joserfc's InvalidKeyIdError when no key bears the token's ``kid``
    (the caller fetches the provider's keys again: a rotation).
    """
    try:
        token = jwt.decode(id_token, keys, algorithms=list(algorithms))
        jwt.JWTClaimsRegistry(
            leeway=CLOCK_SKEW_S,
            iss={"essential": True, "value": issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as exc:
        raise SsoFailed("sso", f"ID token refused: {exc!r}") from None
    claims = dict(token.claims)
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise SsoFailed("sso", f"ID token is for {aud!r}, not this client")
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise SsoFailed("sso", f"ID token's azp is {claims.get('azp')!r}")
    return claims


def map_role(claims: dict[str, Any], *, claim: str, role_map: dict[str, str]) -> tuple[str, str]:
    """The (role, agency or "") of the first entry of ``role_map`` the claim holds, or ("", "")."""
    held = claims.get(claim)
    listed = held if isinstance(held, list) else [held]
    values = {v for v in listed if isinstance(v, str)}
    for value, target in role_map.items():
        if value in values:
            role, _, agency = target.partition(":")
            return role.strip(), agency.strip()
    return "", ""


def pick_username(claims: dict[str, Any]) -> str | None:
    """The first of preferred_username, email and sub that makes a valid username, or None."""
    for name in ("preferred_username", "email", "sub"):
        value = claims.get(name)
        if isinstance(value, str):
            try:
                return accounts.check_username(value)
            except InvalidInput:
                continue
    return None


def full_name(claims: dict[str, Any]) -> str:
    """The person's name from ``name`` (or given and family names); "" when none is usable."""
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = (claims.get("given_name"), claims.get("family_name"))
        name = " ".join(p for p in parts if isinstance(p, str))
    try:
        return accounts.check_full_name(name)
    except InvalidInput:
        return ""


def exchange_code(
    info: ProviderInfo,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
) -> dict[str, Any]:
    """The token endpoint's answer to the code (with the PKCE verifier and the client secret).

    The secret goes as client_secret_basic where the provider offers it; a provider that
    registered the client for client_secret_post refuses that as ``invalid_client`` without
    using up the code, so the same code is then sent once more with the secret in the form.
    """
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    methods = [m for m in _AUTH_METHODS if m in info.token_auth_methods] if client_secret else []
    for method in methods or ["none"]:
        r = _post_token(info, form, _client_auth(method, client_id, client_secret))
        body = _json_object(r)
        if r.status_code == 200 and "id_token" in body:
            return body
        if not (r.status_code == 401 and body.get("error") == "invalid_client"):
            break
    raise SsoFailed("sso", f"token endpoint answered {r.status_code} {body.get('error')!r}")


# Client authentication at the token endpoint, in the order tried.
_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def _client_auth(method: str, client_id: str, secret: str) -> tuple[dict[str, str], dict[str, str]]:
    """(form fields, headers) that authenticate the client by ``method``."""
    if method == "client_secret_basic":
        # RFC 6749 2.3.1: both halves are form-encoded before they are joined.
        pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
        return {}, {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": secret}, {}
    return {"client_id": client_id}, {}


def _post_token(
    info: ProviderInfo, form: dict[str, str], auth: tuple[dict[str, str], dict[str, str]]
) -> httpx.Response:
    fields, headers = auth
    try:
        return httpx.post(
            info.token_endpoint,
            data=form | fields,
            headers={"Accept": "application/json", **headers},
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise SsoFailed("sso-unavailable", f"token endpoint: {exc!r}") from None


def _json_object(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def identity(
    info: ProviderInfo, tokens: dict[str, Any], *, client_id: str, nonce: str, role_claim: str
) -> dict[str, Any]:
    """The verified ID token's claims, completed from userinfo when the role claim is absent."""
    algorithms = tuple(a for a in info.id_token_algs if a in ID_TOKEN_ALGS) or ("RS256",)
    id_token = str(tokens["id_token"])

    def verify(keys: KeySet) -> dict[str, Any]:
        return verify_id_token(
            id_token,
            keys=keys,
            issuer=info.issuer,
            client_id=client_id,
            nonce=nonce,
            algorithms=algorithms,
        )

    try:
        claims = verify(provider_keys(info))
    except InvalidKeyIdError:
        # A key the cached set lacks: the provider rotated its keys; fetch them once more.
        try:
            claims = verify(provider_keys(info, refresh=True))
        except InvalidKeyIdError as exc:
            raise SsoFailed("sso", f"ID token signed with an unknown key: {exc}") from None
    if role_claim in claims or not info.userinfo_endpoint:
        return claims
    token = tokens.get("access_token")
    if not isinstance(token, str):
        return claims
    extra = _get_json(
        info.userinfo_endpoint, "userinfo", headers={"Authorization": f"Bearer {token}"}
    )
    # OpenID Connect Core 5.3.2: userinfo about another subject must not be used.
    if extra.get("sub") != claims["sub"]:
        raise SsoFailed("sso", f"userinfo is about {extra.get('sub')!r}")
    return {**extra, **claims}
