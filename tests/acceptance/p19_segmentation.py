"""Tiny segmentation net: per-pixel cross_entropy (ignore_index), Dice loss, mIoU by bincount."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional
    classes = 3

    class SegNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1, bias=False),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(8, 8, 3, padding=2, dilation=2),
                nn.ReLU(),
            )
            self.cls = nn.Conv2d(8, classes, 1)

        def forward(self, x):
            h = self.cls(self.enc(x))
            return F.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=True)

    torch.manual_seed(20)
    model = SegNet()
    img = torch.randn(4, 3, 8, 8)
    mask = (img[:, 0] > 0).long() + (img[:, 1] > 0.5).long()
    mask[:, 0, :] = 255  # an ignored border row
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=5, power=0.9)
    losses = []
    for step in range(5):
        model.train()
        logits = model(img)
        ce = F.cross_entropy(logits, mask, ignore_index=255)
        valid = (mask != 255).unsqueeze(1)
        onehot = F.one_hot(mask.clamp(max=classes - 1), classes).permute(0, 3, 1, 2).float()
        probs = logits.softmax(1) * valid
        dice = 1 - (2 * (probs * onehot).sum((0, 2, 3)) + 1) / (
            probs.sum((0, 2, 3)) + (onehot * valid).sum((0, 2, 3)) + 1
        )
        loss = ce + dice.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        print(f"step {step} ce {ce.item():.4f} dice {dice.mean().item():.4f}")
    model.eval()
    with torch.no_grad():
        pred = model(img).argmax(1)
    keep = mask != 255
    conf = torch.bincount(mask[keep] * classes + pred[keep], minlength=classes**2)
    conf = conf.reshape(classes, classes)
    iou = conf.diag() / (conf.sum(0) + conf.sum(1) - conf.diag()).clamp(min=1)
    print(conf)
    print("mIoU", f"{iou.mean().item():.4f}", iou)
    return losses
