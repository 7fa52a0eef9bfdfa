#!/usr/bin/python3
"""bench/torch_ref.py: the PyTorch reference for `make bench`.

The same GPT-2 as garage's engine (src/model/gpt.h): token and learned
position embeddings, pre-LayerNorm blocks (eps 1e-5) of causal multi-head
attention (one qkv projection, q|k|v blocks of C) and a tanh-GELU MLP of
width 4C, final LayerNorm, LM head tied to wte; fp32; AdamW with weight
decay on matrices and embeddings only, as garage's adamw_step.

    torch_ref.py train L NH C V T B Tseq STEPS [WARMUP]
    torch_ref.py sample L NH C V T NB NTOK
    torch_ref.py xcheck FILE        (written by bench-train xcheck)

Settings: before measuring, `train` and `sample` try each split of the two
thread pools (torch's OpenMP intra-op threads x OpenBLAS threads, 1 or 2
each, OpenBLAS set through its C API) on a few steps and keep the fastest.
Run it with OPENBLAS_CORETYPE=SkylakeX on CPUs Debian's OpenBLAS does not
know (the bench script does).  Output: `KEY value` lines, like bench-train.
"""
import ctypes
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

torch.backends.cudnn.enabled = False


# --- the model ---------------------------------------------------------------

class Block(torch.nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln1 = torch.nn.LayerNorm(C, eps=1e-5)
        self.qkv = torch.nn.Linear(C, 3 * C)
        self.attproj = torch.nn.Linear(C, C)
        self.ln2 = torch.nn.LayerNorm(C, eps=1e-5)
        self.fc = torch.nn.Linear(C, 4 * C)
        self.fcproj = torch.nn.Linear(4 * C, C)

    def attn(self, x, mask):
        B, T, C = x.shape
        NH, hs = self.NH, C // self.NH
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, NH, hs).transpose(1, 2)
        k = k.view(B, T, NH, hs).transpose(1, 2)
        v = v.view(B, T, NH, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return self.attproj(y)

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    def step(self, x, kc, vc, pos):
        """One position per sequence: x (NB,1,C); kc, vc (NB,NH,T,hs)."""
        NB, _, C = x.shape
        NH, hs = self.NH, C // self.NH
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        kc[:, :, pos] = k.view(NB, NH, hs)
        vc[:, :, pos] = v.view(NB, NH, hs)
        q = q.view(NB, NH, 1, hs)
        att = (q @ kc[:, :, :pos + 1].transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        y = (att.softmax(dim=-1) @ vc[:, :, :pos + 1]).reshape(NB, 1, C)
        x = x + self.attproj(y)
        return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self, L, NH, C, V, T):
        super().__init__()
        self.wte = torch.nn.Parameter(torch.empty(V, C))
        self.wpe = torch.nn.Parameter(torch.empty(T, C))
        self.blocks = torch.nn.ModuleList(Block(C, NH) for _ in range(L))
        self.lnf = torch.nn.LayerNorm(C, eps=1e-5)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1),
                             persistent=False)
        std, resid = 0.02, 0.02 / math.sqrt(2 * L)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, 0.0, resid if n.endswith("proj.weight") else std)
            elif n.endswith("weight"):
                torch.nn.init.ones_(p)
            else:
                torch.nn.init.zeros_(p)

    def logits(self, idx):
        B, T = idx.shape
        x = self.wte[idx] + self.wpe[:T]
        for b in self.blocks:
            x = b(x, self.mask)
        return self.lnf(x) @ self.wte.t()

    def forward(self, idx, targets):
        lg = self.logits(idx)
        return F.cross_entropy(lg.view(-1, lg.size(-1)), targets.view(-1)), lg

    def step(self, tok, pos, cache):
        x = (self.wte[tok] + self.wpe[pos]).unsqueeze(1)
        for b, (kc, vc) in zip(self.blocks, cache):
            x = b.step(x, kc, vc, pos)
        return self.lnf(x[:, 0]) @ self.wte.t()

    def flat_order(self):
        """Parameters in garage's flat-buffer order (gpt_tensors)."""
        bl = self.blocks
        return [[self.wte], [self.wpe], [b.ln1.weight for b in bl],
                [b.ln1.bias for b in bl], [b.qkv.weight for b in bl],
                [b.qkv.bias for b in bl], [b.attproj.weight for b in bl],
                [b.attproj.bias for b in bl], [b.ln2.weight for b in bl],
                [b.ln2.bias for b in bl], [b.fc.weight for b in bl],
                [b.fc.bias for b in bl], [b.fcproj.weight for b in bl],
                [b.fcproj.bias for b in bl], [self.lnf.weight], [self.lnf.bias]]


def make_optimizer(model, lr, b1, b2, eps, wd):
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                              {"params": other, "weight_decay": 0.0}],
                             lr=lr, betas=(b1, b2), eps=eps, foreach=True)


def clip_grads(model, max_norm):
    """garage's clipping: scale by max_norm / norm when the norm is over."""
    gs = [p.grad for p in model.parameters()]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in gs)).item()
    if norm > max_norm:
        torch._foreach_mul_(gs, max_norm / norm)
    return norm


# --- thread settings -----------------------------------------------------------

def openblas():
    """The OpenBLAS torch loaded (through libblas.so.3), or None."""
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "openblas" in path and ".so" in path:
                try:
                    lib = ctypes.CDLL(path)
                    lib.openblas_get_num_threads
                    return lib
                except (OSError, AttributeError):
                    pass
    return None


BLAS = None


def set_threads(omp, blas):
    torch.set_num_threads(omp)
    if BLAS is not None:
        BLAS.openblas_set_num_threads(blas)


def settings():
    ncpu = os.cpu_count() or 1
    opts = sorted({1, ncpu})
    return [(o, b) for o in opts for b in (opts if BLAS is not None else [0])]


def tune(run_once, reps=3):
    """Time run_once() under each thread setting; keep the fastest.
    TORCH_SETTING="omp=A blas=B" (an earlier run's choice) skips this."""
    given = os.environ.get("TORCH_SETTING", "")
    if given:
        s = dict(kv.split("=") for kv in given.split())
        set_threads(int(s["omp"]), int(s["blas"]))
        print("SETTING omp=%s blas=%s" % (s["omp"], s["blas"]))
        return
    best = None
    for s in settings():
        set_threads(*s)
        run_once()
        t = []
        for _ in range(reps):
            t0 = time.perf_counter()
            run_once()
            t.append(time.perf_counter() - t0)
        t.sort()
        med = t[len(t) // 2]
        print("TUNE omp=%d blas=%d %.4f" % (s[0], s[1], med))
        if best is None or med < best[0]:
            best = (med, s)
    set_threads(*best[1])
    print("SETTING omp=%d blas=%d" % best[1])


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


# --- modes -------------------------------------------------------------------

def cmd_train(L, NH, C, V, T, B, Tseq, steps, warmup=2):
    torch.manual_seed(1)
    model = GPT(L, NH, C, V, T)
    opt = make_optimizer(model, 1e-4, 0.9, 0.95, 1e-8, 0.1)
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, V, (B, Tseq), generator=g)
    y = torch.randint(0, V, (B, Tseq), generator=g)

    def one_step():
        opt.zero_grad(set_to_none=False)
        loss, _ = model(x, y)
        loss.backward()
        clip_grads(model, 1.0)
        opt.step()

    tune(one_step, reps=2)
    for _ in range(warmup):
        one_step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - t0)
    n = sum(p.numel() for p in model.parameters())
    print("PARAMS", n)
    print("STEP_S", " ".join("%.5f" % t for t in times))
    med = median(times)
    print("TOK_S %.1f" % (B * Tseq / med))
    print("FLOPS %.4g" % (B * Tseq / med * (6.0 * n + 12.0 * L * C * Tseq)))
    print("PEAK_RSS_MIB %.1f" % peak_rss_mib())


@torch.inference_mode()
def cmd_sample(L, NH, C, V, T, NB, ntok):
    torch.manual_seed(1)
    model = GPT(L, NH, C, V, T).eval()
    hs = C // NH
    cache = [(torch.zeros(NB, NH, T, hs), torch.zeros(NB, NH, T, hs)) for _ in range(L)]
    g = torch.Generator().manual_seed(3)

    def generate(n):
        tok = torch.zeros(NB, dtype=torch.long)
        for pos in range(n):        # garage's stage_sample: T 0.8, top-k 40, top-p 0.95
            lg = model.step(tok, pos, cache) / 0.8
            v, ix = torch.topk(lg, 40, dim=-1)
            p = v.softmax(dim=-1)
            p = p * ((p.cumsum(dim=-1) - p) < 0.95)
            tok = ix.gather(1, torch.multinomial(p, 1, generator=g))[:, 0]

    tune(lambda: generate(16), reps=2)
    generate(8)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        generate(ntok)
        times.append(time.perf_counter() - t0)
    print("RUN_S", " ".join("%.5f" % t for t in times))
    print("TOK_S %.1f" % (NB * ntok / median(times)))
    print("PEAK_RSS_MIB %.1f" % peak_rss_mib())


def cmd_xcheck(path):
    with open(path, "rb") as f:
        data = f.read()
    hdr = struct.unpack_from("<8s10i6f", data, 0)
    magic, L, NH, C, V, T, B, Tseq, steps, _, nlogit = hdr[:11]
    lr, b1, b2, eps, wd, clip = hdr[11:]
    assert magic == b"GRXCHK01", "not a cross-check file"
    off = struct.calcsize("<8s10i6f")
    torch.manual_seed(0)
    model = GPT(L, NH, C, V, T)
    nparams = sum(p.numel() for p in model.parameters())
    flat = torch.frombuffer(bytearray(data[off:off + 4 * nparams]), dtype=torch.float32)
    off += 4 * nparams
    with torch.no_grad():
        o = 0
        for group in model.flat_order():
            for p in group:
                p.copy_(flat[o:o + p.numel()].view_as(p))
                o += p.numel()
    assert o == nparams
    ntok = (steps + 1) * B * Tseq
    toks = torch.frombuffer(bytearray(data[off:off + 8 * ntok]), dtype=torch.int32)
    off += 8 * ntok
    inputs = toks[:ntok].view(steps + 1, B, Tseq).long()
    targets = toks[ntok:].view(steps + 1, B, Tseq).long()
    ref_losses = torch.frombuffer(bytearray(data[off:off + 4 * (steps + 1)]),
                                  dtype=torch.float32)
    off += 4 * (steps + 1)
    ref_logits = torch.frombuffer(bytearray(data[off:off + 8 * nlogit]), dtype=torch.float32)
    ref_first, ref_last = ref_logits[:nlogit], ref_logits[nlogit:]
    off += 8 * nlogit
    ref_grad0 = torch.frombuffer(bytearray(data[off:off + 4 * nparams]), dtype=torch.float32)

    opt = make_optimizer(model, lr, b1, b2, eps, wd)
    losses = []
    for s in range(steps + 1):
        opt.zero_grad(set_to_none=False)
        loss, lg = model(inputs[s], targets[s])
        losses.append(loss.item())
        if s == 0:
            first = lg.detach().reshape(-1)[:nlogit].clone()
        if s == steps:
            last = lg.detach().reshape(-1)[:nlogit].clone()
            break
        loss.backward()
        if s == 0:
            grad0 = torch.cat([p.grad.reshape(-1) for group in model.flat_order()
                               for p in group])
        if clip > 0:
            clip_grads(model, clip)
        opt.step()

    def rel(a, b):
        return abs(a - b) / abs(b)

    def rel_norm(a, b):
        return ((a.double() - b.double()).norm() / b.double().norm()).item()

    # Pass/fail: the first forward's loss and logits, the first backward's
    # gradients (relative L2 error over all of them), the loss after the
    # steps.  The logits after the steps are for information: fp32 rounding
    # grows through training (rounding-level changes of the initial weights
    # alone move them by a few 1e-4 relative after 50 steps of this run).
    ok = True
    checks = [("loss_step0", rel(ref_losses[0].item(), losses[0]), 1e-5),
              ("logits_step0", rel_norm(ref_first, first), 1e-5),
              ("grads_step0", rel_norm(ref_grad0, grad0), 1e-4),
              ("loss_step%d" % steps, rel(ref_losses[steps].item(), losses[steps]), 1e-3),
              ("logits_step%d" % steps, rel_norm(ref_last, last), None)]
    print("XCHECK losses garage %.6f -> %.6f, torch %.6f -> %.6f" %
          (ref_losses[0], ref_losses[steps], losses[0], losses[steps]))
    for name, err, tol in checks:
        if tol is None:
            print("XCHECK %s relerr %.3g (information)" % (name, err))
            continue
        good = err <= tol
        ok = ok and good
        print("XCHECK %s relerr %.3g tol %g %s" % (name, err, tol, "ok" if good else "FAIL"))
    print("XCHECK", "PASS" if ok else "FAIL")
    return 0 if ok else 1


def main(argv):
    global BLAS
    torch.set_grad_enabled(True)
    BLAS = openblas()
    if BLAS is not None and hasattr(BLAS, "openblas_get_corename"):
        BLAS.openblas_get_corename.restype = ctypes.c_char_p
        print("CORE", BLAS.openblas_get_corename().decode())
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mode, args = argv[1], argv[2:]
    if mode == "train":
        cmd_train(*map(int, args))
    elif mode == "sample":
        cmd_sample(*map(int, args))
    elif mode == "xcheck":
        return cmd_xcheck(args[0])
    else:
        print("torch_ref.py: unknown mode " + mode, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
