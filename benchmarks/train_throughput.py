"""Live-training throughput (images/s) of our engine against a plain DataLoader loop.

    python -m benchmarks.train_throughput [--iterations 60] [--depth 20] [--width 8] [--size 16] [--batch 64]

Defaults are the live demo's default preset. Baseline: torchvision-style training -- a Dataset of PIL
images with per-sample Resize(size), RandomCrop(size, padding=4), RandomHorizontalFlip, ToTensor,
Normalize, through a DataLoader, same model, same SGD.
Ours: ``resnet_demo.nets.trainer.Trainer`` (uint8 tensors in memory, batched augmentation on tensors,
channels_last). Target (issue #7): ours / baseline >= 2.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms as T

    from resnet_demo.nets import data
    from resnet_demo.nets.cifar import cifar_net
    from resnet_demo.nets.trainer import TrainConfig, Trainer

    d = data.load_bundled()
    batch = args.batch

    class PILSet(Dataset):
        def __init__(self):
            self.images = [Image.fromarray(x.permute(1, 2, 0).numpy()) for x in d.x_train]
            self.tf = T.Compose([T.Resize(args.size), T.RandomCrop(args.size, padding=4), T.RandomHorizontalFlip(),
                                 T.ToTensor(),
                                 T.Normalize(data.MEAN, data.STD)])

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.tf(self.images[i]), int(d.y_train[i])

    def baseline() -> float:
        torch.manual_seed(0)
        model = cifar_net(args.depth, width=args.width)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        loader = DataLoader(PILSet(), batch_size=batch, shuffle=True, drop_last=True)
        it = iter(loader)
        next(it)
        t0 = time.perf_counter()
        for _ in range(args.iterations):
            x, y = next(it)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return args.iterations * batch / (time.perf_counter() - t0)

    def ours() -> float:
        cfg = TrainConfig(depth=args.depth, width=args.width, image_size=args.size, batch_size=batch,
                          iterations=args.iterations + 1,
                          eval_every=0, log_every=10**9)
        t = Trainer(cfg, d)
        t.step()
        t0 = time.perf_counter()
        for _ in range(args.iterations):
            t.step()
        return args.iterations * batch / (time.perf_counter() - t0)

    b, o = [], []
    for _ in range(args.repeats):
        b.append(baseline())
        o.append(ours())
    mb, mo = statistics.median(b), statistics.median(o)
    print(
        f"| model | baseline img/s | ours img/s | ratio | target |\n|---|---|---|---|---|\n"
        f"| ResNet-{args.depth} width {args.width}, {args.size}x{args.size}, batch {batch} | {mb:.0f} | {mo:.0f} | "
        f"{mo / mb:.2f} | >= 2 |"
    )
    return 0 if mo / mb >= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
