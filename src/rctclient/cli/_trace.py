"""``--debug``: every piece of bytes sent and received as hex, and every frame in it, on stderr.

The original tool's usage page documents reading a raw payload this way::

    Received 14 bytes: 002b0508959930bf3f590f868810
    Got frame: <ReceiveFrame(cmd=5, id=959930bf, address=0, data=3f590f86)>

Each frame line carries that documented form and a readable one (command, OID name, value). The
bytes come from the client's ``trace_packet`` hook; they are decoded again here, with a
:class:`~rctclient.frame.FrameDecoder` per direction, only when ``--debug`` is given.
"""

from __future__ import annotations

import logging

from ..describe import describe_event
from ..frame import CRCMismatch, Frame, FrameDecoder
from ._format import plural

__all__ = ["PacketTrace", "documented_form"]

log = logging.getLogger("rctclient.trace")


def documented_form(frame: Frame | CRCMismatch, sending: bool = False) -> str:
    """A frame as the original module showed it: ``<ReceiveFrame(cmd=5, id=959930bf, address=0, data=3f590f86)>``
    (received), ``<SendFrame(command=1, id=0x959930BF, payload=0x)>`` (sent)."""
    data = frame.data.hex() if isinstance(frame, Frame) else ""
    if sending:
        return f"<SendFrame(command={int(frame.command)}, id=0x{frame.id:X}, payload=0x{data})>"
    return f"<ReceiveFrame(cmd={int(frame.command)}, id={frame.id:x}, address={frame.address:x}, data={data})>"


class PacketTrace:
    """The ``trace_packet`` hook of the clients for ``--debug``: logs bytes and frames at DEBUG level."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger
        self._decoders = {True: FrameDecoder(), False: FrameDecoder()}

    def __call__(self, sending: bool, data: bytes) -> None:
        logger = self._log
        logger.debug("%s %s: %s", "Sent" if sending else "Received", plural(len(data), "byte"), data.hex())
        decoder = self._decoders[sending]
        decoder.feed(data)
        for event in decoder.events():
            try:
                d = describe_event(event)
            except Exception:
                logger.debug("undescribed event %r", event, exc_info=True)
                continue
            flags = f" [{', '.join(d.flags)}]" if d.flags else ""
            if isinstance(event, Frame | CRCMismatch):
                readable = f"{d.command} {d.name or f'0x{event.id:08X}'} {d.text}".rstrip()
                where = f" address 0x{d.address:08X}" if d.address is not None else ""
                verb = "Sent frame" if sending else "Got frame"
                logger.debug("%s: %s  = %s%s%s", verb, documented_form(event, sending), readable, where, flags)
            else:
                logger.debug("%s %s: %s%s", "Sent" if sending else "Got", d.kind, d.text, flags)
