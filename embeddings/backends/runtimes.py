"""The runtimes a converted model runs on: token ids in, hidden states out, no torch.

``RUNTIMES`` is the registry: a backend name to a factory that opens a graph file. Each runtime
answers ``hidden_states(feed, layers)``: the hidden states 0..L the graph outputs, as numpy.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

# The Python package each runtime needs: a backend whose package is missing falls back to torch.
RUNTIME_PACKAGES = {"onnx": "onnxruntime", "openvino": "openvino"}


class Runtime(Protocol):
    def hidden_states(self, feed: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]: ...


def installed(backend: str) -> bool:
    """Whether the runtime's package can be imported (without importing it)."""
    package = RUNTIME_PACKAGES.get(backend)
    return package is not None and importlib.util.find_spec(package) is not None


class OnnxRuntime:
    """ONNX Runtime on the CPU, every optimisation on, one session per graph file."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or 0)  # 0: one thread per physical core
        options.inter_op_num_threads = 1  # one graph node at a time: the nodes here are sequential
        options.log_severity_level = 3  # errors only: its warnings are about fusions it skipped
        # Threads wait for the next node asleep, not spinning: a spinning thread burns the core its
        # partner (or another process) needs. The same vectors; on this project's shared 2-core
        # machine (load 8-11) the int8 graph took 0.75x the CPU seconds and 0.83x the wall time
        # spinning took (1,000 mixed texts, alternating, medians; benchmarks/README, "Backends").
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.outputs = [output.name for output in self.session.get_outputs()]

    def hidden_states(self, feed: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        return self.session.run([self.outputs[layer] for layer in layers], feed)


class OpenVinoRuntime:
    """OpenVINO on the CPU, reading the ONNX graph itself (its converter is not used: it reports
    usage over the network unless opted out, and nothing of ours leaves the machine)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import openvino as ov

        core = ov.Core()
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}  # no silent bf16
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.lock = threading.Lock()  # one infer request: the app may call from several threads

    def hidden_states(self, feed: dict[str, np.ndarray], layers: Sequence[int]) -> list[np.ndarray]:
        with self.lock:
            result = self.request.infer(feed)
            return [np.array(result[self.compiled.outputs[layer]]) for layer in layers]


RUNTIMES: dict[str, Callable[[Path, int | None], Runtime]] = {
    "onnx": OnnxRuntime,
    "openvino": OpenVinoRuntime,
}
