"""claimflow's own pyx12 maps: 270/271 005010X279A1, 276/277 005010X212.

pyx12 resolves a functional group to a map through ``maps.xml`` in one folder (``map_path``), and loads
the control map, ``dataele.xml`` and ``codes.xml`` from that same folder. :func:`map_path` therefore
assembles, once per process, a folder holding pyx12's own map files (symlinked) plus ours and an index
naming both; :func:`owns` says whether a functional group (GS01, GS08) needs it.

Example index entry (``edi/maps/maps.xml``)::

    <map vriic="005010X279A1" fic="HS" abbr="270">270.5010.X279.A1.xml</map>
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import xml.etree.ElementTree as et
from importlib.resources import as_file, files
from pathlib import Path

HERE = Path(__file__).resolve().parent
INDEX = HERE / "maps.xml"

_lock = threading.Lock()
_path: str | None = None


def our_maps() -> dict[tuple[str, str], str]:
    """``{(GS01, GS08): map file}`` for the maps claimflow ships."""
    root = et.parse(INDEX).getroot()
    return {
        (m.get("fic") or "", m.get("vriic") or ""): m.text or ""
        for v in root.iter("version")
        for m in v.iterfind("map")
    }


def owns(fic: str, vriic: str) -> bool:
    return (fic, vriic) in our_maps()


def map_path() -> str:
    """A folder pyx12 can use as ``map_path``: pyx12's maps + ours, one ``maps.xml`` naming both."""
    global _path
    with _lock:
        if _path is not None and Path(_path).is_dir():
            return _path
        tmp = tempfile.mkdtemp(prefix="claimflow-pyx12-maps-")
        atexit.register(shutil.rmtree, tmp, True)
        with as_file(files("pyx12").joinpath("map")) as pyx12_dir:
            for src in Path(pyx12_dir).iterdir():
                if src.is_file() and src.name != "maps.xml":
                    (Path(tmp) / src.name).symlink_to(src)
            index = et.parse(Path(pyx12_dir) / "maps.xml")
        ours = our_maps()
        for name in set(ours.values()):
            dst = Path(tmp) / name
            if dst.exists() or dst.is_symlink():
                dst.unlink()
            dst.symlink_to(HERE / name)
        v501 = next(v for v in index.getroot().iter("version") if v.get("icvn") == "00501")
        for m in list(v501.iterfind("map")):
            if (m.get("fic"), m.get("vriic")) in ours:
                v501.remove(m)
        for (fic, vriic), name in sorted(ours.items()):
            el = et.Element("map", {"vriic": vriic, "fic": fic, "abbr": name.split(".", 1)[0]})
            el.text = name
            v501.insert(0, el)
        index.write(Path(tmp) / "maps.xml", encoding="utf-8", xml_declaration=True)
        _path = tmp
        return tmp
