"""CAQH CORE Phase II connectivity envelopes (CORE rule 270, ``CORERuleVersion`` 2.2.0), both forms.

Real-time eligibility travels as one HTTP POST over TLS whose body is either

* **MIME multipart/form-data**: one form field per envelope element (``PayloadType``, ``ProcessingMode``,
  ``PayloadID``, ``TimeStamp``, ``UserName``, ``Password``, ``SenderID``, ``ReceiverID``,
  ``CORERuleVersion``, ``Payload``; responses add ``ErrorCode`` and ``ErrorMessage``), or
* **SOAP 1.2**: ``COREEnvelopeRealTimeRequest`` / ``COREEnvelopeRealTimeResponse`` in the CORE 2.2.0
  namespace, credentials in a WS-Security ``UsernameToken`` header.

The answer comes back in the form the question came in. This module only encodes and decodes; the
sandbox server (:mod:`claimflow.sandbox.core_server`) and the client (:mod:`claimflow.inquiries.eligibility_realtime`)
share it so the two cannot drift apart. Envelope errors carry CORE's error codes
(``PayloadTypeIncorrect``, ``VersionMismatch`` …) and never quote the payload (it is PHI).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from email import policy
from email.parser import BytesParser

RULE_VERSION = "2.2.0"
REALTIME = "RealTime"
PAYLOAD_270 = "X12_270_Request_005010X279A1"
PAYLOAD_271 = "X12_271_Response_005010X279A1"
PAYLOAD_999 = "X12_999_Response_005010X231A1"
SUCCESS = "Success"

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
CORE_NS = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
MULTIPART = "multipart"
SOAP = "soap"
FORMS = (MULTIPART, SOAP)
SOAP_CONTENT_TYPE = 'application/soap+xml; charset=utf-8; action="RealTimeTransaction"'

#: Largest envelope either side reads: a one-subscriber 270/271 is a few kilobytes.
MAX_ENVELOPE_BYTES = 1 << 20

_FIELDS = (
    ("PayloadType", "payload_type"),
    ("ProcessingMode", "processing_mode"),
    ("PayloadID", "payload_id"),
    ("TimeStamp", "timestamp"),
    ("SenderID", "sender_id"),
    ("ReceiverID", "receiver_id"),
    ("CORERuleVersion", "rule_version"),
    ("Payload", "payload"),
)
_RESPONSE_FIELDS = (("ErrorCode", "error_code"), ("ErrorMessage", "error_message"))
_AUTH_FIELDS = (("UserName", "username"), ("Password", "password"))


class CoreEnvelopeError(ValueError):
    """An envelope that cannot be read or breaks the CORE rules. ``code`` is CORE's ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(slots=True)
class CoreEnvelope:
    """One request or response envelope; ``payload`` is the X12 text (PHI: never logged, not in repr)."""

    payload_type: str
    payload_id: str
    sender_id: str
    receiver_id: str
    payload: str = field(default="", repr=False)
    processing_mode: str = REALTIME
    timestamp: str = ""
    rule_version: str = RULE_VERSION
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    error_code: str | None = None
    error_message: str | None = None

    @classmethod
    def request(
        cls,
        payload: str,
        *,
        sender_id: str,
        receiver_id: str,
        payload_type: str = PAYLOAD_270,
        username: str | None = None,
        password: str | None = None,
    ) -> CoreEnvelope:
        """A new real-time request with a fresh PayloadID (a UUID: no PHI) and the current UTC time."""
        return cls(
            payload_type=payload_type,
            payload_id=str(uuid.uuid4()),
            sender_id=sender_id,
            receiver_id=receiver_id,
            payload=payload,
            timestamp=timestamp(),
            username=username,
            password=password,
        )

    def response(
        self, payload_type: str, payload: str, error_code: str = SUCCESS, message: str = ""
    ) -> CoreEnvelope:
        """The answer to this request: same PayloadID, sender and receiver swapped, no credentials."""
        return replace(
            self,
            payload_type=payload_type,
            payload=payload,
            processing_mode=self.processing_mode or REALTIME,
            timestamp=timestamp(),
            sender_id=self.receiver_id,
            receiver_id=self.sender_id,
            rule_version=RULE_VERSION,
            username=None,
            password=None,
            error_code=error_code,
            error_message=message,
        )


def timestamp(now: dt.datetime | None = None) -> str:
    """CORE TimeStamp: XML dateTime, UTC (``2026-12-04T18:40:00Z``)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------- multipart


def encode_multipart(env: CoreEnvelope, *, response: bool = False) -> tuple[str, bytes]:
    """(Content-Type, body) of the multipart/form-data form."""
    boundary = f"claimflow-core-{secrets.token_hex(12)}"
    fields = list(_FIELDS)
    if response:
        fields += _RESPONSE_FIELDS
    else:
        fields += [(k, a) for k, a in _AUTH_FIELDS if getattr(env, a) is not None]
    parts: list[bytes] = []
    for name, attr in fields:
        value = getattr(env, attr) or ""
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode("ascii")
            + value.encode("utf-8")
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")
    return f"multipart/form-data; boundary={boundary}", body


def decode_multipart(content_type: str, body: bytes) -> CoreEnvelope:
    """Read a multipart/form-data envelope (request or response)."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise CoreEnvelopeError("EnvelopeTooLarge", f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    if "\r" in content_type or "\n" in content_type:
        raise CoreEnvelopeError("InvalidEnvelope", "bad Content-Type header")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", errors="replace")
    msg = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise CoreEnvelopeError("InvalidEnvelope", "not a multipart/form-data body")
    values: dict[str, str] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        values[name] = data.decode("utf-8", errors="replace")
    if not values:
        raise CoreEnvelopeError("InvalidEnvelope", "no form fields in the multipart body")
    return _from_values(values)


# ------------------------------------------------------------------------------------------------ SOAP


def encode_soap(env: CoreEnvelope, *, response: bool = False) -> tuple[str, bytes]:
    """(Content-Type, body) of the SOAP 1.2 form."""
    ET.register_namespace("soapenv", SOAP_NS)
    ET.register_namespace("cor", CORE_NS)
    ET.register_namespace("wsse", WSSE_NS)
    root = ET.Element(f"{{{SOAP_NS}}}Envelope")
    header = ET.SubElement(root, f"{{{SOAP_NS}}}Header")
    if not response and env.username is not None:
        sec = ET.SubElement(header, f"{{{WSSE_NS}}}Security")
        token = ET.SubElement(sec, f"{{{WSSE_NS}}}UsernameToken")
        ET.SubElement(token, f"{{{WSSE_NS}}}Username").text = env.username
        pw = ET.SubElement(token, f"{{{WSSE_NS}}}Password")
        pw.set(
            "Type",
            "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText",
        )
        pw.text = env.password or ""
    body = ET.SubElement(root, f"{{{SOAP_NS}}}Body")
    tag = "COREEnvelopeRealTimeResponse" if response else "COREEnvelopeRealTimeRequest"
    el = ET.SubElement(body, f"{{{CORE_NS}}}{tag}")
    fields = list(_FIELDS) + (list(_RESPONSE_FIELDS) if response else [])
    for name, attr in fields:
        ET.SubElement(el, name).text = getattr(env, attr) or ""
    # XML parsers turn a raw CR into LF; a character reference keeps the X12 payload byte for byte
    body_bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True).replace(b"\r", b"&#13;")
    return SOAP_CONTENT_TYPE, body_bytes


def decode_soap(body: bytes) -> tuple[CoreEnvelope, bool]:
    """Read a SOAP 1.2 envelope; returns (envelope, whether it is a response)."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise CoreEnvelopeError("EnvelopeTooLarge", f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        # no DTDs, no entities: an entity-expansion bomb never reaches the parser
        raise CoreEnvelopeError("InvalidEnvelope", "DOCTYPE/ENTITY declarations are not allowed")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise CoreEnvelopeError("InvalidEnvelope", "the SOAP body is not well-formed XML") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise CoreEnvelopeError("InvalidEnvelope", "not a SOAP 1.2 Envelope")
    soap_body = root.find(f"{{{SOAP_NS}}}Body")
    if soap_body is None or len(soap_body) != 1:
        raise CoreEnvelopeError("InvalidEnvelope", "the SOAP Body must hold one CORE envelope")
    el = soap_body[0]
    if el.tag == f"{{{CORE_NS}}}COREEnvelopeRealTimeRequest":
        response = False
    elif el.tag == f"{{{CORE_NS}}}COREEnvelopeRealTimeResponse":
        response = True
    else:
        raise CoreEnvelopeError("InvalidEnvelope", "expected COREEnvelopeRealTimeRequest or …Response")
    values: dict[str, str] = {}
    for child in el:
        local = child.tag.rsplit("}", 1)[-1]
        values[local] = child.text or ""
    token = root.find(f"{{{SOAP_NS}}}Header/{{{WSSE_NS}}}Security/{{{WSSE_NS}}}UsernameToken")
    if token is not None:
        values["UserName"] = token.findtext(f"{{{WSSE_NS}}}Username") or ""
        values["Password"] = token.findtext(f"{{{WSSE_NS}}}Password") or ""
    return _from_values(values), response


# ------------------------------------------------------------------------------------------- both forms


def form_of(content_type: str) -> str | None:
    """``multipart``, ``soap`` or None from a Content-Type header."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return MULTIPART
    if media in ("application/soap+xml", "text/xml", "application/xml"):
        return SOAP
    return None


def encode(env: CoreEnvelope, form: str, *, response: bool = False) -> tuple[str, bytes]:
    if form == MULTIPART:
        return encode_multipart(env, response=response)
    if form == SOAP:
        return encode_soap(env, response=response)
    raise ValueError(f"envelope form must be one of {', '.join(FORMS)}, not {form!r}")


def decode(content_type: str, body: bytes) -> tuple[CoreEnvelope, str]:
    """(envelope, form) of a request or response body, by its Content-Type."""
    form = form_of(content_type)
    if form == MULTIPART:
        return decode_multipart(content_type, body), form
    if form == SOAP:
        return decode_soap(body)[0], form
    raise CoreEnvelopeError(
        "InvalidEnvelope", "Content-Type must be multipart/form-data or application/soap+xml"
    )


def check_request(env: CoreEnvelope, payload_types: tuple[str, ...] = (PAYLOAD_270,)) -> None:
    """Raise :class:`CoreEnvelopeError` with CORE's code for the first rule a request breaks."""
    required = (
        ("PayloadType", env.payload_type),
        ("ProcessingMode", env.processing_mode),
        ("PayloadID", env.payload_id),
        ("TimeStamp", env.timestamp),
        ("SenderID", env.sender_id),
        ("ReceiverID", env.receiver_id),
        ("CORERuleVersion", env.rule_version),
        ("Payload", env.payload),
    )
    for name, value in required:
        if not (value or "").strip():
            raise CoreEnvelopeError(f"{name}Required", f"{name} is required")
    if env.rule_version != RULE_VERSION:
        raise CoreEnvelopeError("VersionMismatch", f"CORERuleVersion must be {RULE_VERSION}")
    if env.processing_mode != REALTIME:
        raise CoreEnvelopeError("ProcessingModeIncorrect", f"ProcessingMode must be {REALTIME} here")
    if env.payload_type not in payload_types:
        raise CoreEnvelopeError(
            "PayloadTypeIncorrect", f"PayloadType must be {' or '.join(payload_types)} for real-time requests"
        )
    if len(env.payload_id) > 50:
        raise CoreEnvelopeError("PayloadIDIllegal", "PayloadID is longer than 50 characters")
    try:
        dt.datetime.fromisoformat(env.timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise CoreEnvelopeError("TimeStampIllegal", "TimeStamp is not an XML dateTime") from None


def _from_values(values: dict[str, str]) -> CoreEnvelope:
    kw: dict[str, str | None] = {attr: values.get(name, "") for name, attr in _FIELDS}
    for name, attr in _RESPONSE_FIELDS + _AUTH_FIELDS:
        kw[attr] = values.get(name)
    return CoreEnvelope(**kw)  # type: ignore[arg-type]
