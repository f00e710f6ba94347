"""numba.cuda as `gpu_engine` uses it, with the static types numba.cuda does not carry.

Inside a kernel, ``cuda.threadIdx``, ``cuda.shared.array`` and ``cuda.syncthreads``
are intrinsics that exist only while numba compiles the kernel (its CUDA simulator
fakes them), and numba.cuda's host functions are unannotated: to a type checker the
module is opaque. So the type checker sees `CudaModule` here instead, the part of
numba.cuda this package uses, declared once; at run time `cuda` is numba.cuda itself.
Kernels must name that module object: numba resolves ``cuda.threadIdx`` through it,
and the simulator swaps it, by identity, in a kernel's globals.

`kernel` and `device_function` are numba's ``cuda.jit`` with their types: a kernel is
launched as ``kernel[blocks, threads](*arguments)`` (`Kernel`), a device function
keeps its Python signature. Arrays on the device are `DeviceArray`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

import numpy as np
import numpy.typing as npt

DeviceFunction = TypeVar("DeviceFunction", bound=Callable[..., Any])


class Launch(Protocol):
    """A kernel with its grid set: calling it runs the kernel on these arguments."""

    def __call__(self, *arguments: object) -> None: ...


class Kernel(Protocol):
    """A compiled kernel: ``kernel[blocks, threads_per_block]`` is a `Launch`."""

    def __getitem__(self, grid: tuple[int, int]) -> Launch: ...


class DeviceArray(Protocol):
    """An array in device memory (numba's ``DeviceNDArray``), as the host sees it."""

    @property
    def size(self) -> int: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: slice) -> DeviceArray: ...

    def copy_to_host(self) -> npt.NDArray[Any]: ...


if TYPE_CHECKING:
    from numba.core.types import Type as NumbaType

    class Dim3(Protocol):
        """A thread's or block's index, or a block's size, in a kernel's grid."""

        x: int
        y: int
        z: int

    class SharedMemory(Protocol):
        """Memory shared by a block's threads, allocated as the kernel starts."""

        def array(self, shape: int, dtype: NumbaType) -> npt.NDArray[Any]: ...

    class Context(Protocol):
        def get_memory_info(self) -> tuple[int, int]:
            """(free, total) bytes of device memory."""
            ...

    class CudaModule(Protocol):
        """The part of numba.cuda used here: kernel intrinsics, then the host API."""

        threadIdx: Dim3
        blockIdx: Dim3
        blockDim: Dim3
        shared: SharedMemory

        def syncthreads(self) -> None: ...

        def grid(self, ndim: Literal[1]) -> int: ...

        def gridsize(self, ndim: Literal[1]) -> int: ...

        @overload
        def jit(self, function: Callable[..., None], /) -> Kernel: ...

        @overload
        def jit(
            self, *, device: Literal[True], inline: bool
        ) -> Callable[[DeviceFunction], DeviceFunction]: ...

        def is_available(self) -> bool: ...

        def current_context(self) -> Context: ...

        def to_device(self, array: npt.NDArray[Any]) -> DeviceArray: ...

        def device_array(
            self, shape: int | tuple[int, int], dtype: type[np.generic]
        ) -> DeviceArray: ...

    cuda: CudaModule
else:
    from numba import cuda


def kernel(function: Callable[..., None]) -> Kernel:
    """``function`` compiled as a CUDA kernel (``@cuda.jit``)."""
    return cuda.jit(function)


def device_function(function: DeviceFunction) -> DeviceFunction:
    """``function`` compiled as a device function, inlined into the kernels that call it."""
    return cuda.jit(device=True, inline=True)(function)
