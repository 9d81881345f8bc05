"""Long variants of the integrity, crash and concurrency tests (make stress).

  STRESS_CRASHES     kill -9 iterations of the random crash loop (default 120)
  STRESS_BATCHES     batches per worker of the integrity exerciser (default 2500)
  STRESS_CONC_SCALE  multiplier of the concurrency tests' work (default 5)
  GEOFS_SEED         base seed (printed in every failure; replays a run)
"""

import os

import pytest

import test_concurrency
from test_concurrency import (  # noqa: F401 - collected here, scaled up by the fixture below
    test_create_unlink_readdir_churn, test_reader_on_one_mount_while_the_other_replaces_the_file,
    test_renames_race_with_opens, test_retag_and_migrate_while_writing,
    test_stat_races_last_close, test_threads_and_processes_same_files_one_mount,
    test_two_mounts_same_directory, test_two_mounts_same_files,
    test_writer_on_one_mount_while_the_other_replaces_the_file)
from test_crash import run_crash_loop
from test_integrity import default_seed, run_exerciser

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _scaled(monkeypatch, site_factory):
    monkeypatch.setenv("GEOFS_CONC_SCALE", os.environ.get("STRESS_CONC_SCALE", "5"))
    site_factory.set_timeout(3600)
    assert test_concurrency.scale() >= 1


@pytest.mark.parametrize("k", [0, 1, 2])
def test_integrity_long(site_factory, k):
    run_exerciser(site_factory, workers=4, seed=default_seed() + 100 + k,
                  batches=int(os.environ.get("STRESS_BATCHES", "2500")), nfiles=6,
                  worker_timeout=3000)


def test_integrity_long_1m_shards(site_factory):
    run_exerciser(site_factory, workers=3, seed=default_seed() + 200,
                  batches=int(os.environ.get("STRESS_BATCHES", "2500")) // 3,
                  maxsize=6 * MiB, worker_timeout=3000, site_params={"shard_size": "1M"})


def test_crash_loop_long(site_factory):
    n = int(os.environ.get("STRESS_CRASHES", "120"))
    kinds = run_crash_loop(site_factory, iterations=n,
                           seed=int(os.environ.get("GEOFS_SEED", "7")) + 1000)
    assert sum(kinds.values()) == n
    # every kind of operation was hit by some kill (the loop aims at each in turn)
    missing = {"create", "overwrite", "truncate", "rename", "retag", "migrate"} - set(kinds)
    assert n < 60 or not missing, f"no kill landed during {missing}: {kinds}"
