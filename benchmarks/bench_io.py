"""Benchmark reading and writing instance YAML: PyYAML's Python code against libyaml, as cpplan uses it
(and reading the same instance as JSON, for scale).

For each size, a generated ``tight`` cloud is written to a temporary file; then
each way reads it (parse and build the Instance) and writes it, best of
``--repeat`` runs. The ratio python / libyaml is the figure to read; the last
column checks that both ways give the same documents and instances.

    python benchmarks/bench_io.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml
from tables import RESULTS, command_line, write_results

from cpplan import io
from cpplan.generate import generate

COLUMNS = ("hosts", "vms", "megabytes", "read_python_s", "read_libyaml_s", "read_ratio", "read_json_s",
           "write_python_s", "write_libyaml_s", "write_ratio", "same_document")


class _PythonLoader(yaml.SafeLoader):
    """The duplicate-refusing loader on PyYAML's Python code, as cpplan read files before."""


_PythonLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, io._construct_mapping)


def _best(step, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = step()
        best = min(best, time.perf_counter() - started)
    return best, out


def measure(hosts: int, repeat: int) -> dict:
    inst = generate("tight", hosts, seed=0)
    data = inst.to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cloud.yaml"
        io.save_instance(inst, path)
        io.save_instance(inst, path.with_suffix(".json"))
        text = path.read_text()
        read_c, by_c = _best(lambda: io.load_instance(path), repeat)
        read_json, by_json = _best(lambda: io.load_instance(path.with_suffix(".json")), repeat)
        read_py, by_py = _best(lambda: io.instance_from_dict(yaml.load(text, Loader=_PythonLoader)), repeat)
        write_c, out_c = _best(lambda: io.instance_yaml(inst), repeat)
        write_py, out_py = _best(lambda: yaml.safe_dump(data, sort_keys=False, default_flow_style=None),
                                 repeat)
    return {"hosts": hosts, "vms": inst.n_vms, "megabytes": round(len(text) / 1e6, 1),
            "read_python_s": round(read_py, 2), "read_libyaml_s": round(read_c, 2),
            "read_ratio": round(read_py / read_c, 2), "read_json_s": round(read_json, 2),
            "write_python_s": round(write_py, 2),
            "write_libyaml_s": round(write_c, 2), "write_ratio": round(write_py / write_c, 2),
            "same_document": out_c == out_py and by_c.to_dict() == by_py.to_dict() == by_json.to_dict()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs per way")
    parser.add_argument("--out", default="io")
    args = parser.parse_args(argv)
    print(" ".join(f"{c:>15}" for c in COLUMNS), flush=True)
    rows = []
    for hosts in args.sizes:
        rows.append(measure(hosts, args.repeat))
        print(" ".join(f"{rows[-1][c]!s:>15}" for c in COLUMNS), flush=True)
    write_results(RESULTS / args.out, rows, COLUMNS, [
        f"Reading and writing instance YAML (`{command_line('bench_io.py', argv)}`): seconds, best of "
        f"{args.repeat}; read = parse and build the Instance; python = PyYAML's Python code, libyaml = "
        "what cpplan uses when PyYAML has it; ratio = python / libyaml; json = the same instance as JSON."])


if __name__ == "__main__":
    main()
