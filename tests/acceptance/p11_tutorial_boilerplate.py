"""Tutorial boilerplate: device choice, custom Dataset + collate_fn, WeightedRandomSampler, init."""

import numpy as np


def program(torch):
    nn = torch.nn
    F = torch.nn.functional
    data = torch.utils.data
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(12)
    rng = np.random.default_rng(0)
    signals = rng.standard_normal((40, 2, 16)).astype(np.float32)
    labels = (signals[:, 0].mean(1) > signals[:, 1].mean(1)).astype(np.int64)

    class SignalDataset(data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return {"signal": torch.from_numpy(self.x[i]), "label": int(self.y[i])}

    def collate(batch):
        x = torch.stack([b["signal"] for b in batch])
        y = torch.tensor([b["label"] for b in batch])
        return x, y

    ds = SignalDataset(signals, labels)
    train_ds, val_ds = data.random_split(ds, [30, 10], generator=torch.Generator().manual_seed(1))
    counts = np.bincount(labels[train_ds.indices], minlength=2)
    weights = [1.0 / counts[labels[i]] for i in train_ds.indices]
    sampler = data.WeightedRandomSampler(weights, num_samples=30, replacement=True)
    train_dl = data.DataLoader(
        train_ds, batch_size=8, sampler=sampler, collate_fn=collate, drop_last=True
    )
    val_dl = data.DataLoader(val_ds, batch_size=4, collate_fn=collate)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(2, 6, kernel_size=5, padding=2)
            self.norm = nn.GroupNorm(2, 6)
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(6 * 8, 2))

        def forward(self, x):
            x = F.silu(self.norm(self.conv(x)))
            x = F.interpolate(x, scale_factor=0.5, mode="linear", align_corners=False)
            return self.head(x.contiguous())

    def init_weights(m):
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)

    model = Net().to(device)
    model.apply(init_weights)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=2)
    decay = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2], gamma=0.3)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [warm, decay], milestones=[2])
    history = []
    for epoch in range(4):
        model.train()
        for x, y in train_dl:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_value_(model.parameters(), 1.0)
            opt.step()
        sched.step()
        model.eval()
        preds = []
        with torch.inference_mode():
            for x, _ in val_dl:
                preds.append(model(x).topk(1, dim=1).indices.squeeze(1))
        preds = torch.cat(preds)
        truth = torch.tensor(labels[val_ds.indices])
        acc = (preds == truth).float().mean().item()
        confusion = torch.bincount(truth * 2 + preds, minlength=4).reshape(2, 2)
        history.append(loss.item())
        lr = opt.param_groups[0]["lr"]
        print(f"epoch {epoch} loss {loss.item():.4f} val_acc {acc:.2f} lr {lr:.5f}")
        print(confusion.tolist())
    print(model.norm.weight.detach().numpy().round(4).tolist())
    return history
