"""``sftp.transfer._read_pipelined`` against a scripted server at paramiko's request layer: order, short
reads, EOF, hostile answers, the in-flight bound, request growth, and draining when a file is abandoned."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import paramiko
import pytest
from paramiko.sftp import CMD_DATA, CMD_STATUS, SFTP_EOF, SFTP_OK

from sftp.errors import FileFetchFailed
from sftp.transfer import CHUNK, MAX_IN_FLIGHT, MAX_READ_REQUEST, _read_pipelined

Answer = Callable[[int, int], tuple[str, bytes]]


class ScriptedSFTP:
    """Answers READ requests from ``data`` (or ``answer``), in order or shuffled; records what was asked."""

    def __init__(self, data: bytes, answer: Answer | None = None, shuffle: bool = False) -> None:
        self.data = data
        self.answer = answer or (lambda off, n: ("data", self.data[off : off + n]))
        self.shuffle = shuffle
        self.queue: list[tuple[int, Any, int, int]] = []
        self.n = 0
        self.asked: list[int] = []
        self.max_in_flight = 0

    def _async_request(self, owner: Any, t: int, handle: bytes, offset: Any, length: int) -> int:
        num = self.n
        self.n += 1
        self.queue.append((num, owner, int(offset), int(length)))
        self.asked.append(int(length))
        self.max_in_flight = max(self.max_in_flight, sum(q[3] for q in self.queue))
        return num

    def _read_response(self) -> None:
        i = random.randrange(len(self.queue)) if self.shuffle else 0
        num, owner, off, length = self.queue.pop(i)
        kind, payload = self.answer(off, length)
        msg = paramiko.Message()
        if kind == "data" and (payload or off < len(self.data)):
            msg.add_string(payload)
            t = CMD_DATA
        else:
            msg.add_int(SFTP_OK if kind == "ok" else SFTP_EOF)
            msg.add_string("")
            t = CMD_STATUS
        msg.rewind()
        owner._async_response(t, msg, num)

    def _convert_status(self, msg: paramiko.Message) -> None:
        paramiko.SFTPClient._convert_status(self, msg)  # type: ignore[arg-type]


class _Handle:
    handle = b"h"


def read_all(fake: ScriptedSFTP, limit: int, check: Callable[[int], None] = lambda done: None) -> bytes:
    return b"".join(_read_pipelined(fake, _Handle(), "f.835", limit, check))  # type: ignore[arg-type]


@pytest.mark.parametrize("shuffle", [False, True])
def test_in_order_whatever_the_answer_order_and_bounded(shuffle: bool) -> None:
    random.seed(7)
    data = os.urandom(12 * 1024 * 1024 + 123)
    fake = ScriptedSFTP(data, shuffle=shuffle)
    assert read_all(fake, len(data)) == data
    assert max(fake.asked) == MAX_READ_REQUEST and fake.asked[0] == CHUNK  # requests grew
    assert fake.max_in_flight <= MAX_IN_FLIGHT
    assert fake.queue == []


def test_short_reads_are_asked_again_and_shrink_the_requests() -> None:
    data = os.urandom(2 * 1024 * 1024)
    fake = ScriptedSFTP(data, answer=lambda off, n: ("data", data[off : off + min(n, 40000)]))
    assert read_all(fake, len(data)) == data
    assert max(fake.asked) <= 2 * CHUNK  # it tried 64 KiB once, got 40,000 bytes ...
    assert all(n <= 40000 for n in fake.asked[-20:])  # ... and asks for no more than that since
    assert fake.queue == []


def test_eof_before_the_listed_size_returns_what_there_is() -> None:
    data = os.urandom(100_000)
    fake = ScriptedSFTP(data)
    assert read_all(fake, 250_000) == data  # the caller sees the short count ("shrank")
    assert fake.queue == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda off, n: ("data", b"x" * (n + 1)), "more bytes than asked"),
        (lambda off, n: ("ok", b""), "a status and no data"),
    ],
)
def test_hostile_answers_fail_the_file(answer: Answer, reason: str) -> None:
    fake = ScriptedSFTP(b"y" * 100_000, answer=answer)
    with pytest.raises(FileFetchFailed, match=reason):
        read_all(fake, 100_000)
    assert fake.queue == []  # answers still in flight were read: the session stays in step


def test_abandoned_at_the_deadline_drains_what_is_in_flight() -> None:
    data = os.urandom(8 * 1024 * 1024)
    fake = ScriptedSFTP(data)

    def deadline(done: int) -> None:
        if done > len(data) // 3:
            raise FileFetchFailed("f.835", "too slow")

    with pytest.raises(FileFetchFailed):
        read_all(fake, len(data), deadline)
    assert fake.queue == []
    assert sum(fake.asked) < len(data)  # it stopped asking: the rest of the file was never requested
