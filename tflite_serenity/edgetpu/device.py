"""The Edge TPU as the cost model sees it: throughput, parameter cache, links.

Every figure is a field with a default and a stated source; see
``docs/pipeline.md`` for how each enters a segment's time. Override any of
them with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SerenityError

MIB = 1 << 20

#: Effective host <-> device bandwidths in bytes per second, by link.
#: usb3: USB 3.0 (3.1 Gen 1) signals at 5 Gb/s, 500 MB/s after 8b/10b coding;
#: bulk transfers reach about two thirds of that, so 320 MB/s.
#: pcie: the M.2 and Mini PCIe Coral modules use PCIe Gen 2 x1, 5 GT/s, 500 MB/s
#: after coding; about 80% is left after packet overhead, so 400 MB/s.
#: usb2: 480 Mb/s signalling, about 35 MB/s in practice.
LINKS: dict[str, float] = {"usb3": 320e6, "pcie": 400e6, "usb2": 35e6}


@dataclass(frozen=True)
class EdgeTpu:
    """One Edge TPU of the pipeline and its connection to the host.

    Attributes
    ----------
    peak_ops_per_s : float
        Peak int8 throughput in operations per second; a multiply-accumulate
        is two operations. 4 TOPS (Coral USB Accelerator and module datasheets).
    utilization : float
        Fraction of the peak that real layers sustain. 0.2 reproduces Coral's
        published latencies of MobileNet v1 and v2 on a USB 3 accelerator
        (2.2 and 2.3 ms, coral.ai/docs/edgetpu/benchmarks) within about 15%
        together with the overheads below; it is a calibration, not a
        measurement of any one layer.
    op_overhead_s : float
        Fixed time per operator (instruction issue, pipeline fill): 10 us,
        from the same calibration.
    segment_overhead_s : float
        Fixed time per segment per inference (one invoke and its USB or PCIe
        transactions): 100 us, an assumption. It is the same for every segment,
        so it never changes which split is best.
    cache_bytes : int
        On-chip memory for parameters: 8 MiB ("about 8 MB", coral.ai/docs/edgetpu/pipeline).
        Parameter bytes beyond it are streamed from the host on every inference.
    link_bytes_per_s : float
        Bandwidth for activations entering and leaving a segment (see :data:`LINKS`).
    host_bytes_per_s : float
        Bandwidth for streamed parameters; the same link, so the same default.
    """

    peak_ops_per_s: float = 4e12
    utilization: float = 0.2
    op_overhead_s: float = 10e-6
    segment_overhead_s: float = 100e-6
    cache_bytes: int = 8 * MIB
    link_bytes_per_s: float = LINKS["usb3"]
    host_bytes_per_s: float = LINKS["usb3"]

    @property
    def macs_per_s(self) -> float:
        """Sustained multiply-accumulates per second."""
        return self.peak_ops_per_s / 2 * self.utilization

    def __post_init__(self) -> None:
        positive = {
            "peak_ops_per_s": self.peak_ops_per_s, "utilization": self.utilization,
            "link_bytes_per_s": self.link_bytes_per_s, "host_bytes_per_s": self.host_bytes_per_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise SerenityError(f"Edge TPU model: {name} must be positive, got {value}")
        for name, value in {"op_overhead_s": self.op_overhead_s, "segment_overhead_s": self.segment_overhead_s,
                            "cache_bytes": self.cache_bytes}.items():
            if value < 0:
                raise SerenityError(f"Edge TPU model: {name} cannot be negative, got {value}")


def edge_tpu(link: str = "usb3", cache_mib: float = 8.0) -> EdgeTpu:
    """An :class:`EdgeTpu` with a link preset (``usb3``, ``pcie``, ``usb2``) and a cache size.

    Examples
    --------
    >>> edge_tpu("pcie", cache_mib=6).link_bytes_per_s
    400000000.0
    """
    if link not in LINKS:
        raise SerenityError(f"unknown link {link!r}; choose one of {', '.join(LINKS)}")
    if not cache_mib >= 0:
        raise SerenityError(f"the parameter cache cannot be negative, got {cache_mib} MiB")
    return EdgeTpu(cache_bytes=int(cache_mib * MIB), link_bytes_per_s=LINKS[link], host_bytes_per_s=LINKS[link])


#: Tensor types the Edge TPU does not compute in: it runs 8-bit integer models only.
FLOAT_TYPES = frozenset({"FLOAT16", "FLOAT32", "FLOAT64"})


def float_operators(graph) -> tuple[int, ...]:
    """The operators of ``graph`` (a :class:`~tflite_serenity.graph.Graph`) that compute in floating point.

    The Edge TPU runs only full-integer (int8) models; its compiler leaves
    float operators to the host CPU. QUANTIZE and DEQUANTIZE, which turn a
    float input or output of an int8 model into int8 and back, do not count.
    """
    return tuple(op.index for op in graph.operators
                 if op.kind not in ("QUANTIZE", "DEQUANTIZE")
                 and any(graph.tensors[t].dtype in FLOAT_TYPES for t in op.outputs if t >= 0))
