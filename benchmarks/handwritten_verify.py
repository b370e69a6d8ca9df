"""The hand-written baseline for bench_verify.py: the checks `torchsetup verify` runs by
default, written the way a person would in one script (no protocol, no timeouts, no crash
isolation, no report). Same sizes and steps as smoke.py, so both do the same work.

    python benchmarks/handwritten_verify.py
"""

import importlib.util
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

t0 = time.perf_counter()
print(
    "torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version()
)
devices = (
    [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
)

# CPU math and autograd against float64 / analytic references
g = torch.Generator().manual_seed(1234)
a, b = torch.randn(256, 256, generator=g), torch.randn(256, 256, generator=g)
assert ((a @ b).double() - a.double() @ b.double()).norm() / (a.double() @ b.double()).norm() < 1e-5
x = torch.linspace(-3, 3, 1001)
assert (
    abs(torch.exp(-x * x).sum().item() - sum(math.exp(-v * v) for v in x.double().tolist())) < 1e-2
)
x = torch.linspace(-2, 2, 101, dtype=torch.float64, requires_grad=True)
(torch.sin(x) * x**2).sum().backward()
xd = x.detach()
assert (x.grad - (torch.cos(xd) * xd**2 + 2 * xd * torch.sin(xd))).abs().max() < 1e-10

# each GPU: matmul vs float64, conv forward/backward vs CPU, 256 MiB
for d in devices:
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    ref = a.double() @ b.double()
    assert ((a.to(d) @ b.to(d)).double().cpu() - ref).norm() / ref.norm() < 1e-5
    with torch.autocast("cuda", dtype=torch.bfloat16):
        assert ((a.to(d) @ b.to(d)).double().cpu() - ref).norm() / ref.norm() < 3e-2
    xc, w = torch.randn(4, 8, 32, 32, requires_grad=True), torch.randn(16, 8, 3, 3)
    xg = xc.detach().to(d).requires_grad_()
    F.conv2d(xc, w, padding=1).sum().backward()
    F.conv2d(xg, w.to(d), padding=1).sum().backward()
    assert (xg.grad.cpu() - xc.grad).abs().max() < 1e-2
    assert torch.ones(256 * 2**20, dtype=torch.uint8, device=d).sum().item() == 256 * 2**20

if importlib.util.find_spec("torchvision"):
    import torchvision

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    assert torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]


# torch.compile (inductor) forward and backward vs eager, on the CPU and each GPU
def probe(x, w, b):
    y = x @ w + b
    return (F.gelu(y) * torch.sigmoid(y)).sum()


for d in ["cpu", *devices]:
    torch._dynamo.reset()
    x, w0, b0 = torch.randn(64, 32).to(d), torch.randn(32, 32) * 0.2, torch.randn(32)
    outs = []
    for fn in (probe, torch.compile(probe, fullgraph=True)):
        w, b = w0.to(d).detach().requires_grad_(), b0.to(d).detach().requires_grad_()
        out = fn(x, w, b)
        out.backward()
        outs.append((out.item(), w.grad.cpu()))
    assert abs(outs[0][0] - outs[1][0]) < 1e-3 * abs(outs[0][0]) + 1e-4
    assert torch.allclose(outs[0][1], outs[1][1], rtol=1e-3, atol=1e-4)


# a few AdamW steps of a tiny GPT on bytes following (5 * byte + 7) mod 256: the loss must fall
class Block(nn.Module):
    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        n, t, c = x.shape
        q, k, v = (
            z.view(n, t, self.heads, -1).transpose(1, 2) for z in self.qkv(self.ln1(x)).split(c, 2)
        )
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(n, t, c)
        x = x + self.proj(y)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(256, 64), nn.Embedding(32, 64)
        self.blocks = nn.Sequential(Block(), Block())
        self.ln, self.head = nn.LayerNorm(64), nn.Linear(64, 256, bias=False)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        return self.head(self.ln(self.blocks(x)))


def batch(n):
    seq = torch.randint(0, 256, (n, 1)).expand(n, 33).clone()
    for i in range(1, 33):
        seq[:, i] = (seq[:, i - 1] * 5 + 7) % 256
    return seq[:, :-1], seq[:, 1:]


device = devices[0] if devices else "cpu"
torch.manual_seed(0)
model = GPT().to(device)
opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
ex, ey = (t.to(device) for t in batch(64))
dtype = torch.bfloat16 if devices else None


def loss_of(x, y):
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype is not None):
        return F.cross_entropy(model(x).float().reshape(-1, 256), y.reshape(-1))


with torch.no_grad():
    initial = loss_of(ex, ey).item()
for _ in range(20):
    x, y = (t.to(device) for t in batch(16))
    opt.zero_grad()
    loss_of(x, y).backward()
    opt.step()
with torch.no_grad():
    final = loss_of(ex, ey).item()
assert final < 0.8 * initial, (initial, final)
print(f"all checks passed in {time.perf_counter() - t0:.1f} s (loss {initial:.2f} -> {final:.2f})")
