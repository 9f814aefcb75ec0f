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
import stat
import tempfile
from pathlib import Path

import numpy as np
import yaml

from .blockers import check_blocked
from .checks import finite_number, short_repr
from .errors import InputError
from .model import Instance
from .names import nfc
from .plan import STATUSES, Plan

TOP_LEVEL_KEYS = ("hosts", "vms", "initial", "target", "limits", "allocation_ratio", "links",
                  "groups", "pinned", "page_sharing", "drain", "migration")


# libyaml's loader and dumper when PyYAML has them: 3x faster to read and 2x faster to write
# an instance of 10 000 hosts (benchmarks/results/io.md), the same documents. libyaml's composer
# recurses on the C stack, so a document that may nest deeper than C_LOADER_MAX_DEPTH is composed
# by PyYAML's Python composer, which stops with a RecursionError instead of crashing; libyaml still
# scans and parses it. libyaml and PyYAML's Python scanner disagree on some documents (a tab after
# a colon, `>#`, a byte-order mark inside the document...), so with libyaml every document is
# scanned by libyaml, whatever its nesting: one document, one verdict.
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LIBYAML = getattr(yaml, "__with_libyaml__", False)
C_LOADER_MAX_DEPTH = 100
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_ALIAS_NODES = 1_000_000  # nodes that aliases may add to a document, each a copy of its anchor's
LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML's Python reader)."""


if _LIBYAML:
    class _FastUniqueKeyLoader(yaml.CSafeLoader):
        """:class:`_UniqueKeyLoader` on libyaml, for documents that nest little (see :func:`_nesting`)."""

    class _DeepUniqueKeyLoader(yaml.cyaml.CParser, yaml.composer.Composer, yaml.constructor.SafeConstructor,
                               yaml.resolver.Resolver):
        """:class:`_UniqueKeyLoader` on libyaml's scanner and parser with PyYAML's Python composer."""

        def __init__(self, stream):
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node
        get_single_node = yaml.composer.Composer.get_single_node
else:
    _FastUniqueKeyLoader = _DeepUniqueKeyLoader = _UniqueKeyLoader


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


for _loader in {_UniqueKeyLoader, _FastUniqueKeyLoader, _DeepUniqueKeyLoader}:
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str):
    """The document in ``text``, read by libyaml when PyYAML has it (composed in Python when it may nest
    deeper than :data:`C_LOADER_MAX_DEPTH`), after :func:`_refuse_alias_bombs`."""
    fast = _nesting(text) <= C_LOADER_MAX_DEPTH
    loader = (_FastUniqueKeyLoader if fast else _DeepUniqueKeyLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "&" in text:  # without an anchor there is no alias
            _refuse_alias_bombs(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_alias_bombs(root) -> None:
    """Refuse a composed document whose aliases, each replaced by a copy of its anchor's node, add more
    than :data:`MAX_ALIAS_NODES` nodes ("billion laughs"), or whose node contains itself.

    The expanded size of a node is 1 plus that of its children, counted once per sequence or
    mapping with memoisation: time and memory grow with the nodes as written (an alias of a scalar
    counts as one more), never with the expansion. (The constructed objects would share references
    too; what blows up is whatever walks them later.) The walk recurses, one level per level of
    the document, which the composer has just done deeper still.

    >>> _refuse_alias_bombs(yaml.compose("a: &x [1, 2, 3]\\nb: [*x, *x]\\n"))
    >>> levels = zip("abcdefghijklm", "bcdefghijklmn")
    >>> bomb = "a: &a [x, x, x]\\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}]\\n" for p, c in levels)
    >>> _refuse_alias_bombs(yaml.compose(bomb))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    yaml.composer.ComposerError: aliases expand the document to 10761686 nodes (it has 32 as written, ...
      in "<unicode string>", line 13, column 4:
    ...
    """
    size: dict[int, int | None] = {}  # id(collection) -> its expanded size; None while being counted
    nodes = {}  # id(collection) -> collection
    scalars = 0

    def expanded(node) -> int:
        nonlocal scalars
        if node.__class__ is yaml.ScalarNode:
            scalars += 1
            return 1
        key = id(node)
        known = size.get(key, 0)
        if known:
            return known
        if known is None:
            raise yaml.composer.ComposerError(None, None, "an alias refers to a node that contains it",
                                              node.start_mark)
        size[key], nodes[key] = None, node
        if node.__class__ is yaml.SequenceNode:
            total = 1 + sum(map(expanded, node.value))
        else:
            total = 1 + sum(expanded(k) + expanded(v) for k, v in node.value)
        size[key] = total
        return total

    whole = expanded(root)
    written = len(size) + scalars
    if whole > written + MAX_ALIAS_NODES:
        worst = min((nodes[k] for k, n in size.items() if n > MAX_ALIAS_NODES), key=lambda n: size[id(n)])
        raise yaml.composer.ComposerError(
            None, None, f"aliases expand the document to {whole} nodes (it has {written} as "
                        f"written, at most {MAX_ALIAS_NODES} more are allowed)", worst.start_mark)


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
            data = _load_yaml(text)
    except yaml.MarkedYAMLError as e:
        if e.problem == LIBYAML_TOO_DEEP:  # libyaml's own limit (1000 levels), said as the Python reader's
            raise InputError(name, "", "nested too deeply to read") from None
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


def instance_from_dict(data: dict, source: str = "", *, choosing_target: bool = False) -> Instance:
    """An :class:`Instance` from the mapping of SPEC section 2 (``choosing_target``: :class:`Instance`)."""
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise InputError(source, str(key), f"unknown top-level key (expected one of: "
                             f"{', '.join(TOP_LEVEL_KEYS)})")
    for key in ("hosts", "vms", "initial"):
        if key not in data:
            raise InputError(source, key, "missing")
    return Instance(**data, source=source, choosing_target=choosing_target)


def load_instance(path, *, choosing_target: bool = False) -> Instance:
    """Read an instance file (YAML or JSON); bad input raises :class:`InputError`. ``choosing_target``: it
    is read to choose B, so its own B may break anti-affinity or overload a host (:class:`Instance`)."""
    data, name = read_mapping(path, "instance file")
    return instance_from_dict(data, name, choosing_target=choosing_target)


def load_plan(path) -> Plan:
    """Read a plan file (JSON per SPEC section 3)."""
    data, name = read_mapping(path, "plan file")
    status = data.get("status")
    if status not in STATUSES:
        raise InputError(name, "status", f"must be one of {', '.join(STATUSES)}, got {short_repr(status)}")
    if not isinstance(data.get("rounds", []), list):
        raise InputError(name, "rounds", "must be a list of rounds")
    if not isinstance(data.get("partial", False), bool):
        raise InputError(name, "partial", f"must be true or false, got {short_repr(data['partial'])}")
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
    _check_schedule_keys(data, name)
    if data.get("blocked") is not None:
        check_blocked(data["blocked"], name)
    return Plan.from_dict({**data, "rounds": _names_in_nfc(data.get("rounds", []))})


def _names_in_nfc(rounds: list) -> list:
    """The rounds with each migration's ``vm``, ``from`` and ``to`` in Unicode NFC, as the instance's
    names are (:mod:`cpplan.names`); anything that is not a migration is left for the validator."""
    keys = ("vm", "from", "to")
    return [[{**m, **{k: nfc(m[k]) for k in keys if k in m}} if isinstance(m, dict) else m for m in r]
            if isinstance(r, list) else r for r in rounds]


def _check_schedule_keys(data: dict, name: str) -> None:
    """SPEC 7.3's keys, when given: ``makespan`` and ``makespan_lower_bound`` and each migration's
    ``start``, ``end`` and ``bandwidth`` are non-negative finite numbers (a bandwidth above 0), and its
    ``after`` a list of whole numbers below its own number (migrations numbered round by round)."""
    for key in ("makespan", "makespan_lower_bound"):
        value = data.get(key)
        if value is not None and not (finite_number(value) and value >= 0):
            raise InputError(name, key, f"must be a non-negative number of seconds, got {short_repr(value)}")
    number = 0
    for t, moves in enumerate(data.get("rounds", [])):
        for k, m in enumerate(moves if isinstance(moves, list) else []):
            if not isinstance(m, dict):
                continue
            where = f"rounds[{t}][{k}]"
            for key in ("start", "end", "bandwidth"):
                value = m.get(key)
                if value is not None and not (finite_number(value) and value >= 0
                                              and (key != "bandwidth" or value > 0)):
                    kind = "positive" if key == "bandwidth" else "non-negative"
                    raise InputError(name, f"{where}.{key}", f"must be a {kind} finite number, "
                                     f"got {short_repr(value)}")
            after = m.get("after")
            if after is not None and not (isinstance(after, list) and all(
                    finite_number(p) and p == int(p) and 0 <= p < number for p in after)):
                raise InputError(name, f"{where}.after", f"must list earlier migrations, numbered from 0 "
                                 f"round by round (this one is {number}), got {short_repr(after)}")
            if after is not None:
                m["after"] = [int(p) for p in after]
            number += 1


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
        try:
            with open(path, mode, encoding=encoding) as f:
                f.write(data)
        except OSError as e:  # /dev/full: the error names no file
            raise OSError(e.errno, e.strerror, str(path)) from None
        return
    named = path
    if path.is_symlink():
        path = path.resolve()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    except OSError as e:
        raise OSError(e.errno, e.strerror, str(named)) from None
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            f.write(data)
        os.chmod(tmp, _new_file_mode())  # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk names no file, a failed rename the temporary one
            raise OSError(e.errno, e.strerror, str(named)) from None
        raise


def check_output(path, inputs, option: str = "-o") -> None:
    """Refuse now, before a long run, an output ``path`` given as ``option`` that is empty, that is one
    of the files ``inputs`` (:func:`check_not_input`), or that :func:`check_writable` refuses.

    >>> check_output("", ["cloud.yaml"])
    Traceback (most recent call last):
    ...
    cpplan.errors.InputError: -o: is empty: name a file to write
    """
    if not str(path):
        raise InputError("", option, "is empty: name a file to write")
    check_not_input(path, inputs, option)
    check_writable(path)


def check_not_input(output, inputs, option: str = "-o") -> None:
    """Refuse an ``output`` that is the same file as one of ``inputs``: writing it would destroy it.

    The same file is the same device and inode (``os.stat``, following symlinks: a symlink or a
    hard link to an input is that input), or, when either does not exist yet (an input may be
    another output, such as a journal written first), the same path once symlinks and ``..`` are
    resolved. Only regular input files count: writing to the terminal or a pipe an input was read
    from destroys nothing.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> cloud = os.path.join(folder, "cloud.yaml")
    >>> _ = open(cloud, "w").write("hosts: {}\\n")
    >>> os.link(cloud, os.path.join(folder, "copy.yaml"))
    >>> check_not_input(os.path.join(folder, "copy.yaml"), [cloud])
    Traceback (most recent call last):
    ...
    cpplan.errors.InputError: copy.yaml: -o: is the input file cloud.yaml: writing it would destroy it
    >>> check_not_input(os.path.join(folder, "plan.json"), [cloud])
    """
    for source in inputs:
        if _same_file(output, source):
            name = os.path.basename(str(source))
            raise InputError(os.path.basename(str(output)), option,
                             f"is the input file {name}: writing it would destroy it")


def _same_file(output, source) -> bool:
    try:
        source_stat = os.stat(source)
    except (OSError, ValueError):  # not written yet (another output, such as a journal), or no path at all
        return os.path.realpath(output) == os.path.realpath(source)
    if not stat.S_ISREG(source_stat.st_mode):
        return False
    try:
        output_stat = os.stat(output)
    except (OSError, ValueError):
        return os.path.realpath(output) == os.path.realpath(source)
    return (output_stat.st_dev, output_stat.st_ino) == (source_stat.st_dev, source_stat.st_ino)


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
