"""rctclient: the Serial Communication Protocol of RCT Power inverters.

The core modules (:mod:`rctclient.types`, :mod:`rctclient.exceptions`, :mod:`rctclient.frame`,
:mod:`rctclient.utils` and :mod:`rctclient.registry`) do no I/O at all; the clients, the simulator,
the pcap reader and the CLI are layers built on them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
