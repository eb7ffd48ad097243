"""Graph network by message passing: index_add_, scatter_reduce, degree normalization, Adam."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional

    class GCNLayer(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.lin = nn.Linear(d_in, d_out)

        def forward(self, x, edge_index):
            src, dst = edge_index
            n = x.size(0)
            deg = torch.zeros(n).index_add_(0, dst, torch.ones(dst.numel())) + 1
            norm = deg.rsqrt()
            h = self.lin(x)
            msg = h[src] * (norm[src] * norm[dst]).unsqueeze(1)
            out = torch.zeros_like(h).index_add_(0, dst, msg)
            return out + h / deg.unsqueeze(1)

    torch.manual_seed(21)
    n = 10
    src = torch.randint(0, n, (24,))
    dst = torch.randint(0, n, (24,))
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    x = torch.randn(n, 5)
    y = torch.randint(0, 2, (n,))
    train_mask = torch.arange(n) < 7
    l1, l2 = GCNLayer(5, 8), GCNLayer(8, 2)
    opt = torch.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=0.02)
    losses = []
    for epoch in range(5):
        h = F.elu(l1(x, edge_index))
        h = F.dropout(h, 0.3, training=True)
        out = l2(h, edge_index)
        loss = F.cross_entropy(out[train_mask], y[train_mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        print(f"epoch {epoch} loss {loss.item():.4f}")
    pooled = torch.zeros(2, 2).scatter_reduce(
        0, y.unsqueeze(1).expand(-1, 2), out.detach(), reduce="amax", include_self=False
    )
    print(pooled)
    print(torch.unique(edge_index[0], return_counts=True)[1])
    return losses
