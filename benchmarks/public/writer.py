"""Write a converted instance: checked by cpplan's loader first, then written whole or not at all.

A ``.yaml`` (or ``.yml``) output starts with the conversion's notes as comments (what was kept,
what was dropped); JSON has no comments, so for ``.json`` the notes go to the terminal only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from cpplan.errors import InputError
from cpplan.io import write_atomic
from cpplan.model import Instance


class ConversionError(Exception):
    """A downloaded file that does not read as its format says (one line, naming the file)."""


def write_instance(inst: dict, notes: list[str], path: Path) -> None:
    try:
        Instance(**inst, source=path.name)
    except InputError as e:
        raise ConversionError(f"the converted instance is not valid: {e}") from None
    if path.suffix in (".yaml", ".yml"):
        header = "".join(f"# {line}\n" for line in notes)
        text = header + yaml.dump(inst, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                                  sort_keys=False, default_flow_style=None, width=120)
    else:
        text = json.dumps(inst, separators=(",", ":"))
    write_atomic(path, text)
    for line in notes:
        print(line, file=sys.stderr)
