"""CPU stand-ins that let Megatron-LM's own training code run on a CPU-only torch with gloo.

Used by tools/megatron_fixture_worker.py and tools/interop_check.py (venv python only).

Megatron-LM's `megatron.training` package (pretrain, save_checkpoint, ...) is not part of the
megatron-core wheel; `add_megatron_lm_source` puts a source tree of the matching tag
(NVIDIA/Megatron-LM at core_v0.16.1: megatron/training, megatron/legacy, megatron/rl,
megatron/post_training, pretrain_gpt.py, gpt_builders.py, model_provider.py) in front of
sys.path. megatron.core itself always comes from the installed wheel (the source tree holds no
megatron/core, so the two merge as one namespace package).

What is replaced, and nothing else:
- `torch.cuda` device queries and streams: `current_device()` answers the CPU device,
  `set_device`, `synchronize`, `empty_cache` do nothing, `Stream`/`stream`/`current_stream`
  are inert; `device_count()` answers 1 so Megatron initializes model parallelism and its RNG
  tracker as it would on one GPU per process.
- the CUDA generator: a stand-in with the CUDA generator's 16-byte state (uint64 seed,
  uint64 philox offset, little-endian); `torch.cuda.get_rng_state()` and the Megatron RNG
  tracker's states are ByteTensors of that shape, as on a GPU. Kernels on CPU draw from the CPU
  generator (no dropout is used by the fixtures).
- a torch function mode that turns every request for a CUDA device (`device='cuda'`,
  `.cuda()`, `.to('cuda')`) into the CPU device, and `nn.Module.cuda()` into a no-op; in it
  `Tensor.type()` answers the CUDA type name (`torch.cuda.BFloat16Tensor`), which Megatron's
  optimizers use to sort parameters into float16 and fp32 groups.
- `megatron.core.transformer.custom_layers.batch_invariant_kernels` (imports triton at top
  level, only used by --batch-invariant-mode) when triton is not installed.
- `torch.distributed.isend` sends a copy of its tensor. The interleaved (virtual pipeline)
  schedule with P2P overlap frees an output's storage (`deallocate_output_tensor`) before it
  waits for the send; on a GPU the caching allocator keeps the bytes until NCCL's stream has
  sent them, while gloo reads the freed memory (NaN in the next stage). The copy keeps the
  bytes alive as the GPU does; the values sent are the same.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import types

import torch
from torch.overrides import TorchFunctionMode

_CPU = torch.device("cpu")
_INSTALLED = False


def add_megatron_lm_source(src: str | None) -> str:
    """Put a Megatron-LM source tree (megatron/training etc.) in front of sys.path."""
    src = src or os.environ.get("MEGATRON_LM_SRC") or "/tmp/mlm"
    if not os.path.isfile(os.path.join(src, "megatron", "training", "checkpointing.py")):
        raise SystemExit(
            f"{src}: no megatron/training/checkpointing.py; extract NVIDIA/Megatron-LM at tag "
            "core_v0.16.1 there (git archive core_v0.16.1 megatron/training megatron/legacy "
            "megatron/rl megatron/post_training pretrain_gpt.py gpt_builders.py model_provider.py)"
        )
    if src not in sys.path:
        sys.path.insert(0, src)
    return src


def _is_cuda(dev) -> bool:
    if isinstance(dev, torch.device):
        return dev.type == "cuda"
    if isinstance(dev, str):
        return dev.startswith("cuda")
    return False


class _CudaToCpu(TorchFunctionMode):
    """Rewrites CUDA device requests of tensor factories and moves to the CPU device."""

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in (torch.Tensor.cuda,):
            return args[0]
        if "device" in kwargs and (_is_cuda(kwargs["device"]) or isinstance(kwargs["device"], int)):
            kwargs["device"] = _CPU
        if func in (torch.Tensor.to,) and len(args) > 1 and _is_cuda(args[1]):
            args = (args[0], _CPU) + tuple(args[2:])
        if func in (torch.Tensor.pin_memory,):
            return args[0]
        if func is torch.Tensor.type and len(args) == 1 and not kwargs:
            # Megatron's optimizers sort parameters by their type string
            # ("torch.cuda.BFloat16Tensor"): answer what the tensor would be on the GPU.
            name = func(*args)
            if name.startswith("torch.") and not name.startswith("torch.cuda."):
                return "torch.cuda." + name[len("torch."):]
            return name
        return func(*args, **kwargs)


class _FakeCudaGenerator:
    """The CUDA generator's state layout (seed, philox offset), kept on the CPU."""

    def __init__(self) -> None:
        self.seed = 67280421310721
        self.offset = 0

    def get_state(self) -> torch.Tensor:
        return torch.frombuffer(bytearray(struct.pack("<QQ", self.seed, self.offset)),
                                dtype=torch.uint8).clone()

    def set_state(self, state: torch.Tensor) -> None:
        raw = bytes(state.to(torch.uint8).contiguous().numpy().tobytes())
        self.seed, self.offset = struct.unpack("<QQ", raw[:16])

    def manual_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self.offset = 0


class _InertStream:
    def __init__(self, *a, **k) -> None:
        pass

    def wait_stream(self, *a, **k) -> None:
        pass

    def wait_event(self, *a, **k) -> None:
        pass

    def record_event(self, *a, **k):
        return _InertEvent()

    def synchronize(self) -> None:
        pass


class _InertEvent:
    def __init__(self, *a, **k) -> None:
        pass

    def record(self, *a, **k) -> None:
        pass

    def wait(self, *a, **k) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def query(self) -> bool:
        return True

    def elapsed_time(self, other) -> float:
        return 0.0


def install() -> None:
    """Install the stand-ins (idempotent). Call before importing megatron."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True

    gen = _FakeCudaGenerator()
    cuda = torch.cuda
    cuda.current_device = lambda: _CPU
    cuda.device_count = lambda: 1
    cuda.set_device = lambda *a, **k: None
    cuda.synchronize = lambda *a, **k: None
    cuda.empty_cache = lambda *a, **k: None
    cuda.Stream = _InertStream
    cuda.Event = _InertEvent
    cuda.current_stream = lambda *a, **k: _InertStream()
    cuda.default_stream = lambda *a, **k: _InertStream()
    cuda.stream = lambda *a, **k: contextlib.nullcontext()
    cuda.get_rng_state = lambda *a, **k: gen.get_state()
    cuda.set_rng_state = lambda state, *a, **k: gen.set_state(state)
    cuda.manual_seed = lambda seed: gen.manual_seed(seed)
    cuda.manual_seed_all = lambda seed: gen.manual_seed(seed)
    cuda.random.get_rng_state = cuda.get_rng_state
    cuda.random.set_rng_state = cuda.set_rng_state
    cuda.memory_allocated = lambda *a, **k: 0
    cuda.max_memory_allocated = lambda *a, **k: 0
    cuda.memory_reserved = lambda *a, **k: 0
    cuda.max_memory_reserved = lambda *a, **k: 0
    cuda.reset_peak_memory_stats = lambda *a, **k: None
    cuda.get_device_properties = lambda *a, **k: types.SimpleNamespace(
        major=8, minor=0, name="cpu stand-in", total_memory=24 << 30, multi_processor_count=2)
    cuda.get_device_capability = lambda *a, **k: (8, 0)
    cuda.get_device_name = lambda *a, **k: "cpu stand-in"
    torch.nn.Module.cuda = lambda self, *a, **k: self

    _CudaToCpu().__enter__()

    try:
        import triton  # noqa: F401
    except ImportError:
        name = "megatron.core.transformer.custom_layers.batch_invariant_kernels"
        stub = types.ModuleType(name)

        def enable_batch_invariant_mode(*a, **k):
            raise RuntimeError("--batch-invariant-mode needs triton, which is not installed")

        stub.enable_batch_invariant_mode = enable_batch_invariant_mode
        sys.modules[name] = stub

    import torch.distributed.distributed_c10d as c10d

    real_isend = c10d.isend

    def isend_copy(tensor, *a, **k):
        return real_isend(tensor.clone(), *a, **k)

    # P2POp checks its op against distributed_c10d.isend, so both names get the wrapper.
    c10d.isend = isend_copy
    torch.distributed.isend = isend_copy

    import megatron.core.tensor_parallel.random as mrandom

    mrandom._set_cuda_rng_state = lambda new_state, device=-1, graph_safe=False: gen.set_state(new_state)
    mrandom._get_cuda_rng_state = lambda device="cuda", clone=False, graph_safe=False: gen.get_state()
