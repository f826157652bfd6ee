"""Ansible's `linear` strategy run through Mitogen, found by ansible.cfg's `strategy_plugins`.

Mitogen (the `mitogen` package in the project's virtualenv) keeps one Python interpreter per
host for the whole playbook and sends it each task's module, instead of starting a new
connection and interpreter per task: over the Docker connection a task costs about 20 ms
instead of about 300 ms on these machines (README, "How long it takes here"). The modules,
and so what a play does to a host, are Ansible's own. This file only makes the strategy
importable from the repository, whatever the virtualenv's Python version; connections named
`docker`, `ssh` or `local` are then carried by Mitogen.
"""

from __future__ import annotations

import ansible_mitogen.loaders
import ansible_mitogen.strategy

_Linear = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, _Linear):  # type: ignore[misc,valid-type]
    """`linear`, each host's tasks carried by one Mitogen interpreter."""
