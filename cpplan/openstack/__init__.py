"""OpenStack: read a live cloud into an instance, carry out a plan on it (``pip install cpplan[openstack]``).

- :mod:`.cloud`: the few openstacksdk calls, as plain records;
- :mod:`.snapshot`: the cloud as an instance (hosts, VMs, groups, limits);
- :mod:`.execute`: a plan carried out round by round, re-planned on drift;
- :mod:`.journal`: the append-only record of every migration;
- :mod:`.cli`: the ``cpplan openstack`` subcommands.

Importing this package needs no openstacksdk; :mod:`.cloud` and the modules
built on it do.
"""
