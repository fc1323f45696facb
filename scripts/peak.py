"""Peak resident memory of this process, for the benchmark scripts.

Linux's ``getrusage`` peak (``ru_maxrss``) survives ``exec``: a child started by
a parent that had just generated a large window reports the parent's peak (a
51 M-row generation showed up as a 2.7 GB "peak" of the step measured after
it). ``VmHWM`` in ``/proc/self/status`` is the peak of this process's own
address space, reset by ``exec``; ``ru_maxrss`` where there is no ``/proc``.
"""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """Peak RSS of this process (not inherited from its parent), in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
