"""Every registered plug-in loads and implements its whole contract.

A plug-in that does not (a target missing ``aclose``, say) is refused when a run is
planned; this test finds it before a user does.
"""

from __future__ import annotations

import pytest

from chaoskit.core import plugins

REGISTERED = [(kind, name) for kind in plugins.KINDS for name in plugins.names(kind)]


def test_the_catalogue_is_registered() -> None:
    assert {"raft", "etcd", "nats", "patroni"} <= set(plugins.names("targets"))
    assert {"partition", "power-loss"} <= set(plugins.names("nemeses"))


@pytest.mark.parametrize(("kind", "name"), REGISTERED)
def test_each_plugin_loads_and_keeps_its_contract(kind: plugins.Kind, name: str) -> None:
    plugin = plugins.load(kind, name)  # a ConfigError names what is missing
    assert plugins.missing_members(plugin, plugins.CONTRACTS[kind]) == []
    assert isinstance(plugin.description, str) and plugin.description


def test_a_plugin_missing_part_of_its_contract_is_refused() -> None:
    class Partial:
        name = "partial"
        description = "a target without most of the contract"

    with pytest.raises(Exception, match=r"does not implement chaoskit's Target: missing .*aclose"):
        plugins.require(Partial(), plugins.CONTRACTS["targets"], "target 'partial'")
