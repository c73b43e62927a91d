"""A small ONVIF device on loopback for the tests: a real HTTP server speaking SOAP 1.2 with
WS-Security UsernameToken (PasswordDigest) checks, answering what a Profile S client asks to
find a stream: GetServices, GetCapabilities, GetSystemDateAndTime (device service),
GetProfiles and GetStreamUri (media service). No ONVIF device or emulator is packaged for
this machine; the answers follow the ONVIF WSDLs the client validates them against.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"


def _envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" '
        f'xmlns:tds="{TDS}" xmlns:trt="{TRT}" xmlns:tt="{TT}"><s:Body>{body}</s:Body>'
        "</s:Envelope>"
    ).encode()


def _fault(code: str, sub: str, text: str) -> bytes:
    return _envelope(
        f"<s:Fault><s:Code><s:Value>s:{code}</s:Value><s:Subcode><s:Value xmlns:ter="
        f'"http://www.onvif.org/ver10/error">ter:{sub}</s:Value></s:Subcode></s:Code>'
        f'<s:Reason><s:Text xml:lang="en">{text}</s:Text></s:Reason></s:Fault>'
    )


class OnvifDevice:
    """One device: ``url`` is its device service; ``stream`` what GetStreamUri answers."""

    def __init__(self, *, user: str, password: str, stream: str, profiles: int = 1) -> None:
        self.user, self.password, self.stream, self.profiles = user, password, stream, profiles
        self.calls: list[str] = []
        device = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                size = int(self.headers.get("Content-Length") or 0)
                status, body = device.answer(self.rfile.read(size), self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/onvif/device_service"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _authorised(self, root: ET.Element) -> bool:
        token = root.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        user = token.findtext(f"{{{WSSE}}}Username") or ""
        digest = token.findtext(f"{{{WSSE}}}Password") or ""
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
        created = token.findtext(f"{{{WSU}}}Created") or ""
        want = hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()  # noqa: S324 - WS-Security's digest
        return user == self.user and digest == base64.b64encode(want).decode()

    def answer(self, raw: bytes, path: str) -> tuple[int, bytes]:
        """The device's answer to one SOAP request."""
        root = ET.fromstring(raw)  # noqa: S314 - the test's own client's request
        body = root.find(f"{{{SOAP}}}Body")
        op = body[0].tag.split("}")[-1] if body is not None and len(body) else ""
        self.calls.append(op)
        if op == "GetSystemDateAndTime":  # answered without credentials, as devices do
            return 200, _envelope(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false"
                "</tt:DaylightSavings></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
            )
        if not self._authorised(root):
            return 400, _fault("Sender", "NotAuthorized", "Sender not authorized")
        base = f"http://127.0.0.1:{self.port}/onvif"
        version = "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
        if op == "GetServices":
            return 200, _envelope(
                "<tds:GetServicesResponse>"
                f"<tds:Service><tds:Namespace>{TDS}</tds:Namespace><tds:XAddr>"
                f"{base}/device_service</tds:XAddr>{version}</tds:Service>"
                f"<tds:Service><tds:Namespace>{TRT}</tds:Namespace><tds:XAddr>"
                f"{base}/media_service</tds:XAddr>{version}</tds:Service>"
                "</tds:GetServicesResponse>"
            )
        if op == "GetProfiles":
            profiles = "".join(
                f'<trt:Profiles token="profile_{i}" fixed="true"><tt:Name>Profile {i}</tt:Name>'
                "</trt:Profiles>"
                for i in range(self.profiles)
            )
            return 200, _envelope(f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>")
        if op == "GetStreamUri":
            return 200, _envelope(
                "<trt:GetStreamUriResponse><trt:MediaUri>"
                f"<tt:Uri>{self.stream}</tt:Uri><tt:InvalidAfterConnect>false"
                "</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
            )
        return 400, _fault("Receiver", "ActionNotSupported", f"{op} is not supported here")
