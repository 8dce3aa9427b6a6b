"""The tools compared by bench/compare.py, one module each behind the interface in base.py."""

from __future__ import annotations

from types import ModuleType

from peers import monit_peer, pm2_peer, supervisord_peer, watchdog_peer

PEERS: dict[str, ModuleType] = {
    module.NAME: module for module in (watchdog_peer, supervisord_peer, monit_peer, pm2_peer)
}
