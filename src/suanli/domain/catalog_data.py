"""Built-in accelerator models, figures from vendor datasheets (source named per row).

``fp16_tflops`` is the **dense** FP16/BF16 tensor throughput (the sparse figure halved where a
datasheet quotes only "with sparsity"). ``interconnect_gbps`` is the per-device scale-up
bandwidth (NVLink/HCCS/MLU-Link; PCIe x16 bidirectional for PCIe-only cards).
Where a vendor publishes no datasheet (Ascend 910B, Hygon DCU) the row says so and the figure is
the one widely reported by the vendor's partners; treat it as indicative.
"""

from __future__ import annotations

from decimal import Decimal as D

from suanli.domain.catalog import AcceleratorModel as M
from suanli.domain.catalog import Catalog
from suanli.domain.catalog import DeviceKind as K
from suanli.domain.catalog import Vendor as V

BUILTIN_MODELS: tuple[M, ...] = (
    M("A100-80GB", V.NVIDIA, K.GPU, 80, D("312"), D("19.5"), 400, 600,
      "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB): FP16/BF16 tensor 312 TFLOPS dense", ("A100",)),
    M("A800", V.NVIDIA, K.GPU, 80, D("312"), D("19.5"), 400, 400,
      "NVIDIA A800 80GB SXM datasheet: as A100, NVLink limited to 400 GB/s", ("A800-80GB",)),
    M("H100-SXM", V.NVIDIA, K.GPU, 80, D("989.4"), D("67"), 700, 900,
      "NVIDIA H100 Tensor Core GPU datasheet (SXM5): FP16/BF16 1,979 TFLOPS with sparsity", ("H100",)),
    M("H800", V.NVIDIA, K.GPU, 80, D("989.4"), D("67"), 700, 400,
      "NVIDIA H800 SXM5 datasheet: as H100 SXM, NVLink 400 GB/s", ("H800-SXM",)),
    M("H20", V.NVIDIA, K.GPU, 96, D("148"), D("44"), 400, 900,
      "NVIDIA HGX H20 product brief: FP16/BF16 148 TFLOPS dense, 96 GB HBM3", ()),
    M("H200", V.NVIDIA, K.GPU, 141, D("989.4"), D("67"), 700, 900,
      "NVIDIA H200 Tensor Core GPU datasheet (SXM): FP16/BF16 1,979 TFLOPS with sparsity, 141 GB", ("H200-SXM",)),
    M("L40S", V.NVIDIA, K.GPU, 48, D("362.05"), D("91.6"), 350, 64,
      "NVIDIA L40S datasheet: FP16 tensor 733 TFLOPS with sparsity; PCIe Gen4 x16", ()),
    M("L20", V.NVIDIA, K.GPU, 48, D("119.5"), D("59.8"), 275, 64,
      "NVIDIA L20 product brief: FP16 tensor 239 TFLOPS with sparsity; PCIe Gen4 x16", ()),
    M("RTX-4090", V.NVIDIA, K.GPU, 24, D("165.2"), D("82.6"), 450, 64,
      "NVIDIA Ada Lovelace architecture whitepaper, GeForce RTX 4090: FP16 tensor (FP32 accumulate) 165.2 TFLOPS dense", ("4090", "RTX4090")),
    M("V100-32GB", V.NVIDIA, K.GPU, 32, D("125"), D("15.7"), 300, 300,
      "NVIDIA V100 Tensor Core GPU datasheet (SXM2 32GB): 125 tensor TFLOPS", ("V100",)),
    M("T4", V.NVIDIA, K.GPU, 16, D("65"), D("8.1"), 70, 32,
      "NVIDIA T4 datasheet: mixed-precision FP16/FP32 65 TFLOPS; PCIe Gen3 x16", ()),
    M("A10", V.NVIDIA, K.GPU, 24, D("125"), D("31.2"), 150, 64,
      "NVIDIA A10 datasheet: BF16/FP16 tensor 125 TFLOPS dense (250 with sparsity)", ()),
    M("Ascend-910B", V.HUAWEI, K.NPU, 64, D("313"), D("75"), 400, 392,
      "Huawei Atlas 800T A2 partner specs (910B3): FP16 ~313 TFLOPS, 64 GB HBM2e, HCCS 392 GB/s; no public per-chip datasheet",
      ("910B", "Ascend910B")),
    M("MLU370-X8", V.CAMBRICON, K.NPU, 48, D("96"), D("24"), 250, 200,
      "Cambricon MLU370-X8 product page: FP16/BF16 96 TFLOPS, FP32 24 TFLOPS, 48 GB LPDDR5, MLU-Link 200 GB/s", ("MLU370",)),
    M("DCU-K100-AI", V.HYGON, K.GPU, 64, D("196"), D("49"), 350, 64,
      "Hygon DCU K100-AI: FP16 ~196 TFLOPS, 64 GB HBM2e as reported by server partners (2024); no public datasheet",
      ("K100", "K100-AI", "Hygon-DCU")),
)


def builtin_catalog() -> Catalog:
    """The catalog of built-in models (a new object each call)."""
    return Catalog(BUILTIN_MODELS)
