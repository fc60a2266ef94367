"""Work dealt to forked processes: the same results, in order, whatever happens to a child."""

from __future__ import annotations

import os

import pytest

from tflite_serenity.forked import available_jobs, in_processes


def _squares(share):
    return [x * x for x in share]


@pytest.mark.parametrize("jobs", [1, 2, 3, 8])
def test_results_come_back_in_the_order_of_the_items(jobs):
    assert in_processes(_squares, list(range(11)), jobs) == [x * x for x in range(11)]


def test_a_childs_results_are_what_pack_keeps_and_the_parents_are_whole():
    results = in_processes(lambda share: [(x, os.getpid()) for x in share], list(range(6)), 2,
                           pack=lambda r: ("packed", r[0]))
    assert results[0::2] == [(x, os.getpid()) for x in (0, 2, 4)]
    assert results[1::2] == [("packed", x) for x in (1, 3, 5)]


def test_the_parent_does_the_share_of_a_child_that_fails():
    parent = os.getpid()

    def fragile(share):
        if os.getpid() != parent:
            raise RuntimeError("a child that dies")
        return _squares(share)

    assert in_processes(fragile, list(range(7)), 3) == [x * x for x in range(7)]


def test_one_process_per_core_is_the_default_and_a_number_is_kept():
    assert 1 <= available_jobs(0) <= 4
    assert available_jobs(6) == 6


def test_a_caller_with_other_threads_gets_the_work_done_in_its_own_process():
    import threading

    pids = []
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        in_processes(lambda share: [pids.append(os.getpid()) or x for x in share], list(range(8)), 4)
    finally:
        stop.set()
        other.join()
    assert pids == [os.getpid()] * 8
