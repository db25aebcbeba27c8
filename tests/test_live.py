"""Watching a UMAP or t-SNE layout form (embeddings.reduce frames, embeddings.live.LiveProjection).

The finished layout of a watched run is compared with an unwatched run of the same data,
parameters and seed BIT FOR BIT (np.array_equal), not to a tolerance: watching only copies the
layout between two iterations, and pausing or stopping only waits there, so nothing the optimiser
computes can differ (openTSNE's threads split the work the same way every run; a seeded UMAP runs
single-threaded). A tolerance would hide a watch that nudged the optimiser.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from embeddings import reduce
from embeddings.errors import InputError
from embeddings.live import LiveCancelled, LiveProjection
from embeddings.reduce import Frame, project

TIMEOUT = 600  # seconds: generous, the machine is shared


def clusters(n_per: int = 50, centres: int = 4, d: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = rng.normal(scale=8.0, size=(centres, d))
    labels = np.repeat(np.arange(centres), n_per)
    return (middle[labels] + rng.normal(size=(len(labels), d))).astype(np.float32)


TSNE = {"perplexity": 20, "n_iter": 60}  # 250 early-exaggeration iterations + 60
UMAP = {"n_neighbors": 10}


def watched(x: np.ndarray, method: str, **params) -> tuple[reduce.Projection, list[Frame]]:
    frames: list[Frame] = []
    return project(x, method, 2, seed=3, frames=frames.append, **params), frames


# ---------------------------------------------------------------- frames from project()


def test_tsne_frames_come_every_few_iterations_and_end_with_the_result():
    x = clusters()
    result, frames = watched(x, "tsne", **TSNE)
    # after every iteration: openTSNE calls back before its iteration's update, so the first
    # frame is the starting layout (0 updates) and the finished one comes last
    assert reduce.TSNE_FRAME_EVERY == 1
    assert [f.iteration for f in frames] == list(range(311))
    assert {f.total for f in frames} == {310}
    assert all(f.coords.shape == (200, 2) and f.coords.dtype == np.float32 for f in frames)
    assert not np.array_equal(frames[0].coords, frames[-1].coords)  # the layout moved
    np.testing.assert_array_equal(frames[-1].coords, result.coords)  # the last frame is the result


def test_umap_frames_come_after_every_epoch_from_the_starting_layout():
    x = clusters()
    result, frames = watched(x, "umap", **UMAP)
    assert [f.iteration for f in frames] == list(range(501))  # the start, then each of 500 epochs
    assert {f.total for f in frames} == {500}
    assert not np.array_equal(frames[0].coords, frames[5].coords)  # (umap samples no edge in its epoch 0)
    np.testing.assert_array_equal(frames[-1].coords, result.coords)


def test_frames_are_copies_the_optimiser_does_not_change():
    x = clusters()
    _, frames = watched(x, "tsne", **TSNE)
    first = frames[0].coords.copy()
    np.testing.assert_array_equal(frames[0].coords, first)  # still what it was when it came


@pytest.mark.parametrize("method, params", [("tsne", TSNE), ("umap", UMAP)])
def test_a_watched_layout_is_bit_equal_to_an_unwatched_one(method, params):
    x = clusters()
    result, frames = watched(x, method, **params)
    alone = project(x, method, 2, seed=3, **params)
    assert frames
    np.testing.assert_array_equal(result.coords, alone.coords)
    assert result.params == alone.params and result.trustworthiness == alone.trustworthiness


def test_the_fft_gradient_on_two_threads_is_bit_equal_watched(monkeypatch):
    # From TSNE_FFT_FROM points t-SNE uses openTSNE's FFT gradient on every core; lowered here so
    # that a small input takes that path (the 10k case of the benchmark) in a test's time.
    monkeypatch.setattr(reduce, "TSNE_FFT_FROM", 100)
    x = clusters(n_per=75)
    result, frames = watched(x, "tsne", **TSNE)
    alone = project(x, "tsne", 2, seed=3, **TSNE)
    assert result.params["gradient"] == "fft" and frames
    np.testing.assert_array_equal(result.coords, alone.coords)


def test_a_frame_is_a_projection_of_its_own():
    x = clusters()
    result, frames = watched(x, "tsne", **TSNE)
    middle = frames[len(frames) // 2]
    reached = middle.projection()
    np.testing.assert_array_equal(reached.coords, middle.coords)
    assert reached.note == f"t-SNE stopped at iteration {middle.iteration:,} of 310"
    assert reached.params == result.params and 0.0 < reached.trustworthiness <= 1.0
    assert middle.projection(measure=False).trustworthiness is None
    assert frames[-1].projection().note is None  # the finished layout did not stop anywhere


def test_pca_has_no_frames():
    frames: list[Frame] = []
    project(clusters(), "pca", 2, frames=frames.append)
    assert frames == []


def test_what_a_frame_callback_raises_ends_the_run():
    def refuse(frame: Frame) -> None:
        if frame.iteration >= 9:  # noqa: PLR2004
            raise KeyboardInterrupt("enough")

    with pytest.raises(KeyboardInterrupt):
        project(clusters(), "tsne", 2, frames=refuse, **TSNE)


# ---------------------------------------------------------------- LiveProjection


def started(method: str = "tsne", **params) -> tuple[LiveProjection, np.ndarray]:
    x = clusters()
    return LiveProjection(x, method, 2, seed=3, **(params or TSNE)).start(), x


def test_pause_holds_the_layout_where_it_is_and_resume_carries_on():
    run, x = started()
    run.wait(after=0, timeout=TIMEOUT)
    run.pause()
    assert run.settled(TIMEOUT) == "paused"
    held, at = run.seq, run.frame.iteration
    seq, _ = run.wait(after=held, timeout=1.0)  # nothing new comes while paused
    assert seq == held and run.frame.iteration == at and run.state == "paused"
    run.resume()
    seq, frame = run.wait(after=held, timeout=TIMEOUT)
    assert seq > held and frame.iteration > at
    final = run.result(TIMEOUT)
    assert run.state == "done" and final.note is None
    np.testing.assert_array_equal(final.coords, project(x, "tsne", 2, seed=3, **TSNE).coords)


def test_stop_keeps_the_layout_reached_and_resume_carries_on_from_it():
    run, x = started()
    run.wait(after=0, timeout=TIMEOUT)
    run.stop()
    reached = run.result(TIMEOUT)  # the layout reached, as a projection
    assert run.state == "stopped"
    frame = run.frame
    np.testing.assert_array_equal(reached.coords, frame.coords)
    assert reached.note == f"t-SNE stopped at iteration {frame.iteration:,} of 310"
    assert 0.0 < reached.trustworthiness <= 1.0
    seq, _ = run.wait(after=run.seq, timeout=1.0)  # the optimiser waits there
    assert run.frame.iteration == frame.iteration and run.result(1) is reached
    run.resume()
    final = run.result(TIMEOUT)
    assert run.state == "done" and final.note is None
    # carried on from where it stopped, to exactly where an unwatched run ends
    np.testing.assert_array_equal(final.coords, project(x, "tsne", 2, seed=3, **TSNE).coords)


def test_stop_while_paused_keeps_the_paused_layout():
    run, _ = started()
    run.wait(after=0, timeout=TIMEOUT)
    run.pause()
    run.settled(TIMEOUT)
    at = run.frame
    run.stop()
    reached = run.result(TIMEOUT)
    np.testing.assert_array_equal(reached.coords, at.coords)  # not a few iterations later
    run.cancel()


def test_umap_stops_and_resumes_to_the_unwatched_layout():
    run, x = started("umap", **UMAP)
    run.wait(after=3, timeout=TIMEOUT)
    run.stop()
    reached = run.result(TIMEOUT)
    assert reached.note.startswith("UMAP stopped at epoch ") and reached.note.endswith(" of 500")
    run.resume()
    np.testing.assert_array_equal(run.result(TIMEOUT).coords, project(x, "umap", 2, seed=3, **UMAP).coords)


def test_cancel_ends_the_run_and_its_thread():
    run, _ = started()
    run.wait(after=0, timeout=TIMEOUT)
    run.pause()
    run.settled(TIMEOUT)
    run.cancel()
    with pytest.raises(LiveCancelled):
        run.result(TIMEOUT)
    assert run.state == "cancelled"
    run._thread.join(TIMEOUT)
    assert not run._thread.is_alive()


def test_a_run_left_waiting_too_long_ends_itself():
    x = clusters()
    run = LiveProjection(x, "tsne", 2, seed=3, park_limit=0.2, **TSNE).start()
    run.wait(after=0, timeout=TIMEOUT)
    run.pause()
    run._thread.join(TIMEOUT)
    assert run.state == "cancelled"


def test_a_stop_left_too_long_ends_the_run_but_keeps_the_layout_reached():
    x = clusters()
    run = LiveProjection(x, "tsne", 2, seed=3, park_limit=0.5, **TSNE).start()
    run.wait(after=0, timeout=TIMEOUT)
    run.stop()
    run._thread.join(TIMEOUT)
    assert run.state == "cancelled"
    reached = run.reached  # what the page keeps showing
    np.testing.assert_array_equal(reached.coords, run.frame.coords)
    assert "stopped at iteration" in reached.note
    with pytest.raises(LiveCancelled):
        run.result(1)


def test_many_readers_see_the_same_newest_frames():
    run, _ = started()
    seen: list[list[int]] = [[], []]

    def read(into: list[int]) -> None:
        after = 0
        while run.state not in ("done", "failed", "cancelled"):
            after, frame = run.wait(after, timeout=5)
            if frame is not None:
                into.append(frame.iteration)

    readers = [threading.Thread(target=read, args=(s,)) for s in seen]
    for reader in readers:
        reader.start()
    run.result(TIMEOUT)
    for reader in readers:
        reader.join(TIMEOUT)
    for iterations in seen:
        assert iterations and iterations == sorted(iterations) and iterations[-1] == 310


def test_bad_parameters_fail_the_run_with_their_one_line():
    run = LiveProjection(clusters(), "tsne", 2, perplexity=-1).start()
    with pytest.raises(InputError, match="perplexity"):
        run.result(TIMEOUT)
    assert run.state == "failed" and "perplexity" in run.snapshot()["error"]


def test_only_umap_and_tsne_can_be_watched():
    with pytest.raises(InputError, match="only UMAP and t-SNE"):
        LiveProjection(clusters(), "pca")
