"""Memory control: how much memory the process uses, how much it may use, and what it does about it.

The reason factmem exists is to serve inside a small instance without being killed, and to say exactly how
much memory it uses. Each module has one job:

    kernel_files  reading /proc and cgroup files on every request, without giving up the GIL
    cgroup        the container's limit, usage and OOM events
    limits        the effective limit (setting vs container) and the soft/hard thresholds
    readings      one snapshot of process and container (``MemoryUsage``) for /health, metrics and logs
    allocator     glibc's malloc told to give memory back (arenas, mmap threshold, trim)
    file_pages    handing clean file-backed pages back to the kernel
    cleanup       gc + malloc_trim (+ file pages), and what it released
    guard         clean up early; no room over the hard threshold

The guard's answer is one half of admission (:mod:`factmem.admission`, with the CPU slots): the one decision
``/verify`` asks before any work, where every refusal is counted.

Only the stdlib is used (and ``factmem.errors``), so the package can be imported before anything heavy.
"""
