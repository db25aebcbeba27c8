"""`--engine ray`: the same vectors as the local path, through a Ray Data actor pool, with faults.

One local Ray (2 CPUs) is shared by the tests of this module and shut down at its end. Each
encoding run starts its own actor pool (a fresh process per actor, which imports torch and
loads the model), so the runs here are few and use the tiny BERT, except the real-text check.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# find_spec, not importorskip: Ray reads its settings (node address 127.0.0.1) when first
# imported, and embeddings.distributed sets them just before it imports Ray.
if importlib.util.find_spec("ray") is None:
    pytest.skip("the Ray engine's tests need the 'ray' extra", allow_module_level=True)

from embeddings.cache import VectorCache  # noqa: E402
from embeddings.cli import main as cli_main  # noqa: E402
from embeddings.distributed import FAULT_FILE_ENV, RAY_MISSING, encode_on_ray, start_local_ray  # noqa: E402
from embeddings.encode import encode_texts  # noqa: E402
from embeddings.shards import read_vector_shards  # noqa: E402
from test_encode import in_new_process  # noqa: E402
from test_shards import write_shards  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "sample_data" / "sentences.csv"


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A local Ray for this module: its address, and the file that makes one actor crash once."""
    folder = tmp_path_factory.mktemp("ray")
    fault = folder / "crash-once"
    with pytest.MonkeyPatch.context() as patch:
        # Read by the actors' processes (inherited from this one); nothing fires until a test
        # creates the file. The cache variable keeps Ray's workers off the user's own cache.
        patch.setenv(FAULT_FILE_ENV, str(fault))
        patch.setenv("EMBEDDINGS_CACHE", str(folder / "workers-default.sqlite"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        start_local_ray(num_cpus=2)
    import ray

    try:
        yield {"address": ray.get_runtime_context().gcs_address, "fault": fault}
    finally:
        ray.shutdown()


@pytest.fixture()
def texts() -> list[str]:
    """90 real sentences, 10 of them repeated (encoded once, returned twice)."""
    frame = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False)
    sentences = frame["text"].tolist()[:90]
    return sentences + sentences[:10]


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDDINGS_CACHE": str(tmp_path / "cache.sqlite")}
    env.pop(FAULT_FILE_ENV, None)
    return env


def ray_processes_of(driver_pid: int) -> dict[int, str]:
    """{pid: command line} of live processes of the Ray session a driver started (its folder
    name ends in the driver's pid), and of their children (workers show only "ray::IDLE")."""
    session, parents = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if f"_{driver_pid}/" in cmdline and "session_" in cmdline:
            session[int(entry.name)] = cmdline[:120]
    children = {pid: "child" for pid, parent in parents.items() if parent in session and pid not in session}
    return {**session, **children}


def listening_addresses(pids: set[int]) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes.update(link[len("socket:["):-1] for link in links if link.startswith("socket:["))
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.add(fields[1].rsplit(":", 1)[0])
    return addresses


def test_a_local_ray_listens_on_the_loopback_address_only(ray_cluster: dict) -> None:
    pids = {os.getpid(), *ray_processes_of(os.getpid())}
    assert len(pids) > 3, "found no Ray processes to check"
    addresses = listening_addresses(pids)
    loopback = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}
    assert addresses and addresses <= loopback, addresses
    assert ray_cluster["address"].startswith("127.0.0.1:")


@pytest.mark.slow
def test_ray_with_an_actor_killed_mid_run_equals_local_and_its_cache_serves_a_run_with_no_model(
    ray_cluster: dict, texts: list[str], tiny_bert_dir: Path, isolated_cache: Path, tmp_path: Path
) -> None:
    model = str(tiny_bert_dir)
    fault: Path = ray_cluster["fault"]
    fault.write_text("the first actor to rename this file exits hard after encoding its batch", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    try:
        on_ray = encode_on_ray(texts, model, batch_size=4, actors=2, progress=lambda d, t: calls.append((d, t)))
    finally:
        fired = Path(str(fault) + ".fired")
        assert fired.exists() and not fault.exists(), "no actor died, so the fault path was not tested"
        fired.unlink()
    # Complete and in input order: equal to the local path row for row, repeats included.
    local = encode_texts(texts, model, cache=False)
    np.testing.assert_allclose(on_ray.vectors, local.vectors, atol=1e-5)
    np.testing.assert_array_equal(on_ray.vectors[90:], on_ray.vectors[:10])
    assert (on_ray.model, on_ray.level, on_ray.cached) == (local.model, "text", 0)
    # No batch counted twice: progress only rises, and ends exactly at the number of texts.
    done = [d for d, _ in calls]
    assert done == sorted(set(done)) and done[-1] == len(texts) and {t for _, t in calls} == {len(texts)}
    # The actors wrote what they computed into this test's cache, once per distinct text ...
    assert VectorCache(isolated_cache).count(on_ray.fingerprint) == 90
    # ... and a later local run in a new process reads it all without importing torch.
    report = in_new_process(
        f"e = encode_texts({texts!r}, {model!r})",
        "{'torch': 'torch' in sys.modules, 'cached': e.cached, 'vectors': e.vectors.tolist()}",
        isolated_cache,
    )
    assert report["torch"] is False and report["cached"] == len(texts)
    np.testing.assert_array_equal(np.float32(report["vectors"]), on_ray.vectors)
    # A Ray run on a full cache starts no actor: every vector comes from the cache.
    again = encode_on_ray(texts, model, normalize=True)
    assert again.cached == len(texts)
    np.testing.assert_allclose(np.linalg.norm(again.vectors, axis=1), 1.0, atol=1e-6)
    # `export --engine ray` takes the same road (here all from the cache) to the projector files.
    data = tmp_path / "texts.csv"
    pd.DataFrame({"text": texts}).to_csv(data, index=False)
    assert cli_main(["export", str(data), "--engine", "ray", "--model", model, "--out", str(tmp_path / "p"), "-q"]) == 0
    np.testing.assert_allclose(np.loadtxt(tmp_path / "p" / "vectors.tsv", delimiter="\t"), on_ray.vectors, atol=1e-6)


@pytest.mark.slow
def test_cli_with_a_model_no_worker_can_load_fails_in_one_line_and_leaves_nothing(
    tiny_bert_dir: Path, tmp_path: Path
) -> None:
    """On a private Ray (no --ray-address): exit 2, one line, no OUT, and no Ray process left."""
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_bert_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights at all")
    out = tmp_path / "vectors"
    process = subprocess.Popen(
        [sys.executable, "-m", "embeddings", "encode", str(SENTENCES), "--engine", "ray", "--model", str(broken),
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=cli_env(tmp_path),
    )
    _, stderr = process.communicate(timeout=900)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert process.returncode == 2, stderr
    assert len(lines) == 1 and lines[0].startswith("error: model ") and "cannot be loaded" in lines[0], lines
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".vectors")]
    assert not out.exists()
    leftovers = ray_processes_of(process.pid)
    assert not leftovers, leftovers


@pytest.mark.slow
def test_cli_joining_a_cluster_encodes_real_shards_equal_to_local_to_1e5(ray_cluster: dict, tmp_path: Path) -> None:
    """The bundled model on the 300 sample sentences in three shards, through --ray-address."""
    frame = pd.read_csv(SENTENCES, dtype=str, keep_default_na=False)
    shards = write_shards(tmp_path / "shards", frame)
    out = tmp_path / "out"
    process = subprocess.run(
        [sys.executable, "-m", "embeddings", "encode", str(shards), "--engine", "ray", "--ray-address",
         ray_cluster["address"], "--actors", "1", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=cli_env(tmp_path), timeout=900,
    )
    assert process.returncode == 0, process.stderr
    ids, vectors = read_vector_shards(out)
    np.testing.assert_array_equal(ids, np.arange(300))
    local = encode_texts(frame["text"].tolist(), cache=False)
    np.testing.assert_allclose(vectors, local.vectors, atol=1e-5, rtol=0)
    # stderr: the progress bar and the summary; no log line from Ray's Python or C++ side
    assert "wrote" in process.stderr and "Traceback" not in process.stderr
    assert not [line for line in process.stderr.splitlines() if " INFO " in line or " WARNING " in line
                or " ERROR " in line or line.startswith("[")], process.stderr


def test_without_ray_the_engine_asks_for_the_extra_in_one_line(tmp_path: Path) -> None:
    script = ("import sys; sys.modules['ray'] = None\n"  # an import of ray now fails as if not installed
              "from embeddings.cli import main\n"
              f"sys.exit(main(['encode', {str(SENTENCES)!r}, '--engine', 'ray', '--out', {str(tmp_path / 'x.npy')!r}]))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {RAY_MISSING}"
    assert "pip install 'embedding-explorer[ray]'" in RAY_MISSING
    assert not (tmp_path / "x.npy").exists()
