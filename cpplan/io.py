"""Files in and out: instances from YAML/JSON with one-line errors, plans as JSON.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "bad.yaml")
>>> _ = open(path, "w").write("hosts: {h1: {ram: 8}}\\nvms: {a: {ram: -4}}\\ninitial: {a: h1}\\n")
>>> load_instance(path)
Traceback (most recent call last):
...
cpplan.errors.InputError: bad.yaml: vms.a.ram: must be a non-negative number, got -4
"""

from __future__ import annotations

import collections.abc
import errno
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import yaml

from .checks import finite_number, short_repr
from .errors import InputError
from .model import Instance
from .plan import STATUSES, Plan

TOP_LEVEL_KEYS = ("hosts", "vms", "initial", "target", "limits", "allocation_ratio", "links",
                  "groups", "pinned", "page_sharing", "drain")


# libyaml's loader and dumper when PyYAML has them: 3x faster to read and 2x faster to write
# an instance of 10 000 hosts (benchmarks/results/io.md), the same documents. libyaml's reader
# recurses on the C stack, so a document that may nest deeper than C_LOADER_MAX_DEPTH goes to
# the Python reader, which stops with a RecursionError instead of crashing.
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
C_LOADER_MAX_DEPTH = 100
MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping."""


class _FastUniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """:class:`_UniqueKeyLoader` on libyaml, for documents that nest little (see :func:`_nesting`)."""


def _construct_mapping(loader, node, deep=False):
    merges = any(key_node.tag == MERGE_TAG for key_node, _ in node.value)
    if merges:  # checked before the merge flattens the node, where a key may override a merged one
        _refuse_repeated_keys(loader, node, deep)
    mapping = loader.construct_mapping(node, deep=deep)
    if not merges and len(mapping) != len(node.value):  # else no key was given twice: no second look
        _refuse_repeated_keys(loader, node, deep)
    return mapping


def _refuse_repeated_keys(loader, node, deep) -> None:
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == MERGE_TAG:  # `<<: *defaults`, merged by construct_mapping
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, collections.abc.Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a name, got {type(key).__name__}", key_node.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice in one mapping", key_node.start_mark)
        seen[key] = True


for _loader in (_UniqueKeyLoader, _FastUniqueKeyLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _nesting(text: str) -> int:
    r"""An upper estimate of how deeply a YAML document nests: open brackets, plus the longest run
    of indentation and block indicators (``- ``, ``? ``, ``: ``) that starts a line.

    >>> _nesting("hosts:\n  h1: {ram: [4, 8]}\n")
    4
    """
    data = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    opening = (data == ord("[")) | (data == ord("{"))
    steps = np.where(opening, 1, -1)[opening | (data == ord("]")) | (data == ord("}"))]
    depth = np.cumsum(steps)
    # closers without openers (in a comment or a string) must not hide the nesting that follows
    brackets = int((depth - np.minimum.accumulate(np.minimum(depth, 0))).max(initial=0))
    starts = re.findall(r"(?:\A|(?<=[\n\r\x85\u2028\u2029]))[ \t?:-]*", text)  # after every YAML line break
    return brackets + max(map(len, starts), default=0)


def _json_no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} given twice in one mapping")
        out[k] = v
    return out


def read_mapping(path, what: str = "file") -> tuple[dict, str]:
    """Parse a YAML or JSON file that must hold a mapping; returns (data, short name)."""
    name = os.path.basename(str(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(name, "", f"no such {what}: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(name, "", f"cannot read {what}: {e}") from None
    if not text.strip():
        raise InputError(name, "", f"the {what} is empty")
    try:
        if str(path).endswith(".json"):
            data = json.loads(text, object_pairs_hook=_json_no_duplicates)
        else:
            fast = _nesting(text) <= C_LOADER_MAX_DEPTH
            data = yaml.load(text, Loader=_FastUniqueKeyLoader if fast else _UniqueKeyLoader)  # noqa: S506
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        problem = e.problem or str(e).splitlines()[0]
        raise InputError(name, "", f"{where}invalid YAML: {problem}") from None
    except (yaml.YAMLError, ValueError) as e:
        raise InputError(name, "", f"invalid {'JSON' if str(path).endswith('.json') else 'YAML'}: "
                         f"{str(e).splitlines()[0]}") from None
    except RecursionError:
        raise InputError(name, "", "nested too deeply to read") from None
    if data is None:
        raise InputError(name, "", f"the {what} is empty")
    if not isinstance(data, dict):
        raise InputError(name, "", f"must be a mapping at the top level, got {type(data).__name__}")
    return data, name


def instance_from_dict(data: dict, source: str = "") -> Instance:
    """An :class:`Instance` from the mapping of SPEC section 2."""
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise InputError(source, str(key), f"unknown top-level key (expected one of: "
                             f"{', '.join(TOP_LEVEL_KEYS)})")
    for key in ("hosts", "vms", "initial"):
        if key not in data:
            raise InputError(source, key, "missing")
    return Instance(**data, source=source)


def load_instance(path) -> Instance:
    """Read an instance file (YAML or JSON); bad input raises :class:`InputError`."""
    data, name = read_mapping(path, "instance file")
    return instance_from_dict(data, name)


def load_plan(path) -> Plan:
    """Read a plan file (JSON per SPEC section 3)."""
    data, name = read_mapping(path, "plan file")
    status = data.get("status")
    if status not in STATUSES:
        raise InputError(name, "status", f"must be one of {', '.join(STATUSES)}, got {status!r}")
    if not isinstance(data.get("rounds", []), list):
        raise InputError(name, "rounds", "must be a list of rounds")
    for key in ("cost", "lower_bound"):
        value = data.get(key)
        if value is not None and not finite_number(value):
            raise InputError(name, key, f"must be a finite number, got {short_repr(value)}")
    bound = data.get("rounds_lower_bound")
    if bound is not None:
        if not (finite_number(bound) and bound >= 0 and bound == int(bound)):
            raise InputError(name, "rounds_lower_bound",
                             f"must be a whole number of rounds, got {short_repr(bound)}")
        data = {**data, "rounds_lower_bound": int(bound)}
    return Plan.from_dict(data)


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=1) + "\n"


def write_atomic(path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written.

    A symlink is followed (its target is replaced), and a path that exists but
    is no regular file (``/dev/stdout``, a pipe) is written directly. Errors
    name ``path``, never the temporary file.
    """
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    encoding = None if isinstance(data, bytes) else "utf-8"
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        with open(path, mode, encoding=encoding) as f:
            f.write(data)
        return
    if path.is_symlink():
        path = path.resolve()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            f.write(data)
        os.chmod(tmp, _new_file_mode())  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def check_writable(path) -> None:
    """Raise now the error :func:`write_atomic` would raise on ``path`` after a long run: a folder
    that is missing or not writable, or a path that is a folder.

    >>> check_writable("no/such/folder/plan.json")
    Traceback (most recent call last):
    ...
    FileNotFoundError: [Errno 2] no such folder: 'no/such/folder/plan.json'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
    if path.exists() and not path.is_file():  # a device or a pipe: written directly
        if not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, "not writable", str(path))
        return
    folder = path.resolve().parent  # the temporary file goes beside the file a symlink points to
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path))
    try:  # the one sure test: write_atomic's own first step
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(path)) from None


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_plan(plan: Plan, path) -> None:
    write_atomic(path, plan_json(plan))


def instance_yaml(inst: Instance) -> str:
    """An instance as a YAML document, keys in SPEC's order."""
    return yaml.dump(inst.to_dict(), Dumper=_SafeDumper, sort_keys=False, default_flow_style=None)


def save_instance(inst: Instance, path) -> None:
    """Write an instance as YAML (or JSON when the name ends in .json)."""
    text = (json.dumps(inst.to_dict(), indent=1) + "\n" if str(path).endswith(".json")
            else instance_yaml(inst))
    write_atomic(path, text)
