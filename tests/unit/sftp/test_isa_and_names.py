"""The pre-upload checks: ISA header against the profile, remote name rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftp.errors import ProfileConfigError, ProfileMismatch
from sftp.isa import parse_isa_header, read_isa_header
from sftp.partner import PartnerProfile
from sftp.transfer import check_profile, render_upload_name

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM2NqYrkOvSX4XVxL/UuiC+CbC9JrFiJbCysWDOZ1t/1"
ISA = "ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*RECEIVER01     *250102*1315*^*00501*000000123*0*{u}*:~"


def profile(**kw: object) -> PartnerProfile:
    values: dict[str, object] = {
        "name": "acme",
        "host": "h",
        "username": "u",
        "host_key": HOST_KEY,
        "isa_receiver_qualifier": "ZZ",
        "isa_receiver_id": "RECEIVER01",
        "isa_sender_qualifier": "ZZ",
        "isa_sender_id": "SUBMITTER01",
        "usage_indicator": "T",
    }
    values.update(kw)
    return PartnerProfile(**values)  # type: ignore[arg-type]


def test_parse_isa() -> None:
    h = parse_isa_header((ISA.format(u="T") + "GS*HC~").encode())
    assert (h.sender_qualifier, h.sender_id) == ("ZZ", "SUBMITTER01")
    assert (h.receiver_qualifier, h.receiver_id) == ("ZZ", "RECEIVER01")
    assert (h.date, h.time, h.control_number, h.usage) == ("250102", "1315", "000000123", "T")


def test_parse_isa_other_delimiters_and_bom() -> None:
    text = "\ufeff" + ISA.format(u="P").replace("*", "|").replace(":~", ">\n")
    h = parse_isa_header(text.encode("utf-8"))
    assert h.usage == "P" and h.receiver_id == "RECEIVER01"


@pytest.mark.parametrize("data", [b"", b"GS*HC~", b"ISA", b"ISA*00*  *00", b"ISAA00*", b"ISA*00*x"])
def test_not_an_interchange(data: bytes) -> None:
    with pytest.raises(ProfileMismatch):
        parse_isa_header(data, label="f.837")


def test_check_profile_accepts_matching_file() -> None:
    check_profile(parse_isa_header(ISA.format(u="T").encode()), profile(), "f.837")


@pytest.mark.parametrize(
    ("usage", "kw", "match"),
    [
        ("P", {}, "ISA15 usage indicator is 'P' but this mailbox is test"),
        ("T", {"usage_indicator": "P"}, "production"),
        ("T", {"isa_receiver_id": "OTHER"}, "receiver"),
        ("T", {"isa_receiver_qualifier": "01"}, "receiver"),
        ("T", {"isa_sender_id": "SOMEONE"}, "sender"),
        ("T", {"isa_receiver_id": None}, "no isa_receiver_id"),
    ],
)
def test_check_profile_refuses(usage: str, kw: dict[str, object], match: str) -> None:
    with pytest.raises(ProfileMismatch, match=match) as err:
        check_profile(parse_isa_header(ISA.format(u=usage).encode()), profile(**kw), "f.837")
    assert "f.837" in str(err.value)


def test_sender_check_is_optional() -> None:
    p = profile(isa_sender_id=None, isa_sender_qualifier=None)
    check_profile(parse_isa_header(ISA.format(u="T").encode()), p, "f.837")


def test_render_upload_name(tmp_path: Path) -> None:
    f = tmp_path / "batch-7.837"
    f.write_text(ISA.format(u="T"))
    h = read_isa_header(f)
    assert render_upload_name(profile(), f, h, None) == "batch-7.837"
    p = profile(upload_name_template="{partner}_{isa13}_{isa09}{isa10}_{isa15}{suffix}")
    assert render_upload_name(p, f, h, None) == "acme_000000123_2501021315_T.837"
    p = profile(upload_name_template="{stem}.{sha8}.x12")
    assert render_upload_name(p, f, h, "0123456789abcdef") == "batch-7.01234567.x12"


@pytest.mark.parametrize("template", ["../{name}", "sub/{name}", ".{name}", "{name}.part"])
def test_render_refuses_unsafe_or_temp_looking_names(tmp_path: Path, template: str) -> None:
    f = tmp_path / "c.837"
    f.write_text(ISA.format(u="T"))
    with pytest.raises(ProfileConfigError):
        render_upload_name(profile(upload_name_template=template), f, read_isa_header(f), None)
