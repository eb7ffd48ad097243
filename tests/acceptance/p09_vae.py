"""VAE-ish model: reparameterization with randn_like, F.binary_cross_entropy, F.kl_div, Adam."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional

    class VAE(nn.Module):
        def __init__(self, d=12, z=3):
            super().__init__()
            self.enc = nn.Linear(d, 16)
            self.mu = nn.Linear(16, z)
            self.logvar = nn.Linear(16, z)
            self.dec = nn.Sequential(
                nn.Linear(z, 16), nn.LeakyReLU(0.1), nn.Linear(16, d), nn.Sigmoid()
            )

        def forward(self, x):
            h = F.softplus(self.enc(x))
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.dec(z), mu, logvar

    torch.manual_seed(10)
    data = (torch.rand(24, 12) > 0.5).float()
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    history = []
    for epoch in range(5):
        opt.zero_grad()
        recon, mu, logvar = model(data)
        bce = F.binary_cross_entropy(recon, data, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        # a KL between the posterior's softmax over latent dims and a uniform target (F.kl_div)
        target = torch.full_like(mu, 1.0 / mu.size(1))
        kl2 = F.kl_div(F.log_softmax(mu, dim=1), target, reduction="batchmean")
        loss = (bce + kld) / data.size(0) + kl2
        loss.backward()
        opt.step()
        history.append((bce.item(), kld.item(), kl2.item()))
        print(f"epoch {epoch} bce {bce.item():.4f} kld {kld.item():.4f} kl_div {kl2.item():.6f}")
    model.eval()
    with torch.no_grad():
        samples = model.dec(torch.randn(2, 3))
    print(samples)
    return history
