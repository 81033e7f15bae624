#!/usr/bin/python3
"""The issue-9/21 peer: the 2-D Gaussian-mixture job (tests/data/diffusion/gmm.json), DPM-Solver++(2M)
on diffusers' scaled-linear schedule (SD betas 0.00085..0.012, 1000 train steps, linspace spacing,
final sigma 0 with a first-order last step, as DPMSolverMultistepScheduler does), 20 steps, 1e5
samples, written in torch tensor ops; then the same job as a whole `ferry sample` process.

Prints, as medians of --repeat runs, torch's sampling loop (after import and set-up) and ferry's
whole process, in wall seconds and in CPU seconds of all threads (torch: time.process_time around
the loop; ferry: the child's user + sys time), and the ratios. --isa runs ferry with FERRY_ISA set.
Skips cleanly (exit 0, one line) where python3-torch is not installed.

  /usr/bin/python3 benchmarks/peer/torch_gmm_dpm.py [--ferry build/bin/ferry] [--dtype float32]
      [--threads 2] [--num-samples 100000] [--repeat 5] [--isa sse2|avx2|avx512]
"""
import argparse, json, math, os, resource, statistics, subprocess, sys, tempfile, time

try:
    import torch
except ImportError:
    print("peer: skipped (python3-torch is not installed; Debian: apt-get install python3-torch)")
    sys.exit(0)
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def scaled_linear_sigmas(steps, t_train=1000, beta_start=0.00085, beta_end=0.012):
    betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, t_train, dtype=torch.float64) ** 2
    abar = torch.cumprod(1 - betas, 0)
    sig = ((1 - abar) / abar) ** 0.5
    ts = np.linspace(0, t_train - 1, steps + 1).round()[::-1][:-1].copy()
    s = np.interp(ts, np.arange(t_train), sig.numpy())
    return np.concatenate([s, [0.0]])  # final_sigmas_type "zero"


def posterior_mean(x, alpha, sigma, w, mu, var):
    # E[x0 | x_t = x] of p0 = Σ w_k N(μ_k, diag var_k): the torch oracle.
    c = alpha * alpha * var + sigma * sigma                        # (K, D)
    r = x[:, None, :] - alpha * mu[None]                           # (N, K, D)
    lp = torch.log(w) - 0.5 * ((r * r / c).sum(-1) + torch.log(2 * math.pi * c).sum(-1))
    resp = torch.softmax(lp, dim=1)                                 # (N, K)
    m = mu[None] + alpha * (var / c)[None] * r                      # (N, K, D)
    return (resp[..., None] * m).sum(1)


def torch_job(n, steps, dtype, threads, seed=1):
    torch.set_num_threads(threads)
    g = json.load(open(os.path.join(ROOT, "tests/data/diffusion/gmm.json")))
    w = torch.tensor(g["weights"], dtype=dtype)
    mu = torch.tensor(g["means"], dtype=dtype)
    var = torch.tensor(g["stds"], dtype=dtype) ** 2
    sig = scaled_linear_sigmas(steps)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen, dtype=dtype)
    start, cpu = time.perf_counter(), time.process_time()
    # VP view of σ̃: α = 1/√(1+σ̃²), σ = σ̃α, λ = −log σ̃; x_T = σ̃_0·α_0... diffusers scales by init_noise_sigma = 1
    alpha = [1 / math.sqrt(1 + s * s) for s in sig]
    sigma = [s * a for s, a in zip(sig, alpha)]
    lam = [math.log(a) - math.log(s) if s > 0 else math.inf for a, s in zip(alpha, sigma)]
    prev = None
    for i in range(steps):
        d = posterior_mean(x, alpha[i], sigma[i], w, mu, var)
        h = lam[i + 1] - lam[i]
        e = -math.expm1(-h) if math.isfinite(h) else 1.0           # 1 − e^{−h}
        ratio = sigma[i + 1] / sigma[i]
        if prev is None or i == steps - 1:                         # first step, and the lower-order last step
            x = ratio * x + alpha[i + 1] * e * d
        else:                                                       # DPM-Solver++(2M), Lu et al. 2022b Alg. 2
            r0 = (lam[i] - lam[i - 1]) / h
            d1 = (d - prev) / r0
            x = ratio * x + alpha[i + 1] * e * d + 0.5 * alpha[i + 1] * e * d1
        prev = d
    return time.perf_counter() - start, time.process_time() - cpu, x


def ferry_job(exe, n, steps, dtype, threads, repeat, isa):
    """Medians of `repeat` runs of the whole ferry process: (wall s, CPU s of all threads, command)."""
    env = dict(os.environ)
    if isa:
        env["FERRY_ISA"] = isa
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "dpm.json")
        json.dump({"_class_name": "DPMSolverMultistepScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                   "beta_end": 0.012, "num_train_timesteps": 1000, "solver_order": 2, "algorithm_type": "dpmsolver++",
                   "prediction_type": "epsilon", "timestep_spacing": "linspace", "final_sigmas_type": "zero"}, open(cfg, "w"))
        out = os.path.join(tmp, "x.npy")
        help_text = subprocess.run([exe, "sample", "--help"], capture_output=True, text=True).stdout
        cmd = [exe, "sample", "--model", "gmm:" + os.path.join(ROOT, "tests/data/diffusion/gmm.json"),
               "--scheduler-config", cfg, "--steps", str(steps), "--out", out]
        if "--num-samples" in help_text:
            cmd += ["--num-samples", str(n), "--seed", "1"]
        else:  # older CLI: unit noise from a file
            noise = os.path.join(tmp, "z.npy")
            np.save(noise, np.random.default_rng(1).standard_normal((n, 2)).astype(dtype))
            cmd += ["--noise", noise]
        if "--threads" in help_text:
            cmd += ["--threads", str(threads)]
        if "--dtype" in help_text:
            cmd += ["--dtype", dtype]
        walls, cpus = [], []
        for _ in range(repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        return statistics.median(walls), statistics.median(cpus), ("FERRY_ISA=" + isa + " " if isa else "") + " ".join(cmd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ferry", default=os.path.join(ROOT, "build/bin/ferry"))
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--num-samples", type=int, default=100000)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--isa", default="", help="run ferry with FERRY_ISA set to this path")
    ap.add_argument("--skip-torch", action="store_true", help="time ferry only")
    a = ap.parse_args()
    tdt = torch.float32 if a.dtype == "float32" else torch.float64
    t_wall = t_cpu = math.nan
    if not a.skip_torch:
        runs = [torch_job(a.num_samples, a.steps, tdt, a.threads)[:2] for _ in range(a.repeat)]
        t_wall, t_cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"torch {torch.__version__}: sampling loop {t_wall:.4f} s wall, {t_cpu:.4f} s CPU "
              f"(medians of {a.repeat}; {a.dtype}, {a.threads} threads, {a.num_samples} samples)")
    if not os.access(a.ferry, os.X_OK):
        print(f"peer: ferry executable {a.ferry} not found; build it with `make build`")
        return
    f_wall, f_cpu, cmd = ferry_job(a.ferry, a.num_samples, a.steps, a.dtype, a.threads, a.repeat, a.isa)
    print(f"ferry whole process: {f_wall:.4f} s wall, {f_cpu:.4f} s CPU (medians of {a.repeat}): {cmd}")
    if not a.skip_torch:
        print(f"ratio torch / ferry: {t_wall / f_wall:.1f}x wall, {t_cpu / f_cpu:.1f}x CPU")


if __name__ == "__main__":
    main()
