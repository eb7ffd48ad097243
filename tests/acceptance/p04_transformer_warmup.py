"""Transformer encoder classifier (batch_first, padding + causal masks), AdamW + warmup LambdaLR."""


def program(torch):
    nn = torch.nn

    class Classifier(nn.Module):
        def __init__(self, vocab=10, d=16):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.zeros(1, 6, d))
            layer = nn.TransformerEncoderLayer(
                d, nhead=2, dim_feedforward=32, dropout=0.1, batch_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.out = nn.Linear(d, 3)

        def forward(self, tokens, pad_mask):
            h = self.emb(tokens) + self.pos[:, : tokens.size(1)]
            causal = nn.Transformer.generate_square_subsequent_mask(tokens.size(1))
            h = self.encoder(h, mask=causal, src_key_padding_mask=pad_mask)
            return self.out(h[:, 0])

    torch.manual_seed(3)
    model = Classifier()
    print(model)
    tokens = torch.randint(0, 10, (8, 6))
    pad_mask = torch.zeros(8, 6, dtype=torch.bool)
    pad_mask[:, 4:] = True
    labels = tokens[:, 0] % 3
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    warmup = 3
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    losses = []
    for step in range(6):
        model.train()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(tokens, pad_mask), labels, label_smoothing=0.1)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        print(f"step {step} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.6f}")
    model.eval()
    with torch.no_grad():
        logits = model(tokens, pad_mask)
    print("eval logits", logits[:2])
    return losses
