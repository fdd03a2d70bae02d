"""Reading captures: pcap/pcapng files → TCP streams → the decoded conversation.

:func:`read_capture` reads a capture made by tcpdump, Wireshark or tshark, keeps the TCP
connections with the device's port (8899 by default), puts each direction of each connection back
together (ordered by sequence number, without retransmissions and overlaps, with the holes marked)
and feeds it to its own :class:`~rctclient.frame.FrameDecoder`. What comes out is a stream of
:class:`CaptureEvent`: the decoder's events with the time and packet number they completed in, the
connection and direction, a readable description and the :class:`Flag` s of both the decoder and
the capture (``unsolicited answer``, ``gap`` and so on)::

    from rctclient.pcap import FlagKind, read_capture

    with read_capture("inverter.pcapng") as capture:
        for ev in capture:
            print(ev.time, ev.direction.value, ev.description.name, ev.description.text, ev.flags)
            if ev.has(FlagKind.UNSOLICITED_ANSWER): ...
        print(capture.stats)

It streams, and what it keeps is bounded (:class:`CaptureLimits`): about one frame and the
out-of-order segments of each open connection, a bounded number of connections and of requests
waiting for their answer, so memory does not grow with the size of the capture, nor beyond the
limits with a hostile one. It needs nothing beyond the standard library.

The layers, one module each, each using only those before it:

- :mod:`.model`: the values (events, flags, connections, counters, limits, :class:`CaptureError`);
- :mod:`.records`: pcap and pcapng files → packet records (time, link type, bytes);
- :mod:`.packets`: link, IP and TCP headers → the TCP segments of the device's port;
- :mod:`.tcp`: reassembly of one direction → its bytes in order, and gaps;
- :mod:`.answers`: requests → answers: latency, unsolicited answers, unanswered requests;
- :mod:`.reader`: :class:`CaptureReader` runs them per packet, with a decoder per direction;
- :mod:`.summary`: :func:`summarize`, per object ID.
"""

from __future__ import annotations

from .model import (
    DEFAULT_PORT,
    MAX_OBJECT_IDS,
    CaptureError,
    CaptureEvent,
    CaptureLimits,
    CaptureStats,
    Direction,
    Evicted,
    Flag,
    FlagKind,
    Flow,
    FlowStats,
    Gap,
)
from .reader import CaptureReader, read_capture
from .summary import OTHER_OBJECTS, ObjectSummary, summarize

__all__ = [
    "DEFAULT_PORT",
    "MAX_OBJECT_IDS",
    "OTHER_OBJECTS",
    "CaptureError",
    "CaptureEvent",
    "CaptureLimits",
    "CaptureReader",
    "CaptureStats",
    "Direction",
    "Evicted",
    "Flag",
    "FlagKind",
    "Flow",
    "FlowStats",
    "Gap",
    "ObjectSummary",
    "read_capture",
    "summarize",
]
