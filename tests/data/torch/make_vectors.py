"""Writes the reference vectors of tests/test_torch_rng.cpp into the current directory (README.md).

    python3 make_vectors.py                                  # torch's CPU generator (AVX2 kernel)
    ATEN_CPU_CAPABILITY=default python3 make_vectors.py --generic   # its generic kernel
    PYTHONPATH=<stable-diffusion-webui>/modules python3 make_vectors.py --a1111   # torch-cuda
"""
import sys

import numpy as np

SEEDS = [0, 1234, 2**32 + 5, 2**63 + 12345]
CALLS = [1, 3, 7, 15, 16, 17, 33, 48, 100, 2, 16, 1000]  # randn sizes, in order, on one generator
RUNS = [(7, 3), (2, 3)]  # (N, D): the initial noise and four step draws of a sampling run
CUDA_CALLS = [12, 5, 1, 40]


def cpu(kernel):
    import torch
    capability = torch.__config__.show().split("CPU capability usage: ")[1].split("\n")[0]
    if (capability == "AVX2") != (kernel == "avx2"):
        sys.exit(f"torch runs its {capability} kernels; see the usage above")
    dtypes = ["float32", "float64"] if kernel == "avx2" else ["float32"]
    for seed in SEEDS:
        for dtype in dtypes:
            g = torch.Generator().manual_seed(seed)
            z = [torch.randn((n,), generator=g, dtype=getattr(torch, dtype)).numpy() for n in CALLS]
            np.save(f"cpu_{kernel}_{seed}_{dtype}.npy", np.concatenate(z))
    if kernel == "avx2":
        for n, d in RUNS:
            for dtype in dtypes:
                g = torch.Generator().manual_seed(1234)
                z = [torch.randn((n, d), generator=g, dtype=getattr(torch, dtype)).numpy() for _ in range(5)]
                np.save(f"run_{n}x{d}_{dtype}.npy", np.stack(z))


def a1111():
    import rng_philox
    for seed in SEEDS:
        g = rng_philox.Generator(seed)
        np.save(f"cuda_{seed}.npy", np.concatenate([g.randn((n,)) for n in CUDA_CALLS]))


if "--a1111" in sys.argv:
    a1111()
else:
    cpu("generic" if "--generic" in sys.argv else "avx2")
