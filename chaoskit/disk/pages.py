"""The page cache of one regular file: what was written and not yet synced.

Why a cache of our own: the fault file system must be able to forget writes that the
kernel would still hold in its page cache when the power fails. So writes never reach
the backing file until an fsync; they live here, reads see them, and a power loss
simply throws this object away.

Layout: ``pages`` maps a page index to a full ``PAGE``-byte ``bytearray``; bytes of a
page at or beyond ``size`` are always zero (so a file that grows again reads zeros, as
POSIX requires). Underneath the pages lies the backing file, of which only the first
``base`` bytes still count: a truncation lowers ``base``, so the old bytes beyond it
read as zeros without being copied. ``durable_size`` is the size of the backing file.

The last write since the last sync is remembered with the bytes it overwrote, so that a
torn write can be made of it (``tear``): only the overwritten part is copied, so an
append (the common case: logs) costs nothing extra.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PAGE = 4096
# pwritev takes at most IOV_MAX (1024 on Linux) buffers per call.
MAX_IOV = 1024


@dataclass(frozen=True, slots=True)
class LastWrite:
    """The last unsynced write: where, how long, and what it replaced."""

    offset: int
    length: int
    size_before: int
    before: bytes  # the old content of [offset, min(offset + length, size_before))


class FileData:
    """Unsynced content of one regular file over its backing file descriptor."""

    __slots__ = ("base", "durable_size", "last", "pages", "size")

    def __init__(self, durable_size: int) -> None:
        self.size = durable_size
        self.base = durable_size
        self.durable_size = durable_size
        self.pages: dict[int, bytearray] = {}
        self.last: LastWrite | None = None

    @property
    def dirty(self) -> bool:
        """Anything a sync would have to write (data or a size change)?"""
        return bool(self.pages) or self.size != self.durable_size or self.base != self.size

    @property
    def pending_bytes(self) -> int:
        """Bytes held in dirty pages (whole pages: what the cache costs in memory)."""
        return len(self.pages) * PAGE

    def read(self, fd: int | None, offset: int, length: int) -> bytes:
        """The file's current content in ``[offset, offset + length)``, cut at its size."""
        end = min(offset + length, self.size)
        if offset >= end:
            return b""
        if not self.pages:
            return self._read_base(fd, offset, end)
        buf = bytearray(self._read_base(fd, offset, end))
        for idx in range(offset // PAGE, (end - 1) // PAGE + 1):
            page = self.pages.get(idx)
            if page is not None:
                start = idx * PAGE
                lo, hi = max(offset, start), min(end, start + PAGE)
                buf[lo - offset : hi - offset] = page[lo - start : hi - start]
        return bytes(buf)

    def write(self, fd: int | None, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` into the cache, remembering it as the last write."""
        overlap_end = min(offset + len(data), self.size)
        before = self.read(fd, offset, overlap_end - offset) if overlap_end > offset else b""
        self.last = LastWrite(offset, len(data), self.size, before)
        self._put(fd, offset, data)

    def truncate(self, size: int) -> None:
        """Set the size; bytes beyond a shrink are gone, a growth reads as zeros."""
        if size < self.size:
            self._shrink(size)
        self.size = size
        # A truncation after the last write leaves no single write to tear.
        self.last = None

    def sync(self, fd: int, *, datasync: bool) -> None:
        """Make the backing file equal to the cache, flush it to disk, forget the pages."""
        if self.base < self.durable_size:
            os.ftruncate(fd, self.base)
        written_end = self._write_pages(fd)
        on_disk = max(min(self.base, self.durable_size), written_end)
        if on_disk != self.size:
            os.ftruncate(fd, self.size)
        if datasync:
            os.fdatasync(fd)
        else:
            os.fsync(fd)
        self.pages = {}
        self.durable_size = self.base = self.size
        self.last = None

    def tear(self, fd: int | None, keep: int) -> LastWrite:
        """Undo all but the first ``keep`` bytes of the last write; returns that write.

        The caller then syncs the file: the earlier writes and a prefix of the last one
        reach the disk, as when the power fails while the kernel writes the file back.
        """
        last = self.last
        if last is None:
            raise ValueError("no unsynced write to tear")
        if not 0 <= keep < last.length:
            raise ValueError(f"keep {keep} outside 0..{last.length - 1}")
        cut = last.offset + keep
        restore_end = min(last.offset + last.length, last.size_before)
        if cut < restore_end:
            self._put(fd, cut, last.before[keep : restore_end - last.offset])
        new_size = max(last.size_before, cut)
        if new_size < self.size:
            self._shrink(new_size)
            self.size = new_size
        self.last = None
        return last

    def _read_base(self, fd: int | None, offset: int, end: int) -> bytes:
        """Backing bytes of ``[offset, end)``: zeros beyond ``base``."""
        if offset >= self.base or fd is None:
            return bytes(end - offset)
        data = os.pread(fd, min(end, self.base) - offset, offset)
        if len(data) < end - offset:
            data += bytes(end - offset - len(data))
        return data

    def _put(self, fd: int | None, offset: int, data: bytes) -> None:
        """Copy ``data`` into the pages (loading partly covered pages from the base)."""
        view = memoryview(data)
        end = offset + len(data)
        pos = offset
        while pos < end:
            idx, lo = divmod(pos, PAGE)
            start = idx * PAGE
            hi = min(end - start, PAGE)
            page = self.pages.get(idx)
            if page is None:
                page = self._load_page(fd, start, whole=lo == 0 and hi == PAGE)
                self.pages[idx] = page
            page[lo:hi] = view[pos - offset : pos - offset + hi - lo]
            pos = start + hi
        self.size = max(self.size, end)

    def _load_page(self, fd: int | None, start: int, *, whole: bool) -> bytearray:
        page = bytearray(PAGE)
        if not whole and start < self.base and fd is not None:
            chunk = os.pread(fd, min(PAGE, self.base - start), start)
            page[: len(chunk)] = chunk
        return page

    def _shrink(self, size: int) -> None:
        """Drop pages beyond ``size`` and zero the tail of the page it falls in."""
        first_gone = -(-size // PAGE)
        for idx in [i for i in self.pages if i >= first_gone]:
            del self.pages[idx]
        idx, within = divmod(size, PAGE)
        page = self.pages.get(idx)
        if page is not None and within:
            page[within:] = bytes(PAGE - within)
        self.base = min(self.base, size)

    def _write_pages(self, fd: int) -> int:
        """pwritev the dirty pages in contiguous runs, cut at ``size``; returns the end."""
        end = 0
        run: list[memoryview] = []
        run_start = -1
        for idx in sorted(self.pages):
            start = idx * PAGE
            if start >= self.size:
                break
            if run and (start != run_start + len(run) * PAGE or len(run) == MAX_IOV):
                end = max(end, _pwrite_all(fd, run, run_start))
                run = []
            if not run:
                run_start = start
            run.append(memoryview(self.pages[idx])[: min(PAGE, self.size - start)])
        if run:
            end = max(end, _pwrite_all(fd, run, run_start))
        return end


def _pwrite_all(fd: int, buffers: list[memoryview], offset: int) -> int:
    """Write every buffer at ``offset`` (retrying short writes); returns the end offset."""
    total = sum(len(b) for b in buffers)
    done = os.pwritev(fd, buffers, offset)
    if done < total:
        rest = b"".join(bytes(b) for b in buffers)[done:]
        while rest:
            n = os.pwrite(fd, rest, offset + done)
            done += n
            rest = rest[n:]
    return offset + total
