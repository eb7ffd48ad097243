"""SimCLR-style contrastive loss (normalize, masked similarity) plus distillation with KL(T=2)."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional

    def nt_xent(z1, z2, tau=0.5):
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        sim = z @ z.T / tau
        n = z1.size(0)
        sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        return F.cross_entropy(sim, targets)

    torch.manual_seed(19)
    encoder = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 8))
    teacher = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
    student_head = nn.Linear(8, 4)
    teacher.requires_grad_(False).eval()
    params = list(encoder.parameters()) + list(student_head.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(12, 10)
    history = []
    for step in range(4):
        v1 = x + 0.1 * torch.randn_like(x)
        v2 = x * (torch.rand_like(x) > 0.2)
        z1, z2 = encoder(v1), encoder(v2)
        l_con = nt_xent(z1, z2)
        T = 2.0
        with torch.no_grad():
            t_logits = teacher(x)
        s_logits = student_head(encoder(x))
        l_kd = (
            F.kl_div(
                F.log_softmax(s_logits / T, dim=1),
                F.log_softmax(t_logits / T, dim=1),
                reduction="batchmean",
                log_target=True,
            )
            * T
            * T
        )
        loss = l_con + 0.5 * l_kd
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((l_con.item(), l_kd.item()))
        print(f"step {step} contrastive {l_con.item():.4f} kd {l_kd.item():.4f}")
    cos = F.cosine_similarity(encoder(x[:3]), encoder(x[3:6]))
    print(cos)
    print(torch.cdist(z1[:2], z2[:2]).detach())
    return history
