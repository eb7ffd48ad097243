"""Conv autoencoder: strided Conv2d, ConvTranspose2d, Upsample, Dropout2d, ReLU(inplace)."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional

    class AE(nn.Module):
        def __init__(self):
            super().__init__()
            self.down1 = nn.Sequential(
                nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(inplace=True)
            )
            self.down2 = nn.Sequential(
                nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(inplace=True)
            )
            self.fc_enc = nn.Linear(8 * 2 * 2, 6)
            self.fc_dec = nn.Linear(6, 8 * 2 * 2)
            self.up1 = nn.ConvTranspose2d(8, 4, 2, stride=2)
            self.drop = nn.Dropout2d(0.2)
            self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.out = nn.Conv2d(8, 1, 3, padding=1)

        def forward(self, x):
            d1 = self.down1(x)
            d2 = self.down2(d1)
            z = self.fc_enc(d2.view(d2.size(0), -1))
            h = self.fc_dec(z).view(-1, 8, 2, 2)
            h = self.drop(F.relu(self.up1(h)))
            h = torch.cat([h, d1], dim=1)
            return torch.sigmoid(self.out(self.up2(h))), z

    torch.manual_seed(14)
    model = AE()
    x = torch.rand(6, 1, 8, 8)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    losses = []
    for epoch in range(5):
        model.train()
        opt.zero_grad()
        recon, z = model(x)
        loss = F.mse_loss(recon, x) + 1e-3 * z.pow(2).mean()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        print(f"epoch {epoch} loss {loss.item():.5f} lr {sched.get_last_lr()[0]:.5f}")
    model.eval()
    with torch.no_grad():
        recon, z = model(x[:1])
    print("z", z)
    print("recon row", recon[0, 0, 3])
    print("shapes", recon.shape, z.shape)
    return losses
