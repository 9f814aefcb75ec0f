"""Without the extra: the core CLI still works and the openstack subcommands say what to install."""

from __future__ import annotations

import subprocess
import sys

import cpplan
from cpplan.cli import main
from cpplan.openstack.cli import MISSING_EXTRA


def test_the_core_cli_and_the_openstack_modules_import_without_openstacksdk():
    code = ("import sys; sys.modules['openstack'] = None\n"
            "import cpplan.cli, cpplan.openstack.execute, cpplan.openstack.snapshot\n"
            "cpplan.cli.build_parser().parse_args(['openstack', 'snapshot', '-o', 'x.yaml'])\n"
            "assert sys.modules['openstack'] is None")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_missing_extra_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "openstack", None)  # `import openstack` now raises ImportError
    assert main(["openstack", "snapshot", "-o", str(tmp_path / "cloud.yaml")]) == 2
    assert capsys.readouterr().err == f"cpplan: {MISSING_EXTRA}\n"
    assert not (tmp_path / "cloud.yaml").exists()

    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
                           initial={"a": "h1"}, target={"a": "h2"})
    cpplan.save_instance(inst, tmp_path / "cloud.yaml")
    cpplan.save_plan(cpplan.plan(inst, "exact"), tmp_path / "plan.json")
    assert main(["openstack", "execute", str(tmp_path / "cloud.yaml"), str(tmp_path / "plan.json")]) == 2
    assert capsys.readouterr().err == f"cpplan: {MISSING_EXTRA}\n"
