"""The last-good rule: a broken file keeps its previous job until it is fixed or deleted."""

from __future__ import annotations

from reconciler.manifests import keep_last_good, load_tree

from .conftest import DOCKER_JOB

OTHER_JOB = DOCKER_JOB.replace("backup-db", "cleanup").replace("Database backup", "Cleanup")
BROKEN = DOCKER_JOB.replace('cron: "0 4 * * *"', 'cron: "0 4 * *"')


def _load(files: dict[str, str], revision: str):
    return load_tree({path: text.encode() for path, text in files.items()}, revision)


def test_no_previous_state_means_nothing_to_keep() -> None:
    new = _load({"jobs/a.yaml": BROKEN}, "r1")
    assert keep_last_good(new, None) is new


def test_broken_file_keeps_its_previous_definition() -> None:
    good = _load({"jobs/a.yaml": DOCKER_JOB, "jobs/b.yaml": OTHER_JOB}, "r1")
    broken = _load({"jobs/a.yaml": BROKEN, "jobs/b.yaml": OTHER_JOB}, "r2")
    assert list(broken.jobs) == ["cleanup"]
    kept = keep_last_good(broken, good)
    assert kept.jobs["backup-db"] is good.jobs["backup-db"]
    assert kept.jobs["cleanup"] is broken.jobs["cleanup"]
    assert kept.problems == broken.problems and kept.revision == "r2"


def test_last_good_survives_several_broken_revisions_then_the_fix_applies() -> None:
    state = keep_last_good(_load({"jobs/a.yaml": DOCKER_JOB}, "r1"), None)
    first = state.jobs["backup-db"]
    for revision in ("r2", "r3"):
        state = keep_last_good(_load({"jobs/a.yaml": BROKEN}, revision), state)
        assert state.jobs["backup-db"] is first
    fixed = DOCKER_JOB.replace("0 4 * * *", "30 4 * * *")
    state = keep_last_good(_load({"jobs/a.yaml": fixed}, "r4"), state)
    assert state.jobs["backup-db"].schedule.cron == "30 4 * * *" and state.problems == ()


def test_deleted_file_drops_the_job() -> None:
    good = _load({"jobs/a.yaml": DOCKER_JOB, "jobs/b.yaml": OTHER_JOB}, "r1")
    deleted = keep_last_good(_load({"jobs/b.yaml": OTHER_JOB}, "r2"), good)
    assert list(deleted.jobs) == ["cleanup"]


def test_only_the_same_path_keeps_a_job() -> None:
    good = _load({"jobs/a.yaml": DOCKER_JOB}, "r1")
    moved_and_broken = _load({"jobs/renamed.yaml": BROKEN}, "r2")
    assert keep_last_good(moved_and_broken, good).jobs == {}


def test_file_that_now_defines_another_id_drops_the_old_one() -> None:
    good = _load({"jobs/a.yaml": DOCKER_JOB}, "r1")
    renamed = _load({"jobs/a.yaml": OTHER_JOB}, "r2")
    assert list(keep_last_good(renamed, good).jobs) == ["cleanup"]


def test_duplicate_id_newcomer_does_not_stop_the_existing_job() -> None:
    good = _load({"jobs/a.yaml": DOCKER_JOB}, "r1")
    clash = _load({"jobs/a.yaml": DOCKER_JOB, "jobs/copy.yaml": DOCKER_JOB}, "r2")
    assert clash.jobs == {} and {p.path for p in clash.problems} == {
        "jobs/a.yaml",
        "jobs/copy.yaml",
    }
    kept = keep_last_good(clash, good)
    assert kept.jobs["backup-db"].path == "jobs/a.yaml"


def test_brand_new_duplicate_ids_run_nothing() -> None:
    clash = _load({"jobs/a.yaml": DOCKER_JOB, "jobs/copy.yaml": DOCKER_JOB}, "r1")
    assert keep_last_good(clash, _load({}, "r0")).jobs == {}


def test_previous_job_never_overrides_a_clean_job_with_the_same_id() -> None:
    good = _load({"jobs/a.yaml": DOCKER_JOB}, "r1")
    moved = _load(
        {"jobs/a.yaml": BROKEN.replace("backup-db", "other"), "jobs/b.yaml": DOCKER_JOB}, "r2"
    )
    kept = keep_last_good(moved, good)
    assert kept.jobs["backup-db"].path == "jobs/b.yaml"
