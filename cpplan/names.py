"""Names in Unicode normal form NFC, so that a name means one thing however it was typed.

"café" can be written with one code point for "é" (NFC, what most keyboards
type) or as "e" plus a combining accent (NFD, what some file systems and tools
write); both look the same, and a plan reading ``café -> café`` would move a VM
between two hosts that look like one. :func:`nfc_names` therefore reads every
name of an instance in NFC: the names of hosts, VMs, resources, links, groups
and images, and every reference to them (``initial``, ``target``, ``pinned``,
``drain``, the hosts of a link, the VMs of a group, ``allocation_ratio`` and
``page_sharing`` keys). Two names of one kind that differ as written but are
equal in NFC are refused, the error showing both spellings with their code
points escaped; a reference matches whichever spelling it uses.

>>> spec = nfc_names({"hosts": {"cafe\\u0301": {"ram": 8}}, "initial": {"a": "caf\\xe9"}}, "c.yaml")
>>> list(spec["hosts"]) == list(spec["initial"].values()) == ["caf\\xe9"]
True
>>> nfc_names({"hosts": {"caf\\xe9": {}, "cafe\\u0301": {}}}, "c.yaml")
Traceback (most recent call last):
...
cpplan.errors.InputError: c.yaml: hosts: host names 'caf\\xe9' and 'cafe\\u0301' are one name in Unicode (NFC)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping

from .errors import InputError


def nfc(name):
    """``name`` in NFC (itself when it already is, or when it is no string)."""
    if not isinstance(name, str) or name.isascii() or unicodedata.is_normalized("NFC", name):
        return name
    return unicodedata.normalize("NFC", name)


def nfc_names(spec: Mapping, source: str) -> dict:
    """The instance mapping ``spec`` (SPEC section 2) with every name in NFC.

    Parts already in NFC are returned as they are (no copy); values of a wrong
    type are left alone, for the instance's own checks to refuse.
    """
    out = dict(spec)
    for kind, what in (("hosts", "host"), ("vms", "VM")):
        out[kind] = _keys(spec.get(kind), source, kind, what)
    if not _all_nfc(_size_names(out.get("hosts")) | _size_names(out.get("vms"))):
        resources: dict[str, str] = {}  # NFC -> spelling, over every host's and VM's keys
        for kind in ("hosts", "vms"):
            out[kind] = _values(out.get(kind), lambda name, s, kind=kind: _sizes(
                s, source, f"{kind}.{name}", resources))
    for kind in ("initial", "target"):
        out[kind] = _keys(spec.get(kind), source, kind, "VM")
        if isinstance(out[kind], Mapping) and not _ascii(out[kind].values()):
            out[kind] = _values(out[kind], lambda _, hosts: _name_or_names(hosts))
    out["allocation_ratio"] = _keys(spec.get("allocation_ratio"), source, "allocation_ratio", "resource")
    for kind, members in (("links", "hosts"), ("groups", "vms")):
        items = _keys(spec.get(kind), source, kind, kind[:-1])
        out[kind] = _values(items, lambda _, s, members=members: _replaced(s, members, _name_or_names))
    for kind in ("pinned", "drain"):
        out[kind] = _name_or_names(spec.get(kind))
    sharing = _replaced(spec.get("page_sharing"), "resource", nfc)
    out["page_sharing"] = _replaced(
        sharing, "images", lambda images: _keys(images, source, "page_sharing.images", "image"))
    return {k: v for k, v in out.items() if k in spec}


def _size_names(specs) -> set:
    """Every name in the mappings of hosts or VMs: their keys, images and allocation-ratio keys."""
    if not isinstance(specs, Mapping):
        return set()
    specs = [s for s in specs.values() if isinstance(s, Mapping)]
    names = set().union(*specs)
    names.update(s["image"] for s in specs if "image" in s and isinstance(s["image"], str))
    names.update(*(s["allocation_ratio"] for s in specs if isinstance(s.get("allocation_ratio"), Mapping)))
    return names


def _sizes(spec, source: str, key: str, resources: dict) -> Mapping:
    """A host's or VM's mapping with its resource names (and image, ratio keys) in NFC."""
    if not isinstance(spec, Mapping):
        return spec
    for name in spec:
        spelling = resources.setdefault(nfc(name), name)
        if spelling != name:
            raise InputError(source, key, _twins(spelling, name, "resource"))
    spec = _keys(spec, source, key, "resource")
    spec = _replaced(spec, "image", nfc)
    return _replaced(spec, "allocation_ratio",
                     lambda ratios: _keys(ratios, source, f"{key}.allocation_ratio", "resource"))


def _name_or_names(value):
    """A name, or a list of names, in NFC."""
    if isinstance(value, list) and not all(nfc(x) is x for x in value):
        return [nfc(x) for x in value]
    return nfc(value)


def _keys(data, source: str, key: str, what: str):
    """``data`` with its keys in NFC; two keys equal in NFC are refused."""
    if not isinstance(data, Mapping) or _all_nfc(data):
        return data
    out, spellings = {}, {}
    for k, v in data.items():
        name = nfc(k)
        if name in spellings:
            raise InputError(source, key, _twins(spellings[name], k, what))
        spellings[name] = k
        out[name] = v
    return out


def _all_nfc(names) -> bool:
    return _ascii(names) or all(nfc(x) is x for x in names)


def _ascii(names) -> bool:
    """Whether every name is an ASCII string (so in NFC), in one pass in C."""
    try:
        return "".join(names).isascii()
    except TypeError:  # a name that is no string
        return False


def _values(data, change: Callable):
    """``data`` with each value replaced by ``change(key, value)``; ``data`` itself when none changes."""
    if not isinstance(data, Mapping):
        return data
    out = {k: change(k, v) for k, v in data.items()}
    return data if all(out[k] is v for k, v in data.items()) else out


def _replaced(data, key: str, change: Callable):
    """``data`` with ``data[key]`` replaced by ``change(data[key])``; ``data`` itself when it is the same."""
    if not isinstance(data, Mapping) or key not in data:
        return data
    value = change(data[key])
    return data if value is data[key] else {**data, key: value}


def _twins(first: str, second: str, what: str) -> str:
    return f"{what} names {_escaped(first)} and {_escaped(second)} are one name in Unicode (NFC)"


def _escaped(name: str, limit: int = 40) -> str:
    """``name`` quoted with every non-ASCII code point escaped, so that two spellings differ visibly."""
    text = ascii(name)
    return text if len(text) <= limit else text[:limit] + "..."
