"""Scale-out into Redis Streams: ``srmlink relay`` workers publish MLink records to a stream
and a last-value cache per message type; :class:`RelayReader` reads them back typed.

Needs the ``redis`` extra (``pip install 'srmlink[redis]'``).
"""

from __future__ import annotations

from .reader import (
    AsyncRelayReader as AsyncRelayReader,
    RelayEntry as RelayEntry,
    RelayReader as RelayReader,
)
from .redis_sink import (
    RedisSink as RedisSink,
    lvc_key as lvc_key,
    resume_key as resume_key,
    stream_key as stream_key,
)
from .sink import (
    Batch as Batch,
    Entry as Entry,
    ResumePoint as ResumePoint,
    Sink as Sink,
    SinkError as SinkError,
    SinkResetError as SinkResetError,
)
from .worker import WorkerConfig as WorkerConfig, run_worker as run_worker

__all__ = [
    "AsyncRelayReader",
    "Batch",
    "Entry",
    "RedisSink",
    "RelayEntry",
    "RelayReader",
    "ResumePoint",
    "Sink",
    "SinkError",
    "SinkResetError",
    "WorkerConfig",
    "lvc_key",
    "resume_key",
    "run_worker",
    "stream_key",
]
