"""Reading the held socket's epoll registrations from /proc fdinfo text."""

from __future__ import annotations

from watchdog.process.quiesce import registrations


def test_registrations_are_read_from_epoll_fdinfo() -> None:
    """Each `tfd:` line naming the inode gives the fd number it is registered under."""
    fdinfo = (
        "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t17\n"
        "tfd:        5 events:       19 data:                5  pos:0 ino:966d1 sdev:9\n"
        "tfd:        7 events:       19 data:     7fb500000007  pos:0 ino:9662d sdev:9\n"
        "tfd:       12 events:       19 data:                c  pos:0 ino:9662d1 sdev:9\n"
    )
    assert registrations(fdinfo, 0x9662D) == [7]
    assert registrations(fdinfo, 0x17) == []  # the instance's own inode is no registration
    assert registrations("", 0x9662D) == []
