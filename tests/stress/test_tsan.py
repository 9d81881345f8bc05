"""The concurrency tests against the daemon built with ThreadSanitizer
(make stress runs this with GEOFS_BUILD=build-tsan). The harness fails a
test whose daemon log holds a ThreadSanitizer report (at unmount), and
passes TSAN_OPTIONS with tests/stress/tsan.supp."""

import os

import pytest

import harness
import test_concurrency
from test_concurrency import (  # noqa: F401 - collected here
    test_create_unlink_readdir_churn, test_reader_on_one_mount_while_the_other_replaces_the_file,
    test_renames_race_with_opens, test_retag_and_migrate_while_writing,
    test_stat_races_last_close, test_threads_and_processes_same_files_one_mount,
    test_two_mounts_same_directory, test_two_mounts_same_files,
    test_writer_on_one_mount_while_the_other_replaces_the_file)
from test_integrity import default_seed, run_exerciser


def _is_tsan(binary):
    with open(binary, "rb") as f:
        return b"__tsan_init" in f.read()


@pytest.fixture(autouse=True)
def _tsan(monkeypatch, site_factory):
    if not _is_tsan(harness.GEOFS):
        pytest.fail(f"{harness.GEOFS} is not a ThreadSanitizer build "
                    f"(make SANITIZE=thread; GEOFS_BUILD=build-tsan)", pytrace=False)
    monkeypatch.setenv("GEOFS_CONC_SCALE", os.environ.get("STRESS_TSAN_SCALE", "2"))
    site_factory.set_timeout(1800)
    assert test_concurrency.scale() >= 1


def test_integrity_under_tsan(site_factory):
    run_exerciser(site_factory, workers=3, batches=300, seed=default_seed() + 300,
                  worker_timeout=1500)
