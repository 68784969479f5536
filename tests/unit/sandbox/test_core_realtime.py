"""CAQH CORE envelopes (multipart and SOAP) and the sandbox's real-time endpoint, without a database:
round trips, CORE error codes, 999 for an invalid 270, credentials, and the client's certificate pin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimflow.inquiries.core_envelope import (
    FORMS,
    PAYLOAD_270,
    PAYLOAD_271,
    PAYLOAD_999,
    CoreEnvelope,
    CoreEnvelopeError,
    check_request,
    decode,
    decode_soap,
    encode,
)
from claimflow.inquiries.eligibility_realtime import (
    CertificatePinMismatch,
    CoreConfig,
    CoreConnectionError,
    RealtimeInputError,
    exchange,
    normalize_fingerprint,
)
from claimflow.sandbox.core_server import CoreServer, ensure_certificate
from edi.claim import InterchangeParties
from edi.reader import iter_segments
from edi.validate import validate_x12
from edi.x270 import Inquiry, build_270
from parsers.records import Eligibility
from parsers.x271_005010x279a1 import parse

PAYLOAD = "ISA*00*          *00*          *ZZ*A*ZZ*B~\r\nST*270*0001~"


def _270(member: str = "W123456789", *, broken: bool = False) -> str:
    text = build_270(
        [
            Inquiry(
                trace="CF7-1",
                payer_name="SANDBOX PAYER",
                payer_id="SBX01",
                provider_name="CLINIC",
                provider_npi="1234567893",
                last_name="DOE",
                first_name="JANE",
                member_id=member,
                birth_date=dt.date(1980, 1, 2),
                gender="F",
                plan_date=dt.date(2026, 11, 25),
            )
        ],
        InterchangeParties("ZZ", "CLAIMFLOW01", "ZZ", "SANDBOXCH"),
        interchange_control_number=17,
        group_control_number=17,
        transaction_control_number=17,
        created=dt.datetime(2026, 11, 25, 9, 30),
    )
    return text.replace("DMG*D8*19800102*F~", "DMG*D8*1980-01-02*F~") if broken else text


# ------------------------------------------------------------------------------------------ envelopes


@pytest.mark.parametrize("form", FORMS)
def test_request_and_response_round_trip(form: str) -> None:
    req = CoreEnvelope.request(
        PAYLOAD, sender_id="CLAIMFLOW01", receiver_id="SANDBOXCH", username="u", password="p w"
    )
    ctype, body = encode(req, form)
    back, got_form = decode(ctype, body)
    assert got_form == form and back == req
    assert back.payload == PAYLOAD  # CR/LF and X12 delimiters survive both forms byte for byte
    check_request(back)

    resp = req.response(PAYLOAD_271, "ISA*271~")
    ctype, body = encode(resp, form, response=True)
    back, _ = decode(ctype, body)
    assert back == resp
    assert (back.sender_id, back.receiver_id, back.payload_id) == ("SANDBOXCH", "CLAIMFLOW01", req.payload_id)
    assert back.error_code == "Success" and back.username is None and back.password is None
    assert b"p w" not in body  # credentials never travel back


def test_soap_shape_and_token() -> None:
    req = CoreEnvelope.request(PAYLOAD, sender_id="S", receiver_id="R", username="alice", password="secret")
    _ctype, body = encode(req, "soap")
    text = body.decode()
    assert "COREEnvelopeRealTimeRequest" in text and "http://www.w3.org/2003/05/soap-envelope" in text
    assert "<PayloadType>X12_270_Request_005010X279A1</PayloadType>" in text
    assert "<CORERuleVersion>2.2.0</CORERuleVersion>" in text and "UsernameToken" in text
    env, is_response = decode_soap(body)
    assert not is_response and (env.username, env.password) == ("alice", "secret")


def test_request_rules_give_core_error_codes() -> None:
    good = CoreEnvelope.request(PAYLOAD, sender_id="S", receiver_id="R")
    cases = {
        "PayloadTypeIncorrect": {"payload_type": "X12_276_Request_005010X212"},
        "ProcessingModeIncorrect": {"processing_mode": "Batch"},
        "VersionMismatch": {"rule_version": "2.1.0"},
        "PayloadIDRequired": {"payload_id": ""},
        "SenderIDRequired": {"sender_id": " "},
        "PayloadRequired": {"payload": ""},
        "TimeStampIllegal": {"timestamp": "yesterday"},
    }
    for code, change in cases.items():
        env = CoreEnvelope(**{**{k: getattr(good, k) for k in good.__slots__}, **change})
        with pytest.raises(CoreEnvelopeError) as info:
            check_request(env)
        assert info.value.code == code


def test_hostile_bodies_are_envelope_errors() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(CoreEnvelopeError, match="DOCTYPE"):
        decode("application/soap+xml", bomb)
    with pytest.raises(CoreEnvelopeError):
        decode("application/soap+xml", b"<not-xml")
    with pytest.raises(CoreEnvelopeError):
        decode("multipart/form-data; boundary=x", b"nothing here")
    with pytest.raises(CoreEnvelopeError):
        decode("application/json", b"{}")


def test_fingerprints_and_config() -> None:
    fp = "AB:" * 31 + "AB"
    assert normalize_fingerprint(fp) == "ab" * 32
    assert normalize_fingerprint("sha256:" + "0f" * 32) == "0f" * 32
    with pytest.raises(ValueError):
        normalize_fingerprint("abc")
    with pytest.raises(RealtimeInputError, match="https"):
        CoreConfig(url="http://127.0.0.1:1/core/realtime")
    with pytest.raises(RealtimeInputError, match="CLAIMFLOW_CORE_CERT_SHA256"):
        CoreConfig(url="https://127.0.0.1:1/core/realtime", cert_sha256="nope")
    with pytest.raises(RealtimeInputError, match="not set"):
        CoreConfig.from_env({})


def test_certificate_is_made_once_and_private(tmp_path: Path) -> None:
    cert, key, fp = ensure_certificate(tmp_path / "k")
    assert (key.stat().st_mode & 0o777) == 0o600 and len(fp) == 64
    again = ensure_certificate(tmp_path / "k")
    assert again == (cert, key, fp)


# ---------------------------------------------------------------------------------- the live endpoint


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CoreServer]:
    with CoreServer(tmp_path / "sandbox", port=0, seed=42, run_date=dt.date(2026, 11, 25)) as s:
        yield s


def _config(server: CoreServer, **kw: object) -> CoreConfig:
    return CoreConfig(url=server.url, cert_sha256=server.fingerprint, timeout=5, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("form", FORMS)
def test_endpoint_answers_a_270_with_a_271_in_the_same_form(server: CoreServer, form: str) -> None:
    req = CoreEnvelope.request(_270(), sender_id="CLAIMFLOW01", receiver_id="SANDBOXCH")
    resp, status = exchange(_config(server), req, form)
    assert status == 200 and resp.error_code == "Success" and resp.payload_type == PAYLOAD_271
    assert resp.payload_id == req.payload_id and resp.rule_version == "2.2.0"
    data = resp.payload.encode()
    assert validate_x12(data).ok
    (rec,) = [r for r in parse(data) if isinstance(r, Eligibility)]
    assert rec.trace_number == "CF7-1" and (rec.active is not None or rec.rejections)
    # the same member asked twice gets the same answer (the sandbox payer is deterministic)
    again, _ = exchange(_config(server), CoreEnvelope.request(_270(), sender_id="C", receiver_id="S"), form)
    (rec2,) = [r for r in parse(again.payload.encode()) if isinstance(r, Eligibility)]
    assert (rec2.active, rec2.plan, rec2.deductible_remaining) == (
        rec.active,
        rec.plan,
        rec.deductible_remaining,
    )


def test_endpoint_answers_an_invalid_270_with_a_999(server: CoreServer) -> None:
    req = CoreEnvelope.request(_270(broken=True), sender_id="CLAIMFLOW01", receiver_id="SANDBOXCH")
    resp, status = exchange(_config(server), req, "multipart")
    assert status == 200 and resp.error_code == "Success" and resp.payload_type == PAYLOAD_999
    data = resp.payload.encode()
    report = validate_x12(data)
    assert report.ok, [e.line("999") for e in report.errors]
    segs = [el for _n, el in iter_segments(data)]
    assert ["IK5", "R", "5"] in segs and any(el[0] == "AK9" and el[1] == "R" for el in segs)
    assert any(el[0] == "IK3" and el[1] == "DMG" for el in segs)


@pytest.mark.parametrize("form", FORMS)
def test_endpoint_refuses_a_wrong_payload_type(server: CoreServer, form: str) -> None:
    req = CoreEnvelope.request(
        _270(), sender_id="C", receiver_id="S", payload_type="X12_276_Request_005010X212"
    )
    resp, status = exchange(_config(server), req, form)
    assert status == 400 and resp.error_code == "PayloadTypeIncorrect" and resp.payload == ""
    assert resp.payload_id == req.payload_id


def test_endpoint_with_credentials(tmp_path: Path) -> None:
    with CoreServer(tmp_path / "sb", port=0, username="clinic", password="s3cret") as server:
        req = CoreEnvelope.request(_270(), sender_id="C", receiver_id="S")
        resp, status = exchange(_config(server), req, "multipart")
        assert status == 401 and resp.error_code == "UnAuthorized"
        bad = CoreEnvelope.request(_270(), sender_id="C", receiver_id="S", username="clinic", password="nope")
        resp, status = exchange(_config(server), bad, "soap")
        assert status == 401 and resp.error_code == "UnAuthorized"
        for form in FORMS:
            ok = CoreEnvelope.request(
                _270(), sender_id="C", receiver_id="S", username="clinic", password="s3cret"
            )
            resp, status = exchange(_config(server), ok, form)
            assert status == 200 and resp.payload_type == PAYLOAD_271, form


def test_pin_mismatch_is_refused_before_sending(server: CoreServer, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bytes] = []
    original = server.handle
    monkeypatch.setattr(
        server, "handle", lambda ct, body, auth: asked.append(body) or original(ct, body, auth)
    )
    wrong = "00" * 32
    config = CoreConfig(url=server.url, cert_sha256=wrong, timeout=5)
    with pytest.raises(CertificatePinMismatch) as info:
        exchange(config, CoreEnvelope.request(_270(), sender_id="C", receiver_id="S"), "multipart")
    assert info.value.expected == wrong and info.value.got == server.fingerprint
    assert wrong in str(info.value) and server.fingerprint in str(info.value)
    assert asked == []  # not one request reached the server

    # without a pin the system CA store must vouch for the server, and a self-signed one is refused
    with pytest.raises(CoreConnectionError, match="not trusted"):
        exchange(
            CoreConfig(url=server.url, timeout=5),
            CoreEnvelope.request(_270(), sender_id="C", receiver_id="S"),
        )
    assert asked == []

    exchange(_config(server), CoreEnvelope.request(_270(), sender_id="C", receiver_id="S"))
    assert len(asked) == 1 and PAYLOAD_270.encode() in asked[0]


@pytest.mark.parametrize(
    ("payload", "code"),
    [("hello, not X12", "PayloadIllegal"), ("ST*276*0001~BHT*0010*13~SE*2*0001~", "PayloadTypeIncorrect")],
)
def test_endpoint_refuses_a_payload_that_is_not_a_270(server: CoreServer, payload: str, code: str) -> None:
    resp, status = exchange(_config(server), CoreEnvelope.request(payload, sender_id="C", receiver_id="S"))
    assert status == 400 and resp.error_code == code and resp.payload == ""
