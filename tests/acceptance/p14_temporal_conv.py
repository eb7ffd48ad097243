"""Temporal conv net over embeddings: transpose(1, 2) around Conv1d, Dropout on transposed views."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional

    class TCN(nn.Module):
        def __init__(self, vocab=20, d=8, classes=3):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.conv = nn.Conv1d(d, d, kernel_size=3, padding=1)
            self.proj = nn.Linear(d, d)
            self.drop = nn.Dropout(0.3)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, classes)

        def forward(self, tokens):
            h = self.emb(tokens)  # (B, T, D)
            h = h + self.drop(F.gelu(self.conv(h.transpose(1, 2))).transpose(1, 2))
            # a (B, D, T) view of the projection, as channel-first code keeps it
            g = self.drop(self.proj(h).transpose(1, 2))
            h = self.norm(h + g.transpose(1, 2))
            return self.head(h.mean(1))

    torch.manual_seed(15)
    model = TCN()
    tokens = torch.randint(0, 20, (5, 7))
    labels = torch.randint(0, 3, (5,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for step in range(4):
        opt.zero_grad()
        loss = F.cross_entropy(model(tokens), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        print(f"step {step} loss {loss.item():.4f}")
    print(model.conv.weight.grad[0, :2])
    return losses
